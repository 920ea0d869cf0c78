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
from lms.raw_sql import RawStatement


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
    # Core statements (this runs inside a submit's lock), in question order (two finalizes of
    # one member lock the same entries in the same order): the wrong answers in one upsert
    # (a new entry, or counted again and brought back; atomic, so two attempts of the member
    # adding the same question at once both count), the mastered ones in one UPDATE.
    # On the DBAPI cursor (``lms.raw_sql``): a contest submit sends them in its commit's pipeline.
    connection = db.session.connection()
    if wrong:
        _wrong_upsert(connection.dialect.name).execute_many(connection, [
            {"b_user": attempt.user_id, "b_question": question_id, "b_attempt_question": wrong[question_id].id,
             "b_now": now}
            for question_id in sorted(wrong)
        ])  # fmt: skip
    if right:
        _NOTEBOOK_MASTERED.execute_many(
            connection,
            [{"b_user": attempt.user_id, "b_question": question_id, "b_now": now} for question_id in sorted(right)],
        )
    for loaded in list(db.session.identity_map.values()):  # objects of the rows changed above
        if isinstance(loaded, WrongAnswer) and loaded.user_id == attempt.user_id:
            db.session.expire(loaded)


_WRONG_UPSERTS: dict[str, RawStatement] = {}


def _wrong_upsert(dialect: str) -> RawStatement:
    """INSERT a wrong answer's entry, or count it again on the existing one (built once per dialect)."""
    if dialect not in _WRONG_UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(WrongAnswer).values(
            user_id=sa.bindparam("b_user"),
            question_id=sa.bindparam("b_question"),
            attempt_question_id=sa.bindparam("b_attempt_question"),
            wrong_count=sa.literal_column("1"),  # constants in the SQL: every bound value is the caller's
            last_wrong_at=sa.bindparam("b_now", type_=WrongAnswer.last_wrong_at.type),
            mastered_at=sa.null(),
        )
        _WRONG_UPSERTS[dialect] = RawStatement(statement.on_conflict_do_update(
            index_elements=["user_id", "question_id"],
            set_={
                "wrong_count": WrongAnswer.wrong_count + sa.literal_column("1"),
                "attempt_question_id": statement.excluded.attempt_question_id,
                "last_wrong_at": statement.excluded.last_wrong_at,
                "mastered_at": sa.null(),
            },
        ))  # fmt: skip
    return _WRONG_UPSERTS[dialect]


_NOTEBOOK_MASTERED = RawStatement(
    sa.update(WrongAnswer)
    .where(
        WrongAnswer.user_id == sa.bindparam("b_user"),
        WrongAnswer.question_id == sa.bindparam("b_question"),
        WrongAnswer.mastered_at.is_(None),
    )
    .values(mastered_at=sa.bindparam("b_now", type_=WrongAnswer.mastered_at.type))
)
