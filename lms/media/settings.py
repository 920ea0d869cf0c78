"""The media settings and their defaults (each can be set as ``LMS_<NAME>`` or in instance/config.py).

``MAX_UPLOAD_MB``, ``MAX_DURATION_MINUTES``, ``FFMPEG``, ``FFPROBE`` and
``MEDIA_ACCEL_REDIRECT`` are declared in ``lms.config``; the rest live here so
the media package owns its own knobs.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

DEFAULTS: dict[str, Any] = {
    "MAX_UPLOAD_MB": 4096,
    "MAX_DURATION_MINUTES": 240,
    "FFMPEG": "",
    "FFPROBE": "",
    # A URL prefix (e.g. "/protected-media/") that nginx maps to MEDIA_ROOT with an
    # ``internal`` location; empty: the app sends the bytes itself.
    "MEDIA_ACCEL_REDIRECT": "",
    # Bytes per upload request; nginx's client_max_body_size must be larger.
    "UPLOAD_CHUNK_MB": 8,
    # Uploads left untouched this long are deleted with their part file.
    "UPLOAD_ABANDON_DAYS": 7,
    # x264 preset: "veryfast" is a good trade on small servers; tests use "ultrafast".
    "TRANSCODE_PRESET": "veryfast",
    # A running job whose worker has not renewed its lease for this long is re-queued.
    "TRANSCODE_LEASE_SECONDS": 60,
    # A job whose worker died this many times is failed instead of re-queued.
    "TRANSCODE_MAX_ATTEMPTS": 3,
    # 0: the limit grows with the duration (see lms.media.transcode.time_limit_seconds).
    "TRANSCODE_TIMEOUT_SECONDS": 0,
    "PROBE_TIMEOUT_SECONDS": 30,
    # Niceness of ffmpeg/ffprobe, so the web server stays responsive while they run.
    "TRANSCODE_NICE": 10,
}


def setting(name: str) -> Any:
    """The configured value of media setting ``name`` (the default when unset or empty)."""
    value = current_app.config.get(name)
    if value is None or value == "":
        return DEFAULTS[name]
    return value
