"""Managing meetings under /meetings: the 支部台账 (secretaries, admins), its Excel and PDF,
the all-branches compliance table and the meeting kinds (admins)."""

from __future__ import annotations

import io
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.actions import run_action
from lms.auth.auditing import record_export
from lms.auth.permissions import admin_required, get_branch_or_404, secretary_required
from lms.extensions import db
from lms.meetings import export, kinds, register, scheduling
from lms.meetings.forms import KindForm
from lms.meetings.models import ATTENDANCE_STATUS_LABELS, AttendanceStatus, MeetingKind
from lms.spreadsheets import XLSX_MIMETYPE, xlsx_bytes

bp = Blueprint("meetings_admin", __name__, url_prefix="/meetings")


def _year() -> int:
    current = clock.local_day(clock.utcnow()).year
    year = request.args.get("year", type=int)
    return year if year and 2000 <= year <= current + 1 else current


def _register():
    branches = scheduling.schedulable_branches(current_user)
    branch_id = request.args.get("branch_id", type=int)
    if branch_id is None:
        own = current_user.branch_id if any(b.id == current_user.branch_id for b in branches) else None
        branch_id = own or (branches[0].id if branches else None)
    if branch_id is None:
        return branches, None
    branch = get_branch_or_404(current_user, branch_id)
    return branches, register.branch_register(branch, _year(), now=clock.utcnow())


@bp.route("/register")
@secretary_required
def register_page():
    branches, book = _register()
    return render_template("meetings/register.html", branches=branches, book=book, year=_year(),
                           statuses=ATTENDANCE_STATUS_LABELS, shown=SHOWN_STATUSES,
                           rate_of=register.meeting_rate)  # fmt: skip


SHOWN_STATUSES = (
    AttendanceStatus.PRESENT,
    AttendanceStatus.LATE,
    AttendanceStatus.LEFT_EARLY,
    AttendanceStatus.LEAVE,
    AttendanceStatus.ABSENT,
)


def _filename(book, extension: str) -> str:
    return f"{_('Branch register')} {book.branch.name} {book.year}.{extension}"


def _disposition(name: str, ascii_name: str) -> str:
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@bp.route("/register.xlsx")
@secretary_required
def register_xlsx():
    _branches, book = _register()
    if book is None:
        flash(_l("There is no branch to report on."), "warning")
        return redirect(url_for("meetings_admin.register_page"))
    payload = xlsx_bytes(export.register_sheets(book))
    record_export("meeting_register", book.branch.id, root=book.branch, label=f"{book.branch.name} {book.year}")
    response = send_file(io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=f"register-{book.branch.id}-{book.year}.xlsx")  # fmt: skip
    response.headers["Content-Disposition"] = _disposition(_filename(book, "xlsx"), "register.xlsx")
    return response


@bp.route("/register.pdf")
@secretary_required
def register_pdf():
    _branches, book = _register()
    if book is None:
        flash(_l("There is no branch to report on."), "warning")
        return redirect(url_for("meetings_admin.register_page"))
    now = clock.utcnow()
    html = render_template("meetings/register_pdf.html", book=book, printed_at=now, statuses=ATTENDANCE_STATUS_LABELS,
                           shown=SHOWN_STATUSES, rate_of=register.meeting_rate)  # fmt: skip
    try:
        pdf = export.render_pdf(html)
    except export.PdfUnavailable:
        flash(_l("PDF export is not available on this server (WeasyPrint is not installed). Use “Print” instead."),
              "warning")  # fmt: skip
        return redirect(url_for("meetings_admin.register_page", branch_id=book.branch.id, year=book.year))
    record_export("meeting_register_pdf", book.branch.id, root=book.branch, label=f"{book.branch.name} {book.year}")
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": _disposition(_filename(book, "pdf"), "register.pdf")})  # fmt: skip


@bp.route("/compliance")
@admin_required
def compliance():
    year = _year()
    overview = register.compliance_overview(current_user, year, now=clock.utcnow())
    columns = []
    for item in overview:
        for entry in item.compliance:
            if entry.kind not in columns:
                columns.append(entry.kind)
    return render_template("meetings/compliance.html", overview=overview, columns=columns, year=year)


# --- kinds --------------------------------------------------------------------------


@bp.route("/kinds")
@admin_required
def kinds_list():
    return render_template("meetings/kinds.html", kinds=kinds.all_kinds())


def _kind_fields(form: KindForm) -> kinds.KindFields:
    return kinds.KindFields(
        name=form.name.data or "",
        cadence=form.cadence.data,
        level=form.level.data,
        attendee_rule=form.attendee_rule.data,
        study_hours=float(form.study_hours.data) if form.study_hours.data is not None else None,
        needs_sign_out=form.needs_sign_out.data,
        is_active=form.is_active.data,
        audience_statuses=form.audience_statuses.data or [],
    )


@bp.route("/kinds/new", methods=["GET", "POST"])
@bp.route("/kinds/<int:kind_id>/edit", methods=["GET", "POST"])
@admin_required
def kind_form(kind_id: int | None = None):
    kind = db.get_or_404(MeetingKind, kind_id) if kind_id else None
    form = KindForm(obj=kind)
    if request.method == "GET" and kind is not None:
        form.cadence.data, form.level.data = str(kind.cadence), str(kind.level)
        form.attendee_rule.data = str(kind.attendee_rule)
        form.audience_statuses.data = list(kind.audience_statuses or [])
    if form.validate_on_submit():

        def save():
            if kind is None:
                kinds.create_kind(_kind_fields(form), now=clock.utcnow(), actor=current_user)
            else:
                kinds.update_kind(kind, _kind_fields(form), now=clock.utcnow(), actor=current_user)

        done = run_action(save, form=form, to=url_for("meetings_admin.kinds_list"), success=_l("Changes saved."))
        if done:
            return done
    return render_template("meetings/kind_form.html", form=form, kind=kind)
