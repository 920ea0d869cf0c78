"""Periods of learning targets: which local days a target covers, now and in the past.

Every day here is a local day in ``LMS_TIMEZONE`` (Asia/Shanghai by default),
the same days the study ledger is kept in, so a period ``start..end`` includes
both ends and a credit at 23:59 local time on 31 December counts for that year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from lms.assessment.models import LearningTarget, PeriodKind

PROBATION_KEY = "probation"


@dataclass(frozen=True)
class Period:
    key: str
    start: date | None  # None for probation targets: each member has their own
    end: date | None

    @property
    def label(self) -> str:
        return period_label(self.key)

    def contains(self, day: date) -> bool:
        return self.start is not None and self.end is not None and self.start <= day <= self.end


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of ``quarter`` (1-4) of ``year``."""
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, end - timedelta(days=1)


def year_period(year: int) -> Period:
    return Period(str(year), date(year, 1, 1), date(year, 12, 31))


def quarter_period(year: int, quarter: int) -> Period:
    start, end = quarter_bounds(year, quarter)
    return Period(f"{year}-Q{quarter}", start, end)


def dates_period(start: date, end: date) -> Period:
    return Period(f"{start.isoformat()}..{end.isoformat()}", start, end)


def current_period(target: LearningTarget, today: date) -> Period | None:
    """The period of ``target`` that ``today`` is in, or the nearest one for fixed periods.

    A recurring target (no year set) is always in a period; a target fixed to a
    year, quarter or dates has just that one, before, during and after it.
    """
    kind = target.period_kind
    if kind == PeriodKind.PROBATION:
        return Period(PROBATION_KEY, None, None)
    if kind == PeriodKind.YEAR:
        return year_period(target.year or today.year)
    if kind == PeriodKind.QUARTER:
        if target.year and target.quarter:
            return quarter_period(target.year, target.quarter)
        return quarter_period(today.year, quarter_of(today))
    if target.starts_on and target.ends_on:
        return dates_period(target.starts_on, target.ends_on)
    return None


def past_periods(target: LearningTarget, today: date, since: date, limit: int = 12) -> list[Period]:
    """The target's periods from the current one back to the one containing ``since``, newest first."""
    current = current_period(target, today)
    if current is None:
        return []
    if current.key == PROBATION_KEY or target.period_kind == PeriodKind.DATES or target.year:
        return [current]
    periods = [current]
    while len(periods) < limit:
        previous_end = periods[-1].start - timedelta(days=1)
        if previous_end < since:
            break
        if target.period_kind == PeriodKind.YEAR:
            periods.append(year_period(previous_end.year))
        else:
            periods.append(quarter_period(previous_end.year, quarter_of(previous_end)))
    return periods


def period_from_key(target: LearningTarget, key: str | None, today: date) -> Period | None:
    """The period named ``key`` if ``target`` has one like it (else None); no key: the current one."""
    if not key:
        return current_period(target, today)
    kind = target.period_kind
    try:
        if kind == PeriodKind.PROBATION:
            return Period(PROBATION_KEY, None, None) if key == PROBATION_KEY else None
        if kind == PeriodKind.YEAR and key.isdigit():
            year = int(key)
            if 2000 <= year <= 2100 and (not target.year or target.year == year):
                return year_period(year)
        if kind == PeriodKind.QUARTER and "-Q" in key:
            year_text, quarter_text = key.split("-Q", 1)
            year, quarter = int(year_text), int(quarter_text)
            matches = not target.year or (target.year, target.quarter) == (year, quarter)
            if 2000 <= year <= 2100 and 1 <= quarter <= 4 and matches:
                return quarter_period(year, quarter)
        if kind == PeriodKind.DATES:
            current = current_period(target, today)
            return current if current and current.key == key else None
    except ValueError:
        return None
    return None


def probation_bounds(admitted_on: date | None, probation_end: date) -> tuple[date, date]:
    """A probationary member's period: admission day to probation end (one year back if unknown)."""
    start = admitted_on
    if start is None or start > probation_end:
        try:
            start = probation_end.replace(year=probation_end.year - 1) + timedelta(days=1)
        except ValueError:  # 29 February
            start = probation_end - timedelta(days=364)
    return start, probation_end


def period_label(key: str) -> str:
    """A readable name for a period key ("2026" -> "2026年")."""
    if key == PROBATION_KEY:
        return str(_l("Probation period"))
    if key.isdigit():
        return str(_l("Year %(year)s", year=key))
    if "-Q" in key:
        year, quarter = key.split("-Q", 1)
        return str(_l("Q%(quarter)s %(year)s", year=year, quarter=quarter))
    if ".." in key:
        start, end = key.split("..", 1)
        return str(_l("%(start)s to %(end)s", start=start, end=end))
    return key


def iso_week_key(day: date) -> str:
    """The ISO week ``day`` is in, as "2026-W10" (reminders are capped per such week)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
