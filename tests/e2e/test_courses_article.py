"""A member reads an article in Chromium: visible reading time is credited live, up to its minutes."""

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from lms.courses import services
from lms.courses.models import LessonKind, StudyLedgerEntry, StudySource
from lms.extensions import db


def test_reading_an_article_credits_visible_time_and_shows_it(app, page, live_server, make_user, browser_login):
    from lms import clock
    from lms.auth.models import Role

    app.config["HEARTBEAT_SECONDS"] = 1
    admin = make_user(role=Role.ADMIN, username="boss")
    member = make_user(username="reader", name="读者")
    now = clock.utcnow()
    course = services.create_course(services.CourseFields(title="党章学习"), actor=admin, now=now)
    lesson = services.add_lesson(
        course,
        services.LessonFields(kind=LessonKind.ARTICLE, title="党章导读", body_html="<p>党章是党的根本大法。</p>",
                              reading_minutes=1),
        now=now,
    )  # fmt: skip
    db.session.flush()
    db.session.refresh(course)
    services.publish_course(course, now=now)
    db.session.commit()

    browser_login(page, member)
    page.goto(live_server(f"/courses/lessons/{lesson.id}"))
    expect(page.get_by_test_id("article-body")).to_contain_text("根本大法")
    credited = page.locator("[data-tracker-credited]")
    expect(credited).not_to_have_text("0:00", timeout=10_000)
    expect(credited).to_have_text(re.compile(r"0:0[3-9]|0:[1-5]\d"), timeout=10_000)
    db.session.expire_all()
    seconds = db.session.scalar(
        sa.select(sa.func.sum(StudyLedgerEntry.seconds)).where(
            StudyLedgerEntry.user_id == member.id, StudyLedgerEntry.source == StudySource.READING
        )
    )
    assert 1 <= seconds <= 60
