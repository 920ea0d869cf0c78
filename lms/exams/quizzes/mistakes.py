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
    """Update the member's notebook from a just-graded attempt (of ``quiz``: only its ``kind`` is read).

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


_NOTEBOOK_ROWS = sa.select(WrongAnswer.id, WrongAnswer.question_id, WrongAnswer.mastered_at).where(
    WrongAnswer.user_id == sa.bindparam("b_user"),
    WrongAnswer.question_id.in_(sa.bindparam("b_questions", expanding=True)),
)
_NOTEBOOK_WRONG_AGAIN = (
    sa.update(WrongAnswer)
    .where(WrongAnswer.id == sa.bindparam("b_id"))
    .values(
        wrong_count=WrongAnswer.wrong_count + 1,
        attempt_question_id=sa.bindparam("b_attempt_question"),
        last_wrong_at=sa.bindparam("b_now", type_=WrongAnswer.last_wrong_at.type),
        mastered_at=None,
    )
)
_NOTEBOOK_MASTERED = (
    sa.update(WrongAnswer)
    .where(WrongAnswer.id == sa.bindparam("b_id"))
    .values(mastered_at=sa.bindparam("b_now", type_=WrongAnswer.mastered_at.type))
)


def _upsert(user_id: int, wrong: dict[int, AttemptQuestion], right: set[int], now: datetime) -> None:
    """Core statements (this runs inside a submit's lock): one SELECT, then one executemany each."""
    connection = db.session.connection()
    entries = {
        row.question_id: row
        for row in connection.execute(_NOTEBOOK_ROWS, {"b_user": user_id, "b_questions": sorted(set(wrong) | right)})
    }
    new = [
        {"user_id": user_id, "question_id": question_id, "attempt_question_id": attempt_question.id,
         "wrong_count": 1, "last_wrong_at": now, "mastered_at": None}
        for question_id, attempt_question in wrong.items() if question_id not in entries
    ]  # fmt: skip
    again = [{"b_id": entries[question_id].id, "b_attempt_question": attempt_question.id, "b_now": now}
             for question_id, attempt_question in wrong.items() if question_id in entries]  # fmt: skip
    mastered = [{"b_id": entries[question_id].id, "b_now": now} for question_id in right
                if question_id in entries and entries[question_id].mastered_at is None]  # fmt: skip
    if new:
        connection.execute(sa.insert(WrongAnswer), new)
    if again:
        connection.execute(_NOTEBOOK_WRONG_AGAIN, again)
    if mastered:
        connection.execute(_NOTEBOOK_MASTERED, mastered)
    if again or mastered:
        for loaded in list(db.session.identity_map.values()):  # objects of the rows changed above
            if isinstance(loaded, WrongAnswer) and loaded.user_id == user_id:
                db.session.expire(loaded)
