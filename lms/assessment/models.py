"""Learning targets, their required courses and quizzes, stored results (snapshots) and sent reminders.

A ``LearningTarget`` says who it applies to (an audience, plus a rule on branch
leaders), over which period, and what it asks. Its results are computed by
``lms.assessment.services`` and stored as an ``AssessmentRun`` with one
``AssessmentResult`` per member: reports read these rows, so a report of a
past period never changes when a course or a target is later edited or deleted.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.assessment.scoring import GradeBands, Weights
from lms.auth.audience import AudienceMixin
from lms.db import TimestampMixin, str_enum
from lms.extensions import db


class PeriodKind(enum.StrEnum):
    YEAR = "year"  # a calendar year; every year when ``year`` is empty
    QUARTER = "quarter"  # a calendar quarter; every quarter when ``year`` is empty
    DATES = "dates"  # from ``starts_on`` to ``ends_on``
    PROBATION = "probation"  # each member's own: admission date to probation end (预备期)

    @property
    def label(self) -> str:
        return str(PERIOD_KIND_LABELS[self])


PERIOD_KIND_LABELS = {
    PeriodKind.YEAR: _l("Calendar year"),
    PeriodKind.QUARTER: _l("Calendar quarter"),
    PeriodKind.DATES: _l("From one date to another"),
    PeriodKind.PROBATION: _l("Before the probation end (from the admission date)"),
}


class LeaderRule(enum.StrEnum):
    """Branch leaders: secretaries and branch committee members (支委委员)."""

    ANY = "any"
    ONLY = "only"
    EXCLUDE = "exclude"

    @property
    def label(self) -> str:
        return str(LEADER_RULE_LABELS[self])


LEADER_RULE_LABELS = {
    LeaderRule.ANY: _l("Leaders and other members alike"),
    LeaderRule.ONLY: _l("Only branch secretaries and committee members"),
    LeaderRule.EXCLUDE: _l("Not branch secretaries and committee members"),
}


class LearningTarget(AudienceMixin, TimestampMixin, db.Model):
    """What members of an audience must study in a period, and how it is scored."""

    __tablename__ = "learning_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # Seeded defaults carry a key so `flask lms init` finds them again (idempotent).
    system_key: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    leader_rule: Mapped[LeaderRule] = mapped_column(str_enum(LeaderRule), default=LeaderRule.ANY)

    period_kind: Mapped[PeriodKind] = mapped_column(str_enum(PeriodKind), default=PeriodKind.YEAR)
    year: Mapped[int | None]
    quarter: Mapped[int | None]
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]

    required_hours: Mapped[float | None]  # 学时
    offline_cap_hours: Mapped[float | None]  # at most this many offline 学时 count
    weight_hours: Mapped[float] = mapped_column(default=0.5)
    weight_courses: Mapped[float] = mapped_column(default=0.3)
    weight_quizzes: Mapped[float] = mapped_column(default=0.2)
    # Issue #14: the attendance rate at the meetings a member is expected at is a component.
    score_attendance: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    weight_attendance: Mapped[float] = mapped_column(default=0.2, server_default="0.2")
    excellent_min: Mapped[float] = mapped_column(default=90.0)
    good_min: Mapped[float] = mapped_column(default=80.0)
    pass_min: Mapped[float] = mapped_column(default=60.0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    courses: Mapped[list[TargetCourse]] = relationship(
        back_populates="target", order_by="TargetCourse.position, TargetCourse.id", cascade="all, delete-orphan"
    )
    quizzes: Mapped[list[TargetQuiz]] = relationship(
        back_populates="target", order_by="TargetQuiz.position, TargetQuiz.id", cascade="all, delete-orphan"
    )

    @property
    def weights(self) -> Weights:
        return Weights(self.weight_hours, self.weight_courses, self.weight_quizzes, self.weight_attendance)

    @property
    def bands(self) -> GradeBands:
        return GradeBands(self.excellent_min, self.good_min, self.pass_min)

    @property
    def is_probation(self) -> bool:
        return self.period_kind == PeriodKind.PROBATION

    def __repr__(self) -> str:
        return f"<LearningTarget {self.id} {self.name}>"


class TargetCourse(db.Model):
    """A course a target requires. ``title`` is kept so the target reads well if the course goes."""

    __tablename__ = "learning_target_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("learning_targets.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    # Due this many days after the period starts (for probation: the admission date); empty: the period end.
    due_days: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)

    target: Mapped[LearningTarget] = relationship(back_populates="courses")

    __table_args__ = (sa.UniqueConstraint("target_id", "course_id"),)


class TargetQuiz(db.Model):
    """A quiz a target requires, with its pass score (empty: the quiz's own pass score)."""

    __tablename__ = "learning_target_quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("learning_targets.id", ondelete="CASCADE"), index=True)
    quiz_id: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    pass_percent: Mapped[float | None]
    due_days: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)

    target: Mapped[LearningTarget] = relationship(back_populates="quizzes")

    __table_args__ = (sa.UniqueConstraint("target_id", "quiz_id"),)


