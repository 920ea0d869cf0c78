"""The anomaly list (反刷课) for secretaries and admins: /admin/integrity/anomalies."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.auth.permissions import get_branch_or_404, secretary_required
from lms.courses.offline_admin import branch_choices
from lms.integrity.anomalies import ANOMALY_KIND_LABELS, find_anomalies

bp = Blueprint("integrity", __name__, url_prefix="/admin/integrity")

DEFAULT_DAYS = 7
MAX_DAYS = 366


def _day(name: str) -> tuple[date | None, bool]:
    """The ISO date in query argument ``name``: (day, True), (None, True) when absent, (None, False) when bad."""
    text = request.args.get(name, "").strip()
    if not text:
        return None, True
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, False
    # Far-off years are typing mistakes (and overflow time-zone arithmetic).
    return (day, True) if 2000 <= day.year <= 2100 else (None, False)


@bp.route("/anomalies")
@secretary_required
def anomalies():
    today = clock.local_day(clock.utcnow())
    errors = []
    start, start_ok = _day("start")
    end, end_ok = _day("end")
    if not (start_ok and end_ok):
        errors.append(_l("Dates are written as YYYY-MM-DD; the last %(n)d days are shown.", n=DEFAULT_DAYS))
        start = end = None
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        errors.append(_l("The start date was after the end date; they have been swapped."))
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        errors.append(_l("At most %(n)d days at a time; the period was shortened.", n=MAX_DAYS))
        start = end - timedelta(days=MAX_DAYS - 1)
    branch_id = request.args.get("branch_id", type=int)
    branch = get_branch_or_404(current_user, branch_id) if branch_id else None
    found = find_anomalies(current_user, start, end, branch=branch)
    groups: dict[str, list] = {}
    for anomaly in found:
        groups.setdefault(anomaly.branch_name, []).append(anomaly)
    return render_template(
        "integrity/anomalies.html",
        groups=groups,
        count=len(found),
        members=len({a.user_id for a in found}),
        start=start,
        end=end,
        branch_id=branch_id,
        branches=branch_choices(current_user),
        errors=errors,
        kinds=ANOMALY_KIND_LABELS,
    )
