"""The demo meetings obey the rules: credits only for closed meetings and only to members who were there."""

from __future__ import annotations

import sqlalchemy as sa

from lms import clock
from lms.auth import demo as auth_demo
from lms.auth.models import Branch, BranchKind
from lms.courses.ledger import study_hours_to_seconds
from lms.courses.models import StudyLedgerEntry, StudySource
from lms.extensions import db
from lms.meetings import demo, kinds, register
from lms.meetings.models import (
    CREDITED_STATUSES,
    AttendanceStatus,
    LeaveStatus,
    Meeting,
    MeetingAttendance,
    MeetingCreditConfirmation,
    MeetingStatus,
)


def test_demo_meetings_follow_the_rules_and_are_added_once(app):
    kinds.seed_defaults()
    auth_demo.seed_demo()
    lines = demo.seed_demo()
    db.session.commit()
    assert lines and "demo meetings" in lines[0]
    branches = db.session.scalars(sa.select(Branch).where(Branch.kind == BranchKind.BRANCH)).all()
    for branch in branches:
        meetings = db.session.scalars(sa.select(Meeting).where(Meeting.branch_id == branch.id)).all()
        closed = [m for m in meetings if m.status == MeetingStatus.CLOSED]
        upcoming = [m for m in meetings if m.status == MeetingStatus.SCHEDULED]
        assert len(closed) >= 20, branch.name
        assert len(upcoming) == 1
    rows = db.session.execute(
        sa.select(StudyLedgerEntry, Meeting, MeetingAttendance)
        .join(Meeting, Meeting.id == StudyLedgerEntry.meeting_id)
        .join(MeetingAttendance, sa.and_(MeetingAttendance.meeting_id == Meeting.id,
                                         MeetingAttendance.user_id == StudyLedgerEntry.user_id), isouter=True)
    ).all()  # fmt: skip
    assert rows
    for entry, meeting, attendance in rows:
        assert entry.source == StudySource.MEETING
        assert meeting.status == MeetingStatus.CLOSED
        assert attendance is not None and attendance.status in CREDITED_STATUSES
        assert entry.seconds == study_hours_to_seconds(meeting.study_hours)
    credited = {(e.meeting_id, e.user_id) for e, _, _ in rows}
    there = set(
        db.session.execute(
            sa.select(MeetingAttendance.meeting_id, MeetingAttendance.user_id)
            .join(Meeting, Meeting.id == MeetingAttendance.meeting_id)
            .where(Meeting.status == MeetingStatus.CLOSED,
                   MeetingAttendance.status.in_([str(s) for s in CREDITED_STATUSES]))
        ).all()
    )  # fmt: skip
    # The closer's own credit waits for a second person's confirmation (issue #11).
    waiting = set(
        db.session.execute(
            sa.select(MeetingCreditConfirmation.meeting_id, MeetingCreditConfirmation.user_id).where(
                MeetingCreditConfirmation.confirmed_at.is_(None)
            )
        ).all()
    )
    assert credited == there - waiting
    statuses = set(db.session.scalars(sa.select(MeetingAttendance.status)))
    assert {AttendanceStatus.LEAVE, AttendanceStatus.ABSENT, AttendanceStatus.LATE} <= statuses
    assert db.session.scalar(sa.select(sa.func.count()).where(MeetingAttendance.leave_status == LeaveStatus.REQUESTED))
    now = clock.utcnow()
    years = (clock.local_day(now).year - 1, clock.local_day(now).year)

    def missed_committee_meetings(branch) -> int:
        books = [register.branch_register(branch, year, now=now) for year in years]
        return sum(len(item.missed) for book in books for item in book.compliance
                   if item.kind.code == "committee_meeting")  # fmt: skip

    first, second = branches[0], branches[1]
    assert missed_committee_meetings(second) == missed_committee_meetings(first) + 2
    absences = db.session.scalar(
        sa.select(sa.func.count()).where(MeetingAttendance.status == AttendanceStatus.ABSENT,
                                         MeetingAttendance.meeting_id.in_(sa.select(Meeting.id).where(
                                             Meeting.branch_id == first.id)))
    )  # fmt: skip
    assert absences >= 2
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Meeting))
    assert demo.seed_demo() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == before
