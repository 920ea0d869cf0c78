"""The transcoding worker: claim a queued job under a lease, run ffmpeg, publish or fail.

``process_transcode_queue(now)`` is the scheduled job (every few seconds, in
every worker process and, with ``LMS_SCHEDULER=inprocess``, in the web
process). Unlike most jobs it commits more than once, on purpose: the claim
must be visible to other workers before ffmpeg starts, and no transaction (on
SQLite: no write lock) may stay open while ffmpeg runs for minutes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from lms import clock
from lms.extensions import db
from lms.media import services
from lms.media.models import JobStatus, MediaAsset, TranscodeJob
from lms.media.settings import setting
from lms.media.storage import get_storage
from lms.media.transcode import ladder, probe
from lms.media.transcode import run as transcode_run
from lms.media.transcode import tools as transcode_tools

log = logging.getLogger(__name__)


def worker_id() -> str:
    """This process and thread, as recorded on the jobs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def process_transcode_queue(now) -> int | None:
    """Re-queue stale jobs, then claim and run at most one job; return its id (None: queue empty)."""
    requeued = services.requeue_stale_jobs(now)
    services.purge_abandoned_uploads(now)
    db.session.commit()
    if requeued:
        log.info("re-queued transcode jobs %s", requeued)
    me = worker_id()
    job = services.claim_next_job(me, now=now)
    db.session.commit()
    if job is None:
        return None
    run_claimed_job(job.id, me)
    return job.id


def run_claimed_job(job_id: int, me: str, tools: transcode_tools.Tools | None = None) -> bool:
    """Transcode the job ``me`` holds; publish and mark it done, or mark it failed. Commits.

    Returns True when the asset became ready.
    """
    job = db.session.get(TranscodeJob, job_id)
    asset: MediaAsset = job.asset
    storage = get_storage()
    info = probe.MediaInfo(**asset.probe_summary)
    work_dir = storage.new_work_dir(asset.id)
    source = storage.original(asset.id)
    db.session.commit()  # nothing open while ffmpeg runs

    def on_progress(percent: float) -> bool:
        return services.renew_lease(job_id, me, now=clock.utcnow(), percent=percent)

    try:
        tools = tools or services.current_tools()
        result = transcode_run.transcode(
            source,
            work_dir,
            info,
            tools,
            preset=str(setting("TRANSCODE_PRESET")),
            timeout=ladder.time_limit_seconds(info.duration_seconds, int(setting("TRANSCODE_TIMEOUT_SECONDS"))),
            on_progress=on_progress,
        )
    except transcode_tools.TranscodeError as error:
        storage.discard_work_dir(work_dir)
        job = db.session.get(TranscodeJob, job_id)
        if job is not None and services.fail_job(job, me, error, now=clock.utcnow()):
            log.warning("transcode job %s failed: %s", job_id, error)
        db.session.commit()
        return False
    job = db.session.get(TranscodeJob, job_id, populate_existing=True)
    done = job is not None and services.finish_job(job, me, result, work_dir, now=clock.utcnow())
    if not done:
        storage.discard_work_dir(work_dir)
        db.session.rollback()
        log.warning("transcode job %s finished after its lease was lost; output dropped", job_id)
        return False
    db.session.commit()
    log.info("transcode job %s done in %.1f s", job_id, result.seconds)
    return True


def transcode_now(asset: MediaAsset) -> bool:
    """Run the asset's queued job in this thread right away (demo content, tests). Commits."""
    job = next((j for j in asset.jobs if j.status == JobStatus.QUEUED), None)
    if job is None:
        return False
    me = worker_id()
    claimed = services.claim_next_job(me, now=clock.utcnow(), only_job_id=job.id)
    db.session.commit()
    if claimed is None:
        return False
    return run_claimed_job(claimed.id, me)
