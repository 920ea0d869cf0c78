"""Member pages: progress against learning targets (the top of "My learning") and the yearly learning record."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from lms import clock
from lms.assessment import freshness, probation, record, services
from lms.assessment.labels import grade_colour, grade_label, pace_colour, pace_label
from lms.auth.models import Role, User
from lms.auth.permissions import get_member_or_404
from lms.extensions import db

bp = Blueprint("assessment", __name__, url_prefix="/assessment")


@bp.app_template_filter("grade_label")
def grade_label_filter(grade) -> str:
    return grade_label(str(grade) if grade else None)


@bp.app_template_filter("grade_colour")
def grade_colour_filter(grade) -> str:
    return grade_colour(str(grade) if grade else None)


@bp.app_template_filter("pace_label")
def pace_label_filter(pace) -> str:
    return pace_label(str(pace) if pace else None)


@bp.app_template_filter("pace_colour")
def pace_colour_filter(pace) -> str:
    return pace_colour(str(pace) if pace else None)


def _dashboard(user: User, *, compact: bool) -> Markup | None:
    """The rendered dashboard, as Markup: it is put into other templates, which would escape a plain str."""
    now = clock.utcnow()
    progress = services.member_progress(user, now)
    checklists = []
    if user.role == Role.SECRETARY:
        checklists = [c for c in probation.checklists(user, now) if c.user_id != user.id]
    if not progress and not checklists:
        return None
    return Markup(  # noqa: S704 (a rendered template: its values are escaped by autoescape)
        render_template(
            "assessment/_dashboard.html",
            progress=progress,
            checklists=checklists,
            compact=compact,
            today=clock.local_day(now),
        )
    )


def render_home_panel(user) -> str | None:
    """The top of "My learning": progress against each target, and a secretary's probationary members."""
    return _dashboard(user, compact=True)


@bp.route("/")
@login_required
def progress():
    html = _dashboard(current_user, compact=False)
    return render_template("assessment/progress.html", dashboard=html)


def _record_year(years_default: int) -> int:
    year = request.args.get("year", type=int)
    return year if year and 2000 <= year <= 2100 else years_default


def _fresh_record(member: User, now) -> record.YearRecord:
    """The member's yearly record, its stored results first recomputed if activity is newer than them."""
    year = _record_year(clock.local_day(now).year)
    if freshness.refresh_member_results(member, year, now):
        db.session.commit()
    return record.year_record(member, year, now=now)


@bp.route("/record")
@login_required
def my_record():
    return redirect(url_for("assessment.record_page", user_id=current_user.id, **request.args))


@bp.route("/record/<int:user_id>")
@login_required
def record_page(user_id: int):
    member = get_member_or_404(current_user, user_id)
    now = clock.utcnow()
    year_record = _fresh_record(member, now)
    return render_template("assessment/record.html", record=year_record, printed_at=now)


@bp.route("/record/<int:user_id>/pdf")
@login_required
def record_pdf(user_id: int):
    member = get_member_or_404(current_user, user_id)
    now = clock.utcnow()
    year_record = _fresh_record(member, now)
    html = render_template("assessment/record_pdf.html", record=year_record, printed_at=now)
    try:
        pdf = record.render_pdf(html, base_url=None)
    except record.PdfUnavailable:
        flash(
            _("PDF export is not available on this server (WeasyPrint is not installed). Use “Print” instead."),
            "warning",
        )
        return redirect(url_for("assessment.record_page", user_id=member.id, year=year_record.year))
    filename = _("Learning record %(year)s %(name)s", year=year_record.year, name=member.name) + ".pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=\"record.pdf\"; filename*=UTF-8''{quote(filename)}"},
    )
