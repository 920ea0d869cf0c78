"""A contest's phase and who may see it (DESIGN.md §5).

Phases are derived from the times, never stored, so they are right after a restart whether
or not a job ran: draft (unpublished), upcoming, open, closed (no new attempts; open ones run
to the close), final (standings frozen).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from lms.auth.audience import audience_clause, audience_includes
from lms.auth.models import User
from lms.exams.contests.models import (
    BoardVisibility,
    Contest,
)
from lms.exams.quizzes import timing
from lms.exams.quizzes.models import (
    Quiz,
)
from lms.extensions import db


class Phase:
    """Where a contest stands at a moment (values are used in templates and JSON)."""

    DRAFT = "draft"
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"  # past the close; open attempts are being finished, standings not frozen yet
    FINAL = "final"  # standings frozen


# --- Phases and who may take part ---------------------------------------------------------


def phase(contest: Contest, now: datetime) -> str:
    """The contest's phase at ``now``, derived from its times (see the module docstring)."""
    quiz = contest.quiz
    if contest.finalized_at is not None:
        return Phase.FINAL
    if not quiz.is_published:
        return Phase.DRAFT
    if now < quiz.open_at:
        return Phase.UPCOMING
    if now < quiz.close_at:
        return Phase.OPEN
    return Phase.CLOSED


def finalizable_at(contest: Contest) -> datetime:
    """When the standings may be frozen: the close plus the grace for answers in flight."""
    return contest.quiz.close_at + timing.network_grace()


def freeze_at(contest: Contest) -> datetime | None:
    """When the public board stops moving (FROZEN visibility), else None."""
    if contest.board_visibility != BoardVisibility.FROZEN or not contest.freeze_minutes:
        return None
    return contest.quiz.close_at - timedelta(minutes=contest.freeze_minutes)


def may_see(contest: Contest, user: User) -> bool:
    """Published contests of the member's audience."""
    return contest.quiz.is_published and audience_includes(contest.quiz, user)


def visible_contests(user: User, now: datetime) -> list[Contest]:
    """Published contests ``user`` belongs to: open ones first, then upcoming, then past (newest first)."""
    contests = db.session.scalars(
        sa.select(Contest).join(Quiz, Quiz.id == Contest.quiz_id).where(Quiz.is_published.is_(True))
    ).all()
    mine = [contest for contest in contests if audience_includes(contest.quiz, user)]
    order = {Phase.OPEN: 0, Phase.UPCOMING: 1, Phase.CLOSED: 2, Phase.FINAL: 2}

    def key(contest: Contest):
        current = phase(contest, now)
        if current == Phase.UPCOMING:
            return (order[current], contest.quiz.open_at.timestamp())
        if current == Phase.OPEN:
            return (order[current], contest.quiz.close_at.timestamp())
        return (order[current], -contest.quiz.close_at.timestamp())

    return sorted(mine, key=key)


def eligible_clause(contest: Contest):
    """A WHERE clause on ``User``: the active members the contest is for."""
    return audience_clause(contest.quiz)
