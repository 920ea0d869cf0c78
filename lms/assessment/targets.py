"""Learning targets: who they apply to, and creating, changing and deleting them.

A target applies to the active members of its audience (statuses, roles,
branches with their subtrees), narrowed by its rule on branch leaders
(secretaries and committee members), and for probation targets to members who
have a probation end date. A member may fall under several targets; each is
scored on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.assessment.models import LeaderRule, LearningTarget, PeriodKind, TargetCourse, TargetQuiz
from lms.assessment.scoring import GradeBands
from lms.auth.audience import audience_clause, audience_includes
from lms.auth.models import MemberStatus, Role, User
from lms.errors import InvalidState, ValidationFailed
from lms.extensions import db
from lms.i18n import join_list

MAX_REQUIRED_HOURS = 1000.0
MAX_DUE_DAYS = 3660


def leader_clause():
    """A WHERE clause on ``User``: branch secretaries and committee members (支委)."""
    return sa.or_(User.role == Role.SECRETARY, User.is_committee_member.is_(True))


def target_members_clause(target: LearningTarget):
    """A WHERE clause on ``User`` selecting the active members ``target`` applies to."""
    clauses = [audience_clause(target)]
    if target.leader_rule == LeaderRule.ONLY:
        clauses.append(leader_clause())
    elif target.leader_rule == LeaderRule.EXCLUDE:
        clauses.append(sa.not_(leader_clause()))
    if target.period_kind == PeriodKind.PROBATION:
        clauses.append(User.probation_end.is_not(None))
    return sa.and_(*clauses)


def is_leader(user: User) -> bool:
    return user.role == Role.SECRETARY or bool(user.is_committee_member)


def target_includes(target: LearningTarget, user: User) -> bool:
    """True when ``target`` applies to ``user`` (same rule as ``target_members_clause``)."""
    if not user.is_active or not audience_includes(target, user):
        return False
    if target.leader_rule == LeaderRule.ONLY and not is_leader(user):
        return False
    if target.leader_rule == LeaderRule.EXCLUDE and is_leader(user):
        return False
    return not (target.period_kind == PeriodKind.PROBATION and user.probation_end is None)


def active_targets() -> list[LearningTarget]:
    """Every active target, by name."""
    return list(
        db.session.scalars(
            sa.select(LearningTarget).where(LearningTarget.is_active.is_(True)).order_by(LearningTarget.id)
        )
    )


def targets_for(user: User) -> list[LearningTarget]:
    """The active targets that apply to ``user`` (targets are few; the audience test is cheap)."""
    return [target for target in active_targets() if target_includes(target, user)]


@dataclass
class RequiredCourse:
    course_id: int
    due_days: int | None = None


@dataclass
class RequiredQuiz:
    quiz_id: int
    pass_percent: float | None = None
    due_days: int | None = None


@dataclass
class TargetFields:
    name: str
    description: str = ""
    is_active: bool = True
    period_kind: PeriodKind = PeriodKind.YEAR
    year: int | None = None
    quarter: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    statuses: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    branch_ids: list[int] = field(default_factory=list)
    leader_rule: LeaderRule = LeaderRule.ANY
    required_hours: float | None = None
    offline_cap_hours: float | None = None
    weight_hours: float = 0.5
    weight_courses: float = 0.3
    weight_quizzes: float = 0.2
    score_attendance: bool = False
    weight_attendance: float = 0.2
    excellent_min: float = 90.0
    good_min: float = 80.0
    pass_min: float = 60.0
    courses: list[RequiredCourse] = field(default_factory=list)
    quizzes: list[RequiredQuiz] = field(default_factory=list)


def fields_of(target: LearningTarget) -> TargetFields:
    """A target's current settings, for filling its form."""
    return TargetFields(
        name=target.name,
        description=target.description,
        is_active=target.is_active,
        period_kind=target.period_kind,
        year=target.year,
        quarter=target.quarter,
        starts_on=target.starts_on,
        ends_on=target.ends_on,
        statuses=list(target.audience_statuses or []),
        roles=list(target.audience_roles or []),
        branch_ids=list(target.audience_branch_ids or []),
        leader_rule=target.leader_rule,
        required_hours=target.required_hours,
        offline_cap_hours=target.offline_cap_hours,
        weight_hours=target.weight_hours,
        weight_courses=target.weight_courses,
        weight_quizzes=target.weight_quizzes,
        score_attendance=target.score_attendance,
        weight_attendance=target.weight_attendance,
        excellent_min=target.excellent_min,
        good_min=target.good_min,
        pass_min=target.pass_min,
        courses=[RequiredCourse(c.course_id, c.due_days) for c in target.courses],
        quizzes=[RequiredQuiz(q.quiz_id, q.pass_percent, q.due_days) for q in target.quizzes],
    )


