"""Closing a meeting, crediting its 学时, the minutes, and the lock.

Closing makes the attendance final: whoever has not signed in (and is not on
approved leave) is absent, and the members who were there (present, late,
left early) are credited the meeting's 学时 in the study ledger
(source=meeting, one row per member and meeting). Until the meeting locks the
secretary may still correct attendance and minutes; the ledger follows each
correction. A closed meeting locks ``MEETING_LOCK_DAYS`` days after closing, or
earlier by hand; after that nothing of it changes.

Nobody credits themselves alone (issue #11): whoever closes the meeting, or
takes or corrects its attendance by hand, and was there, has their own credit
held (``MeetingCreditConfirmation``, no ledger row) until a second person
confirms it (``lms.meetings.confirmations``). A member's own QR sign-in is their
own act and holds nothing. A meeting credits at most ``LMS_OFFLINE_MAX_HOURS``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.models import User
from lms.courses.ledger import replace_meeting_credits, study_hours_to_seconds
from lms.courses.offline import max_study_hours
from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.extensions import db
from lms.meetings.auditing import minutes_snapshot, record_meeting
from lms.meetings.models import (
    CREDITED_STATUSES,
    AttendanceStatus,
    Meeting,
    MeetingAttendance,
    MeetingCreditConfirmation,
    MeetingStatus,
)
from lms.richtext import plain_text, sanitize_html

MAX_MINUTES_CHARS = 200_000


def lock_deadline(meeting: Meeting) -> datetime | None:
    """When a closed meeting locks by itself (None while it is not closed)."""
    if meeting.closed_at is None:
        return None
    return meeting.closed_at + timedelta(days=int(current_app.config["MEETING_LOCK_DAYS"]))


def is_locked(meeting: Meeting, now: datetime) -> bool:
    """True when nothing of the meeting may change any more (cancelled, locked by hand, or past the window)."""
    if meeting.status == MeetingStatus.CANCELLED or meeting.locked_at is not None:
        return True
    deadline = lock_deadline(meeting)
    return deadline is not None and now >= deadline


def _check_manager(viewer: User, meeting: Meeting) -> None:
    from lms.meetings.scheduling import may_manage

    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))


def waiting_clause():
    """A WHERE clause on ``MeetingAttendance``: the row's credit waits for a second person's confirmation."""
    return sa.exists().where(
        MeetingCreditConfirmation.meeting_id == MeetingAttendance.meeting_id,
        MeetingCreditConfirmation.user_id == MeetingAttendance.user_id,
        MeetingCreditConfirmation.confirmed_at.is_(None),
    )


def credited_user_ids(meeting: Meeting) -> list[int]:
    """Members of the meeting who were there (present, late, left early), but those whose own credit waits."""
    return list(
        db.session.scalars(
            sa.select(MeetingAttendance.user_id).where(
                MeetingAttendance.meeting_id == meeting.id,
                MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES]),
                sa.not_(waiting_clause()),
            )
        )
    )


def waiting_user_ids(meeting: Meeting) -> list[int]:
    """Members who were there and whose own credit waits for confirmation, by id."""
    return list(
        db.session.scalars(
            sa.select(MeetingAttendance.user_id)
            .where(
                MeetingAttendance.meeting_id == meeting.id,
                MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES]),
                waiting_clause(),
            )
            .order_by(MeetingAttendance.user_id)
        )
    )


def hold_own_credit(meeting: Meeting, user_id: int, reason: str, *, now: datetime, reopen: bool) -> bool:
    """Make ``user_id``'s own credit from ``meeting`` wait for a second person; True when it now waits.

    Called when the member closes the meeting or takes attendance by hand. Only
    a listed attendee has a credit to hold. An earlier confirmation stands unless
    ``reopen`` (they closed the meeting, or changed their own attendance).
    """
    listed = db.session.scalar(
        sa.select(MeetingAttendance.id).where(
            MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.user_id == user_id
        )
    )
    if listed is None:
        return False
    hold = db.session.get(MeetingCreditConfirmation, (meeting.id, user_id))
    if hold is None:
        db.session.add(MeetingCreditConfirmation(meeting_id=meeting.id, user_id=user_id, requested_at=now,
                                                 reason=reason))  # fmt: skip
    elif reopen or hold.confirmed_at is None:
        hold.requested_at, hold.reason = now, reason
        hold.confirmed_at = hold.confirmed_by_id = None
    else:
        return False
    db.session.flush()
    return True


def refresh_credits(meeting: Meeting, *, now: datetime) -> int:
    """Make the ledger match a closed meeting's attendance (idempotent); returns how many are credited."""
    if meeting.status != MeetingStatus.CLOSED:
        return 0
    return replace_meeting_credits(
        meeting.id,
        clock.local_day(meeting.starts_at),
        study_hours_to_seconds(meeting.study_hours),
        credited_user_ids(meeting),
        now=now,
    )


