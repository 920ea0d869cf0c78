"""Media assets (an uploaded original and what is made from it)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import TimestampMixin, str_enum
from lms.extensions import db


class AssetStatus(enum.StrEnum):
    UPLOADING = "uploading"  # chunks still arriving
    QUEUED = "queued"  # uploaded and probed; waiting for the transcoder
    PROCESSING = "processing"
    READY = "ready"  # renditions and poster can be served
    FAILED = "failed"  # refused or transcoding failed; the original is kept


class AssetKind(enum.StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


class MediaAsset(TimestampMixin, db.Model):
    """One uploaded file and its renditions; files live under MEDIA_ROOT by asset id."""

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    original_filename: Mapped[str] = mapped_column(sa.String(255))  # shown only, never a path
    kind: Mapped[AssetKind] = mapped_column(str_enum(AssetKind), default=AssetKind.VIDEO)
    status: Mapped[AssetStatus] = mapped_column(str_enum(AssetStatus), default=AssetStatus.UPLOADING, index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    duration_seconds: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ready_at: Mapped[datetime | None]

    @property
    def is_ready(self) -> bool:
        return self.status == AssetStatus.READY
