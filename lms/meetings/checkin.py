"""Sign-in by QR code, sign-out, sign-in by hand, and leave (请假).

The sign-in screen shows a QR code of ``/meetings/<id>/scan/<token>``. A token
names its meeting, the action (sign in or out) and a time window of
``MEETING_TOKEN_SECONDS``; it is signed with the app's secret and the meeting's
own random key, so it cannot be made or moved to another meeting. A token is
valid in its window and the next one (a code scanned just before it changes
still works), never later. Scanning opens a confirmation page carrying a pass
bound to the member, so the state change is a POST with a CSRF token.
Signing in twice is harmless: the first sign-in stands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from lms.auth.models import User
from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.extensions import db
from lms.meetings.auditing import member_names, record_meeting
from lms.meetings.closing import hold_own_credit, is_locked, refresh_credits
from lms.meetings.models import (
    AttendanceStatus,
    CheckinMethod,
    LeaveStatus,
    Meeting,
    MeetingAttendance,
    MeetingStatus,
)
from lms.meetings.scheduling import NOTICE_KIND, may_manage, meeting_path
from lms.notices.services import notify_users

SIGN_IN = "in"
SIGN_OUT = "out"
_ACTION_CODES = {SIGN_IN: "i", SIGN_OUT: "o"}
_TOKEN = re.compile(r"^(\d{1,12})-([io])(\d{1,12})-([A-Za-z0-9_-]{22})$")
PASS_SECONDS = 300  # the confirmation page must be sent within this long of the scan
MAX_REASON = 300


class CheckinRefused(Forbidden):
    """A scan or sign-in that is not accepted; the message says why and what to do."""


# --- tokens -------------------------------------------------------------------------


def _window(now: datetime) -> int:
    return int(now.timestamp()) // int(current_app.config["MEETING_TOKEN_SECONDS"])


def _signature(meeting: Meeting, action: str, window: int) -> str:
    message = f"meeting-checkin:{meeting.id}:{meeting.checkin_key}:{action}:{window}".encode()
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def make_token(meeting: Meeting, action: str, now: datetime) -> str:
    """The token the QR code carries now for ``action`` (sign in or out)."""
    window = _window(now)
    return f"{meeting.id}-{_ACTION_CODES[action]}{window}-{_signature(meeting, action, window)}"


def token_seconds_left(now: datetime) -> int:
    """Seconds until the current code is replaced."""
    size = int(current_app.config["MEETING_TOKEN_SECONDS"])
    return size - int(now.timestamp()) % size


def read_token(meeting: Meeting, token: str, now: datetime) -> str:
    """Check a scanned token for ``meeting``; return its action or raise CheckinRefused saying why."""
    match = _TOKEN.match(token or "")
    if match is None:
        raise CheckinRefused(_l("This sign-in code is not valid. Scan the code on the screen again."))
    meeting_id, code, window, signature = int(match[1]), match[2], int(match[3]), match[4]
    if meeting_id != meeting.id:
        raise CheckinRefused(_l("This code belongs to another meeting. Scan the code of the meeting you attend."))
    action = SIGN_IN if code == "i" else SIGN_OUT
    if not hmac.compare_digest(signature, _signature(meeting, action, window)):
        raise CheckinRefused(_l("This sign-in code is not valid. Scan the code on the screen again."))
    current = _window(now)
    if window < current - 1:
        raise CheckinRefused(_l("This code has expired (it changes every %(n)d seconds). Scan the code on the "
                                "screen again.", n=int(current_app.config["MEETING_TOKEN_SECONDS"])))  # fmt: skip
    if window > current:
        raise CheckinRefused(_l("This sign-in code is not valid. Scan the code on the screen again."))
    return action


def _pass_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="meeting-scan-pass")


def make_pass(meeting: Meeting, user: User, action: str, now: datetime) -> str:
    """A pass for the confirmation form: this member scanned a valid code of this meeting at ``now``."""
    return _pass_serializer().dumps([meeting.id, user.id, action, int(now.timestamp())])


def read_pass(meeting: Meeting, user: User, value: str, now: datetime) -> str:
    """The action of a pass made for this member and meeting within PASS_SECONDS; else CheckinRefused."""
    invalid = CheckinRefused(_l("This sign-in code is not valid. Scan the code on the screen again."))
    try:
        meeting_id, user_id, action, issued = _pass_serializer().loads(value or "")
    except (BadSignature, ValueError, TypeError) as error:
        raise invalid from error
    if meeting_id != meeting.id or user_id != user.id or action not in (SIGN_IN, SIGN_OUT):
        raise invalid
    if not isinstance(issued, int) or not 0 <= now.timestamp() - issued <= PASS_SECONDS:
        raise CheckinRefused(_l("Too much time passed since you scanned the code. Scan it again."))
    return action


# --- windows ------------------------------------------------------------------------


def sign_in_window(meeting: Meeting) -> tuple[datetime, datetime]:
    """When members may sign in: ``checkin_opens_minutes`` before the start until the end."""
    return meeting.starts_at - timedelta(minutes=meeting.checkin_opens_minutes), meeting.ends_at


def sign_out_window(meeting: Meeting) -> tuple[datetime, datetime]:
    """When members may sign out: from the start until ``MEETING_CHECKOUT_CLOSES_MINUTES`` after the end."""
    after = timedelta(minutes=int(current_app.config["MEETING_CHECKOUT_CLOSES_MINUTES"]))
    return meeting.starts_at, meeting.ends_at + after


def _check_open(meeting: Meeting, action: str, now: datetime) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise CheckinRefused(_l("This meeting was cancelled."))
    if meeting.status == MeetingStatus.CLOSED:
        raise CheckinRefused(_l("This meeting is closed; ask the secretary to correct your attendance."))
    if action == SIGN_OUT and not meeting.needs_sign_out:
        raise CheckinRefused(_l("This meeting has no sign-out."))
    opens, closes = sign_in_window(meeting) if action == SIGN_IN else sign_out_window(meeting)
    if now < opens:
        raise CheckinRefused(_l("Sign-in has not opened yet; it opens %(n)d minutes before the start.",
                                n=meeting.checkin_opens_minutes) if action == SIGN_IN
                             else _l("Sign-out opens when the meeting starts."))  # fmt: skip
    if now > closes:
        raise CheckinRefused(_l("Sign-in has closed for this meeting; ask the secretary.") if action == SIGN_IN
                             else _l("Sign-out has closed for this meeting; ask the secretary."))  # fmt: skip


def _attendance_for_update(meeting: Meeting, user_id: int) -> MeetingAttendance | None:
    return db.session.scalar(
        sa.select(MeetingAttendance)
        .where(MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.user_id == user_id)
        .with_for_update()
    )


def _listed(meeting: Meeting, user_id: int, *, for_update: bool = False) -> MeetingAttendance:
    if for_update:
        row = _attendance_for_update(meeting, user_id)
    else:
        row = db.session.scalar(
            sa.select(MeetingAttendance).where(
                MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.user_id == user_id
            )
        )
    if row is None:
        raise CheckinRefused(_l("You are not on the attendee list of this meeting. Ask the secretary if you "
                                "should be."))  # fmt: skip
    return row


def check_scan(meeting: Meeting, user: User, token: str, now: datetime) -> tuple[str, MeetingAttendance]:
    """Check a scan before showing the confirmation: token, window and attendee list. Reads only."""
    action = read_token(meeting, token, now)
    _check_open(meeting, action, now)
    return action, _listed(meeting, user.id)


# --- signing in and out -------------------------------------------------------------


def sign_in(meeting: Meeting, user: User, *, now: datetime) -> MeetingAttendance:
    """Sign ``user`` in (present, or late after start + ``MEETING_LATE_AFTER_MINUTES``); twice is harmless."""
    _check_open(meeting, SIGN_IN, now)
    row = _listed(meeting, user.id, for_update=True)
    if row.signed_in_at is not None:
        return row
    late = now > meeting.starts_at + timedelta(minutes=int(current_app.config["MEETING_LATE_AFTER_MINUTES"]))
    row.status = AttendanceStatus.LATE if late else AttendanceStatus.PRESENT
    row.signed_in_at = now
    row.checkin_method = CheckinMethod.QR
    db.session.flush()
    return row


def sign_out(meeting: Meeting, user: User, *, now: datetime) -> MeetingAttendance:
    """Sign ``user`` out; before end - ``MEETING_LEFT_EARLY_MINUTES`` marks them as having left early."""
    _check_open(meeting, SIGN_OUT, now)
    row = _listed(meeting, user.id, for_update=True)
    if row.signed_in_at is None:
        raise CheckinRefused(_l("You have not signed in to this meeting, so you cannot sign out."))
    if row.signed_out_at is not None:
        return row
    row.signed_out_at = now
    if now < meeting.ends_at - timedelta(minutes=int(current_app.config["MEETING_LEFT_EARLY_MINUTES"])):
        row.status = AttendanceStatus.LEFT_EARLY
    db.session.flush()
    return row


def confirm_scan(meeting: Meeting, user: User, pass_value: str, *, now: datetime) -> tuple[str, MeetingAttendance]:
    """Carry out the scanned action from the confirmation form's pass."""
    action = read_pass(meeting, user, pass_value, now)
    row = sign_in(meeting, user, now=now) if action == SIGN_IN else sign_out(meeting, user, now=now)
    return action, row


