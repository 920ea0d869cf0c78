"""The learning archives of the members in the viewer's scope (study hours by year), and their export."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import render_template, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.auth.auditing import record_export
from lms.auth.models import User
from lms.auth.permissions import member_scope_clause, secretary_required
from lms.courses import archive as archives
from lms.courses import ledger
from lms.courses.admin.common import PAGE_SIZE, bp
from lms.courses.models import StudySource
from lms.extensions import db
from lms.inputs import page_arg
from lms.spreadsheets import XLSX_MIMETYPE, xlsx_bytes


def _archive_members(year_query: str):
    query = sa.select(User).where(member_scope_clause(current_user), User.is_active.is_(True))
    if year_query:
        query = query.where(User.name.contains(year_query, autoescape=True))
    return query.order_by(User.name, User.id)


def _year() -> int:
    current = clock.local_day(clock.utcnow()).year
    year = request.args.get("year", type=int)
    return year if year and 2000 <= year <= current + 1 else current


@bp.route("/archives")
@secretary_required
def archives_list():
    year = _year()
    query_text = request.args.get("q", "").strip()[:80]
    members_query = _archive_members(query_text)
    pagination = db.paginate(members_query, page=page_arg(),
                             per_page=PAGE_SIZE, error_out=False)  # fmt: skip
    totals = archives.archive_totals([member.id for member in pagination.items], year)
    current = clock.local_day(clock.utcnow()).year
    return render_template(
        "courses/admin/archives.html",
        pagination=pagination,
        totals=totals,
        year=year,
        years=list(range(current, current - 6, -1)),
        q=query_text,
        sources=StudySource,
    )


@bp.route("/archives.xlsx")
@secretary_required
def archives_export():
    year = _year()
    members = db.session.scalars(_archive_members("")).all()
    totals = archives.archive_totals(sa.select(User.id).where(member_scope_clause(current_user)), year)
    empty = ledger.StudyTotals()
    rows = [
        [member.name, member.username, member.branch.name if member.branch else "", member.status.label,
         *(round(hours, 1) for hours in (sums.online_hours, sums.offline_hours, sums.total_hours))]
        for member in members
        for sums in [totals.get(member.id, empty)]
    ]  # fmt: skip
    header = [str(_l("Full name")), str(_l("Username")), str(_l("Branch")), str(_l("Member status")),
              str(_l("Online study hours")), str(_l("Offline study hours")), str(_l("Total study hours"))]  # fmt: skip
    payload = xlsx_bytes([(str(_l("Learning archives")) + f" {year}", header, rows)])
    record_export("archives", year)
    return send_file(io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"learning-archives-{year}.xlsx")  # fmt: skip
