"""Saving and finalizing run as Core statements under the attempt's lock: what the session
already holds (the attempt's questions, notebook entries) is refreshed, never left stale."""

from __future__ import annotations

import sqlalchemy as sa

from lms.exams.questions.models import Outcome, QuestionType
from lms.exams.quizzes import attempts as quizzes
from lms.exams.quizzes.models import AttemptQuestion, WrongAnswer
from lms.extensions import db


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
