"""Fixtures for the courses tests: assets and courses (``tests.factories``), sessions and beats."""

from __future__ import annotations

import pytest

from lms import clock
from lms.auth.models import Role
from lms.courses import tracking
from lms.courses.models import Course, CourseStatus, Lesson, LessonKind
from lms.extensions import db
from tests.factories.courses import create_course
from tests.factories.media import create_asset


@pytest.fixture
def make_asset(app):
    """A media asset (READY video by default) of ``duration`` seconds: ``make_asset(120.0)``."""
    return create_asset


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN, username="admin-user", name="管理员")


@pytest.fixture
def make_course(app, admin):
    """A course (published by default) with lessons given as kinds or (kind, seconds_or_minutes) pairs."""

    def factory(*lessons, **options) -> Course:
        return create_course(*lessons, actor=admin, **options)

    return factory


@pytest.fixture
def lesson_of():
    def first(course: Course, kind: LessonKind | None = None) -> Lesson:
        return next(lesson for lesson in course.lessons if kind is None or lesson.kind == kind)

    return first


@pytest.fixture
def start(app):
    """Start a session for (user, lesson) at the frozen clock's now; returns the session id."""

    def do_start(user, lesson) -> str:
        started = tracking.start_session(user, lesson.id, now=clock.utcnow())
        db.session.commit()
        return started.session_id

    return do_start


@pytest.fixture
def beat(app, frozen_clock):
    """Advance the clock by ``after`` seconds and send a beat; returns the BeatResult."""

    def do_beat(user, session_id, start=None, end=None, *, after: float = 15, rate: float = 1.0, visible=True,
                lesson_id=None, reading_seconds=None, idle_seconds=0.0, idle=False):  # fmt: skip
        frozen_clock.advance(after)
        result = tracking.record_heartbeat(
            user.id,
            tracking.Heartbeat(
                session_id=session_id,
                lesson_id=lesson_id,
                start=start,
                end=end,
                rate=rate,
                visible=visible,
                reading_seconds=reading_seconds,
                idle_seconds=idle_seconds,
                idle=idle,
            ),
            now=clock.utcnow(),
        )
        db.session.commit()
        return result

    return do_beat


def published(course: Course) -> bool:
    return course.status == CourseStatus.PUBLISHED
