"""Scoring members against learning targets, and storing the results as runs (snapshots).

``compute_scores`` scores every member a target applies to with a fixed number
of aggregate queries (members, study time, course completions, quiz results,
attendance at meetings, the required items): ten thousand members cost the same statements as ten.
``recompute_target`` stores the result as an ``AssessmentRun``; reports read
runs, so they are fast and a past period's report never changes. A period
becomes final (never recomputed) once the window for late offline entries
(``LMS_OFFLINE_EDIT_WINDOW_DAYS``) after its end has passed.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms import clock, org_settings
from lms.assessment import sources
from lms.assessment.models import AssessmentResult, AssessmentRun, LearningTarget, RunTrigger
from lms.assessment.periods import (
    PROBATION_KEY,
    Period,
    current_period,
    past_periods,
    period_from_key,
    probation_bounds,
)
from lms.assessment.scoring import ItemStatus, MemberScore, TargetRules, item_due, prorated_hours, score_member
from lms.assessment.targets import active_targets, target_members_clause, targets_for
from lms.auth.models import Branch, User
from lms.errors import InvalidState, NotFound
from lms.extensions import db

log = logging.getLogger(__name__)

# Members per statement when each has their own period (keeps bound parameters well under SQLite's limit).
PERIOD_BATCH = 3000


@dataclass(frozen=True, slots=True)
class MemberRow:
    user_id: int
    name: str
    status: str
    branch_id: int | None
    score: MemberScore
    participated: bool


def prorate_enabled() -> bool:
    """``LMS_ASSESSMENT_PRORATE`` (on by default): hold members who join mid-period to their share of it."""
    value = current_app.config.get("ASSESSMENT_PRORATE", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def rules_of(target: LearningTarget) -> TargetRules:
    return TargetRules(
        required_hours=target.required_hours,
        offline_cap_hours=target.offline_cap_hours,
        weights=target.weights,
        bands=target.bands,
        scores_attendance=bool(target.score_attendance),
    )


def finalize_after_days() -> int:
    """Days after a period's end during which it is still recomputed (late offline entries)."""
    return int(org_settings.value("OFFLINE_EDIT_WINDOW_DAYS") or 30)


def period_is_closed(period: Period, today: date) -> bool:
    """True once ``period`` ended more than the late-entry window ago."""
    return period.end is not None and today > period.end + timedelta(days=finalize_after_days())


