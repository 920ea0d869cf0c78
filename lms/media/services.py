"""The media rules: assets, chunked uploads, the transcode queue and its leases.

Plain functions of ids and values (no request, no templates); they flush and
never commit. ``lms.media.jobs`` runs the queue and commits its units of work.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from lms.errors import Conflict, DomainError, InvalidState, NotFound, ValidationFailed
from lms.extensions import db
from lms.inputs import clean_filename
from lms.media import access
from lms.media.models import AssetKind, AssetStatus, JobStatus, MediaAsset, MediaUpload, TranscodeJob
from lms.media.settings import setting
from lms.media.storage import get_storage
from lms.media.transcode import probe as transcode_probe
from lms.media.transcode import run
from lms.media.transcode import tools as transcode_tools

log = logging.getLogger(__name__)

READ_BLOCK = 1024 * 1024  # bytes read from the request at a time: memory stays flat
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class UploadTooLarge(DomainError):
    status_code = 413


class OffsetMismatch(Conflict):
    """A chunk that does not start where the upload stands; ``offset`` says where to resume."""

    def __init__(self, message, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


# ---------------------------------------------------------------------------
# Assets (the contract other domains use)


def get_asset(asset_id: int) -> MediaAsset | None:
    """The asset with this id, or None."""
    return db.session.get(MediaAsset, asset_id)


def ready_assets() -> list[MediaAsset]:
    """Every playable asset (status READY), newest first."""
    return list(
        db.session.scalars(
            sa.select(MediaAsset)
            .where(MediaAsset.status == AssetStatus.READY)
            .order_by(MediaAsset.ready_at.desc(), MediaAsset.id.desc())
        )
    )


def list_assets(*, status: str = "", query: str = "") -> sa.Select:
    """The admin list's query: newest first, optionally by status or title."""
    select = sa.select(MediaAsset).options(selectinload(MediaAsset.jobs)).order_by(MediaAsset.id.desc())
    if status in AssetStatus.__members__.values():
        select = select.where(MediaAsset.status == status)
    if query:
        select = select.where(MediaAsset.title.like(f"%{query}%"))
    return select


def rename_asset(asset: MediaAsset, title: str) -> None:
    """Change the asset's title (1-200 characters)."""
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise ValidationFailed(_l("A title of 1 to 200 characters is required."), field="title")
    asset.title = title
    db.session.flush()


def delete_asset(asset: MediaAsset) -> None:
    """Delete the asset, its jobs and every stored file, the original included.

    Refused (Conflict) while another domain still uses it (see
    ``lms.media.access.register_usage``). A worker transcoding it notices at its
    next heartbeat and stops.
    """
    uses = access.usages(asset.id)
    if uses:
        raise Conflict(_l("This video is still used by: %(uses)s. Remove it there first.", uses=", ".join(uses)))
    upload = db.session.scalar(sa.select(MediaUpload).where(MediaUpload.asset_id == asset.id))
    storage = get_storage()
    if upload is not None:
        storage.upload_part(upload.id).unlink(missing_ok=True)
        db.session.delete(upload)
    asset_id = asset.id
    db.session.delete(asset)
    db.session.flush()
    storage.delete_asset(asset_id)
    log.info("media asset %s deleted", asset_id)


def asset_states(asset_ids: Iterable[int]) -> list[dict]:
    """Status and progress of some assets, for the admin list's live view."""
    ids = [int(i) for i in asset_ids][:200]
    if not ids:
        return []
    assets = db.session.scalars(
        sa.select(MediaAsset).where(MediaAsset.id.in_(ids)).options(selectinload(MediaAsset.jobs))
    )
    uploads = {u.asset_id: u for u in db.session.scalars(sa.select(MediaUpload).where(MediaUpload.asset_id.in_(ids)))}
    states = []
    for asset in assets:
        job = asset.latest_job
        upload = uploads.get(asset.id)
        if asset.status == AssetStatus.UPLOADING and upload is not None and upload.size_bytes:
            percent = 100.0 * upload.received_bytes / upload.size_bytes
        elif job is not None and asset.status in (AssetStatus.QUEUED, AssetStatus.PROCESSING):
            percent = job.progress_percent
        else:
            percent = 100.0 if asset.status == AssetStatus.READY else 0.0
        states.append(
            {
                "id": asset.id,
                "status": str(asset.status),
                "percent": round(percent, 1),
                "error": asset.error_message or "",
                "attempts": job.attempts if job else 0,
                # The latest job's own row (the detail page's job table follows it live).
                "job": _job_state(job) if job else None,
            }
        )
    return states


