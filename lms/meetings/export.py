"""The 台账 as Excel (lms.spreadsheets) and as PDF (WeasyPrint, as the assessment record does)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from lms import clock
from lms.auth.models import User
from lms.extensions import db
from lms.i18n import join_list
from lms.meetings.models import CREDITED_STATUSES, AttendanceStatus, MeetingAttendance, MeetingCreditConfirmation
from lms.meetings.register import BranchRegister, meeting_rate


def _local(moment) -> str:
    return moment.astimezone(clock.local_zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def _percent(rate: float | None):
    return round(rate * 100, 1) if rate is not None else ""


def register_sheets(register: BranchRegister) -> list[tuple[str, list[str], list[list]]]:
    """The register as sheets for ``xlsx_bytes``: compliance, meetings, attendance, members."""
    compliance = [
        [item.kind.name, item.kind.cadence.label, item.required, item.due_so_far, item.held, item.periods_met,
         join_list(p.key for p in item.missed)]
        for item in register.compliance
    ]  # fmt: skip
    meetings = []
    for meeting in register.meetings:
        counts = register.counts.get(meeting.id, {})
        meetings.append([
            _local(meeting.starts_at), meeting.kind.name, meeting.topic, meeting.place or meeting.online_url,
            meeting.status.label, sum(counts.values()),
            *(counts.get(status, 0) for status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE,
                                                   AttendanceStatus.LEFT_EARLY, AttendanceStatus.LEAVE,
                                                   AttendanceStatus.ABSENT)),
            _percent(meeting_rate(counts)) if meeting.status == "closed" else "",
            meeting.study_hours,
        ])  # fmt: skip
    ids = [m.id for m in register.meetings]
    attendance = []
    if ids:
        by_id = {m.id: m for m in register.meetings}
        rows = db.session.execute(
            sa.select(MeetingAttendance, User.name)
            .join(User, User.id == MeetingAttendance.user_id)
            .where(MeetingAttendance.meeting_id.in_(ids))
            .order_by(MeetingAttendance.meeting_id, User.name)
        )
        waiting = set(
            db.session.execute(
                sa.select(MeetingCreditConfirmation.meeting_id, MeetingCreditConfirmation.user_id).where(
                    MeetingCreditConfirmation.meeting_id.in_(ids), MeetingCreditConfirmation.confirmed_at.is_(None)
                )
            ).all()
        )
        for row, name in rows:
            meeting = by_id[row.meeting_id]
            credited = (
                meeting.status == "closed"
                and row.status in CREDITED_STATUSES
                and (row.meeting_id, row.user_id) not in waiting  # own credit not yet confirmed
            )
            hours = meeting.study_hours if credited else 0
            attendance.append([
                _local(meeting.starts_at), meeting.kind.name, meeting.topic, name, row.status.label,
                _local(row.signed_in_at), _local(row.signed_out_at),
                row.manual_reason, row.manual_by.name if row.manual_by else "",
                row.leave_status.label if row.leave_status != "none" else "", row.leave_reason, hours,
            ])  # fmt: skip
    members = [
        [m.user.name, m.listed, m.attended, m.counts[AttendanceStatus.LEAVE], m.counts[AttendanceStatus.ABSENT],
         _percent(m.rate)]
        for m in register.members
    ]  # fmt: skip
    return [
        (_("Compliance"), [_("Kind"), _("Cadence"), _("Required"), _("Due so far"), _("Held"), _("Periods met"),
                           _("Periods missed")], compliance),
        (_("Meetings"), [_("Time"), _("Kind"), _("Topic"), _("Place"), _("State"), _("Listed"), _("Present"),
                         _("Late"), _("Left early"), _("On leave"), _("Absent"), _("Attendance rate %"),
                         _("Study hours")], meetings),
        (_("Attendance"), [_("Time"), _("Kind"), _("Topic"), _("Member"), _("Attendance"), _("Signed in"),
                           _("Signed out"), _("Reason for the change by hand"), _("Changed by"), _("Leave"),
                           _("Reason for leave"), _("Study hours credited")], attendance),
        (_("Members"), [_("Member"), _("Listed"), _("Attended"), _("On leave"), _("Absent"),
                        _("Attendance rate %")], members),
    ]  # fmt: skip


class PdfUnavailable(RuntimeError):
    """WeasyPrint (or the system libraries it needs: Pango, fonts) is not installed."""


def render_pdf(html: str) -> bytes:
    """The printable register as PDF; PdfUnavailable when WeasyPrint or its libraries are missing."""
    try:
        import weasyprint
    except (ImportError, OSError) as error:  # OSError: libpango / libgobject not found
        raise PdfUnavailable(str(error)) from error
    return weasyprint.HTML(string=html, base_url=None).write_pdf()