def compute_scores(target: LearningTarget, period: Period, today: date, *, users_clause=None) -> list[MemberRow]:
    """Score every member ``target`` applies to (within ``users_clause``, a WHERE on ``User``) for ``period``.

    A handful of aggregate queries whatever the number of members; required
    courses or quizzes that no longer exist are left out of the score.
    """
    clause = target_members_clause(target)
    if users_clause is not None:
        clause = sa.and_(clause, users_clause)
    members = db.session.execute(
        sa.select(
            User.id, User.name, User.status, User.branch_id, User.admitted_on, User.probation_end, User.created_at
        )
        .where(clause)
        .order_by(User.id)
    ).all()
    if not members:
        return []
    ids = sa.select(User.id).where(clause)
    course_titles = sources.existing_courses(c.course_id for c in target.courses)
    quiz_info = sources.existing_quizzes(q.quiz_id for q in target.quizzes)
    required_courses = [c for c in target.courses if c.course_id in course_titles]
    required_quizzes = [q for q in target.quizzes if q.quiz_id in quiz_info]

    bounds: dict[int, tuple[date, date]] = {}
    attendance: dict[int, tuple[int, int]] = {}
    if target.is_probation:
        for member in members:
            bounds[member.id] = probation_bounds(member.admitted_on, member.probation_end)
        hours: dict[int, tuple[float, float]] = {}
        items = list(bounds.items())
        for offset in range(0, len(items), PERIOD_BATCH):
            batch = dict(items[offset : offset + PERIOD_BATCH])
            hours.update(sources.study_hours_split_each(batch))
            if target.score_attendance:
                attendance.update(sources.meeting_attendance_each(batch))
    else:
        hours = sources.study_hours_split(ids, period.start, period.end)
        if target.score_attendance:
            attendance = sources.meeting_attendance(ids, period.start, period.end)
    done_courses = sources.completed_courses(ids, [c.course_id for c in required_courses])
    quiz_percent = sources.quiz_scores(ids, [q.quiz_id for q in required_quizzes])

    rules = rules_of(target)
    quiz_pass = {
        q.quiz_id: q.pass_percent if q.pass_percent is not None else quiz_info[q.quiz_id][1] for q in required_quizzes
    }
    prorate = prorate_enabled()
    due_cache: dict[tuple[date, date], list[date]] = {}
    rules_cache: dict[tuple[date, date, date], TargetRules] = {}
    rows = []
    for member in members:
        start, end = bounds.get(member.id) or (period.start, period.end)
        # Pro-rating: a member is held to the share of the period since they joined (their account was made).
        scope_start = max(start, clock.local_day(member.created_at)) if prorate and member.created_at else start
        member_rules = rules_cache.get((start, end, scope_start))
        if member_rules is None:
            member_rules = dataclasses.replace(
                rules, required_hours=prorated_hours(rules.required_hours, start, end, scope_start)
            )
            rules_cache[(start, end, scope_start)] = member_rules
        start = min(scope_start, end)
        dues = due_cache.get((start, end))
        if dues is None:
            dues = [item_due(start, end, item.due_days) for item in (*required_courses, *required_quizzes)]
            due_cache[(start, end)] = dues
        completed = done_courses.get(member.id, ())
        items = [
            ItemStatus("course", c.course_id, course_titles[c.course_id], due, c.course_id in completed)
            for c, due in zip(required_courses, dues, strict=False)
        ]
        for q, due in zip(required_quizzes, dues[len(required_courses) :], strict=True):
            percent = quiz_percent.get((member.id, q.quiz_id))
            pass_percent = quiz_pass[q.quiz_id]
            done = percent is not None and percent + 1e-9 >= pass_percent
            items.append(ItemStatus("quiz", q.quiz_id, quiz_info[q.quiz_id][0], due, done, percent, pass_percent))
        online, offline = hours.get(member.id, (0.0, 0.0))
        score = score_member(
            member_rules,
            period_start=start,
            period_end=end,
            today=today,
            online_hours=online,
            offline_hours=offline,
            items=items,
            attendance=attendance.get(member.id, (0, 0)),
        )
        rows.append(
            MemberRow(member.id, member.name, str(member.status), member.branch_id, score, online + offline > 0)
        )
    return rows


def parameters_of(target: LearningTarget) -> dict:
    """What the target asked, stored with each run so a past report explains itself."""
    return {
        "required_hours": target.required_hours,
        "offline_cap_hours": target.offline_cap_hours,
        "weights": [target.weight_hours, target.weight_courses, target.weight_quizzes, target.weight_attendance],
        "score_attendance": bool(target.score_attendance),
        "bands": [target.excellent_min, target.good_min, target.pass_min],
        "period_kind": str(target.period_kind),
        "courses": [{"id": c.course_id, "title": c.title, "due_days": c.due_days} for c in target.courses],
        "quizzes": [
            {"id": q.quiz_id, "title": q.title, "pass": q.pass_percent, "due_days": q.due_days} for q in target.quizzes
        ],
    }


def result_values(run_id: int, row: MemberRow, branch_names: dict[int, str]) -> dict:
    score = row.score
    return {
        "run_id": run_id,
        "user_id": row.user_id,
        "member_name": row.name,
        "member_status": row.status,
        "branch_id": row.branch_id,
        "branch_name": branch_names.get(row.branch_id, "") if row.branch_id else "",
        "period_start": score.period_start,
        "period_end": score.period_end,
        "online_hours": score.online_hours,
        "offline_hours": score.offline_hours,
        "hours": score.hours,
        "required_hours": score.required_hours,
        "expected_hours": round(score.expected_hours, 4),
        "courses_done": score.courses_done,
        "courses_required": score.courses_required,
        "quizzes_passed": score.quizzes_passed,
        "quizzes_required": score.quizzes_required,
        "meetings_attended": score.meetings_attended,
        "meetings_expected": score.meetings_expected,
        "score": score.score,
        "grade": str(score.grade) if score.grade else None,
        "pace": str(score.pace),
        "behind": score.behind,
        "at_risk": score.at_risk,
        "due_soon": score.due_soon,
        "overdue": score.overdue,
        "participated": row.participated,
        "items": [item.as_dict() for item in score.items],
    }


