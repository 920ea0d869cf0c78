"""Scheduling meetings: who may, who attends, the calendar, notices and reminders.

A secretary schedules meetings of the branches in their subtree; meetings of
leadership kinds (民主生活会) and of 党委 / 党总支 are scheduled by admins. The
attendee list is stored as attendance rows, defaulted from the kind's rule and
adjustable; only active members of the meeting's branch subtree may be listed.
Attendees hear of a new, changed or cancelled meeting in their notifications,
and once more ``MEETING_REMINDER_HOURS`` before it starts (a job, idempotent).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.auth.permissions import branch_scope_clause
from lms.courses.models import Course, CourseStatus, Lesson
from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.extensions import db
from lms.i18n import join_list
from lms.meetings.auditing import meeting_snapshot, record_meeting
from lms.meetings.limits import check_study_hours
from lms.meetings.models import (
    AttendanceStatus,
    AttendeeRule,
    KindLevel,
    Meeting,
    MeetingAttendance,
    MeetingKind,
    MeetingStatus,
)
from lms.notices.services import notify_users

MAX_MEETING_HOURS = 24
NOTICE_KIND = "meeting"


# --- scope --------------------------------------------------------------------------


def managed_meetings_clause(viewer: User):
    """A WHERE clause on ``Meeting`` for the meetings ``viewer`` manages (admins: all)."""
    if viewer.role == Role.ADMIN:
        return sa.true()
    if viewer.role == Role.SECRETARY and viewer.branch is not None:
        return Meeting.branch_id.in_(sa.select(Branch.id).where(branch_scope_clause(viewer)))
    return sa.false()


def may_manage(viewer: User, meeting: Meeting) -> bool:
    """True when ``viewer`` may edit the meeting, take attendance and write the minutes."""
    if viewer.is_admin:
        return True
    if not viewer.is_secretary or viewer.branch is None or meeting.branch is None:
        return False
    return meeting.branch.path.startswith(viewer.branch.path) and meeting.kind.level == KindLevel.BRANCH


def visible_meetings_clause(viewer: User):
    """Meetings ``viewer`` may see: those they attend, and those they manage."""
    attending = Meeting.id.in_(sa.select(MeetingAttendance.meeting_id).where(MeetingAttendance.user_id == viewer.id))
    return sa.or_(attending, managed_meetings_clause(viewer))


def get_meeting_or_404(viewer: User, meeting_id: int) -> Meeting:
    """A meeting the viewer attends or manages; any other id looks missing (404)."""
    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting_id, visible_meetings_clause(viewer)))
    if meeting is None:
        abort(404)
    return meeting


def get_managed_meeting_or_404(viewer: User, meeting_id: int) -> Meeting:
    """A meeting the viewer manages (404 for others, 403 for attendees who do not manage it)."""
    meeting = get_meeting_or_404(viewer, meeting_id)
    if not may_manage(viewer, meeting):
        abort(403)
    return meeting


def schedulable_branches(viewer: User) -> list[Branch]:
    """Branches the viewer may schedule meetings for, in tree order."""
    from lms.auth.services import branch_tree

    scope = set(db.session.scalars(sa.select(Branch.id).where(branch_scope_clause(viewer))))
    return [branch for branch in branch_tree() if branch.id in scope]


def kinds_for(viewer: User, branch: Branch | None) -> list[MeetingKind]:
    """Active kinds the viewer may schedule for ``branch`` (leadership kinds: admins, above branch level)."""
    from lms.meetings.kinds import all_kinds

    kinds = all_kinds(active_only=True)
    if branch is None:
        return kinds
    return [kind for kind in kinds if _kind_allowed(viewer, kind, branch)]


def _kind_allowed(viewer: User, kind: MeetingKind, branch: Branch) -> bool:
    if kind.level == KindLevel.LEADERSHIP:
        return viewer.is_admin and branch.kind != BranchKind.BRANCH
    return True


# --- attendees ----------------------------------------------------------------------


def eligible_attendees(branch: Branch) -> list[User]:
    """Active members of ``branch`` and its sub-branches, by name: who may be listed."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Branch, Branch.id == User.branch_id)
            .where(Branch.path.startswith(branch.path), User.is_active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def default_attendee_ids(kind: MeetingKind, branch: Branch) -> list[int]:
    """The attendees the kind's rule names in ``branch`` (the 党小组 rule names none: they are chosen)."""
    rule = AttendeeRule(kind.attendee_rule)
    people = eligible_attendees(branch)
    if rule == AttendeeRule.MEMBERS:
        party = {MemberStatus.FULL, MemberStatus.PROBATIONARY}
        return [user.id for user in people if user.status in party]
    if rule == AttendeeRule.COMMITTEE:
        return [
            user.id
            for user in people
            if user.is_committee_member or (user.role == Role.SECRETARY and user.branch_id == branch.id)
        ]
    if rule == AttendeeRule.AUDIENCE:
        statuses = set(kind.audience_statuses or [])
        return [user.id for user in people if str(user.status) in statuses]
    return []


def attendance_rows(meeting: Meeting) -> list[MeetingAttendance]:
    """The meeting's attendance rows with their members, by name."""
    return list(
        db.session.scalars(
            sa.select(MeetingAttendance)
            .join(User, User.id == MeetingAttendance.user_id)
            .where(MeetingAttendance.meeting_id == meeting.id)
            .order_by(User.name, User.id)
        )
    )


def attendee_ids(meeting: Meeting) -> list[int]:
    return list(
        db.session.scalars(sa.select(MeetingAttendance.user_id).where(MeetingAttendance.meeting_id == meeting.id))
    )


# --- scheduling ---------------------------------------------------------------------


@dataclass
class MeetingFields:
    branch_id: int | None
    kind_id: int | None
    topic: str
    starts_at: datetime | None
    ends_at: datetime | None
    place: str = ""
    online_url: str = ""
    agenda: str = ""
    attendee_ids: list[int] = field(default_factory=list)
    lesson_ids: list[int] = field(default_factory=list)
    study_hours: float | None = None  # None: the kind's
    checkin_opens_minutes: int | None = None  # None: LMS_MEETING_CHECKIN_OPENS_MINUTES


def published_lessons() -> list[tuple[int, str]]:
    """(id, "course · lesson") of published lessons, for linking materials."""
    rows = db.session.execute(
        sa.select(Lesson.id, Course.title, Lesson.title)
        .join(Course, Course.id == Lesson.course_id)
        .where(Course.status == CourseStatus.PUBLISHED)
        .order_by(Course.title, Lesson.position, Lesson.id)
    )
    return [(lesson_id, f"{course} · {lesson}") for lesson_id, course, lesson in rows]


def _validated(viewer: User, fields: MeetingFields) -> tuple[Branch, MeetingKind, list[int]]:
    branch = None
    if fields.branch_id is not None:
        branch = db.session.scalar(sa.select(Branch).where(Branch.id == fields.branch_id, branch_scope_clause(viewer)))
    if branch is None:
        raise ValidationFailed(_l("Pick a branch you manage."), "branch_id")
    kind = db.session.get(MeetingKind, fields.kind_id) if fields.kind_id else None
    if kind is None or not kind.is_active:
        raise ValidationFailed(_l("Pick the kind of meeting."), "kind_id")
    if not _kind_allowed(viewer, kind, branch):
        raise ValidationFailed(
            _l("This kind of meeting is held by Party committees and scheduled by an administrator."), "kind_id"
        )
    if not (fields.topic or "").strip():
        raise ValidationFailed(_l("Give the topic."), "topic")
    if fields.starts_at is None:
        raise ValidationFailed(_l("Give the start time."), "starts_at")
    if fields.ends_at is None or fields.ends_at <= fields.starts_at:
        raise ValidationFailed(_l("The meeting must end after it starts."), "ends_at")
    if fields.ends_at - fields.starts_at > timedelta(hours=MAX_MEETING_HOURS):
        raise ValidationFailed(_l("A meeting lasts at most %(n)d hours.", n=MAX_MEETING_HOURS), "ends_at")
    if not (fields.place or "").strip() and not (fields.online_url or "").strip():
        raise ValidationFailed(_l("Give the place or an online meeting link."), "place")
    url = (fields.online_url or "").strip()
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise ValidationFailed(_l("The online link must start with http:// or https://."), "online_url")
    check_study_hours(kind.study_hours if fields.study_hours is None else fields.study_hours)
    if fields.checkin_opens_minutes is not None and not 0 <= fields.checkin_opens_minutes <= 24 * 60:
        raise ValidationFailed(_l("Sign-in may open at most a day before the start."), "checkin_opens_minutes")
    wanted = sorted({int(i) for i in fields.attendee_ids})
    if not wanted:
        raise ValidationFailed(_l("Choose at least one attendee."), "attendee_ids")
    allowed = {user.id for user in eligible_attendees(branch)}
    if not set(wanted) <= allowed:
        raise ValidationFailed(_l("Attendees must be active members of the meeting's branch."), "attendee_ids")
    lessons = sorted({int(i) for i in fields.lesson_ids})
    if lessons and not set(lessons) <= {lesson_id for lesson_id, _ in published_lessons()}:
        raise ValidationFailed(_l("Link only lessons of published courses."), "lesson_ids")
    fields.lesson_ids = lessons
    return branch, kind, wanted


def _apply(meeting: Meeting, fields: MeetingFields, branch: Branch, kind: MeetingKind) -> None:
    meeting.branch_id, meeting.branch = branch.id, branch
    meeting.kind_id, meeting.kind = kind.id, kind
    meeting.topic = fields.topic.strip()[:200]
    meeting.starts_at = fields.starts_at
    meeting.ends_at = fields.ends_at
    meeting.place = (fields.place or "").strip()[:200]
    meeting.online_url = (fields.online_url or "").strip()[:500]
    meeting.agenda = (fields.agenda or "").strip()
    meeting.lesson_ids = fields.lesson_ids
    meeting.study_hours = round(float(kind.study_hours if fields.study_hours is None else fields.study_hours), 2)
    meeting.needs_sign_out = kind.needs_sign_out
    opens = fields.checkin_opens_minutes
    meeting.checkin_opens_minutes = int(current_app.config["MEETING_CHECKIN_OPENS_MINUTES"] if opens is None else opens)


def meeting_path(meeting_id: int) -> str:
    """The meeting's page (a plain path: jobs have no request to build URLs from)."""
    return f"/meetings/{meeting_id}"


def _meeting_link(meeting: Meeting) -> str:
    return meeting_path(meeting.id)


def _when(meeting: Meeting) -> str:
    local = meeting.starts_at.astimezone(clock.local_zone())
    return local.strftime("%Y-%m-%d %H:%M")


def schedule_meeting(viewer: User, fields: MeetingFields, *, now: datetime) -> Meeting:
    """Schedule a meeting and notify its attendees (unless it is already over).

    Raises ValidationFailed (with the field) for a branch or kind the viewer may
    not use, a blank topic, bad times, no place or link, attendees outside the
    branch, or lessons that are not published.
    """
    branch, kind, attendees = _validated(viewer, fields)
    meeting = Meeting(checkin_key=secrets.token_hex(16), created_by_id=viewer.id, created_at=now, updated_at=now)
    _apply(meeting, fields, branch, kind)
    db.session.add(meeting)
    db.session.flush()
    db.session.execute(
        sa.insert(MeetingAttendance),
        [{"meeting_id": meeting.id, "user_id": user_id, "status": AttendanceStatus.EXPECTED} for user_id in attendees],
    )
    record_meeting("schedule", meeting, actor=viewer, now=now, after=meeting_snapshot(meeting, attendees))
    if meeting.ends_at > now:
        notify_users(
            attendees, kind=NOTICE_KIND, now=now, link=_meeting_link(meeting),
            title=str(_l("New meeting: %(kind)s, %(when)s", kind=kind.name, when=_when(meeting))),
            body=str(_l("%(topic)s. Place: %(place)s", topic=meeting.topic, place=meeting.place or meeting.online_url)),
        )  # fmt: skip
    return meeting


def update_meeting(viewer: User, meeting: Meeting, fields: MeetingFields, *, now: datetime) -> Meeting:
    """Change a scheduled meeting; attendees are told when the time or place changed.

    Raises InvalidState when the meeting is closed or cancelled, and
    ValidationFailed as ``schedule_meeting`` does, or when an attendee who has
    already signed in would be taken off the list.
    """
    locked_meeting = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting.id).with_for_update())
    if locked_meeting.status != MeetingStatus.SCHEDULED:
        raise InvalidState(_l("Only a scheduled meeting can be changed."))
    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))
    branch, kind, attendees = _validated(viewer, fields)
    before = (meeting.starts_at, meeting.ends_at, meeting.place, meeting.online_url)
    current = {row.user_id: row for row in attendance_rows(meeting)}
    audited_before = meeting_snapshot(meeting, current)
    removed = set(current) - set(attendees)
    signed = [current[i].user.name for i in removed if current[i].signed_in_at is not None]
    if signed:
        raise ValidationFailed(
            _l("%(names)s signed in already and stay on the list.", names=join_list(sorted(signed))), "attendee_ids"
        )
    _apply(meeting, fields, branch, kind)
    meeting.updated_at = now
    if removed:
        db.session.execute(
            sa.delete(MeetingAttendance).where(
                MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.user_id.in_(removed)
            )
        )
    added = [user_id for user_id in attendees if user_id not in current]
    if added:
        db.session.execute(
            sa.insert(MeetingAttendance),
            [{"meeting_id": meeting.id, "user_id": user_id, "status": AttendanceStatus.EXPECTED} for user_id in added],
        )
    db.session.flush()
    record_meeting("update", meeting, actor=viewer, now=now, before=audited_before,
                   after=meeting_snapshot(meeting, attendees))  # fmt: skip
    if meeting.ends_at > now:
        after = (meeting.starts_at, meeting.ends_at, meeting.place, meeting.online_url)
        told = [user_id for user_id in attendees if user_id not in added] if after != before else []
        if told:
            notify_users(told, kind=NOTICE_KIND, now=now, link=_meeting_link(meeting),
                         title=str(_l("Meeting changed: %(kind)s, %(when)s", kind=kind.name, when=_when(meeting))),
                         body=meeting.topic)  # fmt: skip
        if added:
            notify_users(added, kind=NOTICE_KIND, now=now, link=_meeting_link(meeting),
                         title=str(_l("New meeting: %(kind)s, %(when)s", kind=kind.name, when=_when(meeting))),
                         body=meeting.topic)  # fmt: skip
    return meeting


