"""Media admin in the browser: the job table follows the live status; on a phone a tap on the picture plays."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.extensions import db
from lms.media import jobs, services
from lms.media.demo import make_sample
from lms.media.models import AssetStatus, MediaAsset
from lms.media.storage import get_storage
from lms.media.transcode import tools as transcode_tools
from tests.conftest import TEST_PASSWORD


@pytest.fixture
def tools(app):
    try:
        found = transcode_tools.Tools(
            transcode_tools.find_binary("ffmpeg"), transcode_tools.find_binary("ffprobe"), nice=0
        )
    except transcode_tools.TranscodeError as error:
        pytest.skip(str(error))
    app.config.update(TRANSCODE_PRESET="ultrafast", TRANSCODE_NICE=0)
    return found


def _queued_asset(tools, tmp_path) -> MediaAsset:
    clip = make_sample(tmp_path / "党课.mp4", tools, seconds=3, size="320x180")
    asset = MediaAsset(title="党课视频", original_filename=clip.name, status=AssetStatus.UPLOADING)
    db.session.add(asset)
    db.session.flush()
    original = get_storage().original(asset.id)
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(clip.read_bytes())
    services.accept_original(asset, now=clock.utcnow())
    db.session.commit()
    return asset


def test_the_job_table_follows_the_badge_without_a_reload(page, live_server, make_user, browser_login, tools, tmp_path):
    asset = _queued_asset(tools, tmp_path)
    browser_login(page, make_user(role=Role.ADMIN))
    page.goto(live_server(f"/admin/media/{asset.id}"))
    job_row = page.locator("[data-job-row]").first
    expect(job_row.locator("[data-job-status]")).to_have_text("排队中")
    expect(job_row.locator("[data-job-percent]")).to_have_text("0.0%")
    job = services.claim_next_job("browser-test", now=clock.utcnow())
    db.session.commit()
    assert services.renew_lease(job.id, "browser-test", now=clock.utcnow(), percent=42.25)
    expect(page.locator("[data-asset-label]")).to_have_text("转码中", timeout=10_000)
    expect(job_row.locator("[data-job-status]")).to_have_text("进行中")
    expect(job_row.locator("[data-job-percent]")).to_have_text("42.2%")
    expect(job_row.locator("[data-job-attempts]")).to_have_text("1")
    expect(job_row.locator("[data-job-started]")).not_to_have_text("—")


def test_a_tap_on_the_picture_starts_the_video_on_a_phone(browser, live_server, make_user, tools, tmp_path):
    asset = _queued_asset(tools, tmp_path)
    assert jobs.transcode_now(asset), asset.error_message
    admin = make_user(role=Role.ADMIN)
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 667}, has_touch=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(live_server("/auth/login"))
        page.fill("input[name=login]", admin.username)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/auth/login" not in url)
        page.goto(live_server(f"/admin/media/{asset.id}"))
        video = page.locator("video[data-vanguard-player]")
        expect(video).to_be_visible()
        page.wait_for_function(
            "() => window.VanguardPlayer"
            " && window.VanguardPlayer.get(document.querySelector('video[data-vanguard-player]'))"
        )
        assert page.evaluate("() => document.querySelector('video[data-vanguard-player]').paused")
        box = video.bounding_box()
        # The middle of the picture, well above the native control bar.
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.4)
        page.wait_for_function("() => !document.querySelector('video[data-vanguard-player]').paused")
        # It keeps playing (the native controls do not toggle it back).
        page.wait_for_function("() => document.querySelector('video[data-vanguard-player]').currentTime > 0.5")
        assert not page.evaluate("() => document.querySelector('video[data-vanguard-player]').paused")
    finally:
        context.close()
