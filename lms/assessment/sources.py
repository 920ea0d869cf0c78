"""What assessment reads from the courses, exams and meetings domains, each a single aggregate query.

Study time comes from the study ledger, course completion from
``lms.courses.completion``, quiz results from ``lms.exams.quizzes.results.quiz_results``,
attendance at meetings from ``lms.meetings.rates``.
Every function takes a SELECT of user ids (never a list of members loaded one
by one), so scoring ten thousand members costs the same few statements as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from lms.auth.models import User
from lms.courses import ledger
from lms.courses.completion import completed_courses_by_user
from lms.courses.models import Course, CourseStatus, Lesson, LessonProgress, OfflineRecordAudit, StudyLedgerEntry
from lms.exams.quizzes.models import Quiz, QuizAttempt, QuizKind
from lms.exams.quizzes.results import quiz_results
from lms.extensions import db
from lms.meetings.models import Meeting, MeetingAttendance, MeetingCreditConfirmation
from lms.meetings.rates import attendance_counts, attendance_counts_each


def seconds_per_study_hour(on: date | None = None) -> float:
    """Seconds in one 学时 on ``on`` (default today): the organisation's conversion then."""
    return ledger.seconds_per_study_hour(on)


def seconds_to_hours(seconds: float, on: date | None = None) -> float:
    """Seconds as 学时 at the conversion of ``on`` (default today), unrounded."""
    return ledger.seconds_to_study_hours(seconds, on)


@dataclass(frozen=True)
class CatalogueItem:
    id: int
    title: str
    published: bool
    pass_percent: float | None = None


def course_catalogue() -> list[CatalogueItem]:
    """Every course, newest first, for the target form's picker."""
    rows = db.session.execute(sa.select(Course.id, Course.title, Course.status).order_by(Course.id.desc()))
    return [CatalogueItem(id_, title, status == CourseStatus.PUBLISHED) for id_, title, status in rows]


def quiz_catalogue() -> list[CatalogueItem]:
    """Every quiz members take (not the system practice quizzes), newest first."""
    rows = db.session.execute(
        sa.select(Quiz.id, Quiz.title, Quiz.is_published, Quiz.pass_percent)
        .where(Quiz.kind == QuizKind.QUIZ, Quiz.is_practice.is_(False))
        .order_by(Quiz.id.desc())
    )
    return [
        CatalogueItem(id_, title, bool(published), float(pass_percent)) for id_, title, published, pass_percent in rows
    ]


def existing_courses(course_ids: Iterable[int]) -> dict[int, str]:
    """Titles of the courses among ``course_ids`` that still exist."""
    ids = sorted(set(course_ids))
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Course.id, Course.title).where(Course.id.in_(ids))).all())


def existing_quizzes(quiz_ids: Iterable[int]) -> dict[int, tuple[str, float]]:
    """(title, own pass percent) of the quizzes among ``quiz_ids`` that still exist."""
    ids = sorted(set(quiz_ids))
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Quiz.id, Quiz.title, Quiz.pass_percent).where(Quiz.id.in_(ids)))
    return {id_: (title, float(pass_percent)) for id_, title, pass_percent in rows}


def study_hours_split(users: sa.Select, start: date, end: date) -> dict[int, tuple[float, float]]:
    """(online, offline) 学时 per member of ``users`` in ``start..end`` (local days). One query.

    From ``ledger.study_totals``, the one function every page uses: each ledger day
    is converted at the conversion in force that day, so a new conversion never
    re-rates past days, and meetings count as offline study.

    From ``lms.courses.ledger.study_totals``, the function every page that shows hours uses.
    """
    return {
        user_id: (totals.online_hours, totals.offline_hours)
        for user_id, totals in ledger.study_totals(users, start, end).items()
    }


def study_hours_split_each(bounds: dict[int, tuple[date, date]]) -> dict[int, tuple[float, float]]:
    """(online, offline) 学时 per member, each within their own days (probation periods). One query."""
    return {
        user_id: (totals.online_hours, totals.offline_hours)
        for user_id, totals in ledger.study_totals_each(bounds).items()
    }


def meeting_attendance(users: sa.Select, start: date, end: date) -> dict[int, tuple[int, int]]:
    """(meetings attended, meetings expected at) per member of ``users`` in ``start..end``. One query.

    From ``lms.meetings.rates``: closed meetings the member was listed for, approved leave left out.
    """
    return attendance_counts(users, start, end)


def meeting_attendance_each(bounds: dict[int, tuple[date, date]]) -> dict[int, tuple[int, int]]:
    """(meetings attended, meetings expected at) per member, each within their own days. One query."""
    return attendance_counts_each(bounds)


def completed_courses(users: sa.Select, course_ids: Iterable[int]) -> dict[int, set[int]]:
    """Completed course ids (among ``course_ids``) per member of ``users``. One query."""
    ids = list(course_ids)
    if not ids:
        return {}
    return completed_courses_by_user(users, ids)


def quiz_scores(users: sa.Select, quiz_ids: Iterable[int]) -> dict[tuple[int, int], float]:
    """Kept score in percent per (member, quiz) for members of ``users``. One query."""
    ids = list(quiz_ids)
    if not ids:
        return {}
    results = quiz_results(ids, User.id.in_(users))
    return {key: percent for key, (percent, _passed) in results.items()}