def cancel_meeting(viewer: User, meeting: Meeting, *, now: datetime) -> None:
    """Cancel a scheduled meeting and tell its attendees; a closed meeting cannot be cancelled."""
    locked_meeting = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting.id).with_for_update())
    if locked_meeting.status != MeetingStatus.SCHEDULED:
        raise InvalidState(_l("Only a scheduled meeting can be cancelled."))
    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_at = now
    db.session.flush()
    record_meeting("cancel", meeting, actor=viewer, now=now, before={"status": str(MeetingStatus.SCHEDULED)},
                   after={"status": str(MeetingStatus.CANCELLED)})  # fmt: skip
    if meeting.ends_at > now:
        notify_users(attendee_ids(meeting), kind=NOTICE_KIND, now=now, link=_meeting_link(meeting),
                     title=str(_l("Meeting cancelled: %(kind)s, %(when)s", kind=meeting.kind.name,
                                  when=_when(meeting))),
                     body=meeting.topic)  # fmt: skip


# --- calendar -----------------------------------------------------------------------


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The UTC instants at which local month ``year-month`` begins and the next one begins."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return clock.local_midnight(first), clock.local_midnight(following)


def month_meetings(viewer: User, year: int, month: int, branch_id: int | None = None) -> list[Meeting]:
    """The meetings of a local month the viewer attends or manages, by start (one query)."""
    start, end = month_bounds(year, month)
    query = (
        sa.select(Meeting)
        .where(visible_meetings_clause(viewer), Meeting.starts_at >= start, Meeting.starts_at < end)
        .order_by(Meeting.starts_at, Meeting.id)
    )
    if branch_id is not None:
        query = query.where(Meeting.branch_id == branch_id)
    return list(db.session.scalars(query))


