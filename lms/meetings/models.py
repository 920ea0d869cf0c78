"""组织生活: meeting kinds, scheduled meetings, attendance, files and compliance warnings.

A meeting belongs to a branch and a kind (with its cadence, attendees and 学时).
Its attendance rows are the attendee list: a member not listed cannot sign in.
When the meeting is closed, attendees who were there are credited the
meeting's 学时 in the courses' study ledger (source=meeting, ``meeting_id``).
The attendance and the minutes are the branch's 台账 entry.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, str_enum
from lms.extensions import db


class Cadence(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"
    NONE = "none"  # held when needed (training days): no compliance check

    @property
    def label(self) -> str:
        return str(CADENCE_LABELS[self])

    @property
    def periods_per_year(self) -> int:
        return {"monthly": 12, "quarterly": 4, "half_yearly": 2, "yearly": 1, "none": 0}[self.value]


CADENCE_LABELS = {
    Cadence.MONTHLY: _l("Monthly"),
    Cadence.QUARTERLY: _l("Quarterly"),
    Cadence.HALF_YEARLY: _l("Every half year"),
    Cadence.YEARLY: _l("Yearly"),
    Cadence.NONE: _l("When needed"),
}


class AttendeeRule(enum.StrEnum):
    MEMBERS = "members"  # every active member of the branch (and its sub-branches)
    COMMITTEE = "committee"  # the branch committee: its secretary and committee members
    GROUP = "group"  # a 党小组: the secretary picks the group's members
    AUDIENCE = "audience"  # members of the branch with the kind's statuses (e.g. activists)

    @property
    def label(self) -> str:
        return str(ATTENDEE_RULE_LABELS[self])


ATTENDEE_RULE_LABELS = {
    AttendeeRule.MEMBERS: _l("All members of the branch"),
    AttendeeRule.COMMITTEE: _l("The branch committee"),
    AttendeeRule.GROUP: _l("A Party group (chosen members)"),
    AttendeeRule.AUDIENCE: _l("An audience (by member status)"),
}


class KindLevel(enum.StrEnum):
    BRANCH = "branch"  # held by each 党支部
    LEADERSHIP = "leadership"  # held by 党委 / 党总支 (民主生活会), scheduled by an admin

    @property
    def label(self) -> str:
        return str(KIND_LEVEL_LABELS[self])


KIND_LEVEL_LABELS = {
    KindLevel.BRANCH: _l("Party branches"),
    KindLevel.LEADERSHIP: _l("Party committees and general branches"),
}


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CLOSED = "closed"  # held; attendance final and credited
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(MEETING_STATUS_LABELS[self])


MEETING_STATUS_LABELS = {
    MeetingStatus.SCHEDULED: _l("Scheduled"),
    MeetingStatus.CLOSED: _l("Held"),
    MeetingStatus.CANCELLED: _l("Cancelled"),
}


class AttendanceStatus(enum.StrEnum):
    EXPECTED = "expected"  # not signed in yet; absent when the meeting closes
    PRESENT = "present"
    LATE = "late"
    LEFT_EARLY = "left_early"
    LEAVE = "leave"  # on approved leave
    ABSENT = "absent"

    @property
    def label(self) -> str:
        return str(ATTENDANCE_STATUS_LABELS[self])

    @property
    def was_there(self) -> bool:
        return self in CREDITED_STATUSES


ATTENDANCE_STATUS_LABELS = {
    AttendanceStatus.EXPECTED: _l("Not signed in"),
    AttendanceStatus.PRESENT: _l("Present"),
    AttendanceStatus.LATE: _l("Late"),
    AttendanceStatus.LEFT_EARLY: _l("Left early"),
    AttendanceStatus.LEAVE: _l("On leave"),
    AttendanceStatus.ABSENT: _l("Absent"),
}

# Who was there and is credited the meeting's 学时 when it closes.
CREDITED_STATUSES = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY})


class LeaveStatus(enum.StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return str(LEAVE_STATUS_LABELS[self])


LEAVE_STATUS_LABELS = {
    LeaveStatus.NONE: _l("No leave asked"),
    LeaveStatus.REQUESTED: _l("Leave asked"),
    LeaveStatus.APPROVED: _l("Leave approved"),
    LeaveStatus.REFUSED: _l("Leave refused"),
}


class CheckinMethod(enum.StrEnum):
    QR = "qr"
    MANUAL = "manual"


class FilePurpose(enum.StrEnum):
    MATERIAL = "material"  # handed out before the meeting
    MINUTES = "minutes"  # part of the minutes (photos, signed sheets)


class MeetingKind(TimestampMixin, db.Model):
    """A kind of meeting: its cadence, who attends, and the 学时 it credits. Seeded by `flask lms init`."""

    __tablename__ = "meeting_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    cadence: Mapped[Cadence] = mapped_column(str_enum(Cadence))
    level: Mapped[KindLevel] = mapped_column(str_enum(KindLevel), default=KindLevel.BRANCH)
    attendee_rule: Mapped[AttendeeRule] = mapped_column(str_enum(AttendeeRule))
    audience_statuses: Mapped[list] = mapped_column(sa.JSON, default=list)  # for AttendeeRule.AUDIENCE
    study_hours: Mapped[float] = mapped_column(default=1.0)
    needs_sign_out: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class Meeting(TimestampMixin, db.Model):
    """A scheduled meeting of a branch; closed, its attendance and minutes are the 台账 entry."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(sa.ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    kind_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_kinds.id", ondelete="RESTRICT"), index=True)
    topic: Mapped[str] = mapped_column(sa.String(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    online_url: Mapped[str] = mapped_column(sa.String(500), default="")
    agenda: Mapped[str] = mapped_column(sa.Text, default="")
    lesson_ids: Mapped[list] = mapped_column(sa.JSON, default=list)  # linked lessons (materials)
    status: Mapped[MeetingStatus] = mapped_column(str_enum(MeetingStatus), default=MeetingStatus.SCHEDULED)
    # Copied from the kind when scheduled, so editing a kind never changes a held meeting.
    study_hours: Mapped[float] = mapped_column(default=1.0)
    needs_sign_out: Mapped[bool] = mapped_column(default=False)
    checkin_opens_minutes: Mapped[int] = mapped_column(default=30)  # sign-in opens this long before the start
    # Random per meeting: part of every sign-in token's signature (a new one voids old codes).
    checkin_key: Mapped[str] = mapped_column(sa.String(64))
    minutes_html: Mapped[str] = mapped_column(sa.Text, default="")
    minutes_updated_at: Mapped[datetime | None]
    minutes_updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    locked_at: Mapped[datetime | None]  # locked by hand before the window ends
    cancelled_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the "starts soon" reminder went out
    # Set when the meeting was made from an offline study record (kept for traceability).
    offline_record_id: Mapped[int | None] = mapped_column(unique=True)

    branch = relationship("Branch")
    kind: Mapped[MeetingKind] = relationship()
    created_by = relationship("User", foreign_keys=[created_by_id])

    __table_args__ = (sa.Index("ix_meetings_branch_id_starts_at", "branch_id", "starts_at"),)


class MeetingAttendance(db.Model):
    """One listed attendee of a meeting: sign-in, leave, and who decided what (with the reason)."""

    __tablename__ = "meeting_attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[AttendanceStatus] = mapped_column(str_enum(AttendanceStatus), default=AttendanceStatus.EXPECTED)
    signed_in_at: Mapped[datetime | None]
    signed_out_at: Mapped[datetime | None]
    checkin_method: Mapped[CheckinMethod | None] = mapped_column(str_enum(CheckinMethod, length=10))
    # A sign-in (or status change) by hand: who, when and why.
    manual_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    manual_at: Mapped[datetime | None]
    manual_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    leave_status: Mapped[LeaveStatus] = mapped_column(str_enum(LeaveStatus), default=LeaveStatus.NONE)
    leave_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    leave_requested_at: Mapped[datetime | None]
    leave_decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    leave_decided_at: Mapped[datetime | None]
    leave_note: Mapped[str] = mapped_column(sa.String(300), default="")

    meeting: Mapped[Meeting] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    manual_by = relationship("User", foreign_keys=[manual_by_id])
    leave_decided_by = relationship("User", foreign_keys=[leave_decided_by_id])

    __table_args__ = (sa.UniqueConstraint("meeting_id", "user_id"),)


class MeetingFile(db.Model):
    """A file of a meeting (material or part of the minutes), stored under a generated name."""

    __tablename__ = "meeting_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[FilePurpose] = mapped_column(str_enum(FilePurpose, length=10))
    original_name: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(120))
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime]


