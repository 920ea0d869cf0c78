"""Factories for the courses tests: ready media assets, courses with lessons, sessions and beats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lms import clock
from lms.auth.models import Role
from lms.courses import services, tracking
from lms.courses.models import Course, CourseStatus, Lesson, LessonKind
from lms.extensions import db
from lms.media.models import AssetKind, AssetStatus, MediaAsset


@pytest.fixture
def make_asset(app):
    """A media asset (READY video by default) of ``duration`` seconds."""

    def factory(duration: float = 100.0, status: AssetStatus = AssetStatus.READY, title: str = "视频") -> MediaAsset:
        asset = MediaAsset(
            title=title,
            original_filename="clip.mp4",
            kind=AssetKind.VIDEO,
            status=status,
            size_bytes=1000,
            duration_seconds=duration,
            width=640,
            height=360,
            ready_at=datetime(2026, 1, 1, tzinfo=UTC) if status == AssetStatus.READY else None,
        )
        db.session.add(asset)
        db.session.commit()
        return asset

    return factory


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN, username="admin-user", name="管理员")


@pytest.fixture
def make_course(app, admin, make_asset):
    """A course (published by default) with lessons given as kinds or (kind, seconds_or_minutes) pairs."""

    def factory(
        *lessons,
        title: str = "党史学习",
        published: bool = True,
        audience: dict | None = None,
        category: str = "",
        tags: list[str] | None = None,
    ) -> Course:
        now = clock.utcnow()
        course = services.create_course(
            services.CourseFields(title=title, category=category, tags=tags or [], **(audience or {})),
            actor=admin,
            now=now,
        )
        for spec in lessons or (LessonKind.VIDEO,):
            kind, amount = spec if isinstance(spec, tuple) else (spec, None)
            if kind == LessonKind.ARTICLE:
                fields = services.LessonFields(
                    kind=kind, title="文章", body_html="<p>学习党章</p>", reading_minutes=amount or 10
                )
            else:
                asset = make_asset(amount or (100.0 if kind == LessonKind.VIDEO else 300.0))
                fields = services.LessonFields(kind=kind, title=f"课{asset.id}", media_asset_id=asset.id)
            services.add_lesson(course, fields, now=now)
        if published:
            db.session.flush()
            db.session.refresh(course)
            services.publish_course(course, now=now)
        db.session.commit()
        return course

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
