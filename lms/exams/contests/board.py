"""The contest's ranking query and the live board (DESIGN.md §5).

The live board (``board_payload``) is computed by one ranking query and kept in ``lms.cache``
for ``CONTEST_BOARD_SECONDS``: thousands of members polling cost one query per refresh, and
each viewer's own row is looked up in the cached snapshot. Ranking: score desc, time used asc,
submit time asc (``ranking``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from lms import cache
from lms.auth.models import Branch, BranchKind, User
from lms.exams.contests.models import (
    BoardVisibility,
    Contest,
    ContestBranchStanding,
    ContestStanding,
)
from lms.exams.contests.phases import Phase, eligible_clause, freeze_at, phase
from lms.exams.contests.ranking import Entry, rank_branches, rank_entries
from lms.exams.quizzes.models import (
    AttemptState,
    QuizAttempt,
)
from lms.extensions import db

# Each computation of a board is logged here (benchmarks/contest.py counts the lines).
board_log = logging.getLogger("lms.exams.contests.board")


# --- Ranking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedRow:
    rank: int
    user_id: int
    attempt_id: int
    name: str
    username: str
    branch_id: int | None
    branch_name: str
    score: float
    max_score: float
    score_percent: float
    time_used_seconds: int
    submitted_at: datetime


def ranked_rows(contest: Contest, *, finished_before: datetime | None = None, user_clause=None) -> list[RankedRow]:
    """Every participant's best finished attempt, ranked: ONE query.

    A member's best attempt is the first by the ranking rule itself (score desc,
    time used asc, submit time asc). ``finished_before`` keeps only attempts
    finished earlier (the frozen board); ``user_clause`` (a WHERE clause on
    ``User``) limits the rows, e.g. to a secretary's scope.
    """
    order = (
        QuizAttempt.score.desc(),
        QuizAttempt.time_used_seconds.asc(),
        QuizAttempt.finished_at.asc(),
        QuizAttempt.id.asc(),
    )
    conditions = [
        QuizAttempt.quiz_id == contest.quiz_id,
        QuizAttempt.state == AttemptState.FINISHED,
        QuizAttempt.is_practice.is_(False),
    ]
    if finished_before is not None:
        conditions.append(QuizAttempt.finished_at < finished_before)
    best = (
        sa.select(
            QuizAttempt.id,
            QuizAttempt.user_id,
            QuizAttempt.score,
            QuizAttempt.max_score,
            QuizAttempt.score_percent,
            QuizAttempt.time_used_seconds,
            QuizAttempt.finished_at,
            sa.func.row_number().over(partition_by=QuizAttempt.user_id, order_by=order).label("n"),
        )
        .where(*conditions)
        .subquery()
    )
    query = (
        sa.select(best, User.name, User.username, User.branch_id, Branch.name.label("branch_name"))
        .join(User, User.id == best.c.user_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
        .where(best.c.n == 1)
    )
    if user_clause is not None:
        query = query.where(user_clause)
    rows = db.session.execute(query).all()
    by_user = {row.user_id: row for row in rows}
    entries = [
        Entry(row.user_id, row.branch_id, float(row.score or 0), float(row.time_used_seconds or 0), row.finished_at)
        for row in rows
    ]
    result = []
    for ranked in rank_entries(entries):
        row = by_user[ranked.entry.user_id]
        result.append(
            RankedRow(
                rank=ranked.rank,
                user_id=row.user_id,
                attempt_id=row.id,
                name=row.name,
                username=row.username,
                branch_id=row.branch_id,
                branch_name=row.branch_name or "",
                score=float(row.score or 0),
                max_score=float(row.max_score or 0),
                score_percent=float(row.score_percent or 0),
                time_used_seconds=int(row.time_used_seconds or 0),
                submitted_at=row.finished_at,
            )
        )
    return result


def eligible_by_branch(contest: Contest) -> dict[int, tuple[str, int]]:
    """How many active members of the audience each Party branch has: {branch_id: (name, count)}.

    Only 党支部 compete on the branch board: a 党委 or 党总支 is not a branch of
    members (its own accounts are usually the administrators), so members attached
    directly to one appear on the individual board only.
    """
    rows = db.session.execute(
        sa.select(Branch.id, Branch.name, sa.func.count(User.id))
        .join(User, User.branch_id == Branch.id)
        .where(eligible_clause(contest), Branch.kind == BranchKind.BRANCH)
        .group_by(Branch.id, Branch.name)
    ).all()
    return {branch_id: (name, count) for branch_id, name, count in rows}


@dataclass(frozen=True)
class BranchRow:
    rank: int
    branch_id: int
    branch_name: str
    participants: int
    eligible: int
    member_mean: float
    mean_score: float
    participation_rate: float


def branch_rows(rows: Sequence[RankedRow], eligible: dict[int, tuple[str, int]]) -> list[BranchRow]:
    """The branch board from ranked rows (``ranking.rank_branches``: score per member, then participation)."""
    entries = [Entry(r.user_id, r.branch_id, r.score, r.time_used_seconds, r.submitted_at) for r in rows]
    standings = rank_branches(entries, {branch_id: count for branch_id, (_name, count) in eligible.items()})
    return [
        BranchRow(
            s.rank,
            s.branch_id,
            eligible[s.branch_id][0],
            s.participants,
            s.eligible,
            s.member_mean,
            s.mean_score,
            s.participation_rate,
        )
        for s in standings
    ]


def live_rank(contest: Contest, user: User) -> tuple[int, int] | None:
    """The member's rank right now among everyone who finished, and how many that is (uncached)."""
    rows = ranked_rows(contest)
    mine = next((row for row in rows if row.user_id == user.id), None)
    return (mine.rank, len(rows)) if mine else None


