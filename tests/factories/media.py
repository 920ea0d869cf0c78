"""Media assets as rows (no file): a READY video of a given duration by default."""

from __future__ import annotations

from datetime import UTC, datetime

from lms.extensions import db
from lms.media.models import AssetKind, AssetStatus, MediaAsset


def create_asset(duration: float = 100.0, status: AssetStatus = AssetStatus.READY, title: str = "视频") -> MediaAsset:
    """A media asset (READY video by default) of ``duration`` seconds."""
    asset = MediaAsset(
        title=title,
        original_filename="clip.mp4",
        kind=AssetKind.VIDEO,
        status=status,
        size_bytes=1000,
        duration_seconds=duration,
        width=640,
        height=360,
        ready_at=datetime(2026, 1, 1, tzinfo=UTC) if status == AssetStatus.READY else None,
    )
    db.session.add(asset)
    db.session.commit()
    return asset
