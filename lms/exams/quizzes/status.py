"""A quiz's status for a member: availability, attempts used and left, the kept grade (the quiz list and page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from lms.auth.models import User
from lms.exams.quizzes.attempts import finalize_if_overdue
from lms.exams.quizzes.models import (
    Quiz,
    QuizAttempt,
    QuizOverride,
)
from lms.exams.quizzes.results import quiz_results
from lms.exams.quizzes.timing import EffectiveSettings, availability_of, effective_settings, is_overdue
from lms.extensions import db


@dataclass
class QuizStatus:
    """One member's standing on one quiz: can they start, what did they score."""

    quiz: Quiz
    settings: EffectiveSettings
    availability: str
    open_attempt: QuizAttempt | None = None
    attempts_used: int = 0
    next_start_at: datetime | None = None
    kept_percent: float | None = None
    passed: bool | None = None
    attempts: list[QuizAttempt] = field(default_factory=list)

    @property
    def attempts_left(self) -> int | None:
        if self.settings.attempts_allowed == 0:
            return None
        return max(self.settings.attempts_allowed - self.attempts_used, 0)

    @property
    def deadline(self) -> datetime | None:
        if self.open_attempt is not None:
            return self.open_attempt.deadline
        return self.settings.close_at


def quiz_statuses(user: User, quizzes: Sequence[Quiz], now: datetime, *, finalize: bool = True) -> list[QuizStatus]:
    """Each quiz's status for ``user`` in a fixed number of queries.

    With ``finalize`` (pages that commit) the member's overdue attempts are closed
    first; without it (the home panel, which only reads) they show as in progress.
    """
    if not quizzes:
        return []
    ids = [quiz.id for quiz in quizzes]
    attempts = list(
        db.session.scalars(
            sa.select(QuizAttempt)
            .where(QuizAttempt.user_id == user.id, QuizAttempt.quiz_id.in_(ids))
            .order_by(QuizAttempt.number)
        )
    )
    for attempt in attempts:
        if finalize and is_overdue(attempt, now):
            finalize_if_overdue(attempt, now)
    overrides = {
        o.quiz_id: o
        for o in db.session.scalars(
            sa.select(QuizOverride).where(QuizOverride.user_id == user.id, QuizOverride.quiz_id.in_(ids))
        )
    }
    kept = quiz_results(ids, User.id == user.id)
    statuses = []
    for quiz in quizzes:
        settings = effective_settings(quiz, user.id, overrides.get(quiz.id))
        own = [a for a in attempts if a.quiz_id == quiz.id]
        availability, open_attempt, used, next_start = availability_of(quiz, settings, own, now)
        percent, passed = kept.get((user.id, quiz.id), (None, None))
        statuses.append(QuizStatus(quiz, settings, availability, open_attempt, used, next_start, percent, passed, own))
    return statuses


def quiz_status(quiz: Quiz, user: User, now: datetime) -> QuizStatus:
    """The status of one quiz for ``user``."""
    return quiz_statuses(user, [quiz], now)[0]
