"""Completion queries: which members completed which lessons and courses (set-based).

A lesson is complete once its coverage reached ``LMS_COMPLETION_RATIO``
(``LessonProgress.completed_at`` is set then and stays). A course is complete
for a member when every published lesson of it is complete; its completion
time is that of the last lesson completed. Each function is one aggregate
query, so assessment can ask for ten thousand members at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from lms.courses.ledger import UserFilter, user_filter_clause
from lms.courses.models import Lesson, LessonProgress
from lms.extensions import db


def _completed_courses_query(users: UserFilter, course_ids: Iterable[int] | None):
    totals = sa.select(Lesson.course_id, sa.func.count(Lesson.id).label("total")).where(Lesson.is_published.is_(True))
    done = (
        sa.select(
            LessonProgress.user_id,
            Lesson.course_id,
            sa.func.count(Lesson.id).label("done"),
            sa.func.max(LessonProgress.completed_at).label("completed_at"),
        )
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(
            LessonProgress.completed_at.is_not(None),
            Lesson.is_published.is_(True),
            user_filter_clause(users, LessonProgress.user_id),
        )
    )
    if course_ids is not None:
        ids = list(course_ids)
        totals = totals.where(Lesson.course_id.in_(ids))
        done = done.where(Lesson.course_id.in_(ids))
    totals = totals.group_by(Lesson.course_id).subquery()
    done = done.group_by(LessonProgress.user_id, Lesson.course_id).subquery()
    return sa.select(done.c.user_id, done.c.course_id, done.c.completed_at).join(
        totals, sa.and_(totals.c.course_id == done.c.course_id, totals.c.total == done.c.done)
    )


def completed_courses_by_user(users: UserFilter, course_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """For each member in ``users`` (see ``ledger.study_seconds_by_user``), the completed course ids.

    ``course_ids`` limits the courses looked at (e.g. a target's required courses).
    Members who completed none are absent. One query.
    """
    result: dict[int, set[int]] = {}
    for user_id, course_id, _ in db.session.execute(_completed_courses_query(users, course_ids)):
        result.setdefault(user_id, set()).add(course_id)
    return result


def completed_course_ids(user_id: int, course_ids: Iterable[int] | None = None) -> set[int]:
    """The ids of the courses ``user_id`` has completed."""
    return completed_courses_by_user([user_id], course_ids).get(user_id, set())


def course_completion_times(user_id: int, course_ids: Iterable[int] | None = None) -> dict[int, datetime]:
    """When ``user_id`` completed each completed course (the last lesson's completion)."""
    return {
        course_id: completed_at
        for _, course_id, completed_at in db.session.execute(_completed_courses_query([user_id], course_ids))
    }


def course_completers(course_id: int, users: UserFilter = None) -> set[int]:
    """The ids of the members (within ``users``) who completed ``course_id``."""
    rows = db.session.execute(_completed_courses_query(users, [course_id]))
    return {user_id for user_id, _, _ in rows}


def completed_lesson_ids(user_id: int, lesson_ids: Iterable[int] | None = None) -> set[int]:
    """The ids of the lessons ``user_id`` has completed."""
    query = sa.select(LessonProgress.lesson_id).where(
        LessonProgress.user_id == user_id, LessonProgress.completed_at.is_not(None)
    )
    if lesson_ids is not None:
        query = query.where(LessonProgress.lesson_id.in_(list(lesson_ids)))
    return set(db.session.scalars(query))
