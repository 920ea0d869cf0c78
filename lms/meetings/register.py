"""支部台账 and compliance: meetings held against the cadence, attendance rates, 事前提醒.

Per branch and year: for each kind with a cadence, the periods of the year
(months, quarters, halves or the year), how many meetings were held in each,
and which elapsed periods had none (behind). Attendance rate = members who were
there / members listed who were not on approved leave, over the closed meetings.
A member absent ``REPEATED_ABSENCES`` times or more in the year is listed.
Every figure is a few aggregate queries per branch, and one set for the
all-branches table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.models import Branch, BranchKind, Role, User
from lms.auth.permissions import branch_scope_clause
from lms.extensions import db
from lms.meetings.models import (
    CREDITED_STATUSES,
    AttendanceStatus,
    Cadence,
    KindLevel,
    Meeting,
    MeetingAttendance,
    MeetingDueWarning,
    MeetingKind,
    MeetingStatus,
)
from lms.meetings.scheduling import NOTICE_KIND
from lms.notices.services import notify_users

REPEATED_ABSENCES = 2


# --- periods ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str  # "2026-03", "2026-Q1", "2026-H1", "2026"
    start: date
    end: date  # inclusive


def periods_of_year(cadence: Cadence, year: int) -> list[Period]:
    """The due periods of ``year`` for ``cadence`` (none for meetings held when needed)."""
    cadence = Cadence(cadence)
    if cadence == Cadence.NONE:
        return []
    months = 12 // cadence.periods_per_year
    result = []
    for index in range(cadence.periods_per_year):
        first = date(year, index * months + 1, 1)
        last_month = (index + 1) * months
        end = date(year + (last_month == 12), last_month % 12 + 1, 1) - timedelta(days=1)
        if cadence == Cadence.MONTHLY:
            key = f"{year}-{index + 1:02d}"
        elif cadence == Cadence.QUARTERLY:
            key = f"{year}-Q{index + 1}"
        elif cadence == Cadence.HALF_YEARLY:
            key = f"{year}-H{index + 1}"
        else:
            key = str(year)
        result.append(Period(key, first, end))
    return result


def period_of(cadence: Cadence, day: date) -> Period | None:
    """The due period ``day`` falls in."""
    return next((p for p in periods_of_year(cadence, day.year) if p.start <= day <= p.end), None)


def kinds_for_branch(branch: Branch, kinds: list[MeetingKind]) -> list[MeetingKind]:
    """The kinds with a cadence that ``branch`` must hold (branch kinds for 党支部, leadership kinds above)."""
    level = KindLevel.BRANCH if branch.kind == BranchKind.BRANCH else KindLevel.LEADERSHIP
    return [k for k in kinds if k.is_active and k.cadence != Cadence.NONE and k.level == level]


def _cadence_kinds() -> list[MeetingKind]:
    return list(
        db.session.scalars(
            sa.select(MeetingKind)
            .where(MeetingKind.is_active.is_(True), MeetingKind.cadence != Cadence.NONE)
            .order_by(MeetingKind.position, MeetingKind.id)
        )
    )


# --- one branch's register ----------------------------------------------------------


@dataclass
class KindCompliance:
    kind: MeetingKind
    periods: list[tuple[Period, int, bool]]  # (period, meetings held, elapsed)

    @property
    def required(self) -> int:
        return len(self.periods)

    @property
    def due_so_far(self) -> int:
        return sum(1 for _, _, elapsed in self.periods if elapsed)

    @property
    def held(self) -> int:
        return sum(count for _, count, _ in self.periods)

    @property
    def periods_met(self) -> int:
        return sum(1 for _, count, _ in self.periods if count)

    @property
    def missed(self) -> list[Period]:
        return [period for period, count, elapsed in self.periods if elapsed and not count]

    @property
    def behind(self) -> bool:
        return bool(self.missed)


@dataclass
class MemberAttendance:
    user: User
    counts: dict[AttendanceStatus, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def listed(self) -> int:
        return sum(self.counts.values())

    @property
    def attended(self) -> int:
        return sum(self.counts[s] for s in CREDITED_STATUSES)

    @property
    def rate(self) -> float | None:
        expected = self.listed - self.counts[AttendanceStatus.LEAVE]
        return self.attended / expected if expected else None


@dataclass
class BranchRegister:
    branch: Branch
    year: int
    compliance: list[KindCompliance]
    meetings: list[Meeting]
    counts: dict[int, dict[AttendanceStatus, int]]  # meeting id -> status -> members
    members: list[MemberAttendance]

    @property
    def closed_meetings(self) -> list[Meeting]:
        return [m for m in self.meetings if m.status == MeetingStatus.CLOSED]

    @property
    def attendance_rate(self) -> float | None:
        attended = expected = 0
        for meeting in self.closed_meetings:
            counts = self.counts.get(meeting.id, {})
            attended += sum(counts.get(s, 0) for s in CREDITED_STATUSES)
            expected += sum(counts.values()) - counts.get(AttendanceStatus.LEAVE, 0)
        return attended / expected if expected else None

    @property
    def repeatedly_absent(self) -> list[MemberAttendance]:
        return [m for m in self.members if m.counts[AttendanceStatus.ABSENT] >= REPEATED_ABSENCES]

    @property
    def behind(self) -> bool:
        return any(item.behind for item in self.compliance)


def meeting_rate(counts: dict[AttendanceStatus, int]) -> float | None:
    """Attendance rate of one meeting from its counts by state."""
    expected = sum(counts.values()) - counts.get(AttendanceStatus.LEAVE, 0)
    return sum(counts.get(s, 0) for s in CREDITED_STATUSES) / expected if expected else None


def _year_range(year: int) -> tuple[datetime, datetime]:
    return clock.local_midnight(date(year, 1, 1)), clock.local_midnight(date(year + 1, 1, 1))


def _held_counts(branch_ids: list[int], year: int) -> dict[tuple[int, int, date], int]:
    """Closed meetings per (branch, kind, local day) in ``year``: one query."""
    start, end = _year_range(year)
    rows = db.session.execute(
        sa.select(Meeting.branch_id, Meeting.kind_id, Meeting.starts_at).where(
            Meeting.branch_id.in_(branch_ids),
            Meeting.status == MeetingStatus.CLOSED,
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
        )
    )
    counts: dict[tuple[int, int, date], int] = defaultdict(int)
    for branch_id, kind_id, starts_at in rows:
        counts[(branch_id, kind_id, clock.local_day(starts_at))] += 1
    return counts


def _compliance(branch: Branch, kinds: list[MeetingKind], held, year: int, today: date) -> list[KindCompliance]:
    result = []
    for kind in kinds_for_branch(branch, kinds):
        days = [(day, n) for (b, k, day), n in held.items() if b == branch.id and k == kind.id]
        periods = []
        for period in periods_of_year(kind.cadence, year):
            count = sum(n for day, n in days if period.start <= day <= period.end)
            periods.append((period, count, period.end < today))
        result.append(KindCompliance(kind, periods))
    return result


def branch_register(branch: Branch, year: int, *, now: datetime) -> BranchRegister:
    """The branch's 台账 for ``year``: compliance by kind, its meetings, and attendance by member."""
    start, end = _year_range(year)
    kinds = _cadence_kinds()
    compliance = _compliance(branch, kinds, _held_counts([branch.id], year), year, clock.local_day(now))
    meetings = list(
        db.session.scalars(
            sa.select(Meeting)
            .where(Meeting.branch_id == branch.id, Meeting.starts_at >= start, Meeting.starts_at < end)
            .order_by(Meeting.starts_at, Meeting.id)
        )
    )
    counts: dict[int, dict[AttendanceStatus, int]] = {m.id: defaultdict(int) for m in meetings}
    members: dict[int, MemberAttendance] = {}
    closed_ids = [m.id for m in meetings if m.status == MeetingStatus.CLOSED]
    if meetings:
        rows = db.session.execute(
            sa.select(MeetingAttendance.meeting_id, MeetingAttendance.user_id, MeetingAttendance.status).where(
                MeetingAttendance.meeting_id.in_([m.id for m in meetings])
            )
        ).all()
        users = {
            u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_({user_id for _, user_id, _ in rows})))
        }
        for meeting_id, user_id, status in rows:
            status = AttendanceStatus(status)
            counts[meeting_id][status] += 1
            if meeting_id in closed_ids:
                members.setdefault(user_id, MemberAttendance(users[user_id])).counts[status] += 1
    ordered = sorted(members.values(), key=lambda m: (m.user.name, m.user.id))
    return BranchRegister(branch, year, compliance, meetings, counts, ordered)


