"""Meeting pages under /meetings: the calendar, a meeting, scheduling, leave, attendance, minutes, files.

Members see the meetings they are listed for; secretaries and admins also the
meetings of the branches they manage. Views parse the form, call a service and
commit; the rules live in the services.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import clock
from lms.actions import run_action
from lms.auth.models import Branch, Role
from lms.auth.permissions import secretary_required
from lms.courses.models import Course, Lesson
from lms.extensions import db
from lms.meetings import checkin, closing, confirmations, files, scheduling
from lms.meetings.forms import (
    AttendanceForm,
    ConfirmCreditForm,
    FileForm,
    LeaveDecisionForm,
    LeaveForm,
    MeetingForm,
    MinutesForm,
    to_local,
    to_utc,
)
from lms.meetings.models import (
    ATTENDANCE_STATUS_LABELS,
    AttendanceStatus,
    FilePurpose,
    LeaveStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
)

bp = Blueprint("meetings", __name__, url_prefix="/meetings")


def render_home_panel(user) -> str | None:
    """The member's next meetings, with their sign-in and leave state."""
    if not getattr(user, "is_authenticated", False):
        return None
    upcoming = scheduling.upcoming_for(user, clock.utcnow())
    if not upcoming:
        return None
    return render_template("meetings/_home_panel.html", upcoming=upcoming)


