"""Quiz timing and availability (DESIGN.md §4): deadlines, who may see and take a quiz, its status for a member.

An attempt's ``deadline = min(started_at + time limit, close)`` (the member's override
replaces either), computed when it starts and again whenever the quiz or the member's
override changes. A save is accepted until ``deadline + QUIZ_GRACE_SECONDS``. What happens to
an attempt still open then depends on the quiz's ``overdue_handling``: ``auto_submit`` grades
it with what was saved; ``grace_period`` lets the member submit (not change) it until
``deadline + grace_period_seconds`` and otherwise abandons it; ``not_counted`` abandons it.
``finalize_after`` on the attempt is the moment it is overdue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from lms.auth.audience import audience_includes
from lms.auth.models import User
from lms.exams.quizzes.models import (
    AttemptState,
    OverdueHandling,
    Quiz,
    QuizAttempt,
    QuizKind,
    QuizOverride,
)
from lms.extensions import db

log = logging.getLogger(__name__)


# --- Overrides ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveSettings:
    """A quiz's timing and attempt rules for one member, overrides applied."""

    time_limit_seconds: int | None
    attempts_allowed: int  # 0: unlimited
    open_at: datetime | None
    close_at: datetime | None
    has_override: bool = False


_OVERRIDE_VALUES = sa.select(
    QuizOverride.time_limit_seconds, QuizOverride.attempts_allowed, QuizOverride.open_at, QuizOverride.close_at
).where(QuizOverride.quiz_id == sa.bindparam("b_quiz"), QuizOverride.user_id == sa.bindparam("b_user"))


def effective_settings(
    quiz: Quiz, user_id: int, override: QuizOverride | None = None, *, read_override: bool = True
) -> EffectiveSettings:
    """The quiz's rules for ``user_id``: the override's values where it sets them.

    ``override``: the member's override (object or row) when the caller has read it; with
    ``read_override=False`` None means the caller found none (it is not read here).
    """
    if override is None and read_override:
        # Its values as a row (no ORM object: every start reads it, and it is nearly always absent).
        override = db.session.execute(_OVERRIDE_VALUES, {"b_quiz": quiz.id, "b_user": user_id}).first()
    time_limit = quiz.time_limit_seconds
    attempts = quiz.attempts_allowed
    open_at, close_at = quiz.open_at, quiz.close_at
    if override is not None:
        time_limit = override.time_limit_seconds or time_limit
        attempts = override.attempts_allowed if override.attempts_allowed is not None else attempts
        open_at = override.open_at or open_at
        close_at = override.close_at or close_at
    if quiz.is_practice:
        time_limit, attempts = None, 0
    return EffectiveSettings(time_limit or None, attempts, open_at, close_at, override is not None)


# --- Timing ---------------------------------------------------------------------------------


def network_grace() -> timedelta:
    """How long after the deadline a save in flight is still accepted (LMS_QUIZ_GRACE_SECONDS)."""
    return timedelta(seconds=current_app.config["QUIZ_GRACE_SECONDS"])


def compute_deadline(started_at: datetime, settings: EffectiveSettings) -> datetime | None:
    """``min(started_at + time limit, close)``; None when neither is set."""
    candidates = []
    if settings.time_limit_seconds:
        candidates.append(started_at + timedelta(seconds=settings.time_limit_seconds))
    if settings.close_at:
        candidates.append(settings.close_at)
    return min(candidates) if candidates else None


def compute_finalize_after(quiz: Quiz, deadline: datetime | None) -> datetime | None:
    """When an attempt with ``deadline`` becomes overdue (see the module docstring)."""
    if deadline is None:
        return None
    grace = network_grace()
    if quiz.overdue_handling == OverdueHandling.GRACE_PERIOD:
        grace = max(grace, timedelta(seconds=quiz.grace_period_seconds))
    return deadline + grace


