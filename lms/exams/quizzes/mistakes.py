"""Recording mistakes (错题) when an attempt is finalized: the notebook's entries.

A question enters a member's notebook when a finalized attempt graded it wrong or only partly
right, and leaves it when the member answers it right in notebook practice. This sits below
attempts (``attempts`` calls ``record_attempt``); reading the notebook and practising it sit
above them (``notebook``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from lms.exams.questions.models import Outcome
from lms.exams.quizzes.models import (
    AttemptQuestion,
    Quiz,
    QuizAttempt,
    QuizKind,
    WrongAnswer,
)
from lms.extensions import db


def record_attempt(attempt: QuizAttempt, questions: Sequence[AttemptQuestion], quiz: Quiz, now: datetime) -> None:
    """Update the member's notebook from a just-graded attempt.

    Wrong and partly right answers are added (or counted again and brought
    back); right answers in notebook practice mark the entry as mastered.
    """
    wrong = {q.question_id: q for q in questions if q.question_id and q.outcome in (Outcome.WRONG, Outcome.PARTIAL)}
    right = {q.question_id for q in questions if q.question_id and q.outcome == Outcome.CORRECT}
    if quiz.kind != QuizKind.NOTEBOOK:
        right = set()
    if not wrong and not right:
        return
    for retry in range(2):
        try:
            with db.session.begin_nested():
                _upsert(attempt.user_id, wrong, right, now)
            return
        except sa.exc.IntegrityError:
            # Another attempt of the same member added the same question at this moment.
            if retry:
                raise


def _upsert(user_id: int, wrong: dict[int, AttemptQuestion], right: set[int], now: datetime) -> None:
    entries = {
        entry.question_id: entry
        for entry in db.session.scalars(
            sa.select(WrongAnswer)
            .where(WrongAnswer.user_id == user_id, WrongAnswer.question_id.in_(set(wrong) | right))
            .execution_options(populate_existing=True)
        )
    }
    for question_id, attempt_question in wrong.items():
        entry = entries.get(question_id)
        if entry is None:
            db.session.add(
                WrongAnswer(
                    user_id=user_id,
                    question_id=question_id,
                    attempt_question_id=attempt_question.id,
                    wrong_count=1,
                    last_wrong_at=now,
                )
            )
        else:
            entry.wrong_count += 1
            entry.attempt_question_id = attempt_question.id
            entry.last_wrong_at = now
            entry.mastered_at = None
    for question_id in right:
        entry = entries.get(question_id)
        if entry is not None and entry.mastered_at is None:
            entry.mastered_at = now
    db.session.flush()