def latest_run(target_id: int, period_key: str) -> AssessmentRun | None:
    """The newest stored run of a target for a period (final or not)."""
    return db.session.scalar(
        sa.select(AssessmentRun)
        .where(AssessmentRun.target_id == target_id, AssessmentRun.period_key == period_key)
        .order_by(AssessmentRun.is_final.desc(), AssessmentRun.computed_at.desc(), AssessmentRun.id.desc())
        .limit(1)
    )


def _frozen_probation_rows(target: LearningTarget, today: date) -> list[AssessmentResult]:
    """Rows of the previous probation run that no longer change: the period ended and either the
    late-entry window passed or the member left the target (e.g. became a full member, 转正)."""
    previous = latest_run(target.id, PROBATION_KEY)
    if previous is None:
        return []
    window = timedelta(days=finalize_after_days())
    in_target = sa.select(User.id).where(target_members_clause(target))
    return list(
        db.session.scalars(
            sa.select(AssessmentResult).where(
                AssessmentResult.run_id == previous.id,
                AssessmentResult.period_end < today,
                sa.or_(
                    AssessmentResult.period_end < today - window,
                    AssessmentResult.user_id.is_(None),
                    AssessmentResult.user_id.not_in(in_target),
                ),
            )
        )
    )


_COPIED = [c.key for c in AssessmentResult.__table__.columns if c.key not in ("id", "run_id")]


def recompute_target(
    target: LearningTarget, now: datetime, *, period_key: str | None = None, trigger: RunTrigger = RunTrigger.ON_DEMAND
) -> AssessmentRun:
    """Score everyone under ``target`` for a period (default: the current one) and store it as a run.

    Raises ``NotFound`` for a period the target does not have and
    ``InvalidState`` when that period's results are final. The run replaces the
    period's previous (not final) run; it is final itself when the period has closed.
    """
    today = clock.local_day(now)
    period = period_from_key(target, period_key, today)
    if period is None:
        raise NotFound(_l("This target has no such period."))
    existing = latest_run(target.id, period.key)
    if existing is not None and existing.is_final:
        raise InvalidState(_l("The results of %(period)s are final and are not recomputed.", period=period.label))
    frozen: list[AssessmentResult] = []
    users_clause = None
    if target.is_probation:
        frozen = _frozen_probation_rows(target, today)
        frozen_ids = [row.user_id for row in frozen if row.user_id is not None]
        users_clause = User.id.not_in(frozen_ids) if frozen_ids else None
    rows = compute_scores(target, period, today, users_clause=users_clause)
    run = AssessmentRun(
        target_id=target.id,
        target_name=target.name,
        period_key=period.key,
        period_start=period.start,
        period_end=period.end,
        computed_at=now,
        trigger=trigger,
        is_final=period_is_closed(period, today),
        member_count=len(rows) + len(frozen),
        parameters=parameters_of(target),
        monthly_seconds=_monthly(target, period, today),
    )
    db.session.add(run)
    db.session.flush()
    branch_ids = {row.branch_id for row in rows if row.branch_id}
    branch_names = (
        dict(db.session.execute(sa.select(Branch.id, Branch.name).where(Branch.id.in_(branch_ids))).all())
        if branch_ids
        else {}
    )
    values = [result_values(run.id, row, branch_names) for row in rows]
    values += [{**{key: getattr(old, key) for key in _COPIED}, "run_id": run.id} for old in frozen]
    if values:
        db.session.execute(sa.insert(AssessmentResult), values)
    _drop_superseded(target.id, period.key, run.id)
    log.info("assessment run %s: target %s period %s, %d members", run.id, target.id, period.key, len(values))
    return run


