"""Pure rules of study credit (DESIGN.md §3): watched intervals and plausible segments.

No database and no Flask here, so every rule is tested exactly and alone.
Intervals are kept as a flat sorted list ``[start0, end0, start1, end1, ...]`` of
disjoint content intervals in seconds, rounded to milliseconds (compact in a
JSON column, and free of float noise when compared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Slack added to the wall-clock bound of a segment (network and timer jitter).
SEGMENT_SLACK_SECONDS = 2.0
# Positions up to this far past the duration are clipped; further is refused.
DURATION_SLACK_SECONDS = 1.0


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
    elapsed_seconds: float,
    max_rate: float,
) -> SegmentVerdict:
    """Apply the §3 checks to a segment of content positions played since the last beat.

    Refused (nothing credited): non-finite or negative positions, ``end <= start``,
    ``end > duration + 1``, a page that was not visible, a non-positive rate.
    Clipped: the part past the duration; the part longer than the wall-clock time
    since the last beat allows (``elapsed * min(rate, max_rate) + 2 s``), so a
    client claiming more than real time could play earns only the plausible part.
    """
    numbers = (start, end, rate, duration, elapsed_seconds)
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
    reason = None
    allowed = max(elapsed_seconds, 0.0) * min(rate, max_rate) + SEGMENT_SLACK_SECONDS
    if end - start > allowed:
        end = start + allowed
        reason = "faster_than_plausible"
    if end > duration:
        end = duration
    if end <= start:
        return SegmentVerdict(0.0, 0.0, "beyond_duration", True)
    return SegmentVerdict(start, end, reason, False)


def is_complete(watched_seconds: float, duration: float, ratio: float) -> bool:
    """A lesson is complete at coverage >= ``ratio`` of its length (and has a length)."""
    return duration > 0 and watched_seconds >= ratio * duration - 1e-6
