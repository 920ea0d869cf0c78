"""The study ledger: adding credited seconds, period sums, and 学时 conversion.

Sums are one aggregate query over ``study_ledger`` (indexed by user and day),
whatever the number of members. Days are local days in ``LMS_TIMEZONE``: a
period ``start_day..end_day`` includes both ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms import clock, org_settings
from lms.auth.models import User
from lms.courses.models import Lesson, StudyLedgerEntry, StudySource
from lms.extensions import db
from lms.raw_sql import RawStatement


def _insert(model):
    """An INSERT that knows ON CONFLICT, for the session's database (SQLite or PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


_LEDGER_UPSERTS: dict[str, sa.Insert] = {}
_RAW_LEDGER_UPSERTS: dict[str, RawStatement] = {}


def _ledger_upsert(dialect: str) -> sa.Insert:
    """INSERT ... ON CONFLICT DO UPDATE SET seconds = seconds + new, built once per dialect."""
    if dialect not in _LEDGER_UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(StudyLedgerEntry).values(
            user_id=sa.bindparam("p_user_id"),
            lesson_id=sa.bindparam("p_lesson_id"),
            day=sa.bindparam("p_day"),
            source=sa.bindparam("p_source"),
            seconds=sa.bindparam("p_seconds"),
            updated_at=sa.bindparam("p_now"),
        )
        _LEDGER_UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=["user_id", "lesson_id", "day", "source"],
            set_={
                "seconds": StudyLedgerEntry.seconds + statement.excluded.seconds,
                "updated_at": statement.excluded.updated_at,
            },
        )
    return _LEDGER_UPSERTS[dialect]


def add_study_seconds(
    user_id: int, lesson_id: int, day: date, source: StudySource, seconds: float, *, connection=None
) -> None:
    """Add ``seconds`` to the ledger row of (user, lesson, day, source), creating it if needed.

    One statement (INSERT ... ON CONFLICT DO UPDATE SET seconds = seconds + new),
    so concurrent credits to the same row add up instead of overwriting.
    ``connection`` (the session's) skips the ORM's statement handling on hot paths.
    """
    if seconds <= 0:
        return
    connection = connection if connection is not None else db.session.connection()
    connection.execute(
        _ledger_upsert(connection.dialect.name),
        {
            "p_user_id": user_id,
            "p_lesson_id": lesson_id,
            "p_day": day,
            "p_source": StudySource(source),
            "p_seconds": seconds,
            "p_now": clock.utcnow(),
        },
    )


def add_study_seconds_many(rows, *, connection) -> None:
    """``add_study_seconds`` for many rows in one executemany: ``rows`` of (user_id,
    lesson_id, day, source, seconds), at most one per ledger row (sum them first)."""
    now = clock.utcnow()
    values = [{"p_user_id": user_id, "p_lesson_id": lesson_id, "p_day": day, "p_source": StudySource(source),
               "p_seconds": seconds, "p_now": now} for user_id, lesson_id, day, source, seconds in rows if seconds > 0]
    if values:  # on the DBAPI cursor (``raw_sql``): the heartbeat batch's hot path
        dialect = connection.dialect.name
        if dialect not in _RAW_LEDGER_UPSERTS:
            _RAW_LEDGER_UPSERTS[dialect] = RawStatement(_ledger_upsert(dialect))
        _RAW_LEDGER_UPSERTS[dialect].execute_many(connection, values)


def replace_meeting_credits(meeting_id: int, day: date, seconds: float, user_ids: Iterable[int], *, now) -> int:
    """Make the ledger's rows of meeting ``meeting_id`` exactly ``user_ids``, each credited ``seconds``.

    One row per (meeting, member) with source=meeting on the meeting's local
    ``day``; running it again with the same members changes nothing, with other
    members it adds and removes rows so the ledger always matches the meeting's
    attendance. Returns how many rows the meeting now has.
    """
    ids = sorted({int(i) for i in user_ids})
    db.session.execute(
        sa.delete(StudyLedgerEntry).where(
            StudyLedgerEntry.meeting_id == meeting_id,
            StudyLedgerEntry.user_id.not_in(ids) if ids else sa.true(),
        )
    )
    if seconds <= 0:
        db.session.execute(sa.delete(StudyLedgerEntry).where(StudyLedgerEntry.meeting_id == meeting_id))
        return 0
    for user_id in ids:
        upsert(
            StudyLedgerEntry,
            {"user_id": user_id, "day": day, "source": StudySource.MEETING, "lesson_id": None,
             "meeting_id": meeting_id, "seconds": seconds, "updated_at": now},
            ["meeting_id", "user_id"],
            {"day": day, "seconds": seconds, "updated_at": now},
        )  # fmt: skip
    return len(ids)