def render_confirmations_panel(user) -> str | None:
    """Members' own meeting credits the user may confirm (a second person), if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    waiting = confirmations.waiting_for(user)
    if not waiting:
        return None
    return render_template("meetings/_confirm_panel.html", waiting=waiting)


def _month() -> tuple[int, int]:
    today = clock.local_day(clock.utcnow())
    value = request.args.get("month", "")
    try:
        year, month = (int(part) for part in value.split("-", 1))
        if 2000 <= year <= today.year + 5 and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    return today.year, today.month


@bp.route("/")
@login_required
def calendar():
    year, month = _month()
    meetings = scheduling.month_meetings(current_user, year, month)
    mine = dict(
        db.session.execute(
            sa.select(scheduling.MeetingAttendance.meeting_id, scheduling.MeetingAttendance.status).where(
                scheduling.MeetingAttendance.user_id == current_user.id,
                scheduling.MeetingAttendance.meeting_id.in_([m.id for m in meetings]),
            )
        ).all()
    )
    previous = date(year - (month == 1), (month - 2) % 12 + 1, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return render_template(
        "meetings/calendar.html",
        meetings=meetings,
        mine={k: AttendanceStatus(v) for k, v in mine.items()},
        year=year,
        month=month,
        previous=f"{previous.year}-{previous.month:02d}",
        following=f"{following.year}-{following.month:02d}",
        may_schedule=current_user.role in (Role.ADMIN, Role.SECRETARY),
    )


# --- scheduling ---------------------------------------------------------------------


def _fill_choices(form: MeetingForm, meeting=None) -> Branch | None:
    branches = scheduling.schedulable_branches(current_user)
    form.branch_id.choices = [(b.id, "　" * b.depth + b.name) for b in branches]
    allowed = {b.id: b for b in branches}
    if request.method == "POST":
        branch_id = form.branch_id.data
    else:
        branch_id = request.args.get("branch_id", type=int) or (meeting.branch_id if meeting else None)
        if branch_id not in allowed:
            branch_id = current_user.branch_id if current_user.branch_id in allowed else (
                branches[0].id if branches else None)  # fmt: skip
        form.branch_id.data = branch_id
    branch = allowed.get(branch_id)
    form.kind_id.choices = [(k.id, k.name) for k in scheduling.kinds_for(current_user, branch)]
    form.attendee_ids.choices = [(u.id, u.name) for u in scheduling.eligible_attendees(branch)] if branch else []
    form.lesson_ids.choices = scheduling.published_lessons()
    return branch


def _fields(form: MeetingForm) -> scheduling.MeetingFields:
    return scheduling.MeetingFields(
        branch_id=form.branch_id.data,
        kind_id=form.kind_id.data,
        topic=form.topic.data or "",
        starts_at=to_utc(form.starts_at.data),
        ends_at=to_utc(form.ends_at.data),
        place=form.place.data or "",
        online_url=form.online_url.data or "",
        agenda=form.agenda.data or "",
        attendee_ids=form.attendee_ids.data or [],
        lesson_ids=form.lesson_ids.data or [],
        study_hours=float(form.study_hours.data) if form.study_hours.data is not None else None,
        checkin_opens_minutes=form.checkin_opens_minutes.data,
    )


@bp.route("/new", methods=["GET", "POST"])
@secretary_required
def new():
    form = MeetingForm()
    branch = _fill_choices(form)
    if request.method == "GET":
        kind_id = request.args.get("kind_id", type=int)
        if kind_id not in {k for k, _ in form.kind_id.choices}:
            kind_id = form.kind_id.choices[0][0] if form.kind_id.choices else None
        form.kind_id.data = kind_id
        kind = db.session.get(MeetingKind, kind_id) if kind_id else None
        if kind is not None and branch is not None:
            form.attendee_ids.data = scheduling.default_attendee_ids(kind, branch)
    if form.validate_on_submit():
        done = run_action(
            lambda: scheduling.schedule_meeting(current_user, _fields(form), now=clock.utcnow()),
            form=form,
            to=lambda meeting: url_for("meetings.detail", meeting_id=meeting.id),
            success=_l("Meeting scheduled; its attendees were notified."),
        )
        if done:
            return done
    return render_template("meetings/form.html", form=form, meeting=None, branch=branch)


@bp.route("/<int:meeting_id>/edit", methods=["GET", "POST"])
@login_required
def edit(meeting_id: int):
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    if meeting.status != MeetingStatus.SCHEDULED:
        flash(_l("Only a scheduled meeting can be changed."), "warning")
        return redirect(url_for("meetings.detail", meeting_id=meeting.id))
    form = MeetingForm(obj=meeting)
    branch = _fill_choices(form, meeting)
    if request.method == "GET":
        form.starts_at.data, form.ends_at.data = to_local(meeting.starts_at), to_local(meeting.ends_at)
        form.attendee_ids.data = scheduling.attendee_ids(meeting)
        form.lesson_ids.data = list(meeting.lesson_ids or [])
    if form.validate_on_submit():
        done = run_action(
            lambda: scheduling.update_meeting(current_user, meeting, _fields(form), now=clock.utcnow()),
            form=form,
            to=url_for("meetings.detail", meeting_id=meeting.id),
            success=_l("Changes saved."),
        )
        if done:
            return done
    return render_template("meetings/form.html", form=form, meeting=meeting, branch=branch)


def _act(meeting_id: int, action, success):
    """Run ``action(meeting)`` on a managed meeting, commit, flash; errors flash their message."""
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    return run_action(lambda: action(meeting), to=url_for("meetings.detail", meeting_id=meeting_id), success=success)


@bp.route("/<int:meeting_id>/cancel", methods=["POST"])
@login_required
def cancel(meeting_id: int):
    return _act(meeting_id, lambda m: scheduling.cancel_meeting(current_user, m, now=clock.utcnow()),
                _l("Meeting cancelled; its attendees were notified."))  # fmt: skip


@bp.route("/<int:meeting_id>/close", methods=["POST"])
@login_required
def close(meeting_id: int):
    def action(meeting):
        closing.close_meeting(current_user, meeting, now=clock.utcnow())
        if current_user.id in closing.waiting_user_ids(meeting):
            flash(_l("Your own study hours from this meeting wait until another committee member, or a secretary "
                     "or administrator over the branch, confirms them."), "info")  # fmt: skip

    return _act(meeting_id, action, _l("Meeting closed; the members who attended were credited its study hours."))


@bp.route("/<int:meeting_id>/lock", methods=["POST"])
@login_required
def lock(meeting_id: int):
    return _act(meeting_id, lambda m: closing.lock_meeting(current_user, m, now=clock.utcnow()),
                _l("Meeting locked; its record is final."))  # fmt: skip


@bp.route("/from-offline/<int:record_id>")
@secretary_required
def from_offline(record_id: int):
    """Where the old offline-study pages lead: the meeting the record became (imported now if need be)."""
    from lms.meetings.offline_import import import_offline_records

    query = sa.select(Meeting.id).where(Meeting.offline_record_id == record_id)
    meeting_id = db.session.scalar(query)
    if meeting_id is None and import_offline_records(now=clock.utcnow()):
        db.session.commit()
        meeting_id = db.session.scalar(query)
    if meeting_id is None:
        abort(404)
    scheduling.get_meeting_or_404(current_user, meeting_id)
    return redirect(url_for("meetings.detail", meeting_id=meeting_id), code=301)


# --- one meeting --------------------------------------------------------------------


def _meeting_to_view_or_404(meeting_id: int) -> Meeting:
    """A meeting the viewer attends or manages, or has a member's credit of to confirm; others look missing."""
    meeting = db.session.scalar(
        sa.select(Meeting).where(
            Meeting.id == meeting_id,
            sa.or_(scheduling.visible_meetings_clause(current_user),
                   confirmations.confirmable_meetings_clause(current_user)),
        )
    )  # fmt: skip
    if meeting is None:
        abort(404)
    return meeting