def _monthly(target: LearningTarget, period: Period, today: date) -> dict:
    """Seconds per branch and month of a calendar period so far (probation periods differ per member)."""
    if period.start is None or period.end is None or today < period.start:
        return {}
    members = sa.select(User.id).where(target_members_clause(target))
    return sources.monthly_seconds_by_branch(members, period.start, min(period.end, today))


def _drop_superseded(target_id: int, period_key: str, keep_run_id: int) -> None:
    old = sa.select(AssessmentRun.id).where(
        AssessmentRun.target_id == target_id,
        AssessmentRun.period_key == period_key,
        AssessmentRun.is_final.is_(False),
        AssessmentRun.id != keep_run_id,
    )
    old_ids = list(db.session.scalars(old))
    if old_ids:
        db.session.execute(sa.delete(AssessmentResult).where(AssessmentResult.run_id.in_(old_ids)))
        db.session.execute(sa.delete(AssessmentRun).where(AssessmentRun.id.in_(old_ids)))


def nightly_hour() -> int:
    """Local hour after which the nightly recompute runs (``LMS_ASSESSMENT_NIGHTLY_HOUR``, 2 by default)."""
    return int(current_app.config.get("ASSESSMENT_NIGHTLY_HOUR", 2))


def nightly_snapshots(now: datetime) -> int:
    """The nightly job: refresh each active target's open periods once per local day, finalize closed ones.

    Safe to run as often as the scheduler likes: a period already computed
    today (local day), or final, is skipped. Returns the number of runs stored.
    """
    local = now.astimezone(clock.local_zone())
    if local.hour < nightly_hour():
        return 0
    today = local.date()
    stored = 0
    for target in active_targets():
        since = clock.local_day(target.created_at) if target.created_at else today
        for period in past_periods(target, today, since=since, limit=2):
            existing = latest_run(target.id, period.key)
            if existing is not None and (existing.is_final or clock.local_day(existing.computed_at) == today):
                continue
            recompute_target(target, now, period_key=period.key, trigger=RunTrigger.NIGHTLY)
            stored += 1
    return stored


def runs_of(target: LearningTarget, today: date) -> list[tuple[Period, AssessmentRun | None]]:
    """The target's periods (newest first) with their stored run, if any."""
    since = clock.local_day(target.created_at) - timedelta(days=366 * 5) if target.created_at else today
    periods = past_periods(target, today, since=since, limit=8)
    runs = {}
    for period in periods:
        runs[period.key] = latest_run(target.id, period.key)
    return [(period, runs[period.key]) for period in periods]


@dataclass(frozen=True)
class TargetProgress:
    target: LearningTarget
    period: Period
    score: MemberScore
    monthly_hours: list[tuple[str, float]]  # ("2026-03", 学时) for each month of the period so far


def month_list(start: date, end: date) -> list[tuple[int, int]]:
    """(year, month) of every month from ``start`` to ``end`` (at most 60)."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month) and len(months) < 60:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def member_progress(user: User, now: datetime) -> list[TargetProgress]:
    """Live progress of one member against each target that applies to them (the dashboard)."""
    today = clock.local_day(now)
    progress = []
    per_hour = sources.seconds_per_study_hour()
    for target in targets_for(user):
        period = current_period(target, today)
        if period is None or (
            not target.required_hours and not target.courses and not target.quizzes and not target.score_attendance
        ):
            continue
        rows = compute_scores(target, period, today, users_clause=User.id == user.id)
        if not rows:
            continue
        score = rows[0].score
        last = min(score.period_end, max(today, score.period_start))
        monthly = sources.monthly_seconds(sa.select(sa.literal(user.id)), score.period_start, last)
        months = [
            (f"{year}-{month:02d}", round(monthly.get((year, month), 0.0) / per_hour, 1))
            for year, month in month_list(score.period_start, last)
        ]
        progress.append(TargetProgress(target, period, score, months))
    return progress