def insert_ignoring_conflict(model, values: dict, index_elements: list[str]) -> None:
    """INSERT a row unless one with the same key exists (one statement)."""
    db.session.execute(_insert(model).values(**values).on_conflict_do_nothing(index_elements=index_elements))


def upsert(model, values: dict, index_elements: list[str], update: dict) -> None:
    """INSERT a row, or UPDATE ``update`` on the existing row with the same key (one statement)."""
    db.session.execute(
        _insert(model).values(**values).on_conflict_do_update(index_elements=index_elements, set_=update)
    )


UserFilter = sa.Select | sa.ColumnElement | Iterable[int] | None


def user_filter_clause(users: UserFilter, column=StudyLedgerEntry.user_id):
    """A WHERE clause on ``column`` from a select of user ids, a clause on User, ids, or None (all)."""
    if users is None:
        return sa.true()
    if isinstance(users, sa.Select):
        return column.in_(users)
    if isinstance(users, sa.ColumnElement):
        return column.in_(sa.select(User.id).where(users))
    ids = list(users)
    return column.in_(ids) if ids else sa.false()


def study_seconds_by_user(
    users: UserFilter, start_day: date, end_day: date, sources: Iterable[StudySource] | None = None
) -> dict[int, float]:
    """Seconds credited to each user in ``start_day..end_day`` (local days, inclusive).

    ``users`` is a select of user ids (``sa.select(User.id).where(...)``), a WHERE
    clause on ``User`` (e.g. ``audience_clause(target)`` or
    ``member_scope_clause(viewer)``), an iterable of ids, or None for everyone.
    ``sources`` limits the kinds (video, reading, offline); None counts all.
    One aggregate query; users without study are absent from the result.
    """
    query = (
        sa.select(StudyLedgerEntry.user_id, sa.func.sum(StudyLedgerEntry.seconds))
        .where(
            user_filter_clause(users),
            StudyLedgerEntry.day >= start_day,
            StudyLedgerEntry.day <= end_day,
        )
        .group_by(StudyLedgerEntry.user_id)
    )
    if sources is not None:
        query = query.where(StudyLedgerEntry.source.in_([StudySource(s) for s in sources]))
    return {user_id: float(total or 0) for user_id, total in db.session.execute(query)}


def study_seconds(user_id: int, start_day: date, end_day: date, sources: Iterable[StudySource] | None = None) -> float:
    """Seconds credited to one user in ``start_day..end_day`` (local days, inclusive)."""
    return study_seconds_by_user([user_id], start_day, end_day, sources).get(user_id, 0.0)


def study_seconds_by_source(user_id: int, start_day: date, end_day: date) -> dict[StudySource, float]:
    """One user's seconds in the period split by source (video, reading, offline)."""
    rows = db.session.execute(
        sa.select(StudyLedgerEntry.source, sa.func.sum(StudyLedgerEntry.seconds))
        .where(StudyLedgerEntry.user_id == user_id, StudyLedgerEntry.day.between(start_day, end_day))
        .group_by(StudyLedgerEntry.source)
    )
    totals = dict.fromkeys(StudySource, 0.0)
    for source, total in rows:
        totals[StudySource(source)] = float(total or 0)
    return totals


def year_bounds(year: int) -> tuple[date, date]:
    """The first and last local day of ``year``."""
    return date(year, 1, 1), date(year, 12, 31)


# Study away from the screen: offline records and meetings, counted as 线下.
OFFLINE_SOURCES = frozenset({StudySource.OFFLINE, StudySource.MEETING})


# --- a member's totals: the one function every page, export and score uses ------------------------


