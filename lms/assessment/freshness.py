"""Keeping a member's stored results current: a record page never shows a stale snapshot.

Reports read stored runs (fast, and a past period never changes). A member's
own record page shows their stored results of the year; when the member has
studied, finished a quiz or had offline study entered since a result was
computed, that one result is recomputed (the same ``compute_scores`` the
dashboard uses, for one member: a few statements) and stored with its time.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from lms import clock
from lms.assessment import sources
from lms.assessment.models import AssessmentResult, AssessmentRun, LearningTarget
from lms.assessment.periods import period_from_key
from lms.assessment.services import compute_scores, result_values
from lms.auth.models import User
from lms.extensions import db


def results_of_year(member: User, year: int) -> list[tuple[AssessmentResult, AssessmentRun]]:
    """The member's stored results of periods ending in ``year``, by period end and target."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    rows = db.session.execute(
        sa.select(AssessmentResult, AssessmentRun)
        .join(AssessmentRun, AssessmentRun.id == AssessmentResult.run_id)
        .where(
            AssessmentResult.user_id == member.id,
            AssessmentResult.period_end >= start,
            AssessmentResult.period_end <= end,
        )
        .order_by(AssessmentResult.period_end, AssessmentRun.target_name)
    ).all()
    return [(result, run) for result, run in rows]


def is_stale(result: AssessmentResult, run: AssessmentRun, latest: datetime | None) -> bool:
    """True when an open period's result is older than the member's latest activity."""
    return not run.is_final and latest is not None and latest > (result.computed_at or run.computed_at)


def refresh_member_results(member: User, year: int, now: datetime) -> int:
    """Recompute the member's stale results of ``year`` (open periods only); flushes. Returns how many."""
    results = results_of_year(member, year)
    if not results:
        return 0
    latest = sources.latest_activity(member)
    today = clock.local_day(now)
    refreshed = 0
    for result, run in results:
        if not is_stale(result, run, latest):
            continue
        target = db.session.get(LearningTarget, run.target_id) if run.target_id else None
        period = period_from_key(target, run.period_key, today) if target is not None else None
        if period is None:
            continue
        rows = compute_scores(target, period, today, users_clause=User.id == member.id)
        if not rows:
            continue
        branch_names = {member.branch_id: member.branch.name} if member.branch else {}
        for key, value in result_values(run.id, rows[0], branch_names).items():
            setattr(result, key, value)
        result.computed_at = now
        refreshed += 1
    db.session.flush()
    return refreshed
