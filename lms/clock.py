"""The only source of "now": everything asks here so tests can freeze time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

_frozen: datetime | None = None


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (or the frozen one in tests)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def freeze(moment: datetime | None) -> None:
    """Freeze the clock at ``moment`` (aware); ``None`` lets it run again. Tests only."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = moment


def local_zone() -> ZoneInfo:
    """The organisation's time zone (``LMS_TIMEZONE``, Asia/Shanghai by default)."""
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def local_day(moment: datetime) -> date:
    """The calendar day ``moment`` falls on in the organisation's time zone."""
    return moment.astimezone(local_zone()).date()


def local_midnight(day: date) -> datetime:
    """The aware UTC instant at which local ``day`` begins."""
    return datetime(day.year, day.month, day.day, tzinfo=local_zone()).astimezone(UTC)