class RunTrigger(enum.StrEnum):
    NIGHTLY = "nightly"
    ON_DEMAND = "on_demand"


class AssessmentRun(db.Model):
    """One computation of a target's results for one period.

    ``parameters`` keeps what the target asked at the time (hours, weights,
    bands, required items with titles), so a stored report explains itself.
    Only the newest run of a (target, period) is kept while the period is open;
    a final run (``is_final``) is never recomputed or replaced.
    """

    __tablename__ = "assessment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int | None] = mapped_column(sa.ForeignKey("learning_targets.id", ondelete="SET NULL"), index=True)
    target_name: Mapped[str] = mapped_column(sa.String(120))
    period_key: Mapped[str] = mapped_column(sa.String(30))  # "2026", "2026-Q1", "2026-03-01..2026-06-30", "probation"
    period_start: Mapped[date | None]  # None for probation targets: each result has its own
    period_end: Mapped[date | None]
    computed_at: Mapped[datetime]
    trigger: Mapped[RunTrigger] = mapped_column(str_enum(RunTrigger))
    is_final: Mapped[bool] = mapped_column(default=False)
    member_count: Mapped[int] = mapped_column(default=0)
    parameters: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Study seconds per branch and month of the period ({"12": {"2026-03": 5400.0}}; "0": no branch),
    # so a report's chart of hours by month reads the run instead of scanning the ledger.
    monthly_seconds: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index("ix_assessment_runs_target_period", "target_id", "period_key", "computed_at"),)


class AssessmentResult(db.Model):
    """One member's stored result in a run; names are kept as they were then."""

    __tablename__ = "assessment_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("assessment_runs.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    member_name: Mapped[str] = mapped_column(sa.String(80))
    member_status: Mapped[str] = mapped_column(sa.String(20))
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id", ondelete="SET NULL"))
    branch_name: Mapped[str] = mapped_column(sa.String(120), default="")
    period_start: Mapped[date]
    period_end: Mapped[date]
    online_hours: Mapped[float] = mapped_column(default=0.0)
    offline_hours: Mapped[float] = mapped_column(default=0.0)
    hours: Mapped[float] = mapped_column(default=0.0)  # counted (offline capped)
    required_hours: Mapped[float | None]
    expected_hours: Mapped[float] = mapped_column(default=0.0)
    courses_done: Mapped[int] = mapped_column(default=0)
    courses_required: Mapped[int] = mapped_column(default=0)
    quizzes_passed: Mapped[int] = mapped_column(default=0)
    quizzes_required: Mapped[int] = mapped_column(default=0)
    meetings_attended: Mapped[int] = mapped_column(default=0, server_default="0")
    meetings_expected: Mapped[int] = mapped_column(default=0, server_default="0")  # listed, not on approved leave
    score: Mapped[float | None]
    grade: Mapped[str | None] = mapped_column(sa.String(12))
    pace: Mapped[str] = mapped_column(sa.String(12))
    behind: Mapped[bool] = mapped_column(default=False)
    at_risk: Mapped[bool] = mapped_column(default=False)
    due_soon: Mapped[int] = mapped_column(default=0)
    overdue: Mapped[int] = mapped_column(default=0)
    participated: Mapped[bool] = mapped_column(default=False)  # studied at all in the period
    items: Mapped[list] = mapped_column(sa.JSON, default=list)
    # When this row was last computed, if after its run (one member refreshed on their record page).
    computed_at: Mapped[datetime | None]

    run: Mapped[AssessmentRun] = relationship()

    @property
    def as_of(self) -> datetime:
        """When these numbers were computed."""
        return self.computed_at or self.run.computed_at

    __table_args__ = (
        sa.UniqueConstraint("run_id", "user_id"),
        sa.Index("ix_assessment_results_run_id_branch_id", "run_id", "branch_id"),
    )


class ReminderKind(enum.StrEnum):
    REMINDER = "reminder"  # a member behind pace or with required items due
    DIGEST = "digest"  # a secretary's weekly summary of the branch


class SentReminder(db.Model):
    """A reminder or digest sent; the unique key allows one of each kind per member per ISO week."""

    __tablename__ = "assessment_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    iso_week: Mapped[str] = mapped_column(sa.String(8))  # "2026-W10" in the local time zone
    kind: Mapped[ReminderKind] = mapped_column(str_enum(ReminderKind))
    sent_at: Mapped[datetime]
    emailed: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (sa.UniqueConstraint("user_id", "iso_week", "kind"),)


__all__ = [
    "LEADER_RULE_LABELS",
    "PERIOD_KIND_LABELS",
    "AssessmentResult",
    "AssessmentRun",
    "LeaderRule",
    "LearningTarget",
    "PeriodKind",
    "ReminderKind",
    "RunTrigger",
    "SentReminder",
    "TargetCourse",
    "TargetQuiz",
]
