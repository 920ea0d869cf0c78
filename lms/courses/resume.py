"""Continue learning (继续学习) and the next lesson (下一课)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from lms.auth.models import User
from lms.courses.models import Course, Lesson, LessonProgress
from lms.courses.services import lesson_visible_to
from lms.extensions import db

# Lessons looked at, most recent first, to find one the member may still open.
LOOKBACK = 20


@dataclass(frozen=True)
class Resume:
    lesson: Lesson
    position_seconds: float  # where the player starts again (articles: 0)
    percent: int


def continue_lesson(user: User) -> Resume | None:
    """The lesson the member last studied and has not finished, with where they stopped; None if none."""
    rows = db.session.execute(
        sa.select(Lesson, LessonProgress)
        .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(
            LessonProgress.user_id == user.id,
            LessonProgress.completed_at.is_(None),
            LessonProgress.last_studied_at.is_not(None),
        )
        .order_by(LessonProgress.last_studied_at.desc())
        .limit(LOOKBACK)
    ).all()
    for lesson, progress in rows:
        if lesson_visible_to(lesson, user):
            length = lesson.study_seconds
            percent = int(min(100, progress.watched_seconds / length * 100)) if length else 0
            return Resume(lesson, progress.last_position_seconds or 0.0, percent)
    return None


def next_lesson(lesson: Lesson, user: User) -> Lesson | None:
    """The lesson after ``lesson`` in its course that ``user`` may open (drafts skipped for learners)."""
    course: Course = lesson.course
    lessons = course.lessons if user.is_admin else course.published_lessons
    ids = [item.id for item in lessons]
    if lesson.id not in ids:
        return None
    index = ids.index(lesson.id)
    return lessons[index + 1] if index + 1 < len(lessons) else None
