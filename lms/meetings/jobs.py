"""The meetings' scheduled jobs: reminders before a meeting and 事前提醒 of due meetings (both idempotent)."""

from __future__ import annotations

from datetime import datetime

from lms.meetings.register import send_due_warnings
from lms.meetings.scheduling import send_reminders


def meeting_reminders(now: datetime) -> int:
    """Remind attendees of meetings starting soon (each meeting once)."""
    return send_reminders(now)


def due_meeting_warnings(now: datetime) -> int:
    """Warn secretaries of required meetings due and not scheduled (once per due period)."""
    return send_due_warnings(now)
