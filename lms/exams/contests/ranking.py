"""Contest ranking rules (DESIGN.md §5), as pure functions.

Individuals: score desc, time used asc, submit time asc; entries equal in all
three share a rank and the next rank skips ("1, 1, 3": standard competition
ranking). Branches (the published rule, stated on the board page): score per
member = the sum of participants' scores / eligible members, so a member who did
not take part counts 0 and a branch gains nothing by sending only its best;
ties go to the higher participation rate (participants / eligible members).
The mean of participants is shown beside it but does not rank.
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
    member_mean: float  # sum of scores / eligible members (non-participants count 0): ranks
    mean_score: float  # mean of participants: shown, does not rank
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
    """Branch board: every branch with eligible members, by score per member then participation.

    Score per member is the sum of the participants' scores over the eligible
    members (non-participants count 0). Entries of members outside
    ``eligible_by_branch`` are ignored. Values are rounded (2 places; rates 4)
    before ranking, so equal-looking rows tie and share a rank.
    """
    scores: dict[int, list[float]] = defaultdict(list)
    for entry in entries:
        if entry.branch_id is not None and entry.branch_id in eligible_by_branch:
            scores[entry.branch_id].append(entry.score)
    rows = []
    for branch_id, eligible in eligible_by_branch.items():
        if eligible <= 0:
            continue
        taken = scores.get(branch_id, [])
        member_mean = round(sum(taken) / eligible, 2)
        mean = round(sum(taken) / len(taken), 2) if taken else 0.0
        rate = round(min(len(taken) / eligible, 1.0), 4)
        rows.append((branch_id, len(taken), eligible, member_mean, mean, rate))
    rows.sort(key=lambda r: (-r[3], -r[5], -r[4], r[0]))
    standings: list[BranchStanding] = []
    for position, (branch_id, participants, eligible, member_mean, mean, rate) in enumerate(rows, start=1):
        tied = standings and (standings[-1].member_mean, standings[-1].participation_rate) == (member_mean, rate)
        rank = standings[-1].rank if tied else position
        standings.append(BranchStanding(rank, branch_id, participants, eligible, member_mean, mean, rate))
    return standings