def upcoming_for(user: User, now: datetime, limit: int = 5) -> list[tuple[Meeting, MeetingAttendance]]:
    """The user's next scheduled meetings (not yet ended), soonest first, with their attendance rows."""
    rows = db.session.execute(
        sa.select(Meeting, MeetingAttendance)
        .join(MeetingAttendance, MeetingAttendance.meeting_id == Meeting.id)
        .where(
            MeetingAttendance.user_id == user.id,
            Meeting.status == MeetingStatus.SCHEDULED,
            Meeting.ends_at > now,
        )
        .order_by(Meeting.starts_at)
        .limit(limit)
    )
    return [(meeting, attendance) for meeting, attendance in rows]


# --- reminders ----------------------------------------------------------------------


def send_reminders(now: datetime) -> int:
    """Remind the attendees of meetings starting within ``MEETING_REMINDER_HOURS`` (once per meeting).

    Each meeting is claimed by a conditional UPDATE of ``reminded_at``, so two
    runs (or two processes) never remind twice. Members on approved leave are
    not reminded. Returns how many meetings were reminded.
    """
    horizon = now + timedelta(hours=int(current_app.config["MEETING_REMINDER_HOURS"]))
    due = db.session.scalars(
        sa.select(Meeting).where(
            Meeting.status == MeetingStatus.SCHEDULED,
            Meeting.reminded_at.is_(None),
            Meeting.starts_at > now,
            Meeting.starts_at <= horizon,
        )
    ).all()
    reminded = 0
    for meeting in due:
        claimed = db.session.execute(
            sa.update(Meeting).where(Meeting.id == meeting.id, Meeting.reminded_at.is_(None)).values(reminded_at=now)
        )
        if claimed.rowcount != 1:
            continue
        recipients = sa.select(MeetingAttendance.user_id).where(
            MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.status != AttendanceStatus.LEAVE
        )
        notify_users(recipients, kind=NOTICE_KIND, now=now, link=_meeting_link(meeting),
                     title=str(_l("Reminder: %(kind)s at %(when)s", kind=meeting.kind.name, when=_when(meeting))),
                     body=str(_l("%(topic)s. Place: %(place)s", topic=meeting.topic,
                                 place=meeting.place or meeting.online_url)))  # fmt: skip
        reminded += 1
    return reminded