class MeetingCreditConfirmation(db.Model):
    """A member's own credit from a meeting that waits for a second person (DESIGN.md §3, issue #11).

    Whoever closes a meeting, or takes or corrects its attendance by hand, and is
    among those it credits does not credit themselves: while ``confirmed_at`` is
    empty, their 学时 from the meeting stay out of the ledger. Another committee
    member of the branch, or a secretary or administrator over it, confirms.
    """

    __tablename__ = "meeting_credit_confirmations"

    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    requested_at: Mapped[datetime]
    # Why it waits: "close" (they closed the meeting) or "attendance" (they took attendance by hand).
    reason: Mapped[str] = mapped_column(sa.String(20), default="close")
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None]

    meeting: Mapped[Meeting] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    confirmed_by = relationship("User", foreign_keys=[confirmed_by_id])


class MeetingDueWarning(db.Model):
    """A 事前提醒 sent: one per (branch, kind, due period), so the warning goes out once."""

    __tablename__ = "meeting_due_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(sa.ForeignKey("branches.id", ondelete="CASCADE"))
    kind_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_kinds.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(sa.String(10))  # "2026-03", "2026-Q1", "2026-H1", "2026"
    sent_at: Mapped[datetime]

    __table_args__ = (sa.UniqueConstraint("branch_id", "kind_id", "period"),)


__all__ = [
    "ATTENDANCE_STATUS_LABELS",
    "ATTENDEE_RULE_LABELS",
    "CADENCE_LABELS",
    "CREDITED_STATUSES",
    "KIND_LEVEL_LABELS",
    "LEAVE_STATUS_LABELS",
    "MEETING_STATUS_LABELS",
    "AttendanceStatus",
    "AttendeeRule",
    "Cadence",
    "CheckinMethod",
    "FilePurpose",
    "KindLevel",
    "LeaveStatus",
    "Meeting",
    "MeetingAttendance",
    "MeetingCreditConfirmation",
    "MeetingDueWarning",
    "MeetingFile",
    "MeetingKind",
]
