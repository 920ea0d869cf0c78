"""Demo content: two short videos generated with ffmpeg and transcoded at once (idempotent)."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from lms import clock
from lms.extensions import db
from lms.media import jobs, services
from lms.media.models import AssetStatus, MediaAsset
from lms.media.settings import setting
from lms.media.storage import get_storage
from lms.media.transcode import samples
from lms.media.transcode import tools as transcode_tools

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
        samples.make_sample(
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
