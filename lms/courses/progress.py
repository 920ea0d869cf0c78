"""Pure rules of study credit (DESIGN.md §3): watched intervals and plausible segments.

No database and no Flask here, so every rule is tested exactly and alone.
Intervals are kept as a flat sorted list ``[start0, end0, start1, end1, ...]`` of
disjoint content intervals in seconds, rounded to milliseconds (compact in a
JSON column, and free of float noise when compared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Positions up to this far past the duration are clipped; further is refused.
DURATION_SLACK_SECONDS = 1.0

# The credit budget: slack for network and timer jitter is granted per minute of a
# session (from a floor, up to a cap), never per beat, so many small, rapid or
# parallel beats earn nothing extra.
SLACK_MIN_SECONDS = 1.0
SLACK_SECONDS_PER_MINUTE = 1.0
SLACK_MAX_SECONDS = 10.0
# How long ago a beat may report having played: a player that lost the network
# sends its queued segments late. Wall time older than this is never credited, so a
# session left open (or paused) does not bank time to claim at once later.
BACKLOG_SECONDS = 120.0


def _r(value: float) -> float:
    return round(value, 3)


def pairs(flat: list[float]) -> list[tuple[float, float]]:
    """The (start, end) pairs of a flat interval list."""
    return [(float(flat[i]), float(flat[i + 1])) for i in range(0, len(flat) - 1, 2)]


def flatten(intervals: list[tuple[float, float]]) -> list[float]:
    """The flat list form of (start, end) pairs."""
    return [value for pair in intervals for value in pair]


def covered_seconds(flat: list[float]) -> float:
    """Total length of the union (the intervals are disjoint)."""
    return _r(sum(end - start for start, end in pairs(flat)))


def add_interval(flat: list[float], start: float, end: float) -> tuple[list[float], float]:
    """Merge ``[start, end]`` into the union; return the new union and the seconds it added.

    Only content not already in the union is added, so replaying earns nothing
    and overlapping segments count their overlap once.
    """
    start, end = _r(start), _r(end)
    if end <= start:
        return list(flat), 0.0
    merged: list[tuple[float, float]] = []
    overlap = 0.0
    new_start, new_end = start, end
    for a, b in pairs(flat):
        if b < start or a > end:
            merged.append((a, b))
            continue
        overlap += min(b, end) - max(a, start)
        new_start, new_end = min(new_start, a), max(new_end, b)
    merged.append((new_start, new_end))
    merged.sort()
    added = _r(max((end - start) - overlap, 0.0))
    return flatten(merged), added


@dataclass(frozen=True)
class CreditRoom:
    """What the member's credit clock allows now.

    ``lag`` is how far the clock trails now (after the backlog floor; negative once
    slack is in use); ``wall_seconds`` the unaccounted wall time (lag plus slack,
    never negative); ``rate`` the rate it is charged at: min(claimed, maximum).
    """

    lag: float
    wall_seconds: float
    rate: float

    @property
    def content_seconds(self) -> float:
        """Seconds of content that may still be credited."""
        return self.wall_seconds * self.rate

    def lag_after(self, played_seconds: float) -> float:
        """The clock's new lag once ``played_seconds`` of content are accounted for."""
        return self.lag - max(played_seconds, 0.0) / self.rate


def session_slack(session_seconds: float) -> float:
    """Slack of a session running for ``session_seconds``: per minute, from a floor to a cap."""
    minutes = max(session_seconds, 0.0) / 60.0
    return min(SLACK_MAX_SECONDS, SLACK_MIN_SECONDS + SLACK_SECONDS_PER_MINUTE * minutes)


def credit_room(clock_lag: float, session_seconds: float, rate: float, max_rate: float) -> CreditRoom:
    """The credit a beat may still earn (DESIGN.md §3), whatever the number or timing of beats.

    The member's credit clock trails now by ``clock_lag`` seconds; every credited
    segment moves it on by the wall time the segment took to play at
    ``min(rate, max_rate)``. So over any stretch, credit is at most the wall time
    that passed (plus at most ``BACKLOG_SECONDS`` reported late) times the rate,
    plus the session's slack, however the beats are spread or repeated.
    """
    charged_rate = min(rate, max_rate) if rate > 0 else max_rate
    lag = min(clock_lag, BACKLOG_SECONDS)
    return CreditRoom(lag=lag, wall_seconds=max(lag + session_slack(session_seconds), 0.0), rate=charged_rate)


@dataclass(frozen=True)
class SegmentVerdict:
    """What may be credited of a played segment: ``start..end`` (clipped), or a refusal reason."""

    start: float
    end: float
    reason: str | None  # None: accepted whole; a code when refused or clipped
    refused: bool


def judge_segment(
    start: float,
    end: float,
    *,
    rate: float,
    visible: bool,
    duration: float,
    allowed_seconds: float,
) -> SegmentVerdict:
    """Apply the §3 checks to a segment of content positions played since the last beat.

    Refused (nothing credited): non-finite or negative positions, ``end <= start``,
    ``end > duration + 1``, a page that was not visible, a non-positive rate.
    Clipped: the part past the duration; the part longer than the member's credit
    budget allows (``allowed_seconds``, from ``credit_room``), so a client claiming
    more than real time could play earns only the plausible part, and a beat after
    the budget is spent earns nothing ("faster_than_plausible").
    """
    numbers = (start, end, rate, duration, allowed_seconds)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
        return SegmentVerdict(0.0, 0.0, "invalid_segment", True)
    if start < 0 or end <= start:
        return SegmentVerdict(0.0, 0.0, "invalid_segment", True)
    if rate <= 0:
        return SegmentVerdict(0.0, 0.0, "invalid_rate", True)
    if end > duration + DURATION_SLACK_SECONDS:
        return SegmentVerdict(0.0, 0.0, "beyond_duration", True)
    if not visible:
        return SegmentVerdict(0.0, 0.0, "page_hidden", True)
    if start >= duration:
        return SegmentVerdict(0.0, 0.0, "beyond_duration", True)
    reason = None
    allowed = _r(max(allowed_seconds, 0.0))
    if end - start > allowed:
        end = start + allowed
        reason = "faster_than_plausible"
    if end > duration:
        end = duration
    if end <= start:
        return SegmentVerdict(0.0, 0.0, "faster_than_plausible", True)
    return SegmentVerdict(start, end, reason, False)


def is_complete(watched_seconds: float, duration: float, ratio: float) -> bool:
    """A lesson is complete at coverage >= ``ratio`` of its length (and has a length)."""
    return duration > 0 and watched_seconds >= ratio * duration - 1e-6
