"""Branch and member reports read from stored runs, always within the viewer's scope.

A report is about a run (a target's results for one period). A secretary sees
the results recorded for branches in their subtree, an admin all of them. The
branch table is one aggregate query grouped by branch, rolled up the tree in
Python (branches are few); the member table is one paginated query; neither
grows in statements with the number of members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from lms.assessment.models import AssessmentResult, AssessmentRun
from lms.assessment.scoring import GRADES_BEST_FIRST, Grade
from lms.auth.models import Branch, Role, User
from lms.auth.permissions import branch_scope_clause
from lms.extensions import db

MEMBER_SORTS = {
    "name": (AssessmentResult.member_name,),
    "branch": (AssessmentResult.branch_name, AssessmentResult.member_name),
    "score": (AssessmentResult.score,),
    "hours": (AssessmentResult.hours,),
    "courses": (AssessmentResult.courses_done,),
    "quizzes": (AssessmentResult.quizzes_passed,),
    # The attendance rate; members expected at no meeting (no rate) sort last.
    "attendance": (AssessmentResult.meetings_attended * 1.0 / sa.func.nullif(AssessmentResult.meetings_expected, 0),),
}
BRANCH_SORTS = ("name", "members", "score", "hours", "participation", "behind", "at_risk", "excellent", "unqualified")
FLAGS = ("behind", "at_risk", "not_participated", "overdue")


def viewer_root(viewer: User) -> Branch | None:
    """The branch a viewer's reports start from: their own for a secretary, None (everything) for an admin."""
    if viewer.role == Role.ADMIN:
        return None
    return viewer.branch


def results_scope_clause(viewer: User):
    """A WHERE clause on ``AssessmentResult``: rows recorded for branches in the viewer's scope."""
    if viewer.role == Role.ADMIN:
        return sa.true()
    if viewer.role in (Role.SECRETARY, Role.SUBTREE_ADMIN) and viewer.branch is not None:
        subtree = sa.select(Branch.id).where(Branch.path.startswith(viewer.branch.path))
        return AssessmentResult.branch_id.in_(subtree)
    return sa.false()


def _under(branch: Branch | None):
    """Rows in ``branch``'s subtree (None: every row)."""
    if branch is None:
        return sa.true()
    return AssessmentResult.branch_id.in_(sa.select(Branch.id).where(Branch.path.startswith(branch.path)))


@dataclass
class Tally:
    """Numbers of a group of results (a branch subtree, or everyone in scope)."""

    members: int = 0
    scored: int = 0
    score_sum: float = 0.0
    hours_sum: float = 0.0
    participated: int = 0
    behind: int = 0
    at_risk: int = 0
    by_grade: dict[str, int] = field(default_factory=lambda: {str(g): 0 for g in GRADES_BEST_FIRST})

    def add(self, other: Tally) -> None:
        self.members += other.members
        self.scored += other.scored
        self.score_sum += other.score_sum
        self.hours_sum += other.hours_sum
        self.participated += other.participated
        self.behind += other.behind
        self.at_risk += other.at_risk
        for grade, count in other.by_grade.items():
            self.by_grade[grade] = self.by_grade.get(grade, 0) + count

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def mean_hours(self) -> float | None:
        return self.hours_sum / self.members if self.members else None

    @property
    def participation(self) -> float | None:
        return self.participated / self.members if self.members else None

    def sort_key(self, key: str):
        values = {
            "members": self.members,
            "score": self.mean_score if self.mean_score is not None else -1,
            "hours": self.mean_hours or 0,
            "participation": self.participation or 0,
            "behind": self.behind,
            "at_risk": self.at_risk,
            "excellent": self.by_grade.get(str(Grade.EXCELLENT), 0),
            "unqualified": self.by_grade.get(str(Grade.UNQUALIFIED), 0),
        }
        return values.get(key, 0)


@dataclass
class BranchLine:
    branch: Branch | None  # None: members without a branch (or whose branch was deleted)
    tally: Tally
    has_children: bool = False

    @property
    def name(self) -> str:
        return self.branch.name if self.branch else ""


@dataclass
class BranchReport:
    root: Branch | None
    total: Tally
    lines: list[BranchLine]  # the direct sub-branches of ``parent``
    direct: Tally | None  # members directly in ``parent`` (not in a sub-branch)
    ancestors: list[Branch]
    # The branch whose sub-branches are the lines: the root, or for an admin's whole
    # organisation its single top branch (the 党委), so the lines are one level below it.
    parent: Branch | None = None


