"""Probation checklists (预备期): what each probationary member still has to do before the probation end.

Built live from the probation targets (period: admission date to probation
end; each item due a set number of days after admission, or at the probation
end), for one member, or for every probationary member in a secretary's scope
at once (the same few queries as any score). Exported for the branch meeting
that decides on full membership (转正).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from lms import clock
from lms.assessment import services
from lms.assessment.periods import current_period
from lms.assessment.scoring import ItemStatus, MemberScore
from lms.assessment.targets import active_targets
from lms.auth.models import Branch, User
from lms.auth.permissions import member_scope_clause
from lms.extensions import db


@dataclass(frozen=True)
class Checklist:
    user_id: int
    name: str
    branch_name: str
    admitted_on: date | None
    probation_end: date
    target_name: str
    score: MemberScore

    @property
    def remaining(self) -> list[ItemStatus]:
        return [item for item in self.score.items if not item.done]

    @property
    def hours_left(self) -> float:
        return self.score.remaining_hours

    @property
    def complete(self) -> bool:
        return not self.remaining and self.hours_left <= 0

    @property
    def done_count(self) -> int:
        return sum(1 for item in self.score.items if item.done) + (
            1 if self.score.required_hours and self.hours_left <= 0 else 0
        )

    @property
    def total_count(self) -> int:
        return len(self.score.items) + (1 if self.score.required_hours else 0)


def checklists(viewer: User, now: datetime, *, member: User | None = None) -> list[Checklist]:
    """Checklists of the probationary members in the viewer's scope (or of ``member``), soonest end first."""
    today = clock.local_day(now)
    clause = member_scope_clause(viewer)
    if member is not None:
        clause = sa.and_(clause, User.id == member.id)
    found = []
    for target in active_targets():
        if not target.is_probation:
            continue
        period = current_period(target, today)
        found += [(target, row) for row in services.compute_scores(target, period, today, users_clause=clause)]
    if not found:
        return []
    ids = {row.user_id for _target, row in found}
    people = {
        user_id: (branch_name or "", admitted_on, probation_end)
        for user_id, branch_name, admitted_on, probation_end in db.session.execute(
            sa.select(User.id, Branch.name, User.admitted_on, User.probation_end)
            .outerjoin(Branch, Branch.id == User.branch_id)
            .where(User.id.in_(ids))
        )
    }
    result = [
        Checklist(
            row.user_id,
            row.name,
            people[row.user_id][0],
            people[row.user_id][1],
            people[row.user_id][2],
            target.name,
            row.score,
        )
        for target, row in found
    ]
    return sorted(result, key=lambda c: (c.probation_end, c.name, c.target_name))


def checklist_sheet(items: list[Checklist], today: date) -> tuple[str, list[str], list[list]]:
    """One spreadsheet row per member and requirement: what is done and what is left, with due dates."""
    header = [
        _("Name"),
        _("Branch"),
        _("Admission date"),
        _("Probation end"),
        _("Days left"),
        _("Target"),
        _("Requirement"),
        _("Due"),
        _("Status"),
        _("Result"),
    ]
    rows = []
    for checklist in items:
        lead = [
            checklist.name,
            checklist.branch_name,
            checklist.admitted_on.isoformat() if checklist.admitted_on else "",
            checklist.probation_end.isoformat(),
            max((checklist.probation_end - today).days, 0),
            checklist.target_name,
        ]
        score = checklist.score
        if score.required_hours:
            done = score.hours >= score.required_hours
            rows.append(
                [
                    *lead,
                    _("Study hours"),
                    checklist.probation_end.isoformat(),
                    _("Done") if done else (_("Overdue") if today > checklist.probation_end else _("Not done")),
                    f"{score.hours:.1f} / {score.required_hours:.1f}",
                ]
            )
        for item in score.items:
            kind = _("Course") if item.kind == "course" else _("Quiz")
            status = _("Done") if item.done else (_("Overdue") if item.is_overdue(today) else _("Not done"))
            outcome = ""
            if item.kind == "quiz" and item.score_percent is not None:
                outcome = f"{item.score_percent:.1f}% / {item.pass_percent or 0:g}%"
            rows.append([*lead, f"{kind}: {item.title}", item.due.isoformat(), status, outcome])
    return _("Probation checklist"), header, rows
