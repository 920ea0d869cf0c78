"""Admin pages: the asset list with live status, asset detail, retry, rename, delete; the demo."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms import clock
from lms.auth.models import Role
from lms.extensions import db
from lms.media import access, services
from lms.media.models import AssetStatus, MediaAsset
from lms.media.storage import get_storage

pytestmark = pytest.mark.ffmpeg


@pytest.fixture
def admin(client, make_user, login, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    user = make_user(role=Role.ADMIN)
    login(user)
    return user


def test_asset_list_shows_each_status(admin, client, ready_asset, store_asset, clips):
    ready = ready_asset(title="就绪的视频")
    refused = store_asset(clips.text, "文本文件")
    queued = store_asset(clips.landscape, "排队的视频")
    page = client.get("/admin/media/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for asset in (ready, refused, queued):
        assert asset.title in html
        assert f'data-asset-state="{asset.id}" data-status="{asset.status}"' in html
    assert "The file is text" in html
    filtered = client.get("/admin/media/?status=failed").get_data(as_text=True)
    assert "文本文件" in filtered and "就绪的视频" not in filtered


def test_status_endpoint_reports_live_progress(admin, client, store_asset, clips, frozen_clock):
    asset = store_asset(clips.landscape)
    job = services.claim_next_job("w", now=frozen_clock.now)
    db.session.commit()
    assert services.renew_lease(job.id, "w", now=frozen_clock.now, percent=42.25)
    db.session.expire_all()  # the heartbeat wrote on its own connection
    body = client.get(f"/admin/media/status.json?ids={asset.id},x,99999").json
    started = client.get(f"/admin/media/{asset.id}").get_data(as_text=True)
    assert body["assets"] == [
        {
            "id": asset.id,
            "status": "processing",
            "percent": 42.2,
            "error": "",
            "attempts": 1,
            "label": "Transcoding",
            # The job table's row follows too: status, progress, attempts and times, ready to show.
            "job": {
                "id": job.id,
                "status": "running",
                "label": "Running",
                "percent": 42.2,
                "attempts": 1,
                "started_at": body["assets"][0]["job"]["started_at"],
                "finished_at": "—",
            },
        }
    ]
    assert body["assets"][0]["job"]["started_at"] != "—"
    assert f'data-job-row="{job.id}"' in started and "data-job-percent" in started


def test_detail_page_of_a_ready_asset_previews_it_with_the_player(admin, client, ready_asset):
    asset = ready_asset()
    html = client.get(f"/admin/media/{asset.id}").get_data(as_text=True)
    assert "data-vanguard-player" in html
    assert f'data-src="/media/{asset.id}/hls/master.m3u8"' in html
    assert f'data-fallback="/media/{asset.id}/video.mp4"' in html
    assert f'poster="/media/{asset.id}/poster.jpg"' in html
    assert "playsinline" in html and "vendor/hls.js/hls.min.js" in html and "js/player.js" in html
    assert "180p (320×180" in html


def test_failed_asset_shows_the_reason_and_can_be_retried(admin, client, store_asset, clips):
    asset = store_asset(clips.landscape)
    original = get_storage().original(asset.id)
    original.write_bytes(original.read_bytes()[:1500])
    from lms.media.jobs import transcode_now

    transcode_now(asset)
    html = client.get(f"/admin/media/{asset.id}").get_data(as_text=True)
    assert "Transcoding failed" in html and "What ffmpeg reported" in html
    response = client.post(f"/admin/media/{asset.id}/retry", follow_redirects=True)
    assert "queued for transcoding again" in response.get_data(as_text=True)
    db.session.refresh(asset)
    assert asset.status == AssetStatus.QUEUED
    response = client.post(f"/admin/media/{asset.id}/retry", follow_redirects=True)
    assert "Only a failed video can be retried." in response.get_data(as_text=True)


def test_rename_needs_a_title(admin, client, ready_asset):
    asset = ready_asset()
    response = client.post(f"/admin/media/{asset.id}", data={"title": ""})
    assert response.status_code == 200 and "This field is required." in response.get_data(as_text=True)
    client.post(f"/admin/media/{asset.id}", data={"title": "新标题"})
    db.session.refresh(asset)
    assert asset.title == "新标题"


def test_delete_removes_the_asset_and_every_file(admin, client, ready_asset):
    asset = ready_asset()
    asset_id = asset.id
    storage = get_storage()
    assert storage.original(asset_id).exists() and storage.poster_file(asset_id)
    response = client.post(f"/admin/media/{asset_id}/delete", follow_redirects=True)
    assert "were deleted" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MediaAsset, asset_id) is None
    for kind in ("originals", "renditions", "posters", "work"):
        assert not (storage.root / kind / str(asset_id)).exists()


def test_an_asset_in_use_cannot_be_deleted(admin, client, ready_asset, monkeypatch):
    asset = ready_asset()
    monkeypatch.setattr(access, "_USAGES", {"courses": lambda asset_id: ["第一课"] if asset_id == asset.id else []})
    response = client.post(f"/admin/media/{asset.id}/delete", follow_redirects=True)
    assert "still used by: 第一课" in response.get_data(as_text=True)
    assert db.session.get(MediaAsset, asset.id) is not None


def test_original_can_be_downloaded_under_its_own_name(admin, client, store_asset, clips):
    asset = store_asset(clips.text)
    response = client.get(f"/admin/media/{asset.id}/original")
    assert response.status_code == 200 and response.data == clips.text.read_bytes()
    assert "notes.mp4" in response.headers["Content-Disposition"]


def test_upload_page_carries_the_protocol_urls_and_limits(admin, client, app):
    app.config["MAX_UPLOAD_MB"] = 100
    html = client.get("/admin/media/upload").get_data(as_text=True)
    assert 'data-start-url="/admin/media/uploads"' in html
    assert f'data-max-bytes="{100 * 1024 * 1024}"' in html
    assert "js/upload.js" in html


@pytest.mark.parametrize(
    "url",
    ["/admin/media/", "/admin/media/upload", "/admin/media/status.json", "/admin/media/1", "/admin/media/1/original"],
)
def test_media_admin_pages_are_for_admins_only(client, make_user, login, url, app):
    login(make_user(role=Role.SECRETARY))
    assert client.get(url).status_code == 403


def test_demo_videos_are_made_once_and_playable(app):
    from lms.media import demo

    app.config["TRANSCODE_PRESET"] = "ultrafast"
    lines = demo.seed_demo()
    assert len(lines) == 2
    assets = db.session.scalars(sa.select(MediaAsset).order_by(MediaAsset.id)).all()
    assert [a.title for a in assets] == [title for title, *_ in demo.DEMO_VIDEOS]
    assert all(a.status == AssetStatus.READY and a.width == 640 and a.height == 360 for a in assets)
    assert assets[0].duration_seconds == pytest.approx(24, abs=0.2)
    assert demo.seed_demo() == []
    assert db.session.scalar(sa.select(sa.func.count(MediaAsset.id))) == 2


def test_a_refused_file_is_examined_again_on_retry(admin, client, store_asset, clips, app):
    app.config["MAX_DURATION_MINUTES"] = 0.02
    asset = store_asset(clips.landscape)
    assert asset.status == AssetStatus.FAILED
    response = client.post(f"/admin/media/{asset.id}/retry", follow_redirects=True)
    assert "the limit is" in response.get_data(as_text=True)  # still too long
    app.config["MAX_DURATION_MINUTES"] = 240  # the admin raised the limit
    client.post(f"/admin/media/{asset.id}/retry")
    db.session.refresh(asset)
    assert asset.status == AssetStatus.QUEUED and asset.error_message is None


def test_a_missing_ffprobe_fails_the_asset_without_losing_the_file(store_asset, clips, app, tmp_path):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    broken = tmp_path / "ffprobe"
    broken.write_text("")
    broken.chmod(0o644)  # not executable
    from lms.media.transcode import tools as transcode_tools

    tools = transcode_tools.Tools(transcode_tools.find_binary("ffmpeg"), transcode_tools.Binary(str(broken)), nice=0)
    asset = MediaAsset(title="x", original_filename="x.mp4", status=AssetStatus.UPLOADING)
    db.session.add(asset)
    db.session.flush()
    original = get_storage().original(asset.id)
    original.parent.mkdir(parents=True)
    original.write_bytes(clips.landscape.read_bytes())
    services.accept_original(asset, now=clock.utcnow(), tools=tools)
    assert asset.status == AssetStatus.FAILED
    assert "could not examine the file" in asset.error_message
    assert original.exists()


def test_the_player_macro_shows_a_notice_for_an_asset_not_ready(app, store_asset, clips):
    from flask import render_template_string

    asset = store_asset(clips.landscape)
    with app.test_request_context():
        html = render_template_string(
            '{% from "media/_player.html" import player %}{{ player(asset, start_at=12.5, dom_id="lesson") }}',
            asset=asset,
        )
    assert "data-vanguard-player" not in html and 'id="lesson-not-ready"' in html
