"""Courses with lessons, made through the courses services."""

from __future__ import annotations

from lms import clock
from lms.auth.models import User
from lms.courses import services
from lms.courses.models import Course, LessonKind
from lms.extensions import db
from tests.factories.media import create_asset


def create_course(
    *lessons,
    actor: User,
    title: str = "党史学习",
    published: bool = True,
    audience: dict | None = None,
    category: str = "",
    tags: list[str] | None = None,
) -> Course:
    """A course (published by default) with lessons given as kinds or (kind, seconds_or_minutes) pairs.

    A video or audio lesson gets a READY asset of that many seconds (100 for video,
    300 for audio by default); an article lesson that many reading minutes (10).
    """
    now = clock.utcnow()
    course = services.create_course(
        services.CourseFields(title=title, category=category, tags=tags or [], **(audience or {})),
        actor=actor,
        now=now,
    )
    for spec in lessons or (LessonKind.VIDEO,):
        kind, amount = spec if isinstance(spec, tuple) else (spec, None)
        if kind == LessonKind.ARTICLE:
            fields = services.LessonFields(
                kind=kind, title="文章", body_html="<p>学习党章</p>", reading_minutes=amount or 10
            )
        else:
            asset = create_asset(amount or (100.0 if kind == LessonKind.VIDEO else 300.0))
            fields = services.LessonFields(kind=kind, title=f"课{asset.id}", media_asset_id=asset.id)
        services.add_lesson(course, fields, now=now)
    if published:
        db.session.flush()
        db.session.refresh(course)
        services.publish_course(course, now=now)
    db.session.commit()
    return course
