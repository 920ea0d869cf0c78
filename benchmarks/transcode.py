"""Transcoding cost: our whole pipeline against the bare ffmpeg commands, and one pass against one pass per rendition.

1. Pipeline vs bare: the same 720p clip goes through the real pipeline (probe,
   queue claim, ffmpeg with progress parsing and lease heartbeats, MP4 remux,
   poster, publish, database updates) and, as the reference, through the same
   three ffmpeg commands run back to back with nothing around them. Target: <= 1.05.
2. One pass vs per rendition: a 1080p clip (three rungs) encoded by one ffmpeg
   that decodes once and splits, against one ffmpeg per rendition.

Runs alternate and the fastest of each is kept (the least disturbed by other
work on a shared machine; the medians are printed too). Both use TRANSCODE_NICE=0
so niceness does not count against us when other work shares the machine.

    .venv/bin/python benchmarks/transcode.py [--quick] [--preset veryfast]

The last line is the headline ratio (pipeline / bare ffmpeg).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lms import clock, create_app  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.media import jobs, services
from lms.media.demo import make_sample
from lms.media.models import AssetStatus, MediaAsset  # noqa: E402
from lms.media.storage import get_storage  # noqa: E402
from lms.media.transcode import ladder as transcode_ladder
from lms.media.transcode import probe as transcode_probe
from lms.media.transcode import run as transcode_run
from lms.media.transcode import tools as transcode_tools


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (ffmpeg)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def measured(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``run()``; CPU time barely moves when other work shares the cores."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    run()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def bare_run(args: list[str], tools: transcode_tools.Tools) -> None:
    """Run a command as a shell script would: no progress pipe, no heartbeats."""
    args = [a for a in args if a not in ("-progress", "pipe:1")]
    subprocess.run(args, check=True, env=transcode_tools.environment(tools.ffmpeg), stdout=subprocess.DEVNULL)


def bare_pipeline(
    source: Path, out: Path, info: transcode_probe.MediaInfo, tools: transcode_tools.Tools, preset: str
) -> tuple[float, float]:
    """The three ffmpeg commands of a transcode, nothing else; returns (wall, CPU) seconds."""
    shutil.rmtree(out, ignore_errors=True)
    hls = out / "hls"
    ladder = transcode_ladder.plan_ladder(info)
    for rendition in ladder:
        (hls / rendition.name).mkdir(parents=True)
    fallback = transcode_run.fallback_rendition(ladder)

    def run() -> None:
        bare_run(transcode_ladder.build_hls_command(source, hls, info, ladder, tools, preset), tools)
        bare_run(
            transcode_ladder.build_mp4_command(hls / fallback.name / "index.m3u8", hls / "video.mp4", tools), tools
        )
        bare_run(transcode_ladder.build_poster_command(source, out / "poster.jpg", info, tools), tools)

    return measured(run)


def our_pipeline(app, source: Path) -> tuple[float, float]:
    """Upload-to-ready through the real services and job runner; returns (wall, CPU) seconds."""
    with app.app_context():
        asset = MediaAsset(title="bench", original_filename=source.name, status=AssetStatus.UPLOADING)

        def run() -> None:
            db.session.add(asset)
            db.session.flush()
            original = get_storage().original(asset.id)
            original.parent.mkdir(parents=True, exist_ok=True)
            original.hardlink_to(source)
            services.accept_original(asset, now=clock.utcnow())
            db.session.commit()
            assert jobs.process_transcode_queue(clock.utcnow()) is not None

        result = measured(run)
        db.session.refresh(asset)
        assert asset.status == AssetStatus.READY, asset.error_message
        return result


def one_pass_vs_separate(source: Path, out: Path, tools: transcode_tools.Tools, preset: str, runs: int):
    """Fastest (wall, CPU) of one ffmpeg for the whole ladder, and of one ffmpeg per rendition."""
    info = transcode_probe.probe(source, tools)
    ladder = transcode_ladder.plan_ladder(info)
    one, separate = [], []

    def single_pass() -> None:
        bare_run(transcode_ladder.build_hls_command(source, out / "one", info, ladder, tools, preset), tools)

    def pass_per_rendition() -> None:
        for rendition in ladder:
            folder = out / f"only-{rendition.name}"
            bare_run(transcode_ladder.build_hls_command(source, folder, info, [rendition], tools, preset), tools)

    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        for rendition in ladder:
            (out / "one" / rendition.name).mkdir(parents=True)
            (out / f"only-{rendition.name}" / rendition.name).mkdir(parents=True)
        one.append(measured(single_pass))
        separate.append(measured(pass_per_rendition))
    return min(one), min(separate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short clips, fewer runs (under 45 s on 2 cores)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (production default: veryfast)")
    options = parser.parse_args()
    seconds_720, seconds_1080, runs = (5, 2, 2) if options.quick else (30, 10, 4)

    work = Path(tempfile.mkdtemp(prefix="vanguard-bench-"))
    try:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "ENV_NAME": "test",
                "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
                "MEDIA_ROOT": str(work / "media"),
                "TRANSCODE_PRESET": options.preset,
                "TRANSCODE_NICE": 0,
            }
        )
        with app.app_context():
            db.create_all()
            tools = services.current_tools()
        print(f"ffmpeg: {tools.ffmpeg.path}; preset {options.preset}; fastest of {runs} runs each")
        clip720 = make_sample(
            work / "clip720.mp4", tools, seconds=seconds_720, size="1280x720", preset="veryfast"
        )
        clip1080 = make_sample(
            work / "clip1080.mp4", tools, seconds=seconds_1080, size="1920x1080", preset="veryfast"
        )
        info = transcode_probe.probe(clip720, tools)

        ours, bare = [], []
        for _ in range(runs):
            bare.append(bare_pipeline(clip720, work / "bare", info, tools, options.preset))
            ours.append(our_pipeline(app, clip720))
        (ours_s, ours_cpu), (bare_s, bare_cpu) = min(ours), min(bare)
        print(
            f"720p clip, {seconds_720} s: pipeline {ours_s:.2f} s wall / {ours_cpu:.2f} s CPU; "
            f"bare ffmpeg commands {bare_s:.2f} s wall / {bare_cpu:.2f} s CPU "
            f"(medians {statistics.median(w for w, _ in ours):.2f} s, {statistics.median(w for w, _ in bare):.2f} s)"
        )
        (one_s, one_cpu), (sep_s, sep_cpu) = one_pass_vs_separate(
            clip1080, work / "ladder", tools, options.preset, runs
        )
        print(
            f"1080p clip, {seconds_1080} s, 3 renditions: one pass {one_s:.2f} s wall / {one_cpu:.2f} s CPU; "
            f"one ffmpeg per rendition {sep_s:.2f} s wall / {sep_cpu:.2f} s CPU"
        )
        print(f"per-rendition / one-pass: wall {sep_s / one_s:.2f}x, CPU {sep_cpu / one_cpu:.2f}x")
        print(f"pipeline / bare ffmpeg CPU time = {ours_cpu / bare_cpu:.3f}x")
        print(f"pipeline / bare ffmpeg wall time = {ours_s / bare_s:.3f}x (target <= 1.05)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
