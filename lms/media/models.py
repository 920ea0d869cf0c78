"""Media assets (an uploaded original and what is made from it), uploads in progress and transcode jobs."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


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
    width: Mapped[int | None]  # upright, after rotation
    height: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ready_at: Mapped[datetime | None]
    # What ffprobe said about the original (format, codecs, rotation...), for the admin page.
    probe_summary: Mapped[dict | None] = mapped_column(sa.JSON)
    # The HLS ladder made: [{"name": "720p", "width": 1280, "height": 720, "video_kbps": 2800}, ...]
    renditions: Mapped[list | None] = mapped_column(sa.JSON)
    has_mp4_fallback: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # SHA-256 of the concatenated SHA-256 digests of the upload's chunks, checked against the client's.
    checksum_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    uploaded_by = relationship("User")
    jobs: Mapped[list[TranscodeJob]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", passive_deletes=True, order_by="TranscodeJob.id"
    )

    @property
    def is_ready(self) -> bool:
        return self.status == AssetStatus.READY

    @property
    def latest_job(self) -> TranscodeJob | None:
        return self.jobs[-1] if self.jobs else None


class MediaUpload(TimestampMixin, db.Model):
    """A chunked upload in progress: bytes arrive in order into ``uploads/<id>.part``.

    ``id`` is a random token (it names the part file and appears in the URLs);
    ``chunk_digests`` keeps the SHA-256 of every chunk received, in order, so the
    assembled file can be checked against the client's digest list at the end.
    """

    __tablename__ = "media_uploads"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="CASCADE"), unique=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    received_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    chunk_size: Mapped[int]
    chunk_digests: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    asset: Mapped[MediaAsset] = relationship()


class TranscodeJob(TimestampMixin, db.Model):
    """One transcoding of an asset, claimed by a worker under a time-limited lease.

    A worker sets ``worker_id`` and ``lease_expires_at`` with a conditional UPDATE
    (never a row lock held through ffmpeg) and renews the lease with each
    heartbeat; a job whose lease has expired is put back in the queue.
    """

    __tablename__ = "media_transcode_jobs"
    __table_args__ = (sa.Index("ix_media_transcode_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.QUEUED)
    progress_percent: Mapped[float] = mapped_column(default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    worker_id: Mapped[str | None] = mapped_column(sa.String(120))
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error_tail: Mapped[str | None] = mapped_column(sa.Text)  # what went wrong, with the tail of ffmpeg's stderr

    asset: Mapped[MediaAsset] = relationship(back_populates="jobs")


__all__ = ["AssetKind", "AssetStatus", "JobStatus", "MediaAsset", "MediaUpload", "TranscodeJob"]