@dataclass(frozen=True)
class StudyTotals:
    """A member's credited seconds in a period, by source and by course (online time only).

    Every page, export and score that shows a member's hours reads them from here
    (``study_totals`` / ``member_study_totals``), so the numbers agree everywhere.
    """

    by_source: dict[StudySource, float] = field(default_factory=lambda: dict.fromkeys(StudySource, 0.0))
    by_course: dict[int, float] = field(default_factory=dict)
    # 学时 by source, each ledger day converted at the conversion in force that day.
    hours_by_source: dict[StudySource, float] = field(default_factory=lambda: dict.fromkeys(StudySource, 0.0))

    @property
    def online_seconds(self) -> float:
        return sum(seconds for source, seconds in self.by_source.items() if source not in OFFLINE_SOURCES)

    @property
    def offline_seconds(self) -> float:
        return sum(seconds for source, seconds in self.by_source.items() if source in OFFLINE_SOURCES)

    @property
    def total_seconds(self) -> float:
        return self.online_seconds + self.offline_seconds

    @property
    def online_hours(self) -> float:
        return sum(hours for source, hours in self.hours_by_source.items() if source not in OFFLINE_SOURCES)

    @property
    def offline_hours(self) -> float:
        return sum(hours for source, hours in self.hours_by_source.items() if source in OFFLINE_SOURCES)

    @property
    def total_hours(self) -> float:
        return self.online_hours + self.offline_hours

    def hours(self, source: StudySource) -> float:
        """The 学时 of ``source`` (unrounded, each day at its own conversion)."""
        return self.hours_by_source.get(source, 0.0)


def _totals_columns():
    return (
        StudyLedgerEntry.user_id,
        StudyLedgerEntry.source,
        Lesson.course_id,
        sa.func.sum(StudyLedgerEntry.seconds),
        sa.func.sum(study_hours_clause()),
    )


def _fold_totals(rows) -> dict[int, StudyTotals]:
    totals: dict[int, StudyTotals] = {}
    for user_id, source, course_id, seconds, hours in rows:
        entry = totals.get(user_id)
        if entry is None:
            entry = totals[user_id] = StudyTotals()
        source = StudySource(source)
        seconds = float(seconds or 0)
        entry.by_source[source] = entry.by_source.get(source, 0.0) + seconds
        entry.hours_by_source[source] = entry.hours_by_source.get(source, 0.0) + float(hours or 0)
        if course_id is not None and source not in OFFLINE_SOURCES:
            entry.by_course[course_id] = entry.by_course.get(course_id, 0.0) + seconds
    return totals


def study_totals(users: UserFilter, start_day: date, end_day: date) -> dict[int, StudyTotals]:
    """Each member's totals in ``start_day..end_day`` (local days, inclusive): one aggregate query.

    ``users`` is what ``user_filter_clause`` takes (a select of ids, a clause on
    ``User``, ids, or None for everyone). Members without study are absent.
    """
    rows = db.session.execute(
        sa.select(*_totals_columns())
        .outerjoin(Lesson, Lesson.id == StudyLedgerEntry.lesson_id)
        .where(user_filter_clause(users), StudyLedgerEntry.day >= start_day, StudyLedgerEntry.day <= end_day)
        .group_by(StudyLedgerEntry.user_id, StudyLedgerEntry.source, Lesson.course_id)
    )
    return _fold_totals(rows)


def study_totals_each(bounds: dict[int, tuple[date, date]]) -> dict[int, StudyTotals]:
    """Each member's totals within their own days (e.g. probation periods): one aggregate query.

    The bounds travel as a VALUES table joined to the ledger, so members with
    different periods are still summed by one statement.
    """
    if not bounds:
        return {}
    periods = (
        sa.values(
            sa.column("user_id", sa.Integer),
            sa.column("start_day", sa.Date),
            sa.column("end_day", sa.Date),
            name="member_periods",
        )
        .data([(user_id, start, end) for user_id, (start, end) in bounds.items()])
        .cte("member_periods")
    )
    rows = db.session.execute(
        sa.select(*_totals_columns())
        .join(periods, periods.c.user_id == StudyLedgerEntry.user_id)
        .outerjoin(Lesson, Lesson.id == StudyLedgerEntry.lesson_id)
        .where(StudyLedgerEntry.day >= periods.c.start_day, StudyLedgerEntry.day <= periods.c.end_day)
        .group_by(StudyLedgerEntry.user_id, StudyLedgerEntry.source, Lesson.course_id)
    )
    return _fold_totals(rows)


