"""An admin uploads a clip in chunks (surviving a dropped connection and a reload), it is transcoded, and it plays."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.media import jobs
from lms.media.demo import make_sample
from lms.media.transcode import tools as transcode_tools

CHUNK = 64 * 1024
UPLOAD_BOUND_MS = 120_000  # a bound, not a wait: the test goes on at the event itself


def upload_finished(response) -> bool:
    """The page's last request of an upload: POST .../complete (then it shows the outcome)."""
    return response.request.method == "POST" and response.url.endswith("/complete")


def put_failed(request) -> bool:
    return request.method == "PUT" and "/admin/media/uploads/" in request.url


@pytest.fixture
def media_app(app):
    app.config["TRANSCODE_PRESET"] = "ultrafast"
    app.config["TRANSCODE_NICE"] = 0
    app.config["UPLOAD_CHUNK_MB"] = CHUNK / (1024 * 1024)
    return app


@pytest.fixture
def tools():
    try:
        return transcode_tools.Tools(
            transcode_tools.find_binary("ffmpeg"), transcode_tools.find_binary("ffprobe"), nice=0
        )
    except transcode_tools.TranscodeError as error:
        pytest.skip(str(error))


def test_admin_uploads_a_clip_which_is_transcoded_and_plays(
    page, live_server, media_app, make_user, browser_login, tools, tmp_path
):
    clip = make_sample(tmp_path / "第一课.mp4", tools, seconds=8, size="1280x720")
    assert clip.stat().st_size > 3 * CHUNK
    page.add_init_script(
        "document.addEventListener('vanguard:player-ready', function (e) {"
        " window.__playerMode = e.detail.player.mode; });"
        # What the study-time tracker listens to must reach other listeners.
        "window.__events = [];"
        "['play', 'pause', 'seeking', 'seeked', 'timeupdate', 'ended', 'ratechange'].forEach(function (type) {"
        " document.addEventListener(type, function () { window.__events.push(type); }, true); });"
    )
    browser_login(page, make_user(role=Role.ADMIN))
    page.goto(live_server("/admin/media/upload"))
    page.set_input_files("#upload-file", str(clip))
    page.fill("#upload-title", "浏览器上传的党课")
    with page.expect_response(upload_finished, timeout=UPLOAD_BOUND_MS):
        page.get_by_test_id("start-upload").click()
    expect(page.locator("[data-upload-message]")).to_contain_text("上传完成")
    expect(page.get_by_test_id("upload-percent")).to_contain_text("100%")

    # The list shows it waiting, then ready without a reload (it polls the status).
    page.goto(live_server("/admin/media/"))
    row = page.locator("tr", has_text="浏览器上传的党课")
    expect(row.locator("[data-asset-label]")).to_have_text("等待转码")
    assert jobs.process_transcode_queue(clock.utcnow()) is not None
    expect(row.locator("[data-asset-label]")).to_have_text("可播放", timeout=15_000)

    row.get_by_role("link", name="浏览器上传的党课").click()
    video = page.locator("video#preview")
    expect(video).to_be_visible()
    page.wait_for_function("() => window.__playerMode === 'hls.js'")
    # hls.js comes with the first play; then the qualities of the ladder are offered.
    page.evaluate("() => { const v = document.querySelector('#preview'); v.muted = true; return v.play(); }")
    quality = page.locator("#preview-quality")
    expect(quality).to_be_visible()
    expect(quality.locator("option")).to_have_text([re.compile("^自动"), "360p", "720p"])
    page.wait_for_function("() => document.querySelector('#preview').currentTime > 1", timeout=20_000)
    quality.select_option("0")  # a viewer picks 360p by hand; playback goes on
    page.wait_for_function("() => document.querySelector('#preview').currentTime > 2", timeout=20_000)
    assert page.evaluate("() => document.querySelector('#preview').currentTime") < 6

    # The keyboard: K pauses and plays the focused player, L skips 5 seconds ahead.
    video.focus()
    page.keyboard.press("k")
    page.wait_for_function("() => document.querySelector('#preview').paused")
    page.evaluate("() => { document.querySelector('#preview').playbackRate = 1.5; }")
    page.keyboard.press("k")
    page.wait_for_function("() => !document.querySelector('#preview').paused")
    page.keyboard.press("l")
    page.keyboard.press("l")
    page.wait_for_function("() => document.querySelector('#preview').ended")
    # "seeked" and "ended" are queued as tasks after the state they report changed: wait for the events.
    page.wait_for_function("() => ['seeked', 'ended'].every((type) => window.__events.includes(type))")
    events = set(page.evaluate("() => window.__events"))
    assert events >= {"play", "pause", "seeking", "seeked", "timeupdate", "ended", "ratechange"}


def test_upload_resumes_after_a_dropped_connection_and_a_reload(
    page, live_server, media_app, make_user, browser_login, tools, tmp_path
):
    clip = make_sample(tmp_path / "长视频.mp4", tools, seconds=4, size="1280x720")
    chunks = -(-clip.stat().st_size // CHUNK)
    assert chunks >= 5
    browser_login(page, make_user(role=Role.ADMIN))
    starts: list[int] = []
    allowed = {"puts": 3}

    def flaky_network(route):
        if route.request.method != "PUT":
            route.continue_()
            return
        if allowed["puts"] <= 0:
            route.abort("connectionreset")
            return
        allowed["puts"] -= 1
        starts.append(int(re.match(r"bytes (\d+)-", route.request.headers["content-range"]).group(1)))
        route.continue_()

    page.route("**/admin/media/uploads/*", flaky_network)
    page.goto(live_server("/admin/media/upload"))
    page.set_input_files("#upload-file", str(clip))
    with page.expect_event("requestfailed", put_failed, timeout=UPLOAD_BOUND_MS):
        page.get_by_test_id("start-upload").click()
    expect(page.locator("[data-upload-message]")).to_contain_text("网络连接中断")
    assert starts == [0, CHUNK, 2 * CHUNK]

    # The admin reloads the page and picks the same file again.
    page.unroute("**/admin/media/uploads/*")
    sent_after_reload: list[int] = []
    page.on(
        "request",
        lambda request: (
            request.method == "PUT"
            and sent_after_reload.append(int(re.match(r"bytes (\d+)-", request.headers["content-range"]).group(1)))
        ),
    )
    page.reload()
    expect(page.locator("[data-upload-pending]")).to_contain_text("长视频.mp4")
    page.set_input_files("#upload-file", str(clip))
    with page.expect_response(upload_finished, timeout=UPLOAD_BOUND_MS):
        page.get_by_test_id("start-upload").click()
    expect(page.locator("[data-upload-message]")).to_contain_text("上传完成")
    assert sent_after_reload[0] == 3 * CHUNK
    assert len(sent_after_reload) == chunks - 3

    page.get_by_test_id("open-asset").click()
    from lms.extensions import db
    from lms.media.models import MediaAsset
    from lms.media.storage import get_storage

    asset = db.session.scalar(db.select(MediaAsset).where(MediaAsset.title == "长视频"))
    assert get_storage().original(asset.id).read_bytes() == clip.read_bytes()
