"""A member plays a short video lesson in Chromium: it completes with credited time close to its length;
seeking straight to the end does not complete it."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.courses import services, tracking
from lms.courses.models import LessonKind, LessonProgress, StudyLedgerEntry
from lms.extensions import db
from lms.media import jobs
from lms.media import services as media_services
from lms.media.demo import make_sample
from lms.media.models import AssetStatus, MediaAsset
from lms.media.storage import get_storage
from lms.media.transcode import tools as transcode_tools

CLIP_SECONDS = 5


@pytest.fixture
def video_lesson(app, make_user, tmp_path):
    """A published course with one video lesson on a real, transcoded clip of a few seconds."""
    try:
        tools = transcode_tools.Tools(
            transcode_tools.find_binary("ffmpeg"), transcode_tools.find_binary("ffprobe"), nice=0
        )
    except transcode_tools.TranscodeError as error:
        pytest.skip(str(error))
    app.config.update(TRANSCODE_PRESET="ultrafast", TRANSCODE_NICE=0, HEARTBEAT_SECONDS=1)
    clip = make_sample(tmp_path / "lesson.mp4", tools, seconds=CLIP_SECONDS, size="320x180")
    asset = MediaAsset(title="党课片段", original_filename=clip.name, status=AssetStatus.UPLOADING)
    db.session.add(asset)
    db.session.flush()
    original = get_storage().original(asset.id)
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(clip.read_bytes())
    media_services.accept_original(asset, now=clock.utcnow())
    db.session.commit()
    assert jobs.transcode_now(asset), asset.error_message
    db.session.refresh(asset)
    admin = make_user(role=Role.ADMIN, username="boss")
    now = clock.utcnow()
    course = services.create_course(services.CourseFields(title="党史学习"), actor=admin, now=now)
    lesson = services.add_lesson(
        course, services.LessonFields(kind=LessonKind.VIDEO, title="第一讲", media_asset_id=asset.id), now=now
    )
    services.add_lesson(
        course, services.LessonFields(kind=LessonKind.ARTICLE, title="课后阅读", body_html="<p>读</p>",
                                      reading_minutes=3), now=now,
    )  # fmt: skip
    db.session.flush()
    db.session.refresh(course)
    services.publish_course(course, now=now)
    db.session.commit()
    return lesson


def progress_of(user, lesson) -> LessonProgress | None:
    db.session.expire_all()
    return db.session.get(LessonProgress, (user.id, lesson.id))


def ledger_seconds(user) -> float:
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0)).where(StudyLedgerEntry.user_id == user.id)
    )


def open_lesson(page, live_server, lesson):
    page.goto(live_server(f"/courses/lessons/{lesson.id}"))
    expect(page.locator("video[data-vanguard-player]")).to_be_visible()
    expect(page.locator(".lesson-list")).to_contain_text("课后阅读")
    # Mounted, but hls.js is fetched only when the member means to play (the lesson page stays light).
    page.wait_for_function("() => window.VanguardPlayer && window.VanguardPlayer.get(document.querySelector('video'))")
    assert not hls_requested(page)
    expect(page.locator("[data-vanguard-quality-group]")).to_be_hidden()  # nothing to choose from yet


def hls_requested(page) -> bool:
    return page.evaluate(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('hls.min.js'))"
    )


def wait_for_last_beat(page):
    """Until the video has ended and the tracker has no beat left unanswered."""
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); const t = document.querySelector('[data-study-tracker]');"
        " return v.ended && t.dataset.beatsPending === '0' && Number(t.dataset.beatsAnswered) > 0; }",
        timeout=30_000,
    )


def test_playing_to_the_end_completes_the_lesson_with_its_time_credited(
    page, live_server, make_user, browser_login, video_lesson
):
    member = make_user(username="liming", name="李明")
    browser_login(page, member)
    open_lesson(page, live_server, video_lesson)
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    wait_for_last_beat(page)
    assert hls_requested(page)
    assert page.evaluate("() => window.VanguardPlayer.get(document.querySelector('video')).mode") == "hls.js"
    expect(page.get_by_test_id("lesson-complete")).to_be_visible()
    expect(page.locator("[data-tracker-watched]")).to_have_text(re.compile(r"^(9\d|100)(\.\d)?%$"))
    expect(page.locator("[data-tracker-credited]")).to_have_text(re.compile(r"0:0[45]"))
    row = progress_of(member, video_lesson)
    assert row.completed_at is not None
    duration = video_lesson.duration_seconds
    assert duration - 1.0 <= ledger_seconds(member) <= duration + 0.01


def test_seeking_to_the_end_at_once_does_not_complete_the_lesson(
    page, live_server, make_user, browser_login, video_lesson
):
    member = make_user(username="zhaoting", name="赵婷")
    browser_login(page, member)
    open_lesson(page, live_server, video_lesson)
    page.evaluate(
        "() => { const v = document.querySelector('video'); v.muted = true;"
        " return v.play().then(() => { v.currentTime = v.duration - 0.3; }); }"
    )
    wait_for_last_beat(page)
    expect(page.get_by_test_id("lesson-complete")).to_be_hidden()
    row = progress_of(member, video_lesson)
    assert row is not None and row.completed_at is None
    assert ledger_seconds(member) < 2.0


def test_a_returning_member_resumes_where_they_stopped_and_only_the_rest_is_credited(
    page, live_server, make_user, browser_login, video_lesson, monkeypatch
):
    """play() comes before hls.js has attached the source: the video still starts at the saved position."""
    monkeypatch.setattr(tracking, "RESUME_END_MARGIN_SECONDS", 1.0)  # the clip is shorter than the real margin
    member = make_user(username="wangfang", name="王芳")
    db.session.add(LessonProgress(user_id=member.id, lesson_id=video_lesson.id, last_position_seconds=2.5))
    db.session.commit()
    browser_login(page, member)
    open_lesson(page, live_server, video_lesson)
    page.evaluate(
        "() => { const v = document.querySelector('video'); v.muted = true; window.__firstPlayed = null;"
        " v.addEventListener('timeupdate', () => { if (window.__firstPlayed === null && v.currentTime > 0)"
        " window.__firstPlayed = v.currentTime; }); return v.play(); }"
    )
    wait_for_last_beat(page)
    assert page.evaluate("() => window.__firstPlayed") >= 2.0
    credited = ledger_seconds(member)
    remaining = video_lesson.duration_seconds - 2.5
    assert remaining - 1.0 <= credited <= remaining + 0.5
