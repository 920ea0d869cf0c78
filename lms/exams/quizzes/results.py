"""Quiz results: a member's attempts, kept grades per quiz, pass/fail, when answers may be reviewed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from lms.auth.models import User
from lms.exams.quizzes.models import (
    AttemptState,
    KeptGrade,
    Quiz,
    QuizAttempt,
    QuizOverride,
    ReviewPolicy,
)
from lms.extensions import db


def member_attempts(user: User, *, page: int = 1, per_page: int = 30):
    """The member's attempts, newest first (a Flask-SQLAlchemy pagination of (attempt, quiz))."""
    query = (
        sa.select(QuizAttempt)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(QuizAttempt.user_id == user.id)
        .options(sa.orm.contains_eager(QuizAttempt.quiz))
        .order_by(QuizAttempt.started_at.desc(), QuizAttempt.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


# --- Results ---------------------------------------------------------------------------------------


def passed(percent: float | None, pass_percent: float) -> bool | None:
    """Pass/fail of a score in percent (None when there is no score)."""
    if percent is None:
        return None
    return percent + 1e-9 >= pass_percent


def quiz_results(quiz_ids: Iterable[int], user_clause) -> dict[tuple[int, int], tuple[float, bool]]:
    """Kept score and pass/fail per (user_id, quiz_id), in ONE aggregate query.

    Only finished, non-practice attempts count. The kept score follows each
    quiz's setting: the highest attempt, or the last (highest number).
    ``user_clause`` is a WHERE clause on ``User`` (an audience, a scope, one id).
    Members without a counted attempt are absent from the result.
    """
    quiz_ids = list(quiz_ids)
    if not quiz_ids:
        return {}
    partition = (QuizAttempt.user_id, QuizAttempt.quiz_id)
    ranked = (
        sa.select(
            QuizAttempt.user_id,
            QuizAttempt.quiz_id,
            QuizAttempt.score_percent,
            sa.func.row_number().over(partition_by=partition, order_by=QuizAttempt.number.desc()).label("newest"),
            sa.func.max(QuizAttempt.score_percent).over(partition_by=partition).label("best"),
        )
        .join(User, User.id == QuizAttempt.user_id)
        .where(
            QuizAttempt.quiz_id.in_(quiz_ids),
            QuizAttempt.state == AttemptState.FINISHED,
            QuizAttempt.is_practice.is_(False),
            user_clause,
        )
        .subquery()
    )
    kept = sa.case((Quiz.kept_grade == KeptGrade.LAST, ranked.c.score_percent), else_=ranked.c.best)
    rows = db.session.execute(
        sa.select(ranked.c.user_id, ranked.c.quiz_id, kept, Quiz.pass_percent)
        .join(Quiz, Quiz.id == ranked.c.quiz_id)
        .where(ranked.c.newest == 1)
    )
    return {
        (user_id, quiz_id): (float(percent), bool(passed(float(percent), pass_percent)))
        for user_id, quiz_id, percent, pass_percent in rows
    }


def closed_for_everyone(quiz: Quiz, now: datetime) -> bool:
    """True once the quiz's close date and every member's later override close have passed."""
    if quiz.close_at is None:
        return False
    latest = db.session.scalar(sa.select(sa.func.max(QuizOverride.close_at)).where(QuizOverride.quiz_id == quiz.id))
    closes = [quiz.close_at] + ([latest] if latest else [])
    return now >= max(closes)


def review_shows_answers(attempt: QuizAttempt, quiz: Quiz, now: datetime) -> bool:
    """May the member see correct answers and explanations of this attempt now (review policy)?"""
    if attempt.state != AttemptState.FINISHED:
        return False
    if quiz.review_policy == ReviewPolicy.AFTER_SUBMIT:
        return True
    if quiz.review_policy == ReviewPolicy.AFTER_CLOSE:
        return closed_for_everyone(quiz, now)
    return False


def answers_open_at(quiz: Quiz) -> datetime | None:
    """When answers of an AFTER_CLOSE quiz become visible (for the message on the result page)."""
    if quiz.review_policy != ReviewPolicy.AFTER_CLOSE or quiz.close_at is None:
        return None
    latest = db.session.scalar(sa.select(sa.func.max(QuizOverride.close_at)).where(QuizOverride.quiz_id == quiz.id))
    return max([quiz.close_at] + ([latest] if latest else []))
