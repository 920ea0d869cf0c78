"""The scoring rules of DESIGN.md §6 as pure functions (no app, no database).

A member's score against a learning target (0-100) is the weighted sum of
hours progress (capped at 1), the share of required courses completed, the
share of required quizzes passed and, when the target scores it, the
attendance rate at the meetings the member was expected at (issue #14: those
there, late or leaving early over those listed, approved leave left out). Components a target does not set are left
out and the remaining weights renormalised to sum to 1. The score is rounded to
one decimal and that rounded value is banded into a grade, so the grade always
agrees with the number a member sees (89.95 shows as 90.0 and is 优秀).

Pace: the hours expected by today are ``required x elapsed share`` of the
period, where the elapsed share counts the days of the period completed before
today. A member below ``BEHIND_RATIO`` (80%) of that is behind; one below 100%
of it will miss the target at the current pace (at risk).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

BEHIND_RATIO = 0.8
DUE_SOON_DAYS = 14

HOURS = "hours"
COURSES = "courses"
QUIZZES = "quizzes"
ATTENDANCE = "attendance"
COMPONENTS = (HOURS, COURSES, QUIZZES, ATTENDANCE)


class Grade(enum.StrEnum):
    EXCELLENT = "excellent"  # 优秀
    GOOD = "good"  # 良好
    QUALIFIED = "qualified"  # 合格
    UNQUALIFIED = "unqualified"  # 不合格


GRADES_BEST_FIRST = (Grade.EXCELLENT, Grade.GOOD, Grade.QUALIFIED, Grade.UNQUALIFIED)


class Pace(enum.StrEnum):
    DONE = "done"  # the required hours are reached
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"  # below the expected hours: misses the target at this pace
    BEHIND = "behind"  # below 80% of the expected hours
    NONE = "none"  # the target sets no hours


@dataclass(frozen=True)
class Weights:
    hours: float = 0.5
    courses: float = 0.3
    quizzes: float = 0.2
    attendance: float = 0.2  # counts only when the target scores attendance

    def of(self, component: str) -> float:
        return {HOURS: self.hours, COURSES: self.courses, QUIZZES: self.quizzes, ATTENDANCE: self.attendance}[
            component
        ]


@dataclass(frozen=True)
class GradeBands:
    """Lowest scores of 优秀, 良好 and 合格; anything below ``qualified`` is 不合格."""

    excellent: float = 90.0
    good: float = 80.0
    qualified: float = 60.0

    def is_valid(self) -> bool:
        return 0 <= self.qualified <= self.good <= self.excellent <= 100


DEFAULT_WEIGHTS = Weights()
DEFAULT_BANDS = GradeBands()


def counted_hours(online_hours: float, offline_hours: float, offline_cap_hours: float | None) -> float:
    """Hours that count: all online hours plus offline hours up to the cap (no cap: all)."""
    offline = max(offline_hours, 0.0)
    if offline_cap_hours is not None:
        offline = min(offline, max(offline_cap_hours, 0.0))
    return max(online_hours, 0.0) + offline


def hours_progress(hours: float, required_hours: float | None) -> float | None:
    """Share of the required hours reached, capped at 1 (None when no hours are required)."""
    if not required_hours or required_hours <= 0:
        return None
    return min(max(hours, 0.0) / required_hours, 1.0)


def completion_share(done: int, required: int) -> float | None:
    """Share of required items done (None when nothing is required)."""
    if required <= 0:
        return None
    return min(max(done, 0), required) / required


def attendance_rate(attended: int, expected: int) -> float | None:
    """Share of the meetings a member was expected at that they attended (None when none were expected)."""
    if expected <= 0:
        return None
    return min(max(attended, 0), expected) / expected


def renormalised_weights(weights: Weights, present: Iterable[str]) -> dict[str, float]:
    """The weights of the components present, scaled to sum to 1.

    If every present component has weight 0, they share equally (a target that
    sets something must be scoreable).
    """
    present = [c for c in COMPONENTS if c in set(present)]
    if not present:
        return {}
    total = sum(max(weights.of(c), 0.0) for c in present)
    if total <= 0:
        return {c: 1.0 / len(present) for c in present}
    return {c: max(weights.of(c), 0.0) / total for c in present}


def weighted_score(components: dict[str, float | None], weights: Weights = DEFAULT_WEIGHTS) -> float | None:
    """Score 0-100 (one decimal) from component shares in 0..1; None components are left out."""
    present = {name: value for name, value in components.items() if value is not None}
    normalised = renormalised_weights(weights, present)
    if not normalised:
        return None
    raw = sum(normalised[name] * min(max(present[name], 0.0), 1.0) for name in normalised)
    return round(raw * 100 + 1e-9, 1)


def grade_for(score: float | None, bands: GradeBands = DEFAULT_BANDS) -> Grade | None:
    """The grade band of a (rounded) score: >= excellent, >= good, >= qualified, else unqualified."""
    if score is None:
        return None
    if score >= bands.excellent:
        return Grade.EXCELLENT
    if score >= bands.good:
        return Grade.GOOD
    if score >= bands.qualified:
        return Grade.QUALIFIED
    return Grade.UNQUALIFIED


def prorated_hours(
    required_hours: float | None, period_start: date, period_end: date, scope_start: date
) -> float | None:
    """The required hours for a member in scope only from ``scope_start``: required x days in scope / period days.

    A member who joins on the period's last day owes one day's share, not the whole period's hours.
    """
    if required_hours is None or scope_start <= period_start:
        return required_hours
    if scope_start > period_end:
        return 0.0
    return required_hours * period_days(scope_start, period_end) / period_days(period_start, period_end)


def period_days(start: date, end: date) -> int:
    """Number of days in ``start..end`` (both included)."""
    return max((end - start).days + 1, 1)


def elapsed_share(start: date, end: date, today: date) -> float:
    """Share of the period's days completed before ``today`` (0 on the first day, 1 after the end)."""
    total = period_days(start, end)
    done = min(max((today - start).days, 0), total)
    return done / total


