"""Course certificates (结业证书): issued to a member who has completed every published lesson of a course."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.models import User
from lms.courses.models import Course, Lesson, LessonProgress
from lms.courses.services import course_progress, get_visible_course
from lms.errors import NotFound
from lms.extensions import db


@dataclass(frozen=True)
class CourseCertificate:
    number: str
    name: str
    branch_name: str | None
    course_title: str
    lessons: int
    study_seconds: float
    completed_on: date


def course_certificate(user: User, course_id: int) -> CourseCertificate:
    """The member's certificate of a course they may see and have completed; NotFound otherwise."""
    course: Course = get_visible_course(user, course_id)
    progress = course_progress(user.id, [course.id])[course.id]
    if not progress.is_complete:
        raise NotFound(_l("A certificate is issued when every lesson of the course is completed."))
    completed_at = db.session.scalar(
        sa.select(sa.func.max(LessonProgress.completed_at))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.user_id == user.id, Lesson.course_id == course.id, Lesson.is_published.is_(True))
    )
    return CourseCertificate(
        number=f"C{course.id:04d}-{user.id:06d}",
        name=user.name,
        branch_name=user.branch.name if user.branch else None,
        course_title=course.title,
        lessons=progress.lessons_total,
        study_seconds=sum(lesson.study_seconds for lesson in course.published_lessons),
        completed_on=clock.local_day(completed_at) if completed_at else clock.local_day(clock.utcnow()),
    )
