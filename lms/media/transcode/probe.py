"""Probing and validating an upload before anything else reads it.

Every input is opened with ``-protocol_whitelist file`` and a demuxer whitelist of real media
containers, and playlists, concat lists, images and text are refused before ffprobe even sees
them: ffmpeg reads only the uploaded file.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg
from flask_babel import lazy_gettext as _l

from lms.media.transcode.tools import MediaRefused, Tools, command_prefix, environment

log = logging.getLogger(__name__)

# Containers we accept as input (ffmpeg demuxer names). Deliberately absent:
# hls, concat, image2 and the image pipes, data, tty (text), lavfi, and anything
# that follows references to other files or URLs.
INPUT_FORMATS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,mpegvideo,asf,wav,mp3,aac,ogg,flac,"
    "h264,hevc,m4v,dv,mxf,rm,amr,w64,aiff,caf"
)


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


def stream_rotation(stream: dict) -> int:
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
        *command_prefix(tools.ffprobe, tools.nice),
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
            args, capture_output=True, timeout=timeout, env=environment(tools.ffprobe), check=False
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
        rotation = stream_rotation(video)
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
