"""Contest ranking rules (DESIGN.md §5), as pure functions.

Individuals: score desc, time used asc, submit time asc; entries equal in all
three share a rank and the next rank skips ("1, 1, 3": standard competition
ranking). Branches: mean score of participants, participation rate =
participants / eligible members, number of participants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    user_id: int
    branch_id: int | None
    score: float
    time_used_seconds: float
    submitted_at: datetime


@dataclass(frozen=True)
class RankedEntry:
    rank: int
    entry: Entry


@dataclass(frozen=True)
class BranchStanding:
    rank: int
    branch_id: int
    participants: int
    eligible: int
    mean_score: float
    participation_rate: float


def _key(entry: Entry) -> tuple[float, float, datetime]:
    return (-entry.score, entry.time_used_seconds, entry.submitted_at)


def rank_entries(entries: Iterable[Entry]) -> list[RankedEntry]:
    """Order and rank individual results; ties in all three keys share a rank."""
    ordered = sorted(entries, key=lambda e: (_key(e), e.user_id))
    ranked: list[RankedEntry] = []
    for position, entry in enumerate(ordered, start=1):
        if ranked and _key(ranked[-1].entry) == _key(entry):
            ranked.append(RankedEntry(ranked[-1].rank, entry))
        else:
            ranked.append(RankedEntry(position, entry))
    return ranked


def rank_branches(entries: Iterable[Entry], eligible_by_branch: Mapping[int, int]) -> list[BranchStanding]:
    """Branch board: every branch with eligible members, by mean score then participation.

    A branch whose members did not take part has mean 0 and rate 0. Means and
    rates are rounded (2 and 4 places) before ranking, so equal-looking rows tie.
    """
    scores: dict[int, list[float]] = defaultdict(list)
    for entry in entries:
        if entry.branch_id is not None:
            scores[entry.branch_id].append(entry.score)
    rows = []
    for branch_id, eligible in eligible_by_branch.items():
        taken = scores.get(branch_id, [])
        mean = round(sum(taken) / len(taken), 2) if taken else 0.0
        rate = round(len(taken) / eligible, 4) if eligible else 0.0
        rows.append((branch_id, len(taken), eligible, mean, rate))
    rows.sort(key=lambda r: (-r[3], -r[4], -r[1], r[0]))
    standings: list[BranchStanding] = []
    for position, (branch_id, participants, eligible, mean, rate) in enumerate(rows, start=1):
        tied = standings and (standings[-1].mean_score, standings[-1].participation_rate) == (mean, rate)
        rank = standings[-1].rank if tied else position
        standings.append(BranchStanding(rank, branch_id, participants, eligible, mean, rate))
    return standings