MANUAL_STATUSES = (
    AttendanceStatus.PRESENT,
    AttendanceStatus.LATE,
    AttendanceStatus.LEFT_EARLY,
    AttendanceStatus.ABSENT,
    AttendanceStatus.EXPECTED,
)


def set_attendance(
    viewer: User, meeting: Meeting, user_id: int, status: AttendanceStatus, reason: str, *, now: datetime
) -> MeetingAttendance:
    """Sign a member in (or correct their attendance) by hand, keeping who, when and why.

    For members without phones, or corrections before the meeting locks. A
    reason is required. On a closed meeting the ledger follows at once.
    Raises Forbidden, InvalidState (cancelled or locked) or ValidationFailed.
    """
    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))
    if meeting.status == MeetingStatus.CANCELLED:
        raise InvalidState(_l("This meeting was cancelled."))
    if is_locked(meeting, now):
        raise InvalidState(_l("This meeting is locked; its attendance can no longer be changed."))
    status = AttendanceStatus(status)
    if status not in MANUAL_STATUSES or (
        status == AttendanceStatus.EXPECTED and meeting.status == MeetingStatus.CLOSED
    ):
        raise ValidationFailed(_l("Pick an attendance state."), "status")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give the reason for changing the attendance by hand."), "reason")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(_l("The reason is at most %(n)d characters.", n=MAX_REASON), "reason")
    if (
        status != AttendanceStatus.EXPECTED
        and meeting.status == MeetingStatus.SCHEDULED
        and now < sign_in_window(meeting)[0]
    ):
        raise ValidationFailed(_l("Attendance can be taken only once sign-in has opened."), "status")
    row = _attendance_for_update(meeting, user_id)
    if row is None:
        raise ValidationFailed(_l("This member is not on the attendee list."), "user_id")
    before = {"status": str(row.status), "signed_in_at": row.signed_in_at}
    row.status = status
    if status.was_there and row.signed_in_at is None:
        row.signed_in_at = now
        row.checkin_method = CheckinMethod.MANUAL
    if not status.was_there:
        row.signed_in_at = None
        row.signed_out_at = None
        row.checkin_method = None
    row.manual_by_id, row.manual_at, row.manual_reason = viewer.id, now, reason
    db.session.flush()
    # Whoever takes attendance by hand does not credit themselves: their own credit waits for a second
    # person (again, when they changed their own row).
    held = hold_own_credit(meeting, viewer.id, "attendance", now=now, reopen=user_id == viewer.id)
    if meeting.status == MeetingStatus.CLOSED:
        refresh_credits(meeting, now=now)
    signed_in = status.was_there and not AttendanceStatus(before["status"]).was_there
    record_meeting(
        "sign_in_by_hand" if signed_in else "attendance", meeting, actor=viewer, now=now, before=before,
        after={"member_id": user_id, "member": member_names([user_id]).get(user_id, ""), "status": str(status),
               "signed_in_at": row.signed_in_at, "reason": reason, "own_credit_waits": held},
    )  # fmt: skip
    return row