def _tallies_by_branch(run_id: int, scope) -> dict[int | None, Tally]:
    grade = AssessmentResult.grade
    columns = [
        AssessmentResult.branch_id,
        sa.func.count(),
        sa.func.count(AssessmentResult.score),
        sa.func.coalesce(sa.func.sum(AssessmentResult.score), 0),
        sa.func.coalesce(sa.func.sum(AssessmentResult.hours), 0),
        sa.func.sum(sa.case((AssessmentResult.participated.is_(True), 1), else_=0)),
        sa.func.sum(sa.case((AssessmentResult.behind.is_(True), 1), else_=0)),
        sa.func.sum(sa.case((AssessmentResult.at_risk.is_(True), 1), else_=0)),
        *(sa.func.sum(sa.case((grade == str(g), 1), else_=0)) for g in GRADES_BEST_FIRST),
    ]
    rows = db.session.execute(
        sa.select(*columns).where(AssessmentResult.run_id == run_id, scope).group_by(AssessmentResult.branch_id)
    )
    tallies = {}
    for row in rows:
        branch_id, members, scored, score_sum, hours_sum, participated, behind, at_risk, *grades = row
        tallies[branch_id] = Tally(
            members=members,
            scored=scored,
            score_sum=float(score_sum or 0),
            hours_sum=float(hours_sum or 0),
            participated=int(participated or 0),
            behind=int(behind or 0),
            at_risk=int(at_risk or 0),
            by_grade={str(g): int(n or 0) for g, n in zip(GRADES_BEST_FIRST, grades, strict=True)},
        )
    return tallies


def branch_report(viewer: User, run: AssessmentRun, root: Branch | None, sort: str = "name") -> BranchReport:
    """Tallies of ``root``'s subtree (None: all in scope) and of each of its direct sub-branches."""
    scope = sa.and_(results_scope_clause(viewer), _under(root))
    tallies = _tallies_by_branch(run.id, scope)
    branches_query = sa.select(Branch).order_by(Branch.path)
    if root is not None:
        branches_query = branches_query.where(Branch.path.startswith(root.path))
    branches = list(db.session.scalars(branches_query))
    parent = root
    if root is None:
        tops = [b for b in branches if b.parent_id is None or b.parent_id not in {x.id for x in branches}]
        if len(tops) == 1:  # one 党委 above everything: compare the level below it
            parent = tops[0]
    if parent is not None:
        tops = [b for b in branches if b.parent_id == parent.id]
    top_lines = {b.id: BranchLine(b, Tally(), has_children=False) for b in tops}
    total, direct, orphan = Tally(), Tally(), Tally()
    branch_by_id = {b.id: b for b in branches}
    for branch_id, tally in tallies.items():
        total.add(tally)
        branch = branch_by_id.get(branch_id)
        if branch is None:
            orphan.add(tally)
            continue
        if parent is not None and branch.id == parent.id:
            direct.add(tally)
            continue
        # Walk up the materialised path to the top-level line this branch rolls into.
        ids = [int(part) for part in branch.path.strip("/").split("/") if part]
        line = next((top_lines[i] for i in ids if i in top_lines), None)
        if line is not None:
            line.tally.add(tally)
    for b in branches:
        if b.parent_id in top_lines:
            top_lines[b.parent_id].has_children = True
    lines = list(top_lines.values())
    if orphan.members:
        lines.append(BranchLine(None, orphan))
    reverse = sort not in ("name",)
    if sort in BRANCH_SORTS and sort != "name":
        lines.sort(key=lambda line: (line.tally.sort_key(sort), line.name), reverse=reverse)
    else:
        lines.sort(key=lambda line: (line.branch is None, line.branch.position if line.branch else 0, line.name))
    ancestors = []
    if root is not None:
        parts = [p for p in root.path.strip("/").split("/") if p]
        ancestors = [b for b in _branches_by_ids([int(p) for p in parts[:-1]]) if b is not None]
    return BranchReport(root, total, lines, direct if direct.members else None, ancestors, parent)


def _branches_by_ids(ids: list[int]) -> list[Branch | None]:
    if not ids:
        return []
    found = {b.id: b for b in db.session.scalars(sa.select(Branch).where(Branch.id.in_(ids)))}
    return [found.get(i) for i in ids]