@bp.route("/<int:meeting_id>")
@login_required
def detail(meeting_id: int):
    meeting = _meeting_to_view_or_404(meeting_id)
    now = clock.utcnow()
    manages = scheduling.may_manage(current_user, meeting)
    rows = scheduling.attendance_rows(meeting)
    mine = next((row for row in rows if row.user_id == current_user.id), None)
    lessons = []
    if meeting.lesson_ids:
        lessons = db.session.execute(
            sa.select(Lesson.id, Lesson.title, Course.id, Course.title)
            .join(Course, Course.id == Lesson.course_id)
            .where(Lesson.id.in_(meeting.lesson_ids))
        ).all()
    attendance_form = None
    if manages:
        attendance_form = AttendanceForm()
        attendance_form.user_id.choices = [(row.user_id, row.user.name) for row in rows]
    counts = dict.fromkeys(AttendanceStatus, 0)
    for row in rows:
        counts[row.status] += 1
    waiting = confirmations.waiting_on(meeting)
    return render_template(
        "meetings/detail.html",
        meeting=meeting,
        manages=manages,
        rows=rows if manages else [],
        counts=counts,
        mine=mine,
        lessons=lessons,
        files=files.meeting_files(meeting),
        locked=closing.is_locked(meeting, now),
        lock_deadline=closing.lock_deadline(meeting),
        sign_in_window=checkin.sign_in_window(meeting),
        may_ask_leave=bool(mine and meeting.status == MeetingStatus.SCHEDULED and now < meeting.starts_at
                           and mine.signed_in_at is None and mine.leave_status != LeaveStatus.APPROVED),
        leave_form=LeaveForm(),
        decision_form=LeaveDecisionForm(),
        attendance_form=attendance_form,
        file_form=FileForm(),
        statuses=ATTENDANCE_STATUS_LABELS,
        now=now,
        waiting=waiting,
        mine_waits=bool(mine and any(item.user_id == mine.user_id for item in waiting)),
        may_confirm={item.user_id: confirmations.may_confirm(current_user, meeting, item.user_id)
                     for item in waiting},
        confirm_form=ConfirmCreditForm(),
    )  # fmt: skip


@bp.route("/<int:meeting_id>/credits/<int:user_id>/confirm", methods=["POST"])
@login_required
def confirm_credit(meeting_id: int, user_id: int):
    """A second person confirms a member's own credit from the meeting (from the meeting page or home)."""
    meeting = _meeting_to_view_or_404(meeting_id)
    form = ConfirmCreditForm()
    home = form.back.data == "home"
    back = url_for("home.index") if home else url_for("meetings.detail", meeting_id=meeting.id) + "#credits-waiting"
    if not form.validate_on_submit():
        flash(_l("The form has expired or was forged. Reload the page and try again."), "danger")
        return redirect(back)
    return run_action(
        lambda: confirmations.confirm_credit(current_user, meeting, user_id, now=clock.utcnow()),
        to=back,
        success=_l("Confirmed: the study hours were credited."),
    )


@bp.route("/<int:meeting_id>/leave", methods=["POST"])
@login_required
def ask_leave(meeting_id: int):
    meeting = scheduling.get_meeting_or_404(current_user, meeting_id)
    form = LeaveForm()
    if not form.validate_on_submit():
        flash(_l("Give the reason for your leave."), "danger")
        return redirect(url_for("meetings.detail", meeting_id=meeting.id))
    return run_action(
        lambda: checkin.request_leave(meeting, current_user, form.reason.data, now=clock.utcnow()),
        to=url_for("meetings.detail", meeting_id=meeting.id),
        success=_l("Your leave request was sent to the secretary."),
    )