def refresh_open_deadlines(quiz: Quiz, *, now: datetime, user_id: int | None = None) -> int:
    """Recompute the deadline of the quiz's open attempts (of one member, or all); returns how many."""
    query = sa.select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.state == AttemptState.IN_PROGRESS)
    if user_id is not None:
        query = query.where(QuizAttempt.user_id == user_id)
    attempts = list(db.session.scalars(query))
    if not attempts:
        return 0
    overrides = {
        o.user_id: o
        for o in db.session.scalars(
            sa.select(QuizOverride).where(
                QuizOverride.quiz_id == quiz.id, QuizOverride.user_id.in_({a.user_id for a in attempts})
            )
        )
    }
    for attempt in attempts:
        settings = effective_settings(quiz, attempt.user_id, overrides.get(attempt.user_id))
        if attempt.is_practice and not quiz.is_practice:
            settings = EffectiveSettings(None, 0, settings.open_at, settings.close_at)
        attempt.deadline = compute_deadline(attempt.started_at, settings)
        attempt.finalize_after = compute_finalize_after(quiz, attempt.deadline)
    db.session.flush()
    log.info("quiz %s: deadlines of %d open attempts recomputed", quiz.id, len(attempts))
    return len(attempts)


def remaining_seconds(attempt: QuizAttempt, now: datetime) -> int | None:
    """Whole seconds until the deadline (never negative); None when untimed."""
    if attempt.deadline is None:
        return None
    return max(int((attempt.deadline - now).total_seconds()), 0)


def accepts_saves(attempt: QuizAttempt, now: datetime) -> bool:
    """True while answers may still change: in progress and not past deadline + network grace."""
    if attempt.state != AttemptState.IN_PROGRESS:
        return False
    return attempt.deadline is None or now <= attempt.deadline + network_grace()


def is_overdue(attempt: QuizAttempt, now: datetime) -> bool:
    """True when an open attempt is past the moment it must be closed."""
    return (
        attempt.state == AttemptState.IN_PROGRESS
        and attempt.finalize_after is not None
        and (now > attempt.finalize_after)
    )


# --- Who may take what ----------------------------------------------------------------------


def may_see(quiz: Quiz, user: User) -> bool:
    """Published quizzes of the member's audience (or with an override for them)."""
    if quiz.kind != QuizKind.QUIZ or not quiz.is_published:
        return False
    if audience_includes(quiz, user):
        return True
    return (
        db.session.scalar(
            sa.select(QuizOverride.id).where(QuizOverride.quiz_id == quiz.id, QuizOverride.user_id == user.id)
        )
        is not None
    )


def visible_quizzes(user: User) -> list[Quiz]:
    """The published quizzes ``user`` may see, newest window first."""
    quizzes = db.session.scalars(
        sa.select(Quiz)
        .where(Quiz.kind == QuizKind.QUIZ, Quiz.is_published.is_(True))
        .order_by(Quiz.close_at.is_(None), Quiz.close_at, Quiz.id.desc())
    ).all()
    with_override = set(db.session.scalars(sa.select(QuizOverride.quiz_id).where(QuizOverride.user_id == user.id)))
    return [quiz for quiz in quizzes if quiz.id in with_override or audience_includes(quiz, user)]


class Availability:
    """Why a member can or cannot start an attempt now (values are used in templates)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"
    NO_ATTEMPTS_LEFT = "no_attempts_left"
    WAIT = "wait"


def availability_of(
    quiz: Quiz, settings: EffectiveSettings, attempts: list[QuizAttempt], now: datetime
) -> tuple[str, QuizAttempt | None, int, datetime | None]:
    open_attempt = next((a for a in attempts if a.state == AttemptState.IN_PROGRESS), None)
    used = len(attempts)
    if open_attempt is not None:
        return Availability.IN_PROGRESS, open_attempt, used, None
    if settings.open_at and now < settings.open_at:
        return Availability.NOT_YET_OPEN, None, used, settings.open_at
    if settings.close_at and now >= settings.close_at:
        return Availability.CLOSED, None, used, None
    if settings.attempts_allowed and used >= settings.attempts_allowed:
        return Availability.NO_ATTEMPTS_LEFT, None, used, None
    if quiz.wait_seconds and attempts:
        last_end = max((a.finished_at for a in attempts if a.finished_at), default=None)
        if last_end is not None and now < last_end + timedelta(seconds=quiz.wait_seconds):
            return Availability.WAIT, None, used, last_end + timedelta(seconds=quiz.wait_seconds)
    return Availability.OPEN, None, used, None
