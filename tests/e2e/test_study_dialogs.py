"""The study dialogs in Chromium at 375 px: "still studying?" after the idle minutes, and a presence check."""

import os

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.courses import presence, services
from lms.courses.models import LessonKind, LessonProgress
from lms.extensions import db
from tests.e2e.test_courses_player import open_lesson, video_lesson  # noqa: F401, F811 (a fixture)

SCREENSHOTS = os.environ.get("LMS_SCREENSHOTS", "")


@pytest.fixture
def article(app, make_user):
    admin = make_user(role=Role.ADMIN, username="boss")
    now = clock.utcnow()
    course = services.create_course(services.CourseFields(title="党章学习", presence_checks=True), actor=admin, now=now)
    lesson = services.add_lesson(
        course,
        services.LessonFields(kind=LessonKind.ARTICLE, title="党章导读", body_html="<p>党章是党的根本大法。</p>" * 30,
                              reading_minutes=20),
        now=now,
    )  # fmt: skip
    db.session.flush()
    db.session.refresh(course)
    services.publish_course(course, now=now)
    db.session.commit()
    return lesson


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=False)


def test_idle_reader_is_asked_whether_still_studying(page, live_server, make_user, browser_login, article):
    member = make_user(username="reader", name="读者")
    page.set_viewport_size({"width": 375, "height": 812})
    page.clock.install()
    browser_login(page, member)
    page.goto(live_server(f"/courses/lessons/{article.id}"))
    dialog = page.get_by_test_id("idle-dialog")
    expect(dialog).to_be_hidden()
    shot(page, "lesson-375")
    page.clock.run_for("09:50")
    expect(dialog).to_be_hidden()
    page.clock.run_for("00:15")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("还在学习吗？")
    expect(page.locator("[data-tracker-status]")).to_contain_text("停止")
    shot(page, "idle-dialog-375")
    dialog.get_by_role("button").click()
    expect(dialog).to_be_hidden()


def test_presence_check_is_answered_in_the_page(page, live_server, make_user, browser_login, article):
    member = make_user(username="present", name="在场者")
    # The server issued the check a moment ago (the member studied past the lesson's check point).
    token = presence.new_token()
    db.session.add(LessonProgress(user_id=member.id, lesson_id=article.id, intervals=[0, 600], watched_seconds=600,
                                  started_at=clock.utcnow(), presence_token=token,
                                  presence_issued_at=clock.utcnow()))  # fmt: skip
    db.session.commit()
    page.set_viewport_size({"width": 375, "height": 812})
    browser_login(page, member)
    page.goto(live_server(f"/courses/lessons/{article.id}"))
    dialog = page.get_by_test_id("presence-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("秒")
    shot(page, "presence-dialog-375")
    dialog.get_by_role("button").click()
    expect(dialog).to_be_hidden()
    db.session.expire_all()
    passed = db.session.scalar(sa.select(LessonProgress.presence_passed_at).where(LessonProgress.user_id == member.id))
    assert passed is not None


def test_idle_viewer_is_paused_and_asked(app, page, live_server, make_user, browser_login, video_lesson):  # noqa: F811
    app.config["IDLE_MINUTES"] = 0.05  # three seconds, within the five-second clip
    member = make_user(username="viewer", name="观看者")
    page.set_viewport_size({"width": 375, "height": 812})
    browser_login(page, member)
    open_lesson(page, live_server, video_lesson)
    shot(page, "video-lesson-375")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    dialog = page.get_by_test_id("idle-dialog")
    expect(dialog).to_be_visible(timeout=10_000)
    assert page.evaluate("() => document.querySelector('video').paused")
    shot(page, "video-idle-375")
    dialog.get_by_role("button").click()
    expect(dialog).to_be_hidden()
    page.wait_for_function("() => !document.querySelector('video').paused")