def close_meeting(viewer: User, meeting: Meeting, *, now: datetime) -> int:
    """Close a meeting that has started: unsigned attendees become absent, those there are credited.

    Closing twice is refused with a clear message and changes nothing. Returns
    how many members were credited.
    """
    _check_manager(viewer, meeting)
    current = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting.id).with_for_update())
    if current.status == MeetingStatus.CLOSED:
        raise InvalidState(_l("This meeting is closed already."))
    if current.status == MeetingStatus.CANCELLED:
        raise InvalidState(_l("This meeting was cancelled."))
    if now < meeting.starts_at:
        raise InvalidState(_l("The meeting has not started yet; close it after it is held."))
    if meeting.study_hours > max_study_hours():
        raise InvalidState(
            _l("This meeting credits %(hours)s study hours, more than the %(n)s one meeting may credit; change its "
               "study hours before closing it.", hours=format(meeting.study_hours, "g"),
               n=format(max_study_hours(), "g"))
        )  # fmt: skip
    db.session.execute(
        sa.update(MeetingAttendance)
        .where(MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.status == AttendanceStatus.EXPECTED)
        .values(status=AttendanceStatus.ABSENT)
    )
    meeting.status = MeetingStatus.CLOSED
    meeting.closed_at = now
    meeting.closed_by_id = viewer.id
    meeting.updated_at = now
    db.session.flush()
    hold_own_credit(meeting, viewer.id, "close", now=now, reopen=True)
    credited = refresh_credits(meeting, now=now)
    record_meeting("close", meeting, actor=viewer, now=now,
                   after={"credited": credited, "study_hours": meeting.study_hours,
                          "credit_waits_for": waiting_user_ids(meeting)})  # fmt: skip
    return credited


def lock_meeting(viewer: User, meeting: Meeting, *, now: datetime) -> None:
    """Lock a closed meeting before its window ends (the 台账 entry is final)."""
    _check_manager(viewer, meeting)
    if meeting.status != MeetingStatus.CLOSED:
        raise InvalidState(_l("Only a closed meeting can be locked."))
    if is_locked(meeting, now):
        return
    meeting.locked_at = now
    db.session.flush()
    record_meeting("lock", meeting, actor=viewer, now=now, after={"locked_at": now})


def save_minutes(viewer: User, meeting: Meeting, html: str, *, now: datetime) -> None:
    """Save the minutes (sanitised rich text); refused once the meeting is locked or cancelled."""
    _check_manager(viewer, meeting)
    current = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting.id).with_for_update())
    if is_locked(current, now):
        raise InvalidState(_l("This meeting is locked; its minutes can no longer be changed."))
    if len(html or "") > MAX_MINUTES_CHARS:
        raise ValidationFailed(_l("The minutes are too long."), "minutes_html")
    clean = sanitize_html(html or "")
    before = meeting.minutes_html or ""
    meeting.minutes_html = clean if plain_text(clean).strip() or "<img" in clean else ""
    meeting.minutes_updated_at = now
    meeting.minutes_updated_by_id = viewer.id
    db.session.flush()
    if meeting.minutes_html != before:
        record_meeting("minutes", meeting, actor=viewer, now=now, before=minutes_snapshot(before),
                       after=minutes_snapshot(meeting.minutes_html))  # fmt: skip


def archive_lines(member: User, start, end) -> list:
    """The member's credited meetings in ``start..end`` as lines of the courses' learning archive."""
    from lms.auth.models import Branch
    from lms.courses.archive import OfflineLine
    from lms.courses.models import StudyLedgerEntry
    from lms.meetings.models import MeetingKind

    rows = db.session.execute(
        sa.select(Meeting, MeetingKind.name, Branch.name, StudyLedgerEntry.day, StudyLedgerEntry.seconds)
        .join(StudyLedgerEntry, StudyLedgerEntry.meeting_id == Meeting.id)
        .join(MeetingKind, MeetingKind.id == Meeting.kind_id)
        .join(Branch, Branch.id == Meeting.branch_id)
        .where(StudyLedgerEntry.user_id == member.id, StudyLedgerEntry.day.between(start, end))
        .order_by(StudyLedgerEntry.day, Meeting.id)
    )
    return [
        OfflineLine(meeting.id, day, kind_name, meeting.topic, branch_name, meeting.study_hours, float(seconds or 0))
        for meeting, kind_name, branch_name, day, seconds in rows
    ]
