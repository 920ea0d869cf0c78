"""Members' attendance rates at the meetings they were expected at, for assessment (issue #14).

A member's rate over a period = the closed meetings they were there for
(present, late, left early) over the closed meetings they were listed for,
leaving out those they were on approved leave from. A presence whose credit
still waits for a second person's confirmation (the closer's own) is counted in
neither until it is confirmed, so nobody raises their own rate alone. Each
function is one aggregate query whatever the number of members.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from lms import clock
from lms.db import UTCDateTime
from lms.extensions import db
from lms.meetings.closing import waiting_clause
from lms.meetings.models import CREDITED_STATUSES, AttendanceStatus, Meeting, MeetingAttendance, MeetingStatus


def _day_bounds(start: date, end: date):
    """The UTC instants of local ``start`` 00:00 and of the day after ``end``."""
    return clock.local_midnight(start), clock.local_midnight(end + timedelta(days=1))


def _counted_columns():
    attended = sa.func.sum(
        sa.case((MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES]), 1), else_=0)
    )
    expected = sa.func.sum(sa.case((MeetingAttendance.status != AttendanceStatus.LEAVE, 1), else_=0))
    return MeetingAttendance.user_id, attended, expected


def _counted_where():
    """Closed meetings, without an attendance whose own credit still waits (an absence still counts)."""
    there = MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES])
    return sa.and_(Meeting.status == MeetingStatus.CLOSED, sa.not_(sa.and_(there, waiting_clause())))


def attendance_counts(users: sa.Select, start: date, end: date) -> dict[int, tuple[int, int]]:
    """(meetings attended, meetings expected at) per member of ``users`` held in ``start..end`` (local days).

    ``users`` is a SELECT of user ids. Members listed for no counted meeting are absent. One query.
    """
    starts, ends = _day_bounds(start, end)
    rows = db.session.execute(
        sa.select(*_counted_columns())
        .join(Meeting, Meeting.id == MeetingAttendance.meeting_id)
        .where(
            MeetingAttendance.user_id.in_(users),
            Meeting.starts_at >= starts,
            Meeting.starts_at < ends,
            _counted_where(),
        )
        .group_by(MeetingAttendance.user_id)
    )
    return {user_id: (int(attended or 0), int(expected or 0)) for user_id, attended, expected in rows}


def attendance_counts_each(bounds: dict[int, tuple[date, date]]) -> dict[int, tuple[int, int]]:
    """The same counts with each member's own days (probation periods): the bounds travel as a VALUES table."""
    if not bounds:
        return {}
    periods = (
        sa.values(
            sa.column("user_id", sa.Integer),
            sa.column("starts_at", UTCDateTime()),
            sa.column("ends_at", UTCDateTime()),
            name="member_periods",
        )
        .data([(user_id, *_day_bounds(start, end)) for user_id, (start, end) in bounds.items()])
        .cte("member_periods")
    )
    rows = db.session.execute(
        sa.select(*_counted_columns())
        .join(periods, periods.c.user_id == MeetingAttendance.user_id)
        .join(Meeting, Meeting.id == MeetingAttendance.meeting_id)
        .where(Meeting.starts_at >= periods.c.starts_at, Meeting.starts_at < periods.c.ends_at, _counted_where())
        .group_by(MeetingAttendance.user_id)
    )
    return {user_id: (int(attended or 0), int(expected or 0)) for user_id, attended, expected in rows}
