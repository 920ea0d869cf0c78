"""QR sign-in under /meetings: the secretary's sign-in screen, its rotating code, and the member's scan.

The screen (a phone or a projector) fetches a fresh code from the server every
few seconds (no inline script: ``static/js/meetings_checkin.js``); the code is
an SVG made by segno of ``/meetings/<id>/scan/<token>``. The member's camera
opens that URL: logged out, they log in and come back through ``next=``; the
page checks the token and asks to confirm, and the confirmation (a POST with a
pass bound to the member) signs them in or out.
"""

from __future__ import annotations

import segno
import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import clock
from lms.errors import DomainError
from lms.extensions import db
from lms.meetings import checkin, scheduling
from lms.meetings.forms import ScanConfirmForm
from lms.meetings.models import Meeting, MeetingStatus

bp = Blueprint("meetings_checkin", __name__, url_prefix="/meetings")


def _action() -> str:
    return checkin.SIGN_OUT if request.args.get("action") == checkin.SIGN_OUT else checkin.SIGN_IN


def _code(meeting: Meeting, action: str) -> dict:
    now = clock.utcnow()
    token = checkin.make_token(meeting, action, now)
    url = url_for("meetings_checkin.scan", meeting_id=meeting.id, token=token, _external=True)
    qr = segno.make(url, error="m")
    return {
        "ok": True,
        "url": url,
        "svg": qr.svg_data_uri(scale=6, border=2, dark="#000", light="#fff"),
        "seconds_left": checkin.token_seconds_left(now),
    }


@bp.route("/<int:meeting_id>/checkin-screen")
@login_required
def screen(meeting_id: int):
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    action = _action()
    if action == checkin.SIGN_OUT and not meeting.needs_sign_out:
        abort(404)
    rows = scheduling.attendance_rows(meeting)
    return render_template(
        "meetings/checkin_screen.html",
        meeting=meeting,
        action=action,
        code=_code(meeting, action) if meeting.status == MeetingStatus.SCHEDULED else None,
        signed=sum(1 for row in rows if (row.signed_out_at if action == checkin.SIGN_OUT else row.signed_in_at)),
        listed=len(rows),
        window=checkin.sign_in_window(meeting) if action == checkin.SIGN_IN else checkin.sign_out_window(meeting),
        refresh_seconds=5,
    )


@bp.route("/<int:meeting_id>/checkin-code")
@login_required
def code(meeting_id: int):
    """The current code as JSON (the screen's script polls it), with the count signed so far."""
    meeting = scheduling.get_managed_meeting_or_404(current_user, meeting_id)
    if meeting.status != MeetingStatus.SCHEDULED:
        return jsonify(ok=False, error=str(_l("Sign-in is over: the meeting is no longer scheduled."))), 409
    action = _action()
    rows = scheduling.attendance_rows(meeting)
    body = _code(meeting, action)
    body["signed"] = sum(1 for row in rows if (row.signed_out_at if action == checkin.SIGN_OUT else row.signed_in_at))
    body["listed"] = len(rows)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _meeting_or_404(meeting_id: int) -> Meeting:
    # Not scoped on purpose: a member of another branch must hear "not on the list", not "not found".
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        abort(404)
    return meeting


def _refused(meeting: Meeting, message, status: int = 403):
    """The refusal page; the meeting's details only for those who may see the meeting."""
    visible = db.session.scalar(
        sa.select(Meeting.id).where(Meeting.id == meeting.id, scheduling.visible_meetings_clause(current_user))
    )
    return render_template("meetings/scan.html", meeting=meeting if visible else None, error=message, form=None), status


@bp.route("/<int:meeting_id>/scan/<token>")
@login_required
def scan(meeting_id: int, token: str):
    meeting = _meeting_or_404(meeting_id)
    now = clock.utcnow()
    try:
        action, row = checkin.check_scan(meeting, current_user, token, now)
    except DomainError as error:
        return _refused(meeting, error.message)
    form = ScanConfirmForm(scan_pass=checkin.make_pass(meeting, current_user, action, now))
    done = row.signed_out_at if action == checkin.SIGN_OUT else row.signed_in_at
    return render_template("meetings/scan.html", meeting=meeting, action=action, row=row, form=form, done=done,
                           error=None)  # fmt: skip


@bp.route("/<int:meeting_id>/scan", methods=["POST"])
@login_required
def confirm(meeting_id: int):
    meeting = _meeting_or_404(meeting_id)
    form = ScanConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "meetings/scan.html",
            meeting=meeting,
            form=None,
            error=_l("The form has expired or was forged. Reload the page and try again."),
        ), 400
    try:
        action, row = checkin.confirm_scan(meeting, current_user, form.scan_pass.data, now=clock.utcnow())
    except DomainError as error:
        db.session.rollback()
        return _refused(meeting, error.message)
    db.session.commit()
    return redirect(url_for("meetings_checkin.done", meeting_id=meeting.id, action=action))


@bp.route("/<int:meeting_id>/scan/done")
@login_required
def done(meeting_id: int):
    meeting = scheduling.get_meeting_or_404(current_user, meeting_id)
    row = next((r for r in scheduling.attendance_rows(meeting) if r.user_id == current_user.id), None)
    if row is None:
        abort(404)
    return render_template("meetings/scan_done.html", meeting=meeting, row=row, action=_action())