def _job_state(job: TranscodeJob) -> dict:
    return {
        "id": job.id,
        "status": str(job.status),
        "percent": round(job.progress_percent or 0.0, 1),
        "attempts": job.attempts,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


# ---------------------------------------------------------------------------
# Chunked uploads (see lms/media/__init__.py for the protocol)


def max_upload_bytes() -> int:
    return int(setting("MAX_UPLOAD_MB")) * 1024 * 1024


def chunk_size_bytes() -> int:
    return int(float(setting("UPLOAD_CHUNK_MB")) * 1024 * 1024)


def start_upload(user, *, filename: str, size_bytes: int, title: str, now: datetime) -> MediaUpload:
    """Open an upload of ``size_bytes`` bytes; its asset shows as "uploading" until complete.

    Raises ValidationFailed (no name, empty file) and UploadTooLarge (over ``MAX_UPLOAD_MB``).
    """
    filename = clean_filename(filename)
    if not filename:
        raise ValidationFailed(_l("Choose a file to upload."), field="file")
    if size_bytes <= 0:
        raise ValidationFailed(_l("The file is empty (0 bytes)."), field="file")
    if size_bytes > max_upload_bytes():
        raise UploadTooLarge(
            _l("The file is larger than the limit of %(limit)s MB.", limit=setting("MAX_UPLOAD_MB")), field="file"
        )
    title = (title or "").strip() or os.path.splitext(filename)[0] or filename
    asset = MediaAsset(
        title=title[:200],
        original_filename=filename,
        status=AssetStatus.UPLOADING,
        size_bytes=size_bytes,
        uploaded_by_id=getattr(user, "id", None),
    )
    db.session.add(asset)
    db.session.flush()
    upload = MediaUpload(
        id=secrets.token_hex(16),
        asset_id=asset.id,
        size_bytes=size_bytes,
        received_bytes=0,
        chunk_size=chunk_size_bytes(),
        chunk_digests=[],
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(upload)
    db.session.flush()
    log.info("upload %s started for asset %s (%s bytes)", upload.id, asset.id, size_bytes)
    return upload


def get_upload(upload_id: str) -> MediaUpload:
    """The open upload ``upload_id``; NotFound when it finished, was cancelled or never existed."""
    upload = db.session.get(MediaUpload, upload_id) if re.fullmatch(r"[0-9a-f]{32}", upload_id or "") else None
    if upload is None:
        raise NotFound(_l("This upload no longer exists; start it again."))
    return upload


def parse_content_range(header: str | None) -> tuple[int, int, int]:
    """``bytes START-END/TOTAL`` -> (start, end inclusive, total); ValidationFailed otherwise."""
    match = _CONTENT_RANGE.match((header or "").strip())
    if not match:
        raise ValidationFailed(_l("Each chunk needs a Content-Range header: bytes START-END/TOTAL."))
    start, end, total = (int(group) for group in match.groups())
    if end < start:
        raise ValidationFailed(_l("The chunk's Content-Range is invalid."))
    return start, end, total


def receive_chunk(
    upload: MediaUpload,
    *,
    start: int,
    end: int,
    total: int,
    stream: BinaryIO,
    sha256: str,
    content_length: int | None,
    now: datetime,
) -> int:
    """Write one chunk at its place in the part file and return the new offset.

    Chunks arrive in order: a chunk must start at the current offset
    (OffsetMismatch otherwise, carrying the offset to resume from), may not go
    past the declared size or the size cap (UploadTooLarge), must be at most one
    chunk size long, and must match its SHA-256 (ValidationFailed; the offset
    does not move). The body is copied to disk a block at a time.
    """
    if total != upload.size_bytes or end >= upload.size_bytes or total > max_upload_bytes():
        raise UploadTooLarge(_l("The chunk goes past the end of the file or the size limit."))
    if start != upload.received_bytes:
        raise OffsetMismatch(
            _l("The chunk is out of order; the upload continues from the offset given."), upload.received_bytes
        )
    length = end - start + 1
    if length > upload.chunk_size:
        raise UploadTooLarge(_l("The chunk is larger than the agreed chunk size."))
    if end + 1 != upload.size_bytes and length != upload.chunk_size:
        raise ValidationFailed(_l("Only the last chunk may be shorter than the chunk size."))
    if content_length is not None and content_length != length:
        raise ValidationFailed(_l("The chunk's length does not match its Content-Range."))
    sha256 = (sha256 or "").strip().lower()
    if not _HEX_DIGEST.match(sha256):
        raise ValidationFailed(_l("Each chunk needs its SHA-256 in the X-Chunk-SHA256 header."))

    part = get_storage().upload_part(upload.id)
    digest = hashlib.sha256()
    written = 0
    with open(part, "r+b" if part.exists() else "w+b") as handle:
        handle.seek(start)
        while written < length:
            block = stream.read(min(READ_BLOCK, length - written))
            if not block:
                break
            handle.write(block)
            digest.update(block)
            written += len(block)
        if written == length and stream.read(1):
            written += 1  # more bytes than the range said
    if written != length:
        raise ValidationFailed(_l("The chunk arrived incomplete; send it again."))
    if digest.hexdigest() != sha256:
        raise ValidationFailed(_l("The chunk was damaged on the way (checksum mismatch); send it again."))

    # Conditional on the offset we started from: a concurrent duplicate request loses.
    digests = [*upload.chunk_digests, sha256]
    result = db.session.execute(
        sa.update(MediaUpload)
        .where(MediaUpload.id == upload.id, MediaUpload.received_bytes == start)
        .values(received_bytes=end + 1, chunk_digests=digests, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = db.session.scalar(sa.select(MediaUpload.received_bytes).where(MediaUpload.id == upload.id))
        raise OffsetMismatch(_l("The chunk is out of order; the upload continues from the offset given."), current or 0)
    return end + 1


def digest_of_digests(digests: list[str]) -> str:
    """SHA-256 over the chunks' raw SHA-256 digests in order: the whole file's checksum."""
    return hashlib.sha256(b"".join(bytes.fromhex(d) for d in digests)).hexdigest()


def complete_upload(
    upload: MediaUpload, *, checksum: str, now: datetime, tools: transcode_tools.Tools | None = None
) -> MediaAsset:
    """Check the assembled file and hand it to probing; returns the asset (QUEUED or FAILED).

    The client's ``checksum`` (SHA-256 over its chunks' SHA-256 digests) must
    equal ours and every byte must have arrived (ValidationFailed otherwise,
    and the upload stays open). The file becomes the asset's original; a file
    that is not usable media is refused on the asset with a clear message and
    kept for inspection.
    """
    if upload.received_bytes != upload.size_bytes:
        raise ValidationFailed(
            _l(
                "The upload is not finished: %(received)s of %(total)s bytes arrived.",
                received=upload.received_bytes,
                total=upload.size_bytes,
            )
        )
    storage = get_storage()
    part = storage.upload_part(upload.id)
    if not part.exists() or part.stat().st_size < upload.size_bytes:
        raise ValidationFailed(_l("The uploaded data is missing on the server; start the upload again."))
    expected = digest_of_digests(upload.chunk_digests)
    if (checksum or "").strip().lower() != expected:
        raise ValidationFailed(_l("The file's checksum does not match what the browser read; upload it again."))
    if part.stat().st_size > upload.size_bytes:
        os.truncate(part, upload.size_bytes)  # leftovers of an interrupted larger write
    asset = upload.asset
    storage.keep_original(asset.id, part)
    asset.checksum_sha256 = expected
    db.session.delete(upload)
    db.session.flush()
    log.info("upload %s complete for asset %s", upload.id, asset.id)
    accept_original(asset, now=now, tools=tools)
    return asset


def cancel_upload(upload: MediaUpload) -> None:
    """Stop an upload: its part file and its asset are removed."""
    get_storage().upload_part(upload.id).unlink(missing_ok=True)
    asset = upload.asset
    db.session.delete(upload)
    db.session.delete(asset)
    db.session.flush()


def purge_abandoned_uploads(now: datetime) -> int:
    """Delete uploads untouched for ``UPLOAD_ABANDON_DAYS`` (their part files too); return how many."""
    cutoff = now - timedelta(days=int(setting("UPLOAD_ABANDON_DAYS")))
    stale = list(db.session.scalars(sa.select(MediaUpload).where(MediaUpload.updated_at < cutoff).limit(50)))
    for upload in stale:
        cancel_upload(upload)
    return len(stale)


# ---------------------------------------------------------------------------
# Probing and the queue


def current_tools() -> transcode_tools.Tools:
    """ffmpeg/ffprobe for the current app (settings, PATH or the bundled build)."""
    return transcode_tools.Tools(
        ffmpeg=transcode_tools.find_binary("ffmpeg", current_app.config.get("FFMPEG") or ""),
        ffprobe=transcode_tools.find_binary("ffprobe", current_app.config.get("FFPROBE") or ""),
        nice=int(setting("TRANSCODE_NICE")),
    )


def accept_original(
    asset: MediaAsset, *, now: datetime, tools: transcode_tools.Tools | None = None
) -> TranscodeJob | None:
    """Probe the asset's original; queue a transcode, or refuse the asset with the reason.

    A refused asset is FAILED with ``error_message`` set; its original stays.
    """
    source = get_storage().original(asset.id)
    asset.size_bytes = source.stat().st_size if source.exists() else asset.size_bytes
    try:
        info = transcode_probe.probe(
            source,
            tools or current_tools(),
            timeout=float(setting("PROBE_TIMEOUT_SECONDS")),
            max_duration_seconds=float(setting("MAX_DURATION_MINUTES")) * 60,
        )
    except (transcode_tools.TranscodeError, OSError) as error:
        # Not the file's fault (ffprobe missing or broken): keep it for a retry.
        asset.status = AssetStatus.FAILED
        asset.error_message = str(
            _l("The server could not examine the file (%(error)s). It is kept; try again later.", error=str(error))
        )
        db.session.flush()
        log.error("probing asset %s failed: %s", asset.id, error)
        return None
    except transcode_tools.MediaRefused as refusal:
        asset.status = AssetStatus.FAILED
        asset.error_message = str(refusal.message)
        db.session.flush()
        log.info("asset %s refused: %s", asset.id, refusal)
        return None
    apply_probe(asset, info)
    return enqueue_transcode(asset, now=now)


def apply_probe(asset: MediaAsset, info: transcode_probe.MediaInfo) -> None:
    """Copy what ffprobe found onto the asset."""
    asset.kind = AssetKind.VIDEO if info.has_video else AssetKind.AUDIO
    asset.duration_seconds = info.duration_seconds
    asset.width = info.width
    asset.height = info.height
    asset.probe_summary = info.summary()
    asset.error_message = None


def enqueue_transcode(asset: MediaAsset, *, now: datetime) -> TranscodeJob:
    """Queue a transcode of ``asset`` (a new job row; earlier failed ones stay as history)."""
    if asset.probe_summary is None:
        raise InvalidState(_l("This file was refused; it cannot be transcoded."))
    if any(job.status in (JobStatus.QUEUED, JobStatus.RUNNING) for job in asset.jobs):
        raise InvalidState(_l("This video is already waiting for or being transcoded."))
    job = TranscodeJob(asset=asset, status=JobStatus.QUEUED, progress_percent=0.0, attempts=0)
    db.session.add(job)
    asset.status = AssetStatus.QUEUED
    asset.error_message = None
    db.session.flush()
    return job


def retry_asset(asset: MediaAsset, *, now: datetime) -> TranscodeJob | None:
    """Try a failed asset again; InvalidState unless it failed.

    A failed transcode is queued again. A file refused when probed is probed
    again (a limit may have been raised, ffprobe repaired): it is queued, or
    refused again with the reason (None is returned then).
    """
    if asset.status != AssetStatus.FAILED:
        raise InvalidState(_l("Only a failed video can be retried."))
    if asset.probe_summary is None:
        return accept_original(asset, now=now)
    return enqueue_transcode(asset, now=now)


def next_queued_job_query(only_job_id: int | None = None) -> sa.Select:
    """The oldest queued job's id, ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite takes its write lock)."""
    candidates = sa.select(TranscodeJob.id).where(TranscodeJob.status == JobStatus.QUEUED)
    if only_job_id is not None:
        candidates = candidates.where(TranscodeJob.id == only_job_id)
    return candidates.order_by(TranscodeJob.id).limit(1).with_for_update(skip_locked=True)


def claim_next_job(
    worker_id: str, *, now: datetime, lease_seconds: int | None = None, only_job_id: int | None = None
) -> TranscodeJob | None:
    """Take the oldest queued job for ``worker_id`` under a lease, or None when the queue is empty.

    The claim is a conditional UPDATE (status still queued), so two workers can
    never take the same job; on PostgreSQL the candidate is selected ``FOR UPDATE
    SKIP LOCKED`` so concurrent workers pick different rows instead of waiting.
    No lock outlives the claim's transaction. ``only_job_id`` restricts the
    claim to one job (running a given asset's job at once, e.g. for the demo).
    """
    lease = timedelta(seconds=lease_seconds or int(setting("TRANSCODE_LEASE_SECONDS")))
    for _ in range(5):
        job_id = db.session.scalar(next_queued_job_query(only_job_id))
        if job_id is None:
            return None
        result = db.session.execute(
            sa.update(TranscodeJob)
            .where(TranscodeJob.id == job_id, TranscodeJob.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                worker_id=worker_id,
                attempts=TranscodeJob.attempts + 1,
                lease_expires_at=now + lease,
                heartbeat_at=now,
                started_at=now,
                finished_at=None,
                progress_percent=0.0,
                error_tail=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            job = db.session.get(TranscodeJob, job_id, populate_existing=True)
            job.asset.status = AssetStatus.PROCESSING
            db.session.flush()
            return job
    return None


def renew_lease(job_id: int, worker_id: str, *, now: datetime, percent: float) -> bool:
    """Record progress and extend the lease, in its own short transaction; False if the job is no longer ours.

    Runs on a separate connection so a long transcode never holds the
    session's transaction (on SQLite, the database's write lock) open.
    """
    lease = timedelta(seconds=int(setting("TRANSCODE_LEASE_SECONDS")))
    with db.engine.begin() as connection:
        result = connection.execute(
            sa.update(TranscodeJob.__table__)
            .where(
                TranscodeJob.__table__.c.id == job_id,
                TranscodeJob.__table__.c.worker_id == worker_id,
                TranscodeJob.__table__.c.status == JobStatus.RUNNING.value,
            )
            .values(heartbeat_at=now, lease_expires_at=now + lease, progress_percent=round(percent, 1))
        )
        return result.rowcount == 1


def requeue_stale_jobs(now: datetime) -> list[int]:
    """Put back in the queue every running job whose lease expired (its worker died or hung).

    Partial outputs of the dead attempt are removed. A job whose workers died
    ``TRANSCODE_MAX_ATTEMPTS`` times fails instead (the file may crash ffmpeg).
    Returns the ids of the jobs touched.
    """
    stale = list(
        db.session.scalars(
            sa.select(TranscodeJob)
            .where(TranscodeJob.status == JobStatus.RUNNING, TranscodeJob.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        )
    )
    max_attempts = int(setting("TRANSCODE_MAX_ATTEMPTS"))
    storage = get_storage()
    for job in stale:
        storage.clear_work(job.asset_id)
        log.warning("transcode job %s: worker %s stopped renewing its lease", job.id, job.worker_id)
        job.worker_id = None
        job.lease_expires_at = None
        job.progress_percent = 0.0
        if job.attempts >= max_attempts:
            job.status = JobStatus.FAILED
            job.finished_at = now
            job.error_tail = f"the worker stopped {job.attempts} times while transcoding this file"
            job.asset.status = AssetStatus.FAILED
            job.asset.error_message = str(
                _l(
                    "Transcoding stopped %(count)d times without finishing; the file may be damaged.",
                    count=job.attempts,
                )
            )
        else:
            job.status = JobStatus.QUEUED
            job.asset.status = AssetStatus.QUEUED
    db.session.flush()
    return [job.id for job in stale]


def finish_job(
    job: TranscodeJob, worker_id: str, result: run.TranscodeResult, work_dir: Path, *, now: datetime
) -> bool:
    """Mark the job done and publish its outputs, if ``worker_id`` still holds it; return whether it did.

    The status change is conditional on the lease, and the outputs are renamed
    into place inside the same transaction, so a worker that lost its job never
    publishes over the one that took it over.
    """
    updated = db.session.execute(
        sa.update(TranscodeJob)
        .where(TranscodeJob.id == job.id, TranscodeJob.worker_id == worker_id, TranscodeJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.DONE, progress_percent=100.0, finished_at=now, lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        return False
    get_storage().publish(job.asset_id, work_dir)
    asset = db.session.get(MediaAsset, job.asset_id)
    asset.status = AssetStatus.READY
    asset.ready_at = now
    asset.error_message = None
    asset.renditions = [rendition.as_dict() for rendition in result.renditions]
    asset.has_mp4_fallback = result.has_mp4_fallback
    db.session.flush()
    return True


def fail_job(job: TranscodeJob, worker_id: str, error: transcode_tools.TranscodeError, *, now: datetime) -> bool:
    """Mark the job and its asset failed with ffmpeg's stderr tail, if ``worker_id`` still holds it."""
    tail = f"{error}\n{error.stderr_tail}".strip()[-run.STDERR_TAIL_CHARS :]
    updated = db.session.execute(
        sa.update(TranscodeJob)
        .where(TranscodeJob.id == job.id, TranscodeJob.worker_id == worker_id, TranscodeJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.FAILED, finished_at=now, lease_expires_at=None, error_tail=tail, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        return False
    asset = db.session.get(MediaAsset, job.asset_id)
    asset.status = AssetStatus.FAILED
    asset.error_message = str(_l("Transcoding failed. The details below show what ffmpeg reported."))
    db.session.flush()
    return True
