"""Course statistics for admins: learners, completion, total hours, watched share per lesson.

Each figure is an aggregate query (no loop over members): a learner is a
member with credited time on some lesson of the course; the completion rate is
completers over learners; the watched share of a lesson is the mean coverage
among its learners.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from lms.auth.audience import audience_clause
from lms.auth.models import User
from lms.courses.completion import course_completers
from lms.courses.models import Course, Lesson, LessonProgress, StudyLedgerEntry
from lms.extensions import db


@dataclass(frozen=True)
class LessonStats:
    lesson: Lesson
    learners: int
    completions: int
    average_watched_share: float  # 0..1


@dataclass(frozen=True)
class CourseStats:
    audience_size: int
    learners: int
    completers: int
    total_seconds: float
    lessons: list[LessonStats]

    @property
    def completion_rate(self) -> float:
        return self.completers / self.learners if self.learners else 0.0

    @property
    def reach_rate(self) -> float:
        return self.learners / self.audience_size if self.audience_size else 0.0


def course_statistics(course: Course) -> CourseStats:
    """The statistics of ``course`` over all members (admins see the whole platform)."""
    lesson_ids = [lesson.id for lesson in course.lessons]
    per_lesson: dict[int, tuple[int, int, float]] = {}
    learners = 0
    total = 0.0
    if lesson_ids:
        studied = sa.and_(LessonProgress.lesson_id.in_(lesson_ids), LessonProgress.watched_seconds > 0)
        for lesson_id, count, completed, watched in db.session.execute(
            sa.select(
                LessonProgress.lesson_id,
                sa.func.count(),
                sa.func.count(LessonProgress.completed_at),
                sa.func.avg(LessonProgress.watched_seconds),
            )
            .where(studied)
            .group_by(LessonProgress.lesson_id)
        ):
            per_lesson[lesson_id] = (count, completed, float(watched or 0))
        learners = db.session.scalar(sa.select(sa.func.count(sa.distinct(LessonProgress.user_id))).where(studied)) or 0
        total = float(
            db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0)).where(
                    StudyLedgerEntry.lesson_id.in_(lesson_ids)
                )
            )
            or 0
        )
    audience_size = db.session.scalar(sa.select(sa.func.count(User.id)).where(audience_clause(course))) or 0
    lessons = []
    for lesson in course.lessons:
        count, completed, watched = per_lesson.get(lesson.id, (0, 0, 0.0))
        length = lesson.study_seconds
        share = min(watched / length, 1.0) if length else 0.0
        lessons.append(LessonStats(lesson, count, completed, share))
    return CourseStats(audience_size, learners, len(course_completers(course.id)), total, lessons)
