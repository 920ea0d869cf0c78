"""The HLS ladder for a probed upload, and the ffmpeg command lines (HLS, MP4 fallback, poster)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg

from lms.media.transcode.probe import INPUT_FORMATS, MediaInfo
from lms.media.transcode.tools import Tools, command_prefix

# The HLS ladder: (name, short side, video kbps). The short side of the upright
# picture decides, so a 1080x1920 phone video gets the same rungs as 1920x1080.
LADDER = (("360p", 360, 800), ("720p", 720, 2800), ("1080p", 1080, 5000))

AUDIO_KBPS = 128

SEGMENT_SECONDS = 6

MAX_FRAME_RATE = 30


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
    return ffmpeg.compile(output, cmd=command_prefix(tools.ffmpeg, tools.nice), overwrite_output=True)


def build_mp4_command(playlist: Path, target: Path, tools: Tools) -> list[str]:
    """Remux one rendition's segments into an MP4 file (no re-encoding) for players without HLS."""
    stream = ffmpeg.input(f"file:{playlist}", protocol_whitelist="file")
    output = ffmpeg.output(stream, str(target), c="copy", movflags="+faststart", f="mp4")
    output = output.global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    return ffmpeg.compile(output, cmd=command_prefix(tools.ffmpeg, tools.nice), overwrite_output=True)


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
    return ffmpeg.compile(output, cmd=command_prefix(tools.ffmpeg, tools.nice), overwrite_output=True)