def days_left(start: date, end: date, today: date) -> int:
    """Days left in the period counting today (0 once it has ended)."""
    if today > end:
        return 0
    return period_days(max(start, today), end)


def expected_hours(required_hours: float | None, share: float) -> float:
    """Hours a member on pace has by today: required x elapsed share."""
    return (required_hours or 0.0) * min(max(share, 0.0), 1.0)


def pace_for(hours: float, required_hours: float | None, share: float) -> Pace:
    """Where a member stands against the hours expected by today."""
    if not required_hours or required_hours <= 0:
        return Pace.NONE
    if hours >= required_hours:
        return Pace.DONE
    expected = expected_hours(required_hours, share)
    if hours < BEHIND_RATIO * expected:
        return Pace.BEHIND
    if hours < expected:
        return Pace.AT_RISK
    return Pace.ON_TRACK


def item_due(period_start: date, period_end: date, due_days: int | None) -> date:
    """An item's due date: ``due_days`` after the period starts (at most its end), else the end."""
    if due_days is None:
        return period_end
    return min(period_start + timedelta(days=max(due_days, 0)), period_end)


@dataclass(frozen=True, slots=True)
class ItemStatus:
    """One required course or quiz for one member."""

    kind: str  # "course" or "quiz"
    item_id: int
    title: str
    due: date
    done: bool  # course completed / quiz passed
    score_percent: float | None = None  # quizzes: the kept score
    pass_percent: float | None = None

    def is_due_soon(self, today: date) -> bool:
        return not self.done and today <= self.due <= today + timedelta(days=DUE_SOON_DAYS)

    def is_overdue(self, today: date) -> bool:
        return not self.done and self.due < today

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.item_id,
            "title": self.title,
            "due": self.due.isoformat(),
            "done": self.done,
            "score": self.score_percent,
            "pass": self.pass_percent,
        }

    @classmethod
    def from_dict(cls, values: dict) -> ItemStatus:
        return cls(
            kind=values["kind"],
            item_id=int(values["id"]),
            title=values.get("title", ""),
            due=date.fromisoformat(values["due"]),
            done=bool(values["done"]),
            score_percent=values.get("score"),
            pass_percent=values.get("pass"),
        )


@dataclass(frozen=True)
class TargetRules:
    """What a target asks, independent of any member."""

    required_hours: float | None = None
    offline_cap_hours: float | None = None
    weights: Weights = DEFAULT_WEIGHTS
    bands: GradeBands = DEFAULT_BANDS
    scores_attendance: bool = False  # the attendance rate at required meetings is a component


