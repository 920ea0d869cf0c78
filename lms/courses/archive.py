"""The learning archive (学习档案): everything a member studied in a year, with totals in 学时.

Built from the ledger (online time per lesson and offline attendance), the
lesson completions and the course completions of the year; exported as Excel
and shown as a printable page. Callers check scope first
(``get_member_or_404``); these functions trust the member they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from lms import clock
from lms.auth.models import Branch, User
from lms.courses.completion import course_completion_times
from lms.courses.ledger import (
    StudyTotals,
    UserFilter,
    format_duration,
    member_study_totals,
    study_hours_value,
    study_totals,
    year_bounds,
)
from lms.courses.models import (
    Course,
    Lesson,
    LessonProgress,
    OfflineStudyRecord,
    StudyLedgerEntry,
    StudySource,
)
from lms.extensions import db


@dataclass(frozen=True)
class OnlineLine:
    course_id: int
    course_title: str
    lesson_id: int
    lesson_title: str
    lesson_kind: str
    source: StudySource
    first_day: date
    last_day: date
    seconds: float
    completed_at: datetime | None


@dataclass(frozen=True)
class OfflineLine:
    record_id: int | None  # None only for a row entered outside the offline records (legacy data)
    held_on: date
    activity: str
    topic: str
    branch: str
    study_hours: float
    seconds: float


@dataclass
class LearningArchive:
    member: User
    year: int
    online: list[OnlineLine] = field(default_factory=list)
    offline: list[OfflineLine] = field(default_factory=list)
    completed_courses: list[tuple[Course, datetime]] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    # The member's totals from ``ledger.member_study_totals``: the same numbers as every other page.
    totals: StudyTotals = field(default_factory=StudyTotals)

    @property
    def online_seconds(self) -> float:
        return self.totals.online_seconds

    @property
    def offline_seconds(self) -> float:
        return self.totals.offline_seconds

    @property
    def total_seconds(self) -> float:
        return self.totals.total_seconds

    @property
    def online_hours(self) -> float:
        return self.totals.online_hours

    @property
    def offline_hours(self) -> float:
        return self.totals.offline_hours

    @property
    def total_hours(self) -> float:
        return self.totals.total_hours

    @property
    def lessons_completed(self) -> int:
        return sum(
            1 for line in self.online if line.completed_at and clock.local_day(line.completed_at).year == self.year
        )


# Offline lines from domains above courses (meetings): ``provider(member, start, end)``
# returns OfflineLine objects for the member's ledger rows those domains own.
OfflineLinesProvider = Callable[[User, date, date], list[OfflineLine]]
_OFFLINE_LINE_PROVIDERS: dict[str, OfflineLinesProvider] = {}


def register_offline_lines(name: str, provider: OfflineLinesProvider) -> None:
    """Let a higher domain add its attendance (credited offline study) to the archive (idempotent)."""
    _OFFLINE_LINE_PROVIDERS[name] = provider


def archive_years(user_id: int, now: datetime) -> list[int]:
    """The years with study for the member, and the current year, newest first."""
    days = db.session.execute(
        sa.select(sa.func.min(StudyLedgerEntry.day), sa.func.max(StudyLedgerEntry.day)).where(
            StudyLedgerEntry.user_id == user_id
        )
    ).one()
    current = clock.local_day(now).year
    first = days[0].year if days[0] else current
    last = max(days[1].year if days[1] else current, current)
    return list(range(last, first - 1, -1))


def learning_archive(member: User, year: int, *, now: datetime) -> LearningArchive:
    """The member's archive for ``year`` (local days): a few aggregate queries."""
    start, end = year_bounds(year)
    archive = LearningArchive(
        member=member, year=year, years=archive_years(member.id, now), totals=member_study_totals(member.id, start, end)
    )
    rows = db.session.execute(
        sa.select(
            StudyLedgerEntry.lesson_id,
            StudyLedgerEntry.source,
            sa.func.min(StudyLedgerEntry.day),
            sa.func.max(StudyLedgerEntry.day),
            sa.func.sum(StudyLedgerEntry.seconds),
            Lesson.title,
            Lesson.kind,
            Course.id,
            Course.title,
            LessonProgress.completed_at,
        )
        .join(Lesson, Lesson.id == StudyLedgerEntry.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .outerjoin(
            LessonProgress,
            sa.and_(LessonProgress.lesson_id == Lesson.id, LessonProgress.user_id == member.id),
        )
        .where(
            StudyLedgerEntry.user_id == member.id,
            StudyLedgerEntry.source != StudySource.OFFLINE,
            StudyLedgerEntry.day.between(start, end),
        )
        .group_by(
            StudyLedgerEntry.lesson_id,
            StudyLedgerEntry.source,
            Lesson.title,
            Lesson.kind,
            Course.id,
            Course.title,
            LessonProgress.completed_at,
        )
        .order_by(sa.func.min(StudyLedgerEntry.day), Course.title, Lesson.title)
    )
    for lesson_id, source, first, last, seconds, lesson_title, kind, course_id, course_title, completed in rows:
        archive.online.append(
            OnlineLine(
                course_id, course_title, lesson_id, lesson_title, str(kind), StudySource(source), first, last,
                float(seconds or 0), completed,
            )
        )  # fmt: skip
    # From the ledger's offline rows (the record joined when there is one), so the lines add up
    # to the offline total whatever the data: a row without a record still shows, as "offline".
    offline_rows = db.session.execute(
        sa.select(StudyLedgerEntry.day, StudyLedgerEntry.seconds, OfflineStudyRecord, Branch.name)
        .outerjoin(OfflineStudyRecord, OfflineStudyRecord.id == StudyLedgerEntry.offline_record_id)
        .outerjoin(Branch, Branch.id == OfflineStudyRecord.branch_id)
        .where(
            StudyLedgerEntry.user_id == member.id,
            StudyLedgerEntry.source == StudySource.OFFLINE,
            StudyLedgerEntry.day.between(start, end),
        )
        .order_by(StudyLedgerEntry.day, StudyLedgerEntry.id)
    )
    for day, seconds, record, branch_name in offline_rows:
        if record is None:
            archive.offline.append(OfflineLine(None, day, StudySource.OFFLINE.label, "", "", 0.0, float(seconds or 0)))
            continue
        archive.offline.append(
            OfflineLine(
                record.id, record.held_on, record.activity.label, record.topic, branch_name or "", record.study_hours,
                float(seconds or 0),
            )
        )  # fmt: skip
    if _OFFLINE_LINE_PROVIDERS:
        for provider in _OFFLINE_LINE_PROVIDERS.values():
            archive.offline.extend(provider(member, start, end))
        archive.offline.sort(key=lambda line: line.held_on)
    completions = course_completion_times(member.id)
    if completions:
        courses = {c.id: c for c in db.session.scalars(sa.select(Course).where(Course.id.in_(list(completions))))}
        archive.completed_courses = sorted(
            (
                (courses[course_id], at)
                for course_id, at in completions.items()
                if course_id in courses and clock.local_day(at).year == year
            ),
            key=lambda item: item[1],
        )
    return archive


def archive_sheets(archive: LearningArchive) -> list[tuple[str, list[str], list[list]]]:
    """The archive as sheets for ``lms.spreadsheets.xlsx_bytes`` (headers in the user's language)."""
    member = archive.member
    summary = [
        [_("Full name"), member.name],
        [_("Branch"), member.branch.name if member.branch else ""],
        [_("Year"), archive.year],
        [_("Online study hours"), round(archive.online_hours, 1)],
        [_("Offline study hours"), round(archive.offline_hours, 1)],
        [_("Total study hours"), round(archive.total_hours, 1)],
        [_("Lessons completed"), archive.lessons_completed],
        [_("Courses completed"), len(archive.completed_courses)],
    ]
    online = [
        [
            line.course_title,
            line.lesson_title,
            line.source.label,
            line.first_day.isoformat(),
            line.last_day.isoformat(),
            format_duration(line.seconds),
            study_hours_value(line.seconds),
            clock.local_day(line.completed_at).isoformat() if line.completed_at else "",
        ]
        for line in archive.online
    ]
    offline = [
        [
            line.held_on.isoformat(),
            line.activity,
            line.topic,
            line.branch,
            study_hours_value(line.seconds),
        ]
        for line in archive.offline
    ]
    courses = [[course.title, clock.local_day(at).isoformat()] for course, at in archive.completed_courses]
    return [
        (_("Overview"), [_("Item"), _("Value")], summary),
        (
            _("Online study"),
            [
                _("Course"),
                _("Lesson"),
                _("Kind"),
                _("First studied"),
                _("Last studied"),
                _("Credited time"),
                _("Study hours"),
                _("Completed on"),
            ],
            online,
        ),
        (_("Offline study"), [_("Date"), _("Activity"), _("Topic"), _("Branch"), _("Study hours")], offline),
        (_("Completed courses"), [_("Course"), _("Completed on")], courses),
    ]


def archive_totals(users: UserFilter, year: int) -> dict[int, StudyTotals]:
    """Each member's totals in ``year`` (``ledger.study_totals``: one aggregate query), for the branch archive list."""
    return study_totals(users, *year_bounds(year))