# --- every branch -------------------------------------------------------------------


@dataclass
class BranchCompliance:
    branch: Branch
    compliance: list[KindCompliance]
    attendance_rate: float | None

    @property
    def behind(self) -> bool:
        return any(item.behind for item in self.compliance)

    @property
    def missed(self) -> int:
        return sum(len(item.missed) for item in self.compliance)


def compliance_overview(viewer: User, year: int, *, now: datetime) -> list[BranchCompliance]:
    """Every branch in the viewer's scope with its compliance by kind; those behind first (three queries)."""
    branches = list(
        db.session.scalars(sa.select(Branch).where(branch_scope_clause(viewer)).order_by(Branch.path, Branch.name))
    )
    kinds = _cadence_kinds()
    held = _held_counts([b.id for b in branches], year)
    start, end = _year_range(year)
    rates_rows = db.session.execute(
        sa.select(Meeting.branch_id, MeetingAttendance.status, sa.func.count())
        .join(MeetingAttendance, MeetingAttendance.meeting_id == Meeting.id)
        .where(
            Meeting.branch_id.in_([b.id for b in branches]),
            Meeting.status == MeetingStatus.CLOSED,
            Meeting.starts_at >= start,
            Meeting.starts_at < end,
        )
        .group_by(Meeting.branch_id, MeetingAttendance.status)
    )
    by_branch: dict[int, dict[AttendanceStatus, int]] = defaultdict(dict)
    for branch_id, status, count in rates_rows:
        by_branch[branch_id][AttendanceStatus(status)] = count
    today = clock.local_day(now)
    result = [
        BranchCompliance(b, _compliance(b, kinds, held, year, today), meeting_rate(by_branch.get(b.id, {})))
        for b in branches
    ]
    result = [item for item in result if item.compliance]
    return sorted(result, key=lambda item: (not item.behind, -item.missed, item.branch.path))


