"""Study time, course completions and quiz results made directly as rows; learning targets.

The rows are what the courses and exams domains write (ledger entries, lesson
progress, finished attempts), so scoring is tested against the real tables
without playing videos or taking quizzes.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import sqlalchemy as sa

from lms.assessment.models import LearningTarget, PeriodKind, TargetCourse, TargetQuiz
from lms.courses.models import Course, CourseStatus, Lesson, LessonKind, LessonProgress, StudyLedgerEntry, StudySource
from lms.exams.quizzes.models import AttemptState, Quiz, QuizAttempt
from lms.extensions import db

SECONDS_PER_HOUR = 45 * 60  # one 学时 at the default 45 minutes

_numbers = itertools.count(1)


class StudyData:
    """Makes courses, quizzes, ledger rows, completions and attempts."""

    def __init__(self) -> None:
        self._lesson: Lesson | None = None

    def course(self, title: str | None = None, lessons: int = 1, published: bool = True) -> Course:
        course = Course(
            title=title or f"课程{next(_numbers)}",
            status=CourseStatus.PUBLISHED if published else CourseStatus.DRAFT,
        )
        for position in range(lessons):
            course.lessons.append(
                Lesson(
                    kind=LessonKind.VIDEO,
                    title=f"第{position + 1}课",
                    position=position,
                    duration_seconds=600,
                    is_published=True,
                )
            )
        db.session.add(course)
        db.session.flush()
        return course

    def lesson(self) -> Lesson:
        if self._lesson is None:
            self._lesson = self.course("学时课程").lessons[0]
        return self._lesson

    def study(self, user, day: date, hours: float, source: StudySource = StudySource.VIDEO, lesson=None) -> None:
        """Credit ``hours`` 学时 to ``user`` on local ``day``."""
        seconds = hours * SECONDS_PER_HOUR
        if source == StudySource.OFFLINE:
            db.session.add(StudyLedgerEntry(user_id=user.id, day=day, source=source, seconds=seconds))
        else:
            lesson = lesson or self.lesson()
            db.session.add(
                StudyLedgerEntry(user_id=user.id, day=day, source=source, lesson_id=lesson.id, seconds=seconds)
            )
        db.session.flush()

    def complete(self, user, course: Course, at: datetime | None = None) -> None:
        at = at or datetime(2026, 2, 1, tzinfo=UTC)
        for lesson in course.lessons:
            db.session.add(
                LessonProgress(
                    user_id=user.id,
                    lesson_id=lesson.id,
                    intervals=[0, 600],
                    watched_seconds=600,
                    started_at=at,
                    last_studied_at=at,
                    completed_at=at,
                )
            )
        db.session.flush()

    def quiz(self, title: str | None = None, pass_percent: float = 60.0) -> Quiz:
        quiz = Quiz(title=title or f"测验{next(_numbers)}", pass_percent=pass_percent, is_published=True)
        db.session.add(quiz)
        db.session.flush()
        return quiz

    def attempt(self, user, quiz: Quiz, percent: float, number: int = 1, at: datetime | None = None) -> QuizAttempt:
        at = at or datetime(2026, 2, 1, tzinfo=UTC)
        attempt = QuizAttempt(
            quiz_id=quiz.id,
            user_id=user.id,
            number=number,
            state=AttemptState.FINISHED,
            open_slot=sa.null(),  # finished: no open slot (None would take the column default)
            started_at=at,
            last_activity_at=at,
            finished_at=at,
            score=percent,
            max_score=100,
            score_percent=percent,
        )
        db.session.add(attempt)
        db.session.flush()
        return attempt

    def meeting(self, branch_id: int, starts_at: datetime, attendance: dict, *, status: str = "closed",
                waiting: tuple = ()):  # fmt: skip
        """A meeting of ``branch_id`` with ``attendance`` {user or id: state}; ``waiting``: own credits unconfirmed."""
        import secrets
        from datetime import timedelta

        from lms.meetings.models import Meeting, MeetingAttendance, MeetingCreditConfirmation, MeetingKind

        kind = db.session.scalar(sa.select(MeetingKind).where(MeetingKind.code == "assessment-test"))
        if kind is None:
            kind = MeetingKind(code="assessment-test", name="主题党日", cadence="monthly", attendee_rule="members",
                               study_hours=2.0)  # fmt: skip
            db.session.add(kind)
            db.session.flush()
        meeting = Meeting(branch_id=branch_id, kind_id=kind.id, topic="学习", starts_at=starts_at,
                          ends_at=starts_at + timedelta(hours=2), status=status, study_hours=2.0,
                          checkin_key=secrets.token_hex(8))  # fmt: skip
        db.session.add(meeting)
        db.session.flush()
        ids = {getattr(user, "id", user): state for user, state in attendance.items()}
        if ids:
            db.session.execute(sa.insert(MeetingAttendance),
                               [{"meeting_id": meeting.id, "user_id": i, "status": state} for i, state in ids.items()])
        for user in waiting:
            db.session.add(MeetingCreditConfirmation(meeting_id=meeting.id, user_id=getattr(user, "id", user),
                                                     requested_at=starts_at))  # fmt: skip
        db.session.flush()
        return meeting


def create_target(
    name: str = "年度学习目标",
    *,
    period_kind: PeriodKind = PeriodKind.YEAR,
    year: int | None = None,
    statuses=(),
    roles=(),
    branch_ids=(),
    courses=(),
    quizzes=(),
    **fields,
) -> LearningTarget:
    """A target: ``create_target(required_hours=32, statuses=["full"], courses=[course], quizzes=[(quiz, 80)])``."""
    target = LearningTarget(name=name, period_kind=period_kind, year=year, **fields)
    target.set_audience(statuses, roles, branch_ids)
    for position, course in enumerate(courses):
        course, due_days = course if isinstance(course, tuple) else (course, None)
        target.courses.append(
            TargetCourse(course_id=course.id, title=course.title, due_days=due_days, position=position)
        )
    for position, quiz in enumerate(quizzes):
        quiz, pass_percent = quiz if isinstance(quiz, tuple) else (quiz, None)
        target.quizzes.append(
            TargetQuiz(quiz_id=quiz.id, title=quiz.title, pass_percent=pass_percent, position=position)
        )
    db.session.add(target)
    db.session.commit()
    return target