@dataclass(frozen=True, slots=True)
class MemberScore:
    period_start: date
    period_end: date
    online_hours: float
    offline_hours: float
    hours: float  # counted: online plus capped offline
    required_hours: float | None
    courses_done: int
    courses_required: int
    quizzes_passed: int
    quizzes_required: int
    score: float | None
    grade: Grade | None
    elapsed_share: float
    expected_hours: float
    pace: Pace
    days_left: int
    due_soon: int  # required items not done and due within DUE_SOON_DAYS
    overdue: int  # required items not done and past their due date
    items: tuple[ItemStatus, ...] = field(default_factory=tuple)
    # Meetings the member attended / was expected at in the period (counted when the target scores attendance).
    meetings_attended: int = 0
    meetings_expected: int = 0
    scores_attendance: bool = False

    @property
    def behind(self) -> bool:
        return self.pace == Pace.BEHIND

    @property
    def at_risk(self) -> bool:
        """Will miss the hours at the current pace, or has required items due soon or overdue."""
        return self.pace in (Pace.BEHIND, Pace.AT_RISK) or self.due_soon > 0 or self.overdue > 0

    @property
    def hours_progress(self) -> float | None:
        return hours_progress(self.hours, self.required_hours)

    @property
    def attendance_rate(self) -> float | None:
        return attendance_rate(self.meetings_attended, self.meetings_expected) if self.scores_attendance else None

    @property
    def remaining_hours(self) -> float:
        return max((self.required_hours or 0.0) - self.hours, 0.0)


def score_member(
    rules: TargetRules,
    *,
    period_start: date,
    period_end: date,
    today: date,
    online_hours: float,
    offline_hours: float,
    items: Iterable[ItemStatus] = (),
    attendance: tuple[int, int] = (0, 0),
) -> MemberScore:
    """Score one member: every component, the weighted score, the grade and the pace.

    ``attendance`` is (meetings attended, meetings expected at), used when the
    target scores attendance; a member expected at no meeting is scored without it.
    """
    items = tuple(items)
    courses_required = courses_done = quizzes_required = quizzes_passed = due_soon = overdue = 0
    for item in items:
        if item.kind == "course":
            courses_required += 1
            courses_done += item.done
        else:
            quizzes_required += 1
            quizzes_passed += item.done
        if not item.done:
            due_soon += item.is_due_soon(today)
            overdue += item.is_overdue(today)
    attended, expected = (max(int(n), 0) for n in attendance) if rules.scores_attendance else (0, 0)
    hours = counted_hours(online_hours, offline_hours, rules.offline_cap_hours)
    share = elapsed_share(period_start, period_end, today)
    score = weighted_score(
        {
            HOURS: hours_progress(hours, rules.required_hours),
            COURSES: completion_share(courses_done, courses_required),
            QUIZZES: completion_share(quizzes_passed, quizzes_required),
            ATTENDANCE: attendance_rate(attended, expected) if rules.scores_attendance else None,
        },
        rules.weights,
    )
    if share == 0 and hours <= 0 and courses_done + quizzes_passed + attended == 0:
        # The first day in scope with nothing done yet: nothing could be expected, so no grade (not 不合格).
        score = None
    return MemberScore(
        period_start=period_start,
        period_end=period_end,
        online_hours=max(online_hours, 0.0),
        offline_hours=max(offline_hours, 0.0),
        hours=hours,
        required_hours=rules.required_hours if rules.required_hours and rules.required_hours > 0 else None,
        courses_done=courses_done,
        courses_required=courses_required,
        quizzes_passed=quizzes_passed,
        quizzes_required=quizzes_required,
        score=score,
        grade=grade_for(score, rules.bands),
        elapsed_share=share,
        expected_hours=expected_hours(rules.required_hours, share),
        pace=pace_for(hours, rules.required_hours, share),
        days_left=days_left(period_start, period_end, today),
        due_soon=due_soon,
        overdue=overdue,
        items=items,
        meetings_attended=attended,
        meetings_expected=expected,
        scores_attendance=rules.scores_attendance,
    )