def _check(fields: TargetFields) -> None:
    if not fields.name.strip():
        raise ValidationFailed(_l("The name is required."), "name")
    kind = fields.period_kind
    if kind in (PeriodKind.YEAR, PeriodKind.QUARTER) and fields.year is not None and not 2000 <= fields.year <= 2100:
        raise ValidationFailed(_l("Enter a year between 2000 and 2100, or leave it empty for every year."), "year")
    if kind == PeriodKind.QUARTER and fields.year is not None and fields.quarter not in (1, 2, 3, 4):
        raise ValidationFailed(_l("Choose the quarter of that year."), "quarter")
    if kind == PeriodKind.DATES:
        if fields.starts_on is None or fields.ends_on is None:
            raise ValidationFailed(_l("Enter the first and the last day of the period."), "starts_on")
        if fields.ends_on < fields.starts_on:
            raise ValidationFailed(_l("The period cannot end before it starts."), "ends_on")
    if fields.required_hours is not None and not 0 < fields.required_hours <= MAX_REQUIRED_HOURS:
        raise ValidationFailed(
            _l("Required study hours must be more than 0 and at most %(max)d.", max=int(MAX_REQUIRED_HOURS)),
            "required_hours",
        )
    if fields.offline_cap_hours is not None and not 0 <= fields.offline_cap_hours <= MAX_REQUIRED_HOURS:
        raise ValidationFailed(_l("The offline cap must be between 0 and the required hours."), "offline_cap_hours")
    weights = (fields.weight_hours, fields.weight_courses, fields.weight_quizzes, fields.weight_attendance)
    if any(w < 0 or w > 1 for w in weights):
        raise ValidationFailed(_l("Each weight is between 0 and 1."), "weight_hours")
    if not GradeBands(fields.excellent_min, fields.good_min, fields.pass_min).is_valid():
        raise ValidationFailed(_l("Grade bands must satisfy 0 ≤ qualified ≤ good ≤ excellent ≤ 100."), "excellent_min")
    if fields.required_hours is None and not fields.courses and not fields.quizzes and not fields.score_attendance:
        raise ValidationFailed(
            _l("A target needs required study hours, required courses, required quizzes or attendance at meetings."),
            "required_hours",
        )
    course_ids = [c.course_id for c in fields.courses]
    quiz_ids = [q.quiz_id for q in fields.quizzes]
    if len(set(course_ids)) != len(course_ids):
        raise ValidationFailed(_l("A course is listed twice."), "courses")
    if len(set(quiz_ids)) != len(quiz_ids):
        raise ValidationFailed(_l("A quiz is listed twice."), "quizzes")
    for item in [*fields.courses, *fields.quizzes]:
        if item.due_days is not None and not 0 <= item.due_days <= MAX_DUE_DAYS:
            raise ValidationFailed(_l("Due days must be between 0 and %(max)d.", max=MAX_DUE_DAYS), "courses")
    for item in fields.quizzes:
        if item.pass_percent is not None and not 0 < item.pass_percent <= 100:
            raise ValidationFailed(_l("A pass score is a percentage above 0 and at most 100."), "quizzes")