def member_results_query(
    viewer: User,
    run: AssessmentRun,
    root: Branch | None,
    *,
    grade: str = "",
    flag: str = "",
    search: str = "",
    status: str = "",
    sort: str = "name",
    descending: bool = False,
) -> sa.Select:
    """Results of ``run`` in ``root``'s subtree within scope, filtered and sorted (for paging or export)."""
    query = sa.select(AssessmentResult).where(
        AssessmentResult.run_id == run.id, results_scope_clause(viewer), _under(root)
    )
    if grade == "none":
        query = query.where(AssessmentResult.grade.is_(None))
    elif grade in {str(g) for g in GRADES_BEST_FIRST}:
        query = query.where(AssessmentResult.grade == grade)
    if flag == "behind":
        query = query.where(AssessmentResult.behind.is_(True))
    elif flag == "at_risk":
        query = query.where(AssessmentResult.at_risk.is_(True))
    elif flag == "not_participated":
        query = query.where(AssessmentResult.participated.is_(False))
    elif flag == "overdue":
        query = query.where(AssessmentResult.overdue > 0)
    if status:
        query = query.where(AssessmentResult.member_status == status)
    if search:
        query = query.where(AssessmentResult.member_name.contains(search.strip(), autoescape=True))
    columns = MEMBER_SORTS.get(sort, MEMBER_SORTS["name"])
    order = [(c.desc() if descending else c.asc()) for c in columns]
    if sort in ("score", "hours", "attendance"):
        order = [(columns[0].is_(None)).asc(), *order]
    return query.order_by(*order, AssessmentResult.id)


def at_risk_query(viewer: User, run: AssessmentRun, root: Branch | None) -> sa.Select:
    """Members who will miss the target at their pace or have required items overdue or due within 14 days.

    Most urgent first: overdue items, then items due soon, then the furthest behind their expected hours.
    """
    shortfall = AssessmentResult.expected_hours - AssessmentResult.hours
    return (
        sa.select(AssessmentResult)
        .where(
            AssessmentResult.run_id == run.id,
            AssessmentResult.at_risk.is_(True),
            results_scope_clause(viewer),
            _under(root),
        )
        .order_by(
            AssessmentResult.overdue.desc(),
            AssessmentResult.due_soon.desc(),
            shortfall.desc(),
            AssessmentResult.member_name,
            AssessmentResult.id,
        )
    )


def iter_results(query: sa.Select, batch: int = 2000, *, with_items: bool = True) -> Iterator[sa.Row]:
    """Stream a results query as plain rows, in id order, a batch at a time.

    Keyset pages of plain rows (no ORM objects kept in the session), so an
    export of 100,000 results holds one batch in memory at a time.
    """
    last_id = 0
    columns = [c for c in AssessmentResult.__table__.columns if with_items or c.key != "items"]
    base = query.with_only_columns(*columns).order_by(None).order_by(AssessmentResult.id)
    while True:
        chunk = db.session.execute(base.where(AssessmentResult.id > last_id).limit(batch)).all()
        if not chunk:
            return
        yield from chunk
        last_id = chunk[-1].id


def result_for_member(viewer: User, run: AssessmentRun, user_id: int) -> AssessmentResult | None:
    """One member's stored result in ``run``, if within scope."""
    return db.session.scalar(
        sa.select(AssessmentResult).where(
            AssessmentResult.run_id == run.id, AssessmentResult.user_id == user_id, results_scope_clause(viewer)
        )
    )


def monthly_hours(viewer: User, run: AssessmentRun, root: Branch | None, seconds_per_hour: float) -> dict[str, float]:
    """学时 per month ("2026-03") of the run's members in ``root``'s subtree within scope, from the run."""
    stored = run.monthly_seconds or {}
    if not stored:
        return {}
    query = sa.select(Branch.id).where(branch_scope_clause(viewer))
    if root is not None:
        query = query.where(Branch.path.startswith(root.path))
    branch_ids = {str(branch_id) for branch_id in db.session.scalars(query)}
    if viewer.role == Role.ADMIN and root is None:
        branch_ids.add("0")
    totals: dict[str, float] = {}
    for branch_id, months in stored.items():
        if branch_id in branch_ids:
            for month, seconds in months.items():
                totals[month] = totals.get(month, 0.0) + seconds
    return {month: round(seconds / seconds_per_hour, 1) for month, seconds in sorted(totals.items())}


def items_due_text(result: AssessmentResult, today: date) -> list[dict]:
    """The result's required items not done, with days to their due date (negative: overdue)."""
    pending = []
    for item in result.items or []:
        if item.get("done"):
            continue
        due = date.fromisoformat(item["due"])
        pending.append({**item, "days": (due - today).days})
    return sorted(pending, key=lambda item: item["days"])
