"""Protected streaming: playlists, segments, the MP4 fallback and the poster of ready assets.

Every URL asks ``lms.media.access.may_stream`` (403 otherwise). Files are sent
with Range and conditional-request support, or handed to nginx with
``X-Accel-Redirect`` when ``MEDIA_ACCEL_REDIRECT`` is set.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_file
from flask_login import current_user, login_required

from lms.media import services
from lms.media.access import may_stream
from lms.media.models import AssetStatus
from lms.media.settings import setting
from lms.media.storage import get_storage

bp = Blueprint("media", __name__, url_prefix="/media")

MIMETYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
}
# Variant playlists and segments live under a folder named with a token unique
# to their transcode, so browsers may keep them for good; the master playlist,
# the MP4 and the poster keep their names (and an id may come back on SQLite
# after a delete), so they are revalidated (a cheap 304). "private": each
# response depends on who asked.
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def _ready_asset_or_abort(asset_id: int):
    if not may_stream(current_user, asset_id):
        abort(403)
    asset = services.get_asset(asset_id)
    if asset is None or asset.status != AssetStatus.READY:
        abort(404)
    return asset


def _send(path: Path | None, cache_control: str) -> Response:
    if path is None:
        abort(404)
    mimetype = MIMETYPES.get(path.suffix, "application/octet-stream")
    prefix = setting("MEDIA_ACCEL_REDIRECT")
    if prefix:
        response = Response(status=200, mimetype=mimetype)
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + get_storage().relative(path)
    else:
        response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=None)
    response.headers["Cache-Control"] = cache_control
    return response


@bp.route("/<int:asset_id>/hls/<path:name>")
@login_required
def playlist(asset_id: int, name: str):
    """The master playlist (``master.m3u8``), variant playlists and segments of an asset."""
    _ready_asset_or_abort(asset_id)
    path = get_storage().rendition_file(asset_id, name)
    return _send(path, REVALIDATE if name == "master.m3u8" else IMMUTABLE)


@bp.route("/<int:asset_id>/video.mp4")
@login_required
def mp4(asset_id: int):
    """The MP4 fallback for players with neither HLS nor Media Source Extensions."""
    _ready_asset_or_abort(asset_id)
    return _send(get_storage().rendition_file(asset_id, "video.mp4"), REVALIDATE)


@bp.route("/<int:asset_id>/poster.jpg")
@login_required
def poster(asset_id: int):
    """The still shown before playback (a frame, or the waveform of an audio recording)."""
    _ready_asset_or_abort(asset_id)
    return _send(get_storage().poster_file(asset_id), REVALIDATE)