def monthly_seconds(users: sa.Select, start: date, end: date) -> dict[tuple[int, int], float]:
    """Seconds studied per (year, month) by the members of ``users`` in ``start..end``. One query."""
    year = sa.extract("year", StudyLedgerEntry.day)
    month = sa.extract("month", StudyLedgerEntry.day)
    rows = db.session.execute(
        sa.select(year, month, sa.func.sum(StudyLedgerEntry.seconds))
        .where(StudyLedgerEntry.user_id.in_(users), StudyLedgerEntry.day.between(start, end))
        .group_by(year, month)
    )
    return {(int(y), int(m)): float(total or 0) for y, m, total in rows}


def monthly_seconds_by_branch(users: sa.Select, start: date, end: date) -> dict[str, dict[str, float]]:
    """Seconds studied per member's branch and month in ``start..end``: {"12": {"2026-03": s}}. One query.

    Members without a branch are under "0".
    """
    year = sa.extract("year", StudyLedgerEntry.day)
    month = sa.extract("month", StudyLedgerEntry.day)
    rows = db.session.execute(
        sa.select(User.branch_id, year, month, sa.func.sum(StudyLedgerEntry.seconds))
        .join(User, User.id == StudyLedgerEntry.user_id)
        .where(StudyLedgerEntry.user_id.in_(users), StudyLedgerEntry.day.between(start, end))
        .group_by(User.branch_id, year, month)
    )
    result: dict[str, dict[str, float]] = {}
    for branch_id, y, m, total in rows:
        result.setdefault(str(branch_id or 0), {})[f"{int(y)}-{int(m):02d}"] = round(float(total or 0), 1)
    return result


@dataclass(frozen=True)
class QuizLine:
    quiz_id: int
    title: str
    kind: str
    attempts: int
    best_percent: float | None
    pass_percent: float
    last_finished_at: object


def quiz_lines(user_id: int, start: date, end: date) -> list[QuizLine]:
    """The member's counted quiz attempts finished in ``start..end``, one line per quiz. One query."""
    from lms import clock
    from lms.exams.quizzes.models import AttemptState

    starts_at, ends_at = clock.local_midnight(start), clock.local_midnight(date.fromordinal(end.toordinal() + 1))
    rows = db.session.execute(
        sa.select(
            Quiz.id,
            Quiz.title,
            Quiz.kind,
            Quiz.pass_percent,
            sa.func.count(QuizAttempt.id),
            sa.func.max(QuizAttempt.score_percent),
            sa.func.max(QuizAttempt.finished_at),
        )
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.state == AttemptState.FINISHED,
            QuizAttempt.is_practice.is_(False),
            Quiz.kind != QuizKind.NOTEBOOK,
            QuizAttempt.finished_at >= starts_at,
            QuizAttempt.finished_at < ends_at,
        )
        .group_by(Quiz.id, Quiz.title, Quiz.kind, Quiz.pass_percent)
        .order_by(sa.func.max(QuizAttempt.finished_at))
    )
    return [
        QuizLine(id_, title, str(kind), count, float(best) if best is not None else None, float(pass_), last)
        for id_, title, kind, pass_, count, best, last in rows
    ]


def lesson_count(course_ids: Iterable[int]) -> dict[int, int]:
    """Published lessons per course (for showing progress on a required course)."""
    ids = list(course_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Lesson.course_id, sa.func.count(Lesson.id))
        .where(Lesson.course_id.in_(ids), Lesson.is_published.is_(True))
        .group_by(Lesson.course_id)
    )
    return dict(rows.all())


def latest_activity(user: User) -> datetime | None:
    """The newest change that can move a member's numbers. One statement.

    Study credited (ledger rows, whose ``updated_at`` moves with every credit),
    a lesson completed, a quiz or contest finished, an offline record of a
    branch the member belongs to entered, changed or deleted (its audit row), or
    the member's attendance at a meeting settled or changed.
    """
    branch_ids = [int(part) for part in (user.branch.path if user.branch else "").strip("/").split("/") if part]
    candidates = [
        sa.select(sa.func.max(StudyLedgerEntry.updated_at)).where(StudyLedgerEntry.user_id == user.id),
        sa.select(sa.func.max(LessonProgress.completed_at)).where(LessonProgress.user_id == user.id),
        sa.select(sa.func.max(QuizAttempt.finished_at)).where(QuizAttempt.user_id == user.id),
    ]
    if branch_ids:
        candidates.append(
            sa.select(sa.func.max(OfflineRecordAudit.at)).where(OfflineRecordAudit.branch_id.in_(branch_ids))
        )
    # Attendance at meetings (a rate component): closing, changes by hand, leave decisions, confirmations.
    mine = MeetingAttendance.user_id == user.id
    candidates += [
        sa.select(sa.func.max(Meeting.closed_at)).join(MeetingAttendance, MeetingAttendance.meeting_id == Meeting.id)
        .where(mine),
        sa.select(sa.func.max(MeetingAttendance.manual_at)).where(mine),
        sa.select(sa.func.max(MeetingAttendance.leave_decided_at)).where(mine),
        sa.select(sa.func.max(MeetingCreditConfirmation.confirmed_at)).where(
            MeetingCreditConfirmation.user_id == user.id
        ),
    ]  # fmt: skip
    values = db.session.execute(sa.select(*(c.scalar_subquery() for c in candidates))).one()
    moments = [value for value in values if value is not None]
    return max(moments) if moments else None