# --- leave --------------------------------------------------------------------------


def request_leave(meeting: Meeting, user: User, reason: str, *, now: datetime) -> MeetingAttendance:
    """Ask for leave before the meeting starts; the secretary decides. Asking again replaces the reason."""
    if meeting.status != MeetingStatus.SCHEDULED:
        raise InvalidState(_l("Leave can be asked only for a scheduled meeting."))
    if now >= meeting.starts_at:
        raise InvalidState(_l("The meeting has started; leave must be asked before it starts."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give the reason for your leave."), "reason")
    if len(reason) > MAX_REASON:
        raise ValidationFailed(_l("The reason is at most %(n)d characters.", n=MAX_REASON), "reason")
    row = _listed(meeting, user.id, for_update=True)
    if row.signed_in_at is not None:
        raise InvalidState(_l("You have signed in already."))
    if row.leave_status == LeaveStatus.APPROVED:
        return row
    row.leave_status = LeaveStatus.REQUESTED
    row.leave_reason = reason
    row.leave_requested_at = now
    row.leave_decided_by_id = row.leave_decided_at = None
    row.leave_note = ""
    db.session.flush()
    if meeting.created_by_id:
        notify_users([meeting.created_by_id], kind=NOTICE_KIND, now=now, link=meeting_path(meeting.id),
                     title=str(_l("%(name)s asks for leave: %(topic)s", name=user.name, topic=meeting.topic)),
                     body=reason)  # fmt: skip
    return row


def decide_leave(
    viewer: User, meeting: Meeting, user_id: int, approve: bool, note: str = "", *, now: datetime
) -> MeetingAttendance:
    """Approve (on leave) or refuse (still expected) a leave request; who, when and the note are kept."""
    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))
    if meeting.status == MeetingStatus.CANCELLED:
        raise InvalidState(_l("This meeting was cancelled."))
    if is_locked(meeting, now):
        raise InvalidState(_l("This meeting is locked; its attendance can no longer be changed."))
    if user_id == viewer.id:
        # An approved leave takes a meeting out of one's attendance rate: someone else decides one's own.
        raise Forbidden(_l("Someone else must decide your own leave request."))
    row = _attendance_for_update(meeting, user_id)
    if row is None or row.leave_status != LeaveStatus.REQUESTED:
        raise InvalidState(_l("There is no leave request to decide."))
    note = (note or "").strip()[:MAX_REASON]
    row.leave_status = LeaveStatus.APPROVED if approve else LeaveStatus.REFUSED
    row.leave_decided_by_id, row.leave_decided_at, row.leave_note = viewer.id, now, note
    if row.signed_in_at is None:
        if approve:
            row.status = AttendanceStatus.LEAVE
        elif row.status == AttendanceStatus.LEAVE:
            row.status = (
                AttendanceStatus.ABSENT if meeting.status == MeetingStatus.CLOSED else AttendanceStatus.EXPECTED
            )
    db.session.flush()
    record_meeting(
        "leave_approve" if approve else "leave_refuse", meeting, actor=viewer, now=now,
        after={"member_id": row.user_id, "member": member_names([row.user_id]).get(row.user_id, ""),
               "reason": row.leave_reason, "note": note, "status": str(row.status)},
    )  # fmt: skip
    title = (
        _l("Leave approved: %(topic)s", topic=meeting.topic)
        if approve
        else _l("Leave refused: %(topic)s", topic=meeting.topic)
    )
    notify_users([row.user_id], kind=NOTICE_KIND, now=now, link=meeting_path(meeting.id), title=str(title), body=note)
    return row
