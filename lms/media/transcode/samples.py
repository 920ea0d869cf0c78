"""Generated sample clips (colour bars and a tone) for the demo data and the tests."""

from __future__ import annotations

import os
from pathlib import Path

import ffmpeg

from lms.media.transcode.probe import run_probe, stream_rotation
from lms.media.transcode.run import run_quick
from lms.media.transcode.tools import Tools


def make_sample(
    target: Path,
    tools: Tools,
    *,
    seconds: float = 3,
    size: str = "320x180",
    pattern: str = "testsrc2",
    tone_hz: int = 440,
    audio: bool = True,
    video: bool = True,
    rotation: int = 0,
    frame_rate: int = 25,
    preset: str = "ultrafast",
) -> Path:
    """Generate a small clip with ffmpeg's test sources (demo content, tests, benchmarks).

    ``pattern`` is a lavfi video source (testsrc2, smptebars, life...); ``rotation``
    stores a display rotation the way phones do, for the upright-output tests.
    """
    inputs = []
    if video:
        joiner = ":" if "=" in pattern else "="
        spec = f"{pattern}{joiner}size={size}:rate={frame_rate}"
        inputs.append(ffmpeg.input(spec, f="lavfi", t=seconds).video)
    if audio:
        inputs.append(ffmpeg.input(f"sine=frequency={tone_hz}:sample_rate=48000", f="lavfi", t=seconds).audio)
    container = {".mkv": "matroska", ".mov": "mov", ".webm": "webm"}.get(target.suffix, "mp4")
    options: dict[str, object] = {"t": seconds, "f": container}
    if video:
        options.update({"c:v": "libx264", "preset": preset, "pix_fmt": "yuv420p"})
    if audio:
        options.update({"c:a": "aac", "b:a": "96k"})
    if rotation:
        options["metadata:s:v:0"] = f"rotate={rotation}"
    output = ffmpeg.output(*inputs, str(target), **options).global_args(
        "-nostdin", "-hide_banner", "-loglevel", "error"
    )
    run_quick(
        ffmpeg.compile(output, cmd=[tools.ffmpeg.path], overwrite_output=True), tools, timeout=max(60, seconds * 5)
    )
    if rotation and not probe_rotation(target, tools):
        # Newer ffmpeg ignores the rotate tag; set the display matrix on a remux instead.
        rotated = target.with_name(target.stem + ".rot" + target.suffix)
        stream = ffmpeg.input(str(target), display_rotation=rotation)
        output = ffmpeg.output(stream, str(rotated), c="copy", f=container).global_args(
            "-nostdin", "-loglevel", "error"
        )
        run_quick(ffmpeg.compile(output, cmd=[tools.ffmpeg.path], overwrite_output=True), tools, timeout=60)
        os.replace(rotated, target)
    return target


def probe_rotation(path: Path, tools: Tools) -> int:
    """The display rotation of the first video stream of ``path`` (0 when none)."""
    report = run_probe(path, tools, timeout=30)
    video = next((s for s in report.get("streams", []) if s.get("codec_type") == "video"), None)
    return stream_rotation(video) if video else 0
