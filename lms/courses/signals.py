"""Per member and day counters for the anti-farming list (反刷课): refused and parallel beats, night study.

Written from the heartbeat path, so it is one upsert that adds to the counters of
(member, local day): never a row per beat, and only for beats that need it (a
refusal for a suspicious reason, a beat from a superseded session, credit earned
at night). An ordinary daytime beat writes nothing here.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from lms import clock
from lms.courses.models import StudyDaySignal
from lms.raw_sql import RawStatement

# Refusals that an honest player does not provoke. Not counted: a hidden page
# (players report hidden stretches by design), replays, a finished article, and a
# lesson that was unpublished under the member (not the member's doing).
SUSPICIOUS_REASONS = frozenset(
    {
        "lesson_mismatch",
        "invalid_segment",
        "invalid_rate",
        "beyond_duration",
        "faster_than_plausible",
        "idle",
        "presence_check",
        "too_many_beats",
    }
)

_UPSERTS: dict[str, sa.Insert] = {}
_RAW_UPSERTS: dict[str, RawStatement] = {}


def _upsert(dialect: str) -> sa.Insert:
    """INSERT ... ON CONFLICT (user_id, day) DO UPDATE adding the new counts, built once per dialect."""
    if dialect not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(StudyDaySignal).values(
            user_id=sa.bindparam("p_user_id"),
            day=sa.bindparam("p_day"),
            refused_beats=sa.bindparam("p_refused"),
            parallel_beats=sa.bindparam("p_parallel"),
            night_seconds=sa.bindparam("p_night"),
            updated_at=sa.bindparam("p_now"),
        )
        _UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=["user_id", "day"],
            set_={
                "refused_beats": StudyDaySignal.refused_beats + statement.excluded.refused_beats,
                "parallel_beats": StudyDaySignal.parallel_beats + statement.excluded.parallel_beats,
                "night_seconds": StudyDaySignal.night_seconds + statement.excluded.night_seconds,
                "updated_at": statement.excluded.updated_at,
            },
        )
    return _UPSERTS[dialect]


def add_signals(
    connection, user_id: int, day: date, now: datetime, *, refused: int = 0, parallel: int = 0, night: float = 0.0
) -> None:
    """Add to the member's counters of ``day`` (one statement on ``connection``)."""
    connection.execute(
        _upsert(connection.dialect.name),
        {"p_user_id": user_id, "p_day": day, "p_refused": refused, "p_parallel": parallel, "p_night": night,
         "p_now": now},
    )  # fmt: skip


def add_signals_many(connection, rows) -> None:
    """``add_signals`` for many (member, day) rows in one executemany: ``rows`` of
    (user_id, day, refused, parallel, night, now), at most one per (member, day)."""
    dialect = connection.dialect.name
    if dialect not in _RAW_UPSERTS:
        _RAW_UPSERTS[dialect] = RawStatement(_upsert(dialect))
    _RAW_UPSERTS[dialect].execute_many(  # on the DBAPI cursor (``raw_sql``): the heartbeat batch's hot path
        connection,
        [{"p_user_id": user_id, "p_day": day, "p_refused": refused, "p_parallel": parallel, "p_night": night,
          "p_now": now} for user_id, day, refused, parallel, night, now in rows],
    )  # fmt: skip


def night_hours() -> tuple[int, int]:
    """The night as local hours [start, end) (``ANOMALY_NIGHT_HOURS``); it may wrap midnight."""
    start, end = current_app.config["ANOMALY_NIGHT_HOURS"]
    return int(start) % 24, int(end) % 24


def is_night(moment: datetime) -> bool:
    """True when ``moment`` falls in the night hours, local time."""
    start, end = night_hours()
    hour = moment.astimezone(clock.local_zone()).hour
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end
