"""Clips only tests need, on top of the demo's generated samples (``lms.media.demo.make_sample``)."""

from __future__ import annotations

import os
from pathlib import Path

import ffmpeg

from lms.media.demo import container_of, make_sample
from lms.media.transcode.probe import run_probe, stream_rotation
from lms.media.transcode.run import run_quick
from lms.media.transcode.tools import Tools


def make_rotated_sample(target: Path, tools: Tools, *, rotation: int, **options) -> Path:
    """A sample clip carrying a display rotation the way phones store it (for the upright-output tests)."""
    make_sample(target, tools, output_options={"metadata:s:v:0": f"rotate={rotation}"}, **options)
    if not probe_rotation(target, tools):
        # Newer ffmpeg ignores the rotate tag; set the display matrix on a remux instead.
        rotated = target.with_name(target.stem + ".rot" + target.suffix)
        stream = ffmpeg.input(str(target), display_rotation=rotation)
        output = ffmpeg.output(stream, str(rotated), c="copy", f=container_of(target)).global_args(
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
