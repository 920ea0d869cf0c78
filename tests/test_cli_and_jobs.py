"""`flask lms init` / `demo` are idempotent; the scheduler lease admits one runner at a time."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms import create_app, jobs
from lms.auth.models import Role, User
from lms.extensions import db


@pytest.fixture
def cli(tmp_path):
    """A CLI runner on an empty SQLite database (no schema: the commands migrate it).

    The demo's videos are made and transcoded with x264's fastest preset, as in the media tests.
    """
    app = create_app(
        {
            "SECRET_KEY": "x",
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "TRANSCODE_PRESET": "ultrafast",
            "TRANSCODE_NICE": 0,
        }
    )
    with app.app_context():
        yield app.test_cli_runner()
        db.session.remove()
        db.engine.dispose()


def _count_users() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_init_upgrades_and_creates_the_first_admin_once(cli):
    runner = cli
    args = ["lms", "init", "--admin-username", "Root", "--admin-password", "Admin2026x"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "Admin root created" in first.output
    second = runner.invoke(args=args)
    assert second.exit_code == 0, second.output
    assert "exists already" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).where(User.role == Role.ADMIN)) == 1


def test_demo_is_idempotent_and_prints_logins(cli):
    runner = cli
    first = runner.invoke(args=["lms", "demo"])
    assert first.exit_code == 0, first.output
    assert "secretary" in first.output and "Vanguard2026" in first.output
    users = _count_users()
    second = runner.invoke(args=["lms", "demo"])
    assert second.exit_code == 0, second.output
    assert _count_users() == users


@pytest.mark.postgres  # the lease row: a conditional UPDATE, or an INSERT that may conflict
def test_only_one_process_holds_the_scheduler_lease_until_it_expires(app, frozen_clock):
    now = frozen_clock.now
    assert jobs.acquire_lease("scheduler", "a", now, 60)
    assert not jobs.acquire_lease("scheduler", "b", now + timedelta(seconds=30), 60)
    assert jobs.acquire_lease("scheduler", "a", now + timedelta(seconds=30), 60)  # renewal
    assert jobs.acquire_lease("scheduler", "b", now + timedelta(seconds=91), 60)  # taken over after expiry
    assert not jobs.acquire_lease("scheduler", "a", now + timedelta(seconds=92), 60)


@pytest.mark.postgres  # the lease row: a conditional UPDATE, or an INSERT that may conflict
def test_run_job_skips_when_another_process_holds_the_lease(app, frozen_clock):
    calls = []
    spec = jobs.JobSpec("probe", lambda now: calls.append(now), seconds=10)
    jobs.acquire_lease("scheduler", "someone-else", frozen_clock.now, 60)
    assert jobs.run_job(app, spec) is False
    frozen_clock.advance(61)
    assert jobs.run_job(app, spec) is True
    assert calls == [frozen_clock.now]


def test_a_released_lease_is_free_for_another_process_at_once(app, frozen_clock):
    now = frozen_clock.now
    assert jobs.acquire_lease("scheduler", "a", now, 60)
    assert not jobs.release_lease("scheduler", "b")  # only the holder may release it
    assert not jobs.acquire_lease("scheduler", "b", now, 60)
    assert jobs.release_lease("scheduler", "a")
    assert jobs.acquire_lease("scheduler", "b", now, 60)


def test_job_runs_are_logged(app, frozen_clock, caplog):
    spec = jobs.JobSpec("probe", lambda now: 3, seconds=10)
    with caplog.at_level("INFO", logger="lms.jobs"):
        assert jobs.run_job(app, spec) is True
    assert any("job probe ran" in message and ": 3" in message for message in caplog.messages)


def test_worker_logs_its_jobs_and_hands_the_lease_over_when_stopped(app, tmp_path):
    """`flask lms worker` as a real process: it takes the lease, logs, and on SIGTERM releases it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import sqlalchemy as sa

    from lms.extensions import db

    if not str(db.engine.url).startswith("sqlite"):
        import pytest

        pytest.skip("runs the worker on the test's SQLite file")
    env = {
        **os.environ,
        "LMS_DATABASE_URL": str(db.engine.url),
        "LMS_SECRET_KEY": "worker-test",
        "LMS_SCHEDULER_LEASE_SECONDS": "3",
        "LMS_MEDIA_ROOT": str(tmp_path / "media"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "lms", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    holder = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and holder is None:
            holder = db.session.scalar(sa.select(jobs.SchedulerLease.holder))
            db.session.rollback()
            time.sleep(0.2)
        assert holder is not None, "the worker never took the scheduler lease"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert "released the scheduler lease" in output and "worker stopped" in output
    assert "job keep-lease ran" not in output  # idle ticks are logged at DEBUG only
    assert db.session.scalar(sa.select(sa.func.count()).select_from(jobs.SchedulerLease)) == 0
