"""Media fixtures: real ffmpeg, tiny clips made once per test session, ready-made assets."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from lms import clock
from lms.extensions import db
from lms.media import jobs, services
from lms.media.demo import make_sample
from lms.media.models import AssetStatus, MediaAsset
from lms.media.storage import get_storage
from lms.media.transcode import tools as transcode_tools
from tests.media.clips import make_rotated_sample


@pytest.fixture(scope="session")
def tools() -> transcode_tools.Tools:
    try:
        return transcode_tools.Tools(
            transcode_tools.find_binary("ffmpeg"), transcode_tools.find_binary("ffprobe"), nice=10
        )
    except transcode_tools.TranscodeError as error:
        if os.environ.get("CI"):
            pytest.fail(str(error))
        pytest.skip(str(error))


def run_ffmpeg(tools: transcode_tools.Tools, *args: str) -> None:
    """Run the real ffmpeg binary (the static build needs its environment)."""
    env = dict(os.environ, **(tools.ffmpeg.env or {}))
    subprocess.run(
        [tools.ffmpeg.path, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, env=env
    )


@dataclass
class Clips:
    landscape: Path  # 320x180, 3 s, H.264 + AAC
    rotated: Path  # 320x180 stored, displayed as 180x320 (a phone held upright)
    audio_only: Path  # 3 s AAC in .m4a
    vfr: Path  # variable frame rate, no audio
    truncated: Path  # the first half of an MP4 whose index is at the end
    text: Path  # a text file named .mp4
    empty: Path  # 0 bytes
    image: Path  # a PNG named .mp4
    playlist: Path  # an HLS playlist pointing at another file
    hd: Path  # 1280x720, 4 s: two rungs (360p, 720p)
    two_audio: Path  # a video with two audio tracks (bilingual lectures)
    cover_first: Path  # a video whose first stream is cover art
    audio_with_cover: Path  # an .m4a with cover art (a "video" stream that is a still)


@pytest.fixture(scope="session")
def clips(tools, tmp_path_factory) -> Clips:
    folder = tmp_path_factory.mktemp("clips")
    landscape = make_sample(folder / "landscape.mp4", tools, seconds=3, size="320x180")
    rotated = make_rotated_sample(folder / "rotated.mp4", tools, seconds=3, size="320x180", rotation=90)
    audio_only = make_sample(folder / "audio.m4a", tools, seconds=3, video=False)
    vfr = folder / "vfr.mkv"
    run_ffmpeg(
        tools,
        *("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "3"),
        *("-vf", r"select='lt(mod(n\,10)\,4)+gt(n\,60)'", "-fps_mode", "vfr"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(vfr)),
    )
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(landscape.read_bytes()[: landscape.stat().st_size // 2])
    text = folder / "notes.mp4"
    text.write_text("这不是视频。This is a plain text file with a video's name.\n" * 20, encoding="utf-8")
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    image = folder / "photo.mp4"
    run_ffmpeg(
        tools, "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", "-f", "image2", "-c:v", "png", str(image)
    )
    playlist = folder / "list.mp4"
    playlist.write_text(f"#EXTM3U\n#EXTINF:3,\nfile://{landscape}\n#EXT-X-ENDLIST\n")
    hd = make_sample(folder / "hd.mp4", tools, seconds=4, size="1280x720")
    two_audio = folder / "two-audio.mp4"
    run_ffmpeg(
        tools,
        *("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=f=440"),
        *("-f", "lavfi", "-i", "sine=f=880", "-t", "3", "-map", "0", "-map", "1", "-map", "2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(two_audio)),
    )
    cover = folder / "cover.jpg"
    run_ffmpeg(tools, "-f", "lavfi", "-i", "smptebars=size=96x96", "-frames:v", "1", str(cover))
    cover_first = folder / "cover-first.mp4"
    run_ffmpeg(
        tools,
        *("-i", str(cover), "-i", str(landscape), "-map", "0", "-map", "1:v", "-map", "1:a", "-c", "copy"),
        *("-disposition:v:0", "attached_pic", str(cover_first)),
    )
    audio_with_cover = folder / "with-cover.m4a"
    run_ffmpeg(
        tools,
        *("-i", str(audio_only), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy"),
        *("-disposition:v:0", "attached_pic", str(audio_with_cover)),
    )
    return Clips(
        landscape, rotated, audio_only, vfr, truncated, text, empty, image, playlist, hd,
        two_audio, cover_first, audio_with_cover,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def fast_transcodes(app):
    """Tiny clips, fastest x264 preset: four helpers share two cores."""
    app.config["TRANSCODE_PRESET"] = "ultrafast"
    app.config["TRANSCODE_NICE"] = 0


@pytest.fixture
def store_asset(app):
    """Make an asset from a file as if it had just been uploaded, probed and queued (or refused)."""

    def factory(source: Path, title: str = "测试视频", user=None) -> MediaAsset:
        asset = MediaAsset(title=title, original_filename=source.name, status=AssetStatus.UPLOADING)
        asset.uploaded_by_id = user.id if user else None
        db.session.add(asset)
        db.session.flush()
        original = get_storage().original(asset.id)
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(source.read_bytes())
        services.accept_original(asset, now=clock.utcnow())
        db.session.commit()
        return asset

    return factory


@pytest.fixture
def ready_asset(store_asset, clips):
    """A transcoded, playable asset (the landscape clip unless another file is given)."""

    def factory(source: Path | None = None, title: str = "测试视频") -> MediaAsset:
        asset = store_asset(source or clips.landscape, title)
        assert jobs.transcode_now(asset), asset.error_message
        db.session.refresh(asset)
        return asset

    return factory
