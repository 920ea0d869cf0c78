"""A second person confirms a member's own credit from a meeting (issue #11 for meetings).

Whoever closes a meeting, or takes or corrects its attendance by hand, and was
there, does not credit themselves (``closing.hold_own_credit``). Their credit
waits, without a ledger row, until someone else confirms it: another committee
member (支委委员) of the meeting's branch, or a secretary, subtree admin or
committee member whose own branch holds it, or an administrator. Never the
member themselves. Confirming writes the ledger row and an audit row. A
confirmation may come after the meeting locks: it does not change the 台账,
only lets the credit through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.auth.models import Branch, User
from lms.errors import Forbidden, NotFound
from lms.extensions import db
from lms.meetings.auditing import member_names, record_meeting
from lms.meetings.closing import refresh_credits
from lms.meetings.models import (
    CREDITED_STATUSES,
    Meeting,
    MeetingAttendance,
    MeetingCreditConfirmation,
    MeetingStatus,
)

PANEL_LIMIT = 20


def _may_confirm_at_all(viewer: User) -> bool:
    if viewer.is_admin:
        return True
    return viewer.branch is not None and (viewer.is_secretary or viewer.is_subtree_admin or viewer.is_committee_member)


def may_confirm(viewer: User, meeting: Meeting, user_id: int) -> bool:
    """True when ``viewer`` may confirm ``user_id``'s own credit from ``meeting``: a second person over its branch."""
    if viewer.id == user_id or not _may_confirm_at_all(viewer):
        return False
    if viewer.is_admin:
        return True
    return meeting.branch is not None and meeting.branch.path.startswith(viewer.branch.path)


def _waiting_query(viewer: User) -> sa.Select:
    """(confirmation, attendance) rows whose credit waits and that ``viewer`` may confirm, oldest first."""
    query = (
        sa.select(MeetingCreditConfirmation, MeetingAttendance)
        .join(Meeting, Meeting.id == MeetingCreditConfirmation.meeting_id)
        .join(
            MeetingAttendance,
            sa.and_(
                MeetingAttendance.meeting_id == MeetingCreditConfirmation.meeting_id,
                MeetingAttendance.user_id == MeetingCreditConfirmation.user_id,
            ),
        )
        .where(
            MeetingCreditConfirmation.confirmed_at.is_(None),
            MeetingCreditConfirmation.user_id != viewer.id,
            Meeting.status == MeetingStatus.CLOSED,
            MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES]),
        )
        .order_by(MeetingCreditConfirmation.requested_at, MeetingCreditConfirmation.meeting_id)
    )
    if not _may_confirm_at_all(viewer):
        return query.where(sa.false())
    if not viewer.is_admin:
        subtree = sa.select(Branch.id).where(Branch.path.startswith(viewer.branch.path))
        query = query.where(Meeting.branch_id.in_(subtree))
    return query


@dataclass(frozen=True)
class WaitingCredit:
    """A member's own credit from a closed meeting that waits for a second person."""

    meeting: Meeting
    attendance: MeetingAttendance
    confirmation: MeetingCreditConfirmation

    @property
    def user_id(self) -> int:
        return self.attendance.user_id


def waiting_for(viewer: User, limit: int | None = PANEL_LIMIT) -> list[WaitingCredit]:
    """The credits ``viewer`` may confirm (the home panel), oldest first."""
    query = _waiting_query(viewer)
    if limit is not None:
        query = query.limit(limit)
    return [WaitingCredit(hold.meeting, row, hold) for hold, row in db.session.execute(query)]


def confirmable_meetings_clause(viewer: User):
    """A WHERE clause on ``Meeting``: meetings with a credit ``viewer`` may confirm (so they may open the page)."""
    waiting = _waiting_query(viewer).with_only_columns(MeetingCreditConfirmation.meeting_id).order_by(None)
    return Meeting.id.in_(waiting)


def waiting_on(meeting: Meeting) -> list[WaitingCredit]:
    """The meeting's credits that wait for confirmation (whoever looks), by member name."""
    if meeting.status != MeetingStatus.CLOSED:
        return []
    rows = db.session.execute(
        sa.select(MeetingCreditConfirmation, MeetingAttendance)
        .join(
            MeetingAttendance,
            sa.and_(
                MeetingAttendance.meeting_id == MeetingCreditConfirmation.meeting_id,
                MeetingAttendance.user_id == MeetingCreditConfirmation.user_id,
            ),
        )
        .join(User, User.id == MeetingAttendance.user_id)
        .where(
            MeetingCreditConfirmation.meeting_id == meeting.id,
            MeetingCreditConfirmation.confirmed_at.is_(None),
            MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES]),
        )
        .order_by(User.name, User.id)
    )
    return [WaitingCredit(meeting, row, hold) for hold, row in rows]


def confirm_credit(viewer: User, meeting: Meeting, user_id: int, *, now: datetime) -> MeetingCreditConfirmation:
    """A second person confirms ``user_id``'s own credit from ``meeting``: it enters the ledger, audited.

    Raises NotFound when nothing of this member waits on a closed meeting
    (confirmed already, or they were not there), Forbidden when the viewer is
    the member or has no authority over the meeting's branch.
    """
    hold = db.session.scalar(
        sa.select(MeetingCreditConfirmation)
        .where(MeetingCreditConfirmation.meeting_id == meeting.id, MeetingCreditConfirmation.user_id == user_id)
        .with_for_update()
    )
    row = db.session.scalar(
        sa.select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting.id,
                                           MeetingAttendance.user_id == user_id)
    )  # fmt: skip
    if (
        hold is None
        or hold.confirmed_at is not None
        or row is None
        or not row.status.was_there
        or meeting.status != MeetingStatus.CLOSED
    ):
        raise NotFound(_l("Nothing waits for confirmation here."))
    if not may_confirm(viewer, meeting, user_id):
        raise Forbidden(_l("Someone other than the member must confirm: a committee member, secretary or "
                           "administrator over the meeting's branch."))  # fmt: skip
    hold.confirmed_at, hold.confirmed_by_id = now, viewer.id
    db.session.flush()
    refresh_credits(meeting, now=now)
    record_meeting(
        "confirm_credit", meeting, actor=viewer, now=now,
        after={"member_id": user_id, "member": member_names([user_id]).get(user_id, ""), "status": str(row.status),
               "held_because": hold.reason, "study_hours": meeting.study_hours},
    )  # fmt: skip
    return hold
