"""Saving and finalizing run as Core statements under the attempt's lock: what the session
already holds (the attempt's questions, notebook entries) is refreshed, never left stale."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.exams.questions.models import Outcome, QuestionType
from lms.exams.quizzes import attempts as quizzes
from lms.exams.quizzes import saves
from lms.exams.quizzes.models import AttemptQuestion, WrongAnswer
from lms.extensions import db

pytestmark = pytest.mark.postgres  # grading before the lock, a save committed in between


def _quiz(make_quiz, make_question):
    questions = [make_question(QuestionType.TRUE_FALSE, answer={"value": True}) for _ in range(3)]
    return make_quiz(questions, attempts_allowed=3)


def test_questions_loaded_before_the_submit_show_their_grades(make_user, make_quiz, make_question, frozen_clock):
    member = make_user()
    quiz = _quiz(make_quiz, make_question)
    now = frozen_clock.now
    attempt = quizzes.start_attempt(quiz, member, now)
    quizzes.save_answer(attempt.id, member, 1, {"value": True}, 1, now)
    quizzes.save_answer(attempt.id, member, 2, {"value": False}, 1, now)
    db.session.commit()
    loaded = sorted(attempt.questions, key=lambda question: question.position)  # in the identity map now
    assert [question.outcome for question in loaded] == [None, None, None]
    quizzes.submit_attempt(attempt.id, member, now)  # before the commit (which would expire everything)
    assert [question.outcome for question in loaded] == [Outcome.CORRECT, Outcome.WRONG, Outcome.UNANSWERED]
    assert [question.score for question in loaded] == [1.0, 0.0, 0.0]
    assert attempt.score == 1.0


def test_a_notebook_entry_loaded_before_a_second_mistake_is_refreshed(make_user, make_quiz, make_question,
                                                                     frozen_clock):  # fmt: skip
    member = make_user()
    quiz = _quiz(make_quiz, make_question)
    now = frozen_clock.now

    def wrong_attempt():
        attempt = quizzes.start_attempt(quiz, member, now)
        quizzes.save_answer(attempt.id, member, 1, {"value": False}, 1, now)
        db.session.commit()
        quizzes.submit_attempt(attempt.id, member, now)
        return attempt

    wrong_attempt()
    db.session.commit()
    entry = db.session.scalar(sa.select(WrongAnswer).where(WrongAnswer.user_id == member.id))
    assert entry.wrong_count == 1
    attempt = wrong_attempt()  # not committed yet: the loaded entry must not be stale
    assert entry.wrong_count == 2
    latest = db.session.scalar(
        sa.select(AttemptQuestion.id).where(AttemptQuestion.attempt_id == attempt.id, AttemptQuestion.position == 1)
    )
    assert entry.attempt_question_id == latest


def _graded_then(monkeypatch, between):
    """Make ``between()`` run right after the submit graded the answers before taking the lock."""
    original = quizzes._graded_questions
    calls = []

    def graded(attempt_id, quiz):
        result = original(attempt_id, quiz)
        calls.append(attempt_id)
        if len(calls) == 1:
            between()
        return result

    monkeypatch.setattr(quizzes, "_graded_questions", graded)
    return calls


def test_answers_graded_before_the_lock_are_not_graded_again(make_user, make_quiz, make_question, frozen_clock,
                                                              monkeypatch):  # fmt: skip
    member = make_user()
    now = frozen_clock.now
    attempt = quizzes.start_attempt(_quiz(make_quiz, make_question), member, now)
    quizzes.save_answer(attempt.id, member, 1, {"value": True}, 1, now)
    db.session.commit()
    calls = _graded_then(monkeypatch, lambda: None)
    assert quizzes.submit_attempt(attempt.id, member, now).score == 1.0
    assert len(calls) == 1  # SQLite: the seqs under the lock matched, graded once outside it; else under it


def test_a_save_between_the_grading_and_the_lock_is_graded(make_user, make_quiz, make_question, frozen_clock,
                                                           monkeypatch):  # fmt: skip
    """The answers are graded before the lock; a save that lands before the lock is taken still counts."""
    member = make_user()
    now = frozen_clock.now
    attempt = quizzes.start_attempt(_quiz(make_quiz, make_question), member, now)
    quizzes.save_answer(attempt.id, member, 1, {"value": False}, 1, now)
    db.session.commit()

    def concurrent_save():  # another request's save, committed on a connection of its own
        prepared = saves.prepare_save(attempt.id, member.id, 1, {"value": True}, 2)
        with db.engine.connect() as connection:
            saves.apply_saves(connection, [(prepared, now)])
            connection.commit()

    sqlite = db.engine.dialect.name == "sqlite"
    if not sqlite:  # graded once, under the lock (the save would wait for it): it commits before the submit
        concurrent_save()
    calls = _graded_then(monkeypatch, concurrent_save if sqlite else lambda: None)
    finished = quizzes.submit_attempt(attempt.id, member, now)
    db.session.commit()
    assert len(calls) == (2 if sqlite else 1)  # on SQLite graded before the lock, then again under it
    assert finished.score == 1.0
    outcomes = db.session.scalars(sa.select(AttemptQuestion.outcome).where(AttemptQuestion.attempt_id == attempt.id)
                                  .order_by(AttemptQuestion.position)).all()  # fmt: skip
    assert outcomes == [Outcome.CORRECT, Outcome.UNANSWERED, Outcome.UNANSWERED]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WrongAnswer)) == 0


def test_the_notebook_is_written_in_one_statement_without_a_savepoint(make_user, make_quiz, make_question,
                                                                       frozen_clock):  # fmt: skip
    """Inside the submit's lock: one upsert adds new entries and counts existing ones again."""
    member = make_user()
    quiz = _quiz(make_quiz, make_question)
    now = frozen_clock.now
    first = quizzes.start_attempt(quiz, member, now)
    quizzes.save_answer(first.id, member, 1, {"value": False}, 1, now)
    db.session.commit()
    quizzes.submit_attempt(first.id, member, now)
    db.session.commit()
    attempt = quizzes.start_attempt(quiz, member, now)
    quizzes.save_answer(attempt.id, member, 1, {"value": False}, 1, now)  # wrong again
    quizzes.save_answer(attempt.id, member, 2, {"value": False}, 1, now)  # wrong for the first time
    db.session.commit()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()[:3]).upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        quizzes.submit_attempt(attempt.id, member, now)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    db.session.commit()
    assert not [s for s in statements if "SAVEPOINT" in s]
    assert [s for s in statements if "WRONG_ANSWERS" in s] == ["INSERT INTO WRONG_ANSWERS"]
    counts = db.session.scalars(sa.select(WrongAnswer.wrong_count).where(WrongAnswer.user_id == member.id))
    assert sorted(counts) == [1, 2]