# --- The board (cached) ------------------------------------------------------------------------


def board_seconds() -> float:
    """How long a computed board is served before one request recomputes it."""
    return float(current_app.config.get("CONTEST_BOARD_SECONDS", 3))


def _board_key(contest: Contest, mode: str) -> str:
    # The creation time makes the key unique even where SQLite reuses a deleted contest's id.
    return f"contest-board:{contest.id}:{contest.created_at.timestamp():.6f}:{mode}"


def invalidate_board(contest: Contest) -> None:
    """Drop the cached boards of a contest (after publishing, finalizing, changing settings)."""
    for mode in ("live", "frozen", "final"):
        cache.invalidate(_board_key(contest, mode))
    cache.invalidate(_board_key(contest, "eligible"))


def _eligible_cached(contest: Contest) -> dict[str, list]:
    # Audiences change slowly: the branch board's denominators are refreshed once a minute.
    def compute():
        return {str(k): [name, count] for k, (name, count) in eligible_by_branch(contest).items()}

    return cache.cached(_board_key(contest, "eligible"), 60, compute)


def _snapshot(rows: Sequence, branches: Sequence, now: datetime, **extra) -> dict:
    """The cached board: every row (compact lists) and an index from user id to position."""
    return {
        "generated_at": now.isoformat(),
        "participants": len(rows),
        "rows": [[r.rank, r.user_id, r.name, r.branch_name, round(r.score, 2), r.time_used_seconds] for r in rows],
        "index": {str(r.user_id): i for i, r in enumerate(rows)},
        "branches": [
            [b.rank, b.branch_name, b.member_mean, b.mean_score, b.participation_rate, b.participants, b.eligible]
            for b in branches
        ],
        **extra,
    }


def _compute_live(contest: Contest, mode: str, until: datetime | None) -> dict:
    started = time.perf_counter()
    rows = ranked_rows(contest, finished_before=until)
    eligible = {int(k): (name, count) for k, (name, count) in _eligible_cached(contest).items()}
    snapshot = _snapshot(rows, branch_rows(rows, eligible), _wall_now(), mode=mode)
    board_log.info(
        "contest %s board computed (%s, %d rows) in %.1f ms",
        contest.id,
        mode,
        len(rows),
        (time.perf_counter() - started) * 1000,
    )
    return snapshot