@bp.route("/<int:meeting_id>/leave/decide", methods=["POST"])
@login_required
def decide_leave(meeting_id: int):
    form = LeaveDecisionForm()
    if not form.validate_on_submit() or not (form.user_id.data or "").isdigit():
        abort(400)
    approve = form.decision.data == "approve"
    return _act(
        meeting_id,
        lambda m: checkin.decide_leave(current_user, m, int(form.user_id.data), approve, form.note.data or "",
                                       now=clock.utcnow()),
        _l("Leave approved.") if approve else _l("Leave refused."),
    )  # fmt: skip


@bp.route("/<int:meeting_id>/attendance", methods=["POST"])
@login_required
def set_attendance(meeting_id: int):
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    form = AttendanceForm()
    form.user_id.choices = [(row.user_id, row.user.name) for row in scheduling.attendance_rows(meeting)]
    if not form.validate_on_submit():
        errors = [str(e) for field in (form.user_id, form.status, form.reason) for e in field.errors]
        flash(errors[0] if errors else _l("Give the reason for changing the attendance by hand."), "danger")
        return redirect(url_for("meetings.detail", meeting_id=meeting.id) + "#attendance")
    return _act(
        meeting_id,
        lambda m: checkin.set_attendance(current_user, m, form.user_id.data, AttendanceStatus(form.status.data),
                                         form.reason.data, now=clock.utcnow()),
        _l("Attendance saved, with your name and the reason."),
    )  # fmt: skip


# --- minutes and files --------------------------------------------------------------


@bp.route("/<int:meeting_id>/minutes", methods=["GET", "POST"])
@login_required
def minutes(meeting_id: int):
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    now = clock.utcnow()
    if closing.is_locked(meeting, now):
        flash(_l("This meeting is locked; its minutes can no longer be changed."), "warning")
        return redirect(url_for("meetings.detail", meeting_id=meeting.id))
    form = MinutesForm(obj=meeting)
    if form.validate_on_submit():
        done = run_action(
            lambda: closing.save_minutes(current_user, meeting, form.minutes_html.data, now=now),
            form=form,
            to=url_for("meetings.detail", meeting_id=meeting.id),
            success=_l("Minutes saved."),
        )
        if done:
            return done
    return render_template("meetings/minutes.html", form=form, meeting=meeting,
                           files=files.meeting_files(meeting), file_form=FileForm(purpose="minutes"))  # fmt: skip


@bp.route("/<int:meeting_id>/files", methods=["POST"])
@login_required
def upload_file(meeting_id: int):
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    form = FileForm()
    purpose = FilePurpose.MINUTES if form.purpose.data == "minutes" else FilePurpose.MATERIAL
    back = url_for("meetings.minutes" if purpose == FilePurpose.MINUTES else "meetings.detail", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash(_l("Choose a file to upload."), "danger")
        return redirect(back)
    upload = form.file.data

    def add():
        payload = files.read_upload(upload.stream)
        files.add_file(current_user, meeting, purpose, upload.filename or "", payload, now=clock.utcnow())

    return run_action(add, to=back, success=_l("File uploaded."))


@bp.route("/<int:meeting_id>/files/<int:file_id>/delete", methods=["POST"])
@login_required
def delete_file(meeting_id: int, file_id: int):
    return _act(meeting_id, lambda m: files.delete_file(current_user, m, file_id, now=clock.utcnow()),
                _l("File removed."))  # fmt: skip


@bp.route("/<int:meeting_id>/files/<int:file_id>")
@login_required
def download_file(meeting_id: int, file_id: int):
    meeting = scheduling.get_meeting_or_404(current_user, meeting_id)
    record = next((f for f in files.meeting_files(meeting) if f.id == file_id), None)
    path = files.stored_path(meeting.id, record.stored_name) if record else None
    if path is None:
        abort(404)
    return send_file(path, mimetype=record.content_type, as_attachment=True, download_name=record.original_name)
