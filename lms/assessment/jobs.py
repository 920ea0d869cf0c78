"""Scheduled jobs of assessment: each a plain function of ``now``, safe to run twice."""

from __future__ import annotations

from datetime import datetime

from lms.assessment import reminders, services


def nightly_results(now: datetime) -> int:
    """Refresh every active target's stored results once per local night (see ``services.nightly_snapshots``)."""
    return services.nightly_snapshots(now)


def weekly_reminders(now: datetime) -> reminders.ReminderBatch:
    """Send this week's reminders and digests once the reminder time has come (capped per ISO week)."""
    return reminders.send_weekly_reminders(now)
