"""Real ffmpeg on tiny clips: each upload ends in a playable HLS set or a clear refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lms.media.models import AssetKind, AssetStatus, JobStatus
from lms.media.storage import get_storage
from lms.media.transcode import ladder as transcode_ladder
from lms.media.transcode import probe as transcode_probe
from lms.media.transcode import run as transcode_run
from lms.media.transcode import tools as transcode_tools

pytestmark = pytest.mark.ffmpeg


def ffprobe_json(tools, path: Path) -> dict:
    """ffprobe on our own output (HLS playlists included), as the check of what a player gets."""
    env = dict(os.environ, **(tools.ffprobe.env or {}))
    completed = subprocess.run(
        [tools.ffprobe.path, "-v", "error", "-protocol_whitelist", "file", "-show_format", "-show_streams",
         "-of", "json", str(path)],
        capture_output=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(completed.stdout)


def streams_of(report: dict, kind: str) -> list[dict]:
    return [s for s in report["streams"] if s["codec_type"] == kind]


def assert_playable_hls(tools, asset, *, video: bool, audio: bool) -> None:
    folder = get_storage().rendition_file(asset.id, "master.m3u8").parent
    master = (folder / "master.m3u8").read_text()
    assert master.startswith("#EXTM3U")
    for rendition in asset.renditions:
        playlist = folder / rendition["folder"] / "index.m3u8"
        text = playlist.read_text()
        assert f"{rendition['folder']}/index.m3u8" in master
        assert rendition["folder"].startswith(rendition["name"] + "-")
        assert "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE:VOD" in text
        durations = [float(line.split(":")[1].rstrip(",")) for line in text.splitlines() if line.startswith("#EXTINF")]
        assert durations and max(durations) <= transcode_ladder.SEGMENT_SECONDS + 0.5
        report = ffprobe_json(tools, playlist)
        assert float(report["format"]["duration"]) == pytest.approx(asset.duration_seconds, abs=0.6)
        assert [s["codec_name"] for s in streams_of(report, "video")] == (["h264"] if video else [])
        assert [s["codec_name"] for s in streams_of(report, "audio")] == (["aac"] if audio else [])
        if video:
            picture = streams_of(report, "video")[0]
            assert (picture["width"], picture["height"]) == (rendition["width"], rendition["height"])
    fallback = ffprobe_json(tools, folder / "video.mp4")
    assert float(fallback["format"]["duration"]) == pytest.approx(asset.duration_seconds, abs=0.6)
    assert get_storage().poster_file(asset.id).read_bytes()[:3] == b"\xff\xd8\xff"


def test_landscape_clip_becomes_a_playable_hls_set(ready_asset, clips, tools):
    asset = ready_asset(clips.landscape)
    assert asset.status == AssetStatus.READY and asset.ready_at is not None
    assert (asset.kind, asset.width, asset.height) == (AssetKind.VIDEO, 320, 180)
    assert asset.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert [r["name"] for r in asset.renditions] == ["180p"]  # smaller than 360p: kept at its size
    assert asset.has_mp4_fallback
    assert_playable_hls(tools, asset, video=True, audio=True)
    assert asset.jobs[-1].status == JobStatus.DONE and asset.jobs[-1].progress_percent == 100


def test_hd_clip_gets_every_rung_up_to_its_size_in_one_pass(ready_asset, clips, tools):
    asset = ready_asset(clips.hd)
    assert [(r["name"], r["width"], r["height"]) for r in asset.renditions] == [
        ("360p", 640, 360),
        ("720p", 1280, 720),
    ]
    assert_playable_hls(tools, asset, video=True, audio=True)


def test_rotated_phone_video_comes_out_upright(ready_asset, clips, tools):
    asset = ready_asset(clips.rotated)
    assert asset.probe_summary["rotation"] in (90, 270)
    assert (asset.width, asset.height) == (180, 320)
    assert_playable_hls(tools, asset, video=True, audio=True)
    folder = get_storage().rendition_file(asset.id, "master.m3u8").parent
    picture = streams_of(ffprobe_json(tools, folder / asset.renditions[0]["folder"] / "index.m3u8"), "video")[0]
    assert picture["height"] > picture["width"]
    rotations = [d.get("rotation", 0) for d in picture.get("side_data_list", [])]
    assert not any(rotations), "the output must be upright, not tagged to be rotated by the player"


def test_audio_only_source_becomes_audio_hls_with_a_still_poster(ready_asset, clips, tools):
    asset = ready_asset(clips.audio_only)
    assert asset.kind == AssetKind.AUDIO and asset.width is None
    assert [r["name"] for r in asset.renditions] == ["audio"]
    assert_playable_hls(tools, asset, video=False, audio=True)


def test_variable_frame_rate_video_without_audio_is_transcoded(ready_asset, clips, tools):
    asset = ready_asset(clips.vfr)
    assert asset.probe_summary["audio_codec"] is None
    assert_playable_hls(tools, asset, video=True, audio=False)
    folder = get_storage().rendition_file(asset.id, "master.m3u8").parent
    picture = streams_of(ffprobe_json(tools, folder / asset.renditions[0]["folder"] / "index.m3u8"), "video")[0]
    assert picture["avg_frame_rate"] == picture["r_frame_rate"]  # constant frame rate out


def test_only_the_first_audio_track_of_a_bilingual_video_is_used(ready_asset, clips, tools):
    asset = ready_asset(clips.two_audio)
    assert_playable_hls(tools, asset, video=True, audio=True)  # one audio stream per variant


def test_cover_art_is_never_taken_for_the_video(ready_asset, clips, tools):
    asset = ready_asset(clips.cover_first)
    assert (asset.kind, asset.width, asset.height) == (AssetKind.VIDEO, 320, 180)
    assert_playable_hls(tools, asset, video=True, audio=True)
    song = ready_asset(clips.audio_with_cover)
    assert song.kind == AssetKind.AUDIO
    assert_playable_hls(tools, song, video=False, audio=True)


@pytest.mark.parametrize(
    ("clip", "reason"),
    [
        ("empty", "empty"),
        ("text", "text"),
        ("image", "image"),
        ("playlist", "playlist"),
        ("truncated", "truncated"),
    ],
)
def test_unusable_files_are_refused_with_a_clear_message_and_kept(store_asset, clips, app, clip, reason):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    source = getattr(clips, clip)
    asset = store_asset(source)
    assert asset.status == AssetStatus.FAILED
    assert reason in asset.error_message
    assert asset.jobs == []
    kept = get_storage().original(asset.id)
    assert kept.read_bytes() == source.read_bytes()


def test_file_without_video_or_audio_is_refused(store_asset, tools, tmp_path, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    subtitles = tmp_path / "subs.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:02,000\n你好\n")
    only_subtitles = tmp_path / "subs.mkv"
    env = dict(os.environ, **(tools.ffmpeg.env or {}))
    subprocess.run(
        [tools.ffmpeg.path, "-loglevel", "error", "-i", str(subtitles), str(only_subtitles)], check=True, env=env
    )
    asset = store_asset(only_subtitles)
    assert asset.status == AssetStatus.FAILED
    assert asset.error_message == "The file has neither a video nor an audio stream."


def test_recording_over_the_duration_cap_is_refused(store_asset, clips, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    app.config["MAX_DURATION_MINUTES"] = 0.02  # 1.2 s
    asset = store_asset(clips.landscape)
    assert asset.status == AssetStatus.FAILED
    assert "the limit is" in asset.error_message


def test_refusal_messages_are_translated(store_asset, clips):
    asset = store_asset(clips.text)
    assert asset.error_message == "文件是文本，不是视频或音频。"


def test_ffprobe_reads_only_the_uploaded_file(clips, tools, tmp_path):
    # A playlist that sneaks past the sniffing (no #EXTM3U first) is still not opened as HLS.
    sneaky = tmp_path / "sneaky.mp4"
    sneaky.write_bytes(b"\x00\x00\x00\x00" + f"#EXTM3U\n#EXTINF:3,\nfile://{clips.landscape}\n".encode())
    with pytest.raises(transcode_tools.MediaRefused):
        transcode_probe.probe(sneaky, tools)


def test_ladder_never_upscales_and_follows_the_short_side():
    def ladder(width, height):
        info = transcode_probe.MediaInfo("mov", 10.0, 1, video_codec="h264", width=width, height=height)
        return [(r.name, r.width, r.height) for r in transcode_ladder.plan_ladder(info)]

    assert ladder(1920, 1080) == [("360p", 640, 360), ("720p", 1280, 720), ("1080p", 1920, 1080)]
    assert ladder(1080, 1920) == [("360p", 360, 640), ("720p", 720, 1280), ("1080p", 1080, 1920)]
    assert ladder(3840, 2160) == [("360p", 640, 360), ("720p", 1280, 720), ("1080p", 1920, 1080)]
    assert ladder(640, 480) == [("360p", 480, 360)]
    assert ladder(1000, 700) == [("360p", 514, 360)]
    assert ladder(320, 180) == [("180p", 320, 180)]


def test_the_venvs_python_ffmpeg_wrapper_is_never_used(tmp_path, monkeypatch):
    fake_prefix = tmp_path / "venv"
    (fake_prefix / "bin").mkdir(parents=True)
    wrapper = fake_prefix / "bin" / "ffmpeg"
    wrapper.write_text("#!/usr/bin/env python\nraise SystemExit(0)\n")
    wrapper.chmod(0o755)
    real = tmp_path / "real-ffmpeg"
    real.write_bytes(b"\x7fELF")
    real.chmod(0o755)
    monkeypatch.setattr(sys, "prefix", str(fake_prefix))
    monkeypatch.setattr(transcode_tools.shutil, "which", lambda name: str(wrapper))
    monkeypatch.setattr(transcode_tools, "_bundled", lambda name: str(real))
    assert transcode_tools.find_binary("ffmpeg").path == str(real)
    assert transcode_tools.find_binary("ffmpeg", configured=str(real)).path == str(real)


def test_interlaced_video_is_deinterlaced(store_asset, tools, tmp_path, ready_asset):
    from tests.media.conftest import run_ffmpeg

    interlaced = tmp_path / "interlaced.mp4"
    run_ffmpeg(
        tools,
        *("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=50", "-t", "2", "-vf", "tinterlace=interleave_top"),
        *("-flags", "+ildct+ilme", "-c:v", "libx264", "-preset", "ultrafast", "-x264opts", "tff=1", str(interlaced)),
    )
    info = transcode_probe.probe(interlaced, tools)
    assert info.interlaced
    command = " ".join(
        transcode_ladder.build_hls_command(
            interlaced, tmp_path / "out", info, transcode_ladder.plan_ladder(info), tools, "ultrafast"
        )
    )
    assert "yadif" in command
    asset = ready_asset(interlaced)
    assert asset.status == AssetStatus.READY


def test_ffmpeg_and_ffprobe_run_at_low_priority(clips, tools):
    polite = transcode_tools.Tools(tools.ffmpeg, tools.ffprobe, nice=10)
    info = transcode_probe.probe(clips.landscape, polite)
    command = transcode_ladder.build_hls_command(
        clips.landscape, Path("/tmp/x"), info, transcode_ladder.plan_ladder(info), polite, "fast"
    )
    assert Path(command[0]).name == "nice" and command[1:3] == ["-n", "10"]
    assert command[command.index("-protocol_whitelist") + 1] == "file"


def test_ffmpeg_past_its_time_limit_is_stopped(clips, tools, tmp_path):
    info = transcode_probe.probe(clips.hd, tools)
    ladder = transcode_ladder.plan_ladder(info)
    for rendition in ladder:
        (tmp_path / rendition.path).mkdir()
    command = transcode_ladder.build_hls_command(clips.hd, tmp_path, info, ladder, tools, "veryslow")
    with pytest.raises(transcode_tools.TranscodeError, match="longer than the limit"):
        transcode_run.run_ffmpeg(command, tools, duration_seconds=info.duration_seconds, timeout=0.2)