def _compute_final(contest: Contest) -> dict:
    rows = db.session.scalars(
        sa.select(ContestStanding)
        .where(ContestStanding.contest_id == contest.id)
        .order_by(ContestStanding.rank, ContestStanding.id)
    ).all()
    branches = db.session.scalars(
        sa.select(ContestBranchStanding)
        .where(ContestBranchStanding.contest_id == contest.id)
        .order_by(ContestBranchStanding.rank, ContestBranchStanding.id)
    ).all()
    board_log.info("contest %s final board loaded (%d rows)", contest.id, len(rows))
    return _snapshot(rows, branches, contest.finalized_at, mode="final")


def _wall_now() -> datetime:
    from lms import clock

    return clock.utcnow()


def board_mode(contest: Contest, now: datetime) -> str:
    """Which board members see now: "final", "live", "frozen" or "hidden" (or "none" before it opens)."""
    current = phase(contest, now)
    if current == Phase.FINAL:
        return "final"
    if current in (Phase.DRAFT, Phase.UPCOMING):
        return "none"
    if contest.board_visibility == BoardVisibility.HIDDEN:
        return "hidden"
    frozen = freeze_at(contest)
    if frozen is not None and now >= frozen:
        return "frozen"
    return "live"


def board_snapshot(contest: Contest, now: datetime) -> dict | None:
    """The board members see now, from the cache (None when it is hidden or not started)."""
    mode = board_mode(contest, now)
    if mode in ("none", "hidden"):
        return None
    if mode == "final":
        return cache.cached(_board_key(contest, mode), 3600, lambda: _compute_final(contest))
    until = freeze_at(contest) if mode == "frozen" else None
    return cache.cached(_board_key(contest, mode), board_seconds(), lambda: _compute_live(contest, mode, until))


def board_payload(contest: Contest, viewer: User, now: datetime) -> dict:
    """What one viewer's board shows: the top rows, their own row (even far below), the branches."""
    mode = board_mode(contest, now)
    payload = {
        "ok": True,
        "mode": mode,
        "phase": phase(contest, now),
        "board_size": contest.board_size,
        "refresh_seconds": max(int(board_seconds()), 2),
    }
    frozen = freeze_at(contest)
    if frozen is not None:
        payload["frozen_at"] = frozen.isoformat()
    snapshot = board_snapshot(contest, now)
    if snapshot is None:
        payload.update(rows=[], mine=None, branches=[], participants=None)
        return payload
    position = snapshot["index"].get(str(viewer.id))
    payload.update(
        generated_at=snapshot["generated_at"],
        participants=snapshot["participants"],
        rows=snapshot["rows"][: contest.board_size],
        mine=snapshot["rows"][position] if position is not None else None,
        branches=snapshot["branches"],
    )
    return payload


# --- Final standings: views, export, certificates -------------------------------------------------


def standings(contest: Contest, viewer: User | None = None) -> list[ContestStanding]:
    """The stored final standings, optionally within ``viewer``'s scope of members."""
    from lms.auth.permissions import member_scope_clause

    query = sa.select(ContestStanding).where(ContestStanding.contest_id == contest.id)
    if viewer is not None:
        query = query.where(member_scope_clause(viewer, ContestStanding.user_id))
    return list(db.session.scalars(query.order_by(ContestStanding.rank, ContestStanding.id)))


def branch_standings(contest: Contest) -> list[ContestBranchStanding]:
    """The stored final branch board."""
    return list(
        db.session.scalars(
            sa.select(ContestBranchStanding)
            .where(ContestBranchStanding.contest_id == contest.id)
            .order_by(ContestBranchStanding.rank, ContestBranchStanding.id)
        )
    )


def own_standing(contest: Contest, user: User) -> ContestStanding | None:
    """The member's row of the final standings."""
    return db.session.scalar(
        sa.select(ContestStanding).where(ContestStanding.contest_id == contest.id, ContestStanding.user_id == user.id)
    )