def save_target(
    target: LearningTarget | None,
    fields: TargetFields,
    *,
    author: User | None,
    course_titles: Callable[[list[int]], dict[int, str]],
    quiz_titles: Callable[[list[int]], dict[int, tuple[str, float]]],
    now: datetime,
) -> LearningTarget:
    """Create (``target`` None) or change a target; raises ``ValidationFailed`` naming the field.

    ``course_titles`` / ``quiz_titles`` look the required items up (the
    sources' ``existing_courses`` / ``existing_quizzes``): an id that does not
    exist is refused, and each item keeps its title for the day it goes.
    """
    _check(fields)
    courses = course_titles([c.course_id for c in fields.courses])
    quizzes = quiz_titles([q.quiz_id for q in fields.quizzes])
    missing_course = next((c.course_id for c in fields.courses if c.course_id not in courses), None)
    if missing_course is not None:
        raise ValidationFailed(_l("Course %(id)s does not exist.", id=missing_course), "courses")
    missing_quiz = next((q.quiz_id for q in fields.quizzes if q.quiz_id not in quizzes), None)
    if missing_quiz is not None:
        raise ValidationFailed(_l("Quiz %(id)s does not exist.", id=missing_quiz), "quizzes")
    if target is None:
        target = LearningTarget(created_by_id=author.id if author else None, created_at=now)
        db.session.add(target)
    target.name = fields.name.strip()[:120]
    target.description = fields.description.strip()
    target.is_active = fields.is_active
    target.period_kind = fields.period_kind
    recurring = fields.period_kind in (PeriodKind.YEAR, PeriodKind.QUARTER)
    target.year = fields.year if recurring else None
    target.quarter = fields.quarter if fields.period_kind == PeriodKind.QUARTER and fields.year else None
    target.starts_on = fields.starts_on if fields.period_kind == PeriodKind.DATES else None
    target.ends_on = fields.ends_on if fields.period_kind == PeriodKind.DATES else None
    target.set_audience(fields.statuses, fields.roles, fields.branch_ids)
    target.leader_rule = fields.leader_rule
    target.required_hours = fields.required_hours
    target.offline_cap_hours = fields.offline_cap_hours if fields.required_hours is not None else None
    target.weight_hours = fields.weight_hours
    target.weight_courses = fields.weight_courses
    target.weight_quizzes = fields.weight_quizzes
    target.score_attendance = bool(fields.score_attendance)
    target.weight_attendance = fields.weight_attendance
    target.excellent_min = fields.excellent_min
    target.good_min = fields.good_min
    target.pass_min = fields.pass_min
    target.updated_at = now
    _replace_items(target, fields, courses, quizzes)
    db.session.flush()
    return target


def _replace_items(target: LearningTarget, fields: TargetFields, courses: dict, quizzes: dict) -> None:
    existing_courses = {c.course_id: c for c in target.courses}
    kept_courses = []
    for position, item in enumerate(fields.courses):
        row = existing_courses.get(item.course_id) or TargetCourse(course_id=item.course_id)
        row.title, row.due_days, row.position = courses[item.course_id][:200], item.due_days, position
        kept_courses.append(row)
    target.courses = kept_courses
    existing_quizzes = {q.quiz_id: q for q in target.quizzes}
    kept_quizzes = []
    for position, item in enumerate(fields.quizzes):
        row = existing_quizzes.get(item.quiz_id) or TargetQuiz(quiz_id=item.quiz_id)
        row.title, row.pass_percent = quizzes[item.quiz_id][0][:200], item.pass_percent
        row.due_days, row.position = item.due_days, position
        kept_quizzes.append(row)
    target.quizzes = kept_quizzes


def delete_target(target: LearningTarget) -> None:
    """Delete a target and its open results; refused once it has final results of a past period.

    Final results are what past reports show, so such a target is deactivated instead.
    """
    from lms.assessment.models import AssessmentResult, AssessmentRun

    final = db.session.scalar(
        sa.select(AssessmentRun.id)
        .where(AssessmentRun.target_id == target.id, AssessmentRun.is_final.is_(True))
        .limit(1)
    )
    if final is not None:
        raise InvalidState(
            _l("This target has final results of past periods; deactivate it instead, so those reports stay.")
        )
    runs = sa.select(AssessmentRun.id).where(AssessmentRun.target_id == target.id)
    db.session.execute(sa.delete(AssessmentResult).where(AssessmentResult.run_id.in_(runs)))
    db.session.execute(sa.delete(AssessmentRun).where(AssessmentRun.target_id == target.id))
    db.session.delete(target)


def audience_summary(target: LearningTarget, branch_names: dict[int, str]) -> str:
    """Who a target applies to, in words (for lists)."""
    from lms.auth.models import MEMBER_STATUS_LABELS, ROLE_LABELS

    parts = []
    if target.audience_statuses:
        parts.append(join_list(MEMBER_STATUS_LABELS[MemberStatus(s)] for s in target.audience_statuses))
    if target.audience_roles:
        parts.append(join_list(ROLE_LABELS[Role(r)] for r in target.audience_roles))
    if target.audience_branch_ids:
        parts.append(join_list(branch_names.get(b, f"#{b}") for b in target.audience_branch_ids))
    if target.leader_rule != LeaderRule.ANY:
        parts.append(target.leader_rule.label)
    return " · ".join(parts) if parts else str(_l("All members"))
