"""Demo content: two short videos generated with ffmpeg and transcoded at once (idempotent).

``make_sample`` (colour bars and a tone from ffmpeg's test sources) also makes the clips of the
benchmarks and the tests; what only tests need (a phone's rotation tag) is in ``tests/media/clips.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ffmpeg
import sqlalchemy as sa

from lms import clock
from lms.extensions import db
from lms.media import jobs, services
from lms.media.models import AssetStatus, MediaAsset
from lms.media.settings import setting
from lms.media.storage import get_storage
from lms.media.transcode import tools as transcode_tools
from lms.media.transcode.run import run_quick

log = logging.getLogger(__name__)

# (title, lavfi pattern, tone in Hz, seconds)
DEMO_VIDEOS = (
    ("演示视频：新时代党员的初心使命", "testsrc2", 440, 24),
    ("演示视频：支部主题党日活动纪实", "smptehdbars", 523, 20),
)


def seed_demo() -> list[str]:
    """Generate, probe and transcode the demo videos that do not exist yet (matched by title).

    Commits (the transcode claims its job like any worker). Without ffmpeg the
    demo goes on without videos and says why.
    """
    lines = []
    storage = get_storage()
    try:
        tools = services.current_tools()
    except transcode_tools.TranscodeError as error:
        return [f"Demo videos skipped: {error}"]
    for title, pattern, tone, seconds in DEMO_VIDEOS:
        existing = db.session.scalar(sa.select(MediaAsset).where(MediaAsset.title == title).limit(1))
        if existing is not None and existing.status != AssetStatus.FAILED:
            continue
        if existing is not None:
            services.delete_asset(existing)
        asset = MediaAsset(title=title, original_filename=f"demo-{pattern}.mp4", status=AssetStatus.UPLOADING)
        db.session.add(asset)
        db.session.flush()
        original = storage.original(asset.id)
        original.parent.mkdir(parents=True, exist_ok=True)
        make_sample(
            original,
            tools,
            seconds=seconds,
            size="640x360",
            pattern=pattern,
            tone_hz=tone,
            preset=str(setting("TRANSCODE_PRESET")),
        )
        services.accept_original(asset, now=clock.utcnow(), tools=tools)
        db.session.commit()
        ready = jobs.transcode_now(asset)
        db.session.refresh(asset)
        lines.append(f"Demo video “{title}”: {asset.status}" + ("" if ready else f" ({asset.error_message})"))
    return lines


def make_sample(
    target: Path,
    tools: transcode_tools.Tools,
    *,
    seconds: float = 3,
    size: str = "320x180",
    pattern: str = "testsrc2",
    tone_hz: int = 440,
    audio: bool = True,
    video: bool = True,
    frame_rate: int = 25,
    preset: str = "ultrafast",
    output_options: dict[str, object] | None = None,
) -> Path:
    """Generate a small clip with ffmpeg's test sources (demo content, benchmarks, tests).

    ``pattern`` is a lavfi video source (testsrc2, smptebars, life...); the container follows
    the suffix of ``target``; ``output_options`` are added to ffmpeg's output options.
    """
    inputs = []
    if video:
        joiner = ":" if "=" in pattern else "="
        spec = f"{pattern}{joiner}size={size}:rate={frame_rate}"
        inputs.append(ffmpeg.input(spec, f="lavfi", t=seconds).video)
    if audio:
        inputs.append(ffmpeg.input(f"sine=frequency={tone_hz}:sample_rate=48000", f="lavfi", t=seconds).audio)
    options: dict[str, object] = {"t": seconds, "f": container_of(target)}
    if video:
        options.update({"c:v": "libx264", "preset": preset, "pix_fmt": "yuv420p"})
    if audio:
        options.update({"c:a": "aac", "b:a": "96k"})
    options.update(output_options or {})
    output = ffmpeg.output(*inputs, str(target), **options).global_args(
        "-nostdin", "-hide_banner", "-loglevel", "error"
    )
    run_quick(
        ffmpeg.compile(output, cmd=[tools.ffmpeg.path], overwrite_output=True), tools, timeout=max(60, seconds * 5)
    )
    return target


def container_of(target: Path) -> str:
    """ffmpeg's muxer for the suffix of ``target`` (mp4 by default)."""
    return {".mkv": "matroska", ".mov": "mov", ".webm": "webm"}.get(target.suffix, "mp4")
