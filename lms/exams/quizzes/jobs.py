"""Scheduled jobs of the exams domain (registered in ``lms.jobs.scheduled_jobs``)."""

from __future__ import annotations

from datetime import datetime

from lms.exams.quizzes.attempts import finalize_overdue


def finalize_overdue_attempts(now: datetime) -> int:
    """Every 30 s: close attempts past their deadline (plus grace) with what they saved."""
    return finalize_overdue(now)