# --- 事前提醒 ------------------------------------------------------------------------


def _claim_warning(branch_id: int, kind_id: int, period: str, now: datetime) -> bool:
    """Insert the (branch, kind, period) warning row; False when it was there already (one statement)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = (
        insert(MeetingDueWarning)
        .values(branch_id=branch_id, kind_id=kind_id, period=period, sent_at=now)
        .on_conflict_do_nothing(index_elements=["branch_id", "kind_id", "period"])
        .returning(MeetingDueWarning.id)
    )
    return db.session.execute(statement).first() is not None


def send_due_warnings(now: datetime) -> int:
    """Warn each 党支部's secretaries when a required meeting's period ends within
    ``MEETING_DUE_WARNING_DAYS`` and none is scheduled or held in it; once per period.

    The once-only rule is a unique row per (branch, kind, period), inserted
    before notifying, so a second run (or process) finds it and stays quiet.
    Returns how many warnings were sent.
    """
    today = clock.local_day(now)
    lead = timedelta(days=int(current_app.config["MEETING_DUE_WARNING_DAYS"]))
    kinds = [k for k in _cadence_kinds() if k.level == KindLevel.BRANCH]
    branches = list(db.session.scalars(sa.select(Branch).where(Branch.kind == BranchKind.BRANCH)))
    if not kinds or not branches:
        return 0
    secretaries: dict[int, list[int]] = defaultdict(list)
    for user_id, branch_id in db.session.execute(
        sa.select(User.id, User.branch_id).where(User.role == Role.SECRETARY, User.is_active.is_(True))
    ):
        secretaries[branch_id].append(user_id)
    sent = 0
    for kind in kinds:
        period = period_of(kind.cadence, today)
        if period is None or period.end - today > lead:
            continue
        start, end = clock.local_midnight(period.start), clock.local_midnight(period.end + timedelta(days=1))
        covered = set(
            db.session.scalars(
                sa.select(Meeting.branch_id).where(
                    Meeting.kind_id == kind.id,
                    Meeting.status != MeetingStatus.CANCELLED,
                    Meeting.starts_at >= start,
                    Meeting.starts_at < end,
                )
            )
        )
        already = set(
            db.session.scalars(
                sa.select(MeetingDueWarning.branch_id).where(
                    MeetingDueWarning.kind_id == kind.id, MeetingDueWarning.period == period.key
                )
            )
        )
        for branch in branches:
            if branch.id in covered or branch.id in already or not secretaries.get(branch.id):
                continue
            if not _claim_warning(branch.id, kind.id, period.key, now):
                continue
            notify_users(
                secretaries[branch.id], kind=NOTICE_KIND, now=now, link="/meetings/new",
                title=str(_l("Due: %(kind)s for %(branch)s", kind=kind.name, branch=branch.name)),
                body=str(_l("No %(kind)s is scheduled for %(period)s, which ends on %(end)s. Schedule one.",
                            kind=kind.name, period=period.key, end=period.end.isoformat())),
            )  # fmt: skip
            sent += 1
    return sent
