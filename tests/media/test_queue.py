"""The transcode queue: atomic claims, leases, stale jobs re-queued, failures and retries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lms import clock
from lms.extensions import db
from lms.jobs import scheduled_jobs
from lms.media import jobs, services
from lms.media.models import AssetStatus, JobStatus, MediaAsset, TranscodeJob
from lms.media.storage import get_storage

pytestmark = pytest.mark.ffmpeg


def test_transcoding_is_a_scheduled_job_every_worker_runs(app):
    spec = next(spec for spec in scheduled_jobs() if spec.name == "transcode")
    assert spec.func is jobs.process_transcode_queue
    assert spec.seconds == 5 and spec.needs_lease is False


@pytest.mark.postgres  # claims with FOR UPDATE SKIP LOCKED and leases
def test_a_job_is_claimed_by_one_worker_only(store_asset, clips, frozen_clock):
    first = store_asset(clips.landscape, "一")
    second = store_asset(clips.landscape, "二")
    now = frozen_clock.now
    job_a = services.claim_next_job("worker-a", now=now)
    db.session.commit()
    job_b = services.claim_next_job("worker-b", now=now)
    db.session.commit()
    assert job_a.asset_id == first.id and job_b.asset_id == second.id
    assert services.claim_next_job("worker-c", now=now) is None
    assert (job_a.worker_id, job_a.status, job_a.attempts) == ("worker-a", JobStatus.RUNNING, 1)
    assert job_a.lease_expires_at == now + timedelta(seconds=60)
    assert first.status == AssetStatus.PROCESSING


@pytest.mark.postgres  # claims with FOR UPDATE SKIP LOCKED and leases
def test_concurrent_workers_never_take_the_same_job(app, store_asset, clips):
    for n in range(6):
        store_asset(clips.landscape, f"视频{n}")
    claimed: dict[str, list[int]] = {}
    errors = []
    start = threading.Barrier(3)

    def worker(name: str) -> None:
        with app.app_context():
            try:
                start.wait()
                mine = claimed.setdefault(name, [])
                while True:
                    job = services.claim_next_job(name, now=clock.utcnow())
                    db.session.commit()
                    if job is None:
                        break
                    mine.append(job.id)
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    taken = [job_id for ids in claimed.values() for job_id in ids]
    assert len(taken) == len(set(taken)) == 6
    owners = dict(db.session.execute(sa.select(TranscodeJob.id, TranscodeJob.worker_id)).all())
    for name, ids in claimed.items():
        assert all(owners[job_id] == name for job_id in ids)


@pytest.mark.postgres  # claims with FOR UPDATE SKIP LOCKED and leases
def test_a_dead_workers_job_is_requeued_cleaned_and_finished(store_asset, clips, frozen_clock):
    asset = store_asset(clips.landscape)
    job = services.claim_next_job("dead-worker", now=frozen_clock.now)
    db.session.commit()
    partial = get_storage().new_work_dir(asset.id) / "hls" / "180p"
    partial.mkdir(parents=True)
    (partial / "seg_00000.ts").write_bytes(b"half a segment")

    frozen_clock.advance(30)  # lease still valid: nothing happens to it
    assert services.requeue_stale_jobs(frozen_clock.now) == []

    frozen_clock.advance(31)
    assert jobs.process_transcode_queue(frozen_clock.now) == job.id
    db.session.refresh(job)
    db.session.refresh(asset)
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.worker_id != "dead-worker"
    assert asset.status == AssetStatus.READY
    assert not partial.exists()
    segment = f"{asset.renditions[0]['folder']}/seg_00000.ts"
    assert get_storage().rendition_file(asset.id, segment).stat().st_size > 1000


@pytest.mark.postgres  # claims with FOR UPDATE SKIP LOCKED and leases
def test_a_job_whose_workers_keep_dying_fails(store_asset, clips, frozen_clock, app):
    app.config["TRANSCODE_MAX_ATTEMPTS"] = 2
    asset = store_asset(clips.landscape)
    for _ in range(2):
        services.claim_next_job("dying", now=frozen_clock.now)
        db.session.commit()
        frozen_clock.advance(61)
        services.requeue_stale_jobs(frozen_clock.now)
        db.session.commit()
    db.session.refresh(asset)
    assert asset.status == AssetStatus.FAILED and "2" in asset.error_message
    assert asset.jobs[-1].status == JobStatus.FAILED


@pytest.mark.postgres  # claims with FOR UPDATE SKIP LOCKED and leases
def test_a_worker_that_lost_its_lease_publishes_nothing(store_asset, clips, frozen_clock):
    asset = store_asset(clips.landscape)
    job = services.claim_next_job("slow-worker", now=frozen_clock.now)
    db.session.commit()
    # Meanwhile the lease expired, the job was re-queued and another worker took it.
    db.session.execute(sa.update(TranscodeJob).where(TranscodeJob.id == job.id).values(worker_id="other-worker"))
    db.session.commit()
    assert jobs.run_claimed_job(job.id, "slow-worker") is False
    db.session.refresh(asset)
    assert asset.status == AssetStatus.PROCESSING
    assert get_storage().rendition_file(asset.id, "master.m3u8") is None
    assert not (Path(get_storage().root) / "work" / str(asset.id)).exists() or not any(
        (Path(get_storage().root) / "work" / str(asset.id)).iterdir()
    )


def test_ffmpeg_failure_keeps_stderr_and_can_be_retried(store_asset, clips, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    asset = store_asset(clips.landscape)
    original = get_storage().original(asset.id)
    original.write_bytes(original.read_bytes()[:2000])  # damaged after probing
    assert jobs.transcode_now(asset) is False
    db.session.refresh(asset)
    job = asset.jobs[-1]
    assert asset.status == AssetStatus.FAILED and "Transcoding failed" in asset.error_message
    assert job.status == JobStatus.FAILED and "ffmpeg exited with status" in job.error_tail
    assert len(job.error_tail) > 40  # with the tail of what ffmpeg said

    original.write_bytes(clips.landscape.read_bytes())
    services.retry_asset(asset, now=clock.utcnow())
    db.session.commit()
    assert asset.status == AssetStatus.QUEUED and len(asset.jobs) == 2
    assert jobs.transcode_now(asset) is True
    db.session.refresh(asset)
    assert asset.status == AssetStatus.READY


@pytest.mark.slow
@pytest.mark.postgres  # claims with FOR UPDATE SKIP LOCKED and leases
def test_a_killed_worker_process_leaves_its_job_to_the_next_worker(app, store_asset, clips, tmp_path):
    """A real ``flask``-style worker process is killed mid-ffmpeg; another worker finishes the job.

    The worker's ffmpeg reads its input at the clip's own speed (``-re``): the job
    lasts the clip's 4 s whatever the machine, with no slow preset burning the cores.
    """
    asset = store_asset(clips.hd)
    script = tmp_path / "worker.py"
    script.write_text(
        "import sys\n"
        "from lms import create_app, clock\n"
        "from lms.media.jobs import process_transcode_queue\n"
        "from lms.media.transcode import run\n"
        "encode = run.run_ffmpeg\n"
        "def at_real_speed(args, *more, **options):\n"
        "    at = args.index('-i')\n"
        "    return encode([*args[:at], '-re', *args[at:]], *more, **options)\n"
        "run.run_ffmpeg = at_real_speed\n"
        "app = create_app({'SECRET_KEY': 'x', 'ENV_NAME': 'test', 'DATABASE_URL': sys.argv[1],\n"
        "                  'MEDIA_ROOT': sys.argv[2], 'TRANSCODE_PRESET': 'ultrafast', 'TRANSCODE_NICE': 0})\n"
        "with app.app_context():\n"
        "    process_transcode_queue(clock.utcnow())\n"
    )
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    root = Path(app.config["MEDIA_ROOT"])
    worker = subprocess.Popen([sys.executable, str(script), url, str(root)], cwd=os.getcwd())
    work = root / "work" / str(asset.id)
    progress = sa.select(TranscodeJob.progress_percent).where(TranscodeJob.asset_id == asset.id)

    def encoding() -> bool:
        """ffmpeg has reported progress (the worker renewed its lease with it) and its folders exist."""
        with db.engine.connect() as connection:
            return bool(connection.scalar(progress)) and any(work.glob("*/hls/*"))

    deadline = time.monotonic() + 60
    try:
        # Wait until ffmpeg is under way: the worker is mid-job.
        while not encoding() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert worker.poll() is None, "the worker finished before it could be killed"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert any(work.glob("*/hls/*")), "the killed attempt left partial output"
    job = db.session.scalar(sa.select(TranscodeJob).where(TranscodeJob.asset_id == asset.id))
    db.session.refresh(job)
    assert job.status == JobStatus.RUNNING and job.worker_id != jobs.worker_id()

    later = clock.utcnow() + timedelta(seconds=61)  # its lease has run out
    assert jobs.process_transcode_queue(later) == job.id
    db.session.refresh(job)
    db.session.refresh(asset)
    assert job.status == JobStatus.DONE and job.attempts == 2
    assert asset.status == AssetStatus.READY
    assert not any(work.glob("*")), "the killed attempt's partial output is gone"


def test_the_scheduler_runs_the_queue_through_its_job_runner(app, store_asset, clips):
    from lms.jobs import run_job

    asset = store_asset(clips.landscape)
    spec = next(spec for spec in scheduled_jobs() if spec.name == "transcode")
    assert run_job(app, spec) is True
    db.session.refresh(asset)
    assert asset.status == AssetStatus.READY
    assert not (get_storage().root / "work" / str(asset.id)).exists()


def test_postgresql_workers_skip_rows_another_worker_is_claiming():
    from sqlalchemy.dialects import postgresql

    sql = str(services.next_queued_job_query().compile(dialect=postgresql.dialect()))
    assert sql.rstrip().endswith("FOR UPDATE SKIP LOCKED")


def test_uploads_abandoned_for_a_week_are_purged(app, make_user, frozen_clock):
    upload = services.start_upload(make_user(), filename="半截.mp4", size_bytes=10, title="", now=frozen_clock.now)
    db.session.commit()
    part = get_storage().upload_part(upload.id)
    part.write_bytes(b"12345")
    asset_id = upload.asset_id
    frozen_clock.advance(6 * 86400)
    jobs.process_transcode_queue(frozen_clock.now)
    assert part.exists()
    frozen_clock.advance(2 * 86400)
    jobs.process_transcode_queue(frozen_clock.now)
    db.session.expire_all()
    assert not part.exists()
    assert db.session.get(MediaAsset, asset_id) is None