def member_study_totals(user_id: int, start_day: date, end_day: date) -> StudyTotals:
    """One member's totals in ``start_day..end_day`` (local days, inclusive)."""
    return study_totals([user_id], start_day, end_day).get(user_id) or StudyTotals()


# --- 学时: conversion and the one way they are shown ---------------------------------------------


def seconds_per_study_hour(on: date | None = None) -> float:
    """Seconds in one 学时 on day ``on`` (default today): the organisation setting in force
    then (``lms.org_settings``), else ``LMS_MINUTES_PER_STUDY_HOUR`` minutes (45 by default)."""
    return org_settings.minutes_per_study_hour(on) * 60.0


def seconds_per_hour_clause(day_column=StudyLedgerEntry.day):
    """SQL: the seconds per 学时 in force on each row's ``day_column``.

    The few dated conversions become one CASE over the day, so summing
    ``seconds / seconds_per_hour_clause()`` converts every ledger day at its own
    rate in the same single aggregate query.
    """
    periods = org_settings.conversion_periods()
    if len(periods) == 1:
        return sa.literal(periods[0][1] * 60.0, sa.Float)
    whens = [(day_column < start, minutes_before * 60.0) for (_, minutes_before), (start, _) in
             zip(periods, periods[1:], strict=False)]
    return sa.case(*whens, else_=sa.literal(periods[-1][1] * 60.0, sa.Float))


def study_hours_clause(seconds_column=StudyLedgerEntry.seconds, day_column=StudyLedgerEntry.day):
    """SQL: a ledger row's seconds as 学时 at the conversion of its day (wrap in ``sum``)."""
    return seconds_column / seconds_per_hour_clause(day_column)


def study_hours_by_user(
    users: UserFilter, start_day: date, end_day: date, sources: Iterable[StudySource] | None = None
) -> dict[int, float]:
    """学时 credited to each user in ``start_day..end_day``, each day at its own conversion. One query."""
    query = (
        sa.select(StudyLedgerEntry.user_id, sa.func.sum(study_hours_clause()))
        .where(user_filter_clause(users), StudyLedgerEntry.day >= start_day, StudyLedgerEntry.day <= end_day)
        .group_by(StudyLedgerEntry.user_id)
    )
    if sources is not None:
        query = query.where(StudyLedgerEntry.source.in_([StudySource(s) for s in sources]))
    return {user_id: float(total or 0) for user_id, total in db.session.execute(query)}


def seconds_to_study_hours(seconds: float, on: date | None = None) -> float:
    """Seconds as 学时 at the conversion in force on ``on`` (default today), unrounded (for scoring).

    For a period whose conversion changed, sum ``study_hours_clause()`` instead
    (``study_hours_by_user``), which converts each ledger day at its own rate.
    """
    return float(seconds or 0) / seconds_per_study_hour(on)


def study_hours_to_seconds(hours: float, on: date | None = None) -> float:
    """学时 as seconds at the conversion in force on ``on`` (offline records: the day they were held)."""
    return float(hours) * seconds_per_study_hour(on)


def study_hours_value(seconds: float, on: date | None = None) -> float:
    """Seconds as 学时 rounded to one decimal: the number a spreadsheet cell holds."""
    return round(seconds_to_study_hours(seconds, on), 1)


def format_hours(hours: float | None) -> str:
    """学时 shown to one decimal ("12.3"); a little study that rounds to 0.0 shows as "under 0.1".

    The one way hours are shown on pages (the ``study_hours`` filter for seconds,
    the ``hours`` filter for 学时): 24 seconds is "under 0.1", never "0.0".
    """
    value = float(hours or 0)
    text = f"{value:.1f}"
    if value > 0 and text == "0.0":
        return str(_l("under 0.1"))
    return text


def format_study_hours(seconds: float, on: date | None = None) -> str:
    """Seconds shown as 学时 to one decimal ("12.3") at the conversion of ``on``, or "under 0.1"."""
    return format_hours(seconds_to_study_hours(seconds, on))


def format_duration(seconds: float) -> str:
    """Seconds shown as h:mm:ss or m:ss."""
    total = int(round(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
