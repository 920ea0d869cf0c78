"""Running ffmpeg: time limits, progress, cancelling, the stderr tail; ``transcode`` does a whole upload."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from lms.media.transcode.ladder import (
    Rendition,
    build_hls_command,
    build_mp4_command,
    build_poster_command,
    plan_ladder,
    time_limit_seconds,
)
from lms.media.transcode.probe import MediaInfo
from lms.media.transcode.tools import ProgressCallback, Tools, TranscodeError, environment

STDERR_TAIL_CHARS = 4000


# ---------------------------------------------------------------------------
# Running ffmpeg


def _tail(lines: deque) -> str:
    return "".join(lines)[-STDERR_TAIL_CHARS:]


def run_ffmpeg(
    args: list[str],
    tools: Tools,
    *,
    duration_seconds: float,
    timeout: float,
    on_progress: ProgressCallback | None = None,
    heartbeat_seconds: float = 2.0,
) -> None:
    """Run an ffmpeg command to the end, reporting progress; raise TranscodeError on failure.

    ``on_progress(percent)`` is called on each ``-progress`` report and at least
    every ``heartbeat_seconds``; when it returns False, ffmpeg is stopped (the
    lease was lost). ffmpeg is killed past ``timeout`` seconds.
    """
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 (argument list built above, no shell)
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(tools.ffmpeg),
    )
    stderr_lines: deque[str] = deque(maxlen=200)
    progress_lines: queue.Queue[str | None] = queue.Queue()

    def read_stderr() -> None:
        for raw in process.stderr:
            stderr_lines.append(raw.decode("utf-8", "replace"))

    def read_stdout() -> None:
        for raw in process.stdout:
            progress_lines.put(raw.decode("ascii", "replace").strip())
        progress_lines.put(None)

    readers = [threading.Thread(target=read_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for reader in readers:
        reader.start()
    percent = 0.0
    last_report = 0.0
    stopped: str | None = None
    try:
        while True:
            try:
                line = progress_lines.get(timeout=0.5)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line.startswith("out_time_us=") or line.startswith("out_time_ms="):
                value = line.split("=", 1)[1]
                if value.lstrip("-").isdigit() and duration_seconds > 0:
                    percent = max(percent, min(99.9, int(value) / 1e6 / duration_seconds * 100))
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                stopped = f"ffmpeg ran longer than the limit of {int(timeout)} s"
                break
            if on_progress is not None and (line.startswith("progress=") or elapsed - last_report >= heartbeat_seconds):
                last_report = elapsed
                if on_progress(percent) is False:
                    stopped = "stopped: this worker no longer holds the job's lease"
                    break
    finally:
        if stopped:
            process.kill()
        process.wait()
        for reader in readers:
            reader.join(timeout=5)
    if stopped:
        raise TranscodeError(stopped, _tail(stderr_lines))
    if process.returncode != 0:
        raise TranscodeError(f"ffmpeg exited with status {process.returncode}", _tail(stderr_lines))


def run_quick(args: list[str], tools: Tools, timeout: float) -> None:
    """Run a short ffmpeg command (poster, remux) with a time limit; TranscodeError on failure."""
    try:
        completed = subprocess.run(  # noqa: S603 (argument list built above, no shell)
            args, capture_output=True, timeout=timeout, env=environment(tools.ffmpeg), check=False
        )
    except subprocess.TimeoutExpired as error:
        raise TranscodeError(f"ffmpeg ran longer than the limit of {int(timeout)} s") from error
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace")[-STDERR_TAIL_CHARS:]
        raise TranscodeError(f"ffmpeg exited with status {completed.returncode}", tail)


@dataclass
class TranscodeResult:
    renditions: list[Rendition]
    has_mp4_fallback: bool
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


def fallback_rendition(ladder: list[Rendition]) -> Rendition:
    """The rendition remuxed to MP4: the largest up to 720p (old phones play it; PCs have HLS)."""
    fitting = [r for r in ladder if min(r.width, r.height) <= 720 or r.name == "audio"]
    return fitting[-1] if fitting else ladder[0]


def transcode(
    source: Path,
    work_dir: Path,
    info: MediaInfo,
    tools: Tools,
    *,
    preset: str = "veryfast",
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> TranscodeResult:
    """Make the HLS set, the MP4 fallback and the poster of ``source`` inside ``work_dir``.

    Output: ``work_dir/hls/`` (master.m3u8, renditions, video.mp4) and
    ``work_dir/poster.jpg``. The caller publishes them (``LocalStorage.publish``).
    """
    began = time.monotonic()
    steps: dict[str, float] = {}
    limit = timeout or time_limit_seconds(info.duration_seconds)
    hls_dir = work_dir / "hls"
    hls_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    ladder = [replace(rendition, folder=f"{rendition.name}-{token}") for rendition in plan_ladder(info)]
    for rendition in ladder:
        (hls_dir / rendition.path).mkdir(exist_ok=True)

    run_ffmpeg(
        build_hls_command(source, hls_dir, info, ladder, tools, preset),
        tools,
        duration_seconds=info.duration_seconds,
        timeout=limit,
        on_progress=on_progress,
    )
    steps["hls"] = time.monotonic() - began
    if not (hls_dir / "master.m3u8").is_file():
        raise TranscodeError("ffmpeg finished without writing the master playlist")

    mark = time.monotonic()
    fallback = fallback_rendition(ladder)
    run_quick(build_mp4_command(hls_dir / fallback.path / "index.m3u8", hls_dir / "video.mp4", tools), tools, limit)
    steps["mp4"] = time.monotonic() - mark

    mark = time.monotonic()
    run_quick(build_poster_command(source, work_dir / "poster.jpg", info, tools), tools, min(limit, 300))
    steps["poster"] = time.monotonic() - mark
    if on_progress is not None:
        on_progress(100.0)
    return TranscodeResult(ladder, True, time.monotonic() - began, steps)
