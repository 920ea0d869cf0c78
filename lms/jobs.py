"""Scheduled jobs: one registry, one lease, one scheduler.

Each job is a plain function of ``now`` that calls one domain service and is
safe to run twice; ``run_job`` runs it inside an app context, commits once, and
only in the process that holds the scheduler lease (a row in the database), so
several web or worker processes never run the same schedule at once. The
scheduler itself is started only by ``start_in_process`` (``LMS_SCHEDULER=inprocess``,
the serving process, never the reloader's watcher) or by ``flask lms worker``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Mapped, mapped_column

from lms import clock
from lms.extensions import db

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
SCHEDULER_LEASE = "scheduler"


class SchedulerLease(db.Model):
    """Who runs the scheduled jobs now; taken over when ``expires_at`` passes."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(120))
    expires_at: Mapped[datetime]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[datetime], object]
    seconds: int  # run every N seconds (interval trigger)
    needs_lease: bool = True  # False: may run in every worker (e.g. claiming transcode jobs)


def keep_lease(now: datetime) -> None:
    """No work of its own: running it renews this process's lease between real jobs."""


def scheduled_jobs() -> list[JobSpec]:
    """Every scheduled job of the platform; each calls one domain service function."""
    from flask import current_app

    from lms.assessment import jobs as assessment_jobs
    from lms.exams.contests.closing import run_contest_schedule
    from lms.exams.quizzes.jobs import finalize_overdue_attempts
    from lms.media.jobs import process_transcode_queue
    from lms.meetings import jobs as meeting_jobs
    from lms.notices import outbox

    ttl = current_app.config["SCHEDULER_LEASE_SECONDS"]
    return [
        JobSpec("keep-lease", keep_lease, seconds=max(ttl // 3, 1)),
        JobSpec("finalize-overdue-attempts", finalize_overdue_attempts, seconds=30),
        JobSpec("contest-schedule", run_contest_schedule, seconds=30),
        JobSpec("transcode", process_transcode_queue, seconds=5, needs_lease=False),
        JobSpec("mail-outbox", outbox.send_outbox, seconds=10, needs_lease=False),  # claims rows: any worker
        JobSpec("mail-outbox-purge", outbox.purge_outbox, seconds=3600),
        JobSpec("assessment-nightly", assessment_jobs.nightly_results, seconds=900),
        JobSpec("assessment-reminders", assessment_jobs.weekly_reminders, seconds=3600),
        JobSpec("meeting-reminders", meeting_jobs.meeting_reminders, seconds=300),
        JobSpec("meeting-due-warnings", meeting_jobs.due_meeting_warnings, seconds=3600),
    ]


def acquire_lease(name: str, holder: str, now: datetime, ttl_seconds: int) -> bool:
    """Take or renew lease ``name`` for ``holder`` if free, expired or already ours. Commits."""
    expires = now + timedelta(seconds=ttl_seconds)
    result = db.session.execute(
        sa.update(SchedulerLease)
        .where(SchedulerLease.name == name, sa.or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=expires)
    )
    if result.rowcount == 1:
        db.session.commit()
        return True
    if db.session.get(SchedulerLease, name) is None:
        try:
            db.session.add(SchedulerLease(name=name, holder=holder, expires_at=expires))
            db.session.commit()
            return True
        except sa.exc.IntegrityError:
            db.session.rollback()
            return False
    db.session.rollback()
    return False


def release_lease(name: str, holder: str) -> bool:
    """Give up lease ``name`` if ``holder`` has it, so another process may take it at once. Commits."""
    result = db.session.execute(
        sa.delete(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
    )
    db.session.commit()
    return result.rowcount == 1


def run_job(app: Flask, spec: JobSpec) -> bool:
    """Run one job now if this process may; return whether it ran."""
    with app.app_context():
        now = clock.utcnow()
        if spec.needs_lease and not acquire_lease(SCHEDULER_LEASE, HOLDER, now, app.config["SCHEDULER_LEASE_SECONDS"]):
            return False
        started = time.monotonic()
        try:
            result = spec.func(now)
            db.session.commit()
            # Jobs that report work (a count, a list) are logged at INFO; idle ticks at DEBUG.
            level = logging.INFO if result else logging.DEBUG
            log.log(level, "job %s ran in %.3f s: %s", spec.name, time.monotonic() - started, result)
        except Exception:
            db.session.rollback()
            log.exception("scheduled job %s failed", spec.name)
            raise
        finally:
            db.session.remove()
        return True


def build_scheduler(app: Flask):
    """An unstarted APScheduler BackgroundScheduler with every scheduled job."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    with app.app_context():
        specs = scheduled_jobs()
    for spec in specs:
        scheduler.add_job(run_job, "interval", seconds=spec.seconds, args=[app, spec], id=spec.name, name=spec.name)
    return scheduler


_started = threading.Event()


def start_in_process(app: Flask):
    """Start the scheduler in this serving process (``LMS_SCHEDULER=inprocess`` only).

    Never in the reloader's watcher process: with the reloader on, only the child
    that serves requests (``WERKZEUG_RUN_MAIN=true``) starts it.
    """
    if app.config.get("SCHEDULER") != "inprocess" or _started.is_set():
        return None
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return None
    scheduler = build_scheduler(app)
    scheduler.start()
    _started.set()
    log.info("scheduler started in process %s", HOLDER)
    return scheduler
