"""The wrong-answer notebook (错题本): what enters it, what stays hidden, practice and mastery."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.errors import InvalidState
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import notebook as quiz_notebook
from lms.exams.quizzes import results
from lms.exams.quizzes.models import QuizAttempt, ReviewPolicy, WrongAnswer
from lms.extensions import db


def _take(quiz, member, now, answers):
    """Take the quiz answering question ``position`` with ``answers[position]`` (None: skip)."""
    attempt = quiz_attempts.start_attempt(quiz, member, now)
    for position, raw in answers.items():
        if raw is not None:
            quiz_attempts.save_answer(attempt.id, member, position, raw, 1, now)
    quiz_attempts.submit_attempt(attempt.id, member, now)
    db.session.commit()
    return attempt


@pytest.fixture
def two_true_false(make_question):
    return [make_question(QuestionType.TRUE_FALSE, answer={"value": True}) for _ in range(2)]


def test_wrong_and_partly_right_answers_enter_the_notebook(make_user, make_quiz, make_question, frozen_clock):
    member = make_user()
    questions = [
        make_question(QuestionType.TRUE_FALSE, answer={"value": True}),
        make_question(QuestionType.MULTIPLE),
        make_question(QuestionType.SINGLE),
    ]
    quiz = make_quiz(questions, partial_credit=True)
    _take(quiz, member, frozen_clock.now, {1: {"value": False}, 2: {"choices": [0, 1]}, 3: None})
    book = quiz_notebook.notebook(member, frozen_clock.now)
    # Wrong and partly right enter; an unanswered question is not a mistake.
    assert {e.entry.question_id for e in book.entries} == {questions[0].id, questions[1].id}


def test_mistakes_of_a_score_only_exam_stay_hidden(make_user, make_quiz, two_true_false, frozen_clock):
    member = make_user()
    quiz = make_quiz(two_true_false, review_policy=ReviewPolicy.SCORE_ONLY)
    _take(quiz, member, frozen_clock.now, {1: {"value": False}, 2: {"value": False}})
    book = quiz_notebook.notebook(member, frozen_clock.now)
    assert book.entries == [] and book.hidden == 2
    with pytest.raises(InvalidState):
        quiz_notebook.start_practice(member, frozen_clock.now)


def test_mistakes_of_an_after_close_quiz_appear_when_it_closes(make_user, make_quiz, two_true_false, frozen_clock):
    member = make_user()
    close = frozen_clock.now + timedelta(days=1)
    quiz = make_quiz(two_true_false, review_policy=ReviewPolicy.AFTER_CLOSE, close_at=close)
    _take(quiz, member, frozen_clock.now, {1: {"value": False}})
    assert quiz_notebook.notebook(member, frozen_clock.now).hidden == 1
    assert len(quiz_notebook.notebook(member, close).entries) == 1


def test_practice_right_answer_masters_the_entry_and_a_wrong_one_counts_again(
    make_user, make_quiz, two_true_false, frozen_clock
):
    member = make_user()
    quiz = make_quiz(two_true_false)
    _take(quiz, member, frozen_clock.now, {1: {"value": False}, 2: {"value": False}})
    practice = quiz_notebook.start_practice(member, frozen_clock.now)
    db.session.commit()
    assert practice.is_practice and practice.deadline is None
    assert {q.question_id for q in practice.questions} == {q.id for q in two_true_false}
    assert quiz_notebook.start_practice(member, frozen_clock.now).id == practice.id  # resumes the open one
    by_question = {q.question_id: q.position for q in practice.questions}
    quiz_attempts.save_answer(
        practice.id, member, by_question[two_true_false[0].id], {"value": True}, 1, frozen_clock.now
    )
    quiz_attempts.save_answer(
        practice.id, member, by_question[two_true_false[1].id], {"value": False}, 1, frozen_clock.now
    )
    quiz_attempts.submit_attempt(practice.id, member, frozen_clock.now)
    db.session.commit()
    entries = {e.question_id: e for e in db.session.scalars(sa.select(WrongAnswer))}
    assert entries[two_true_false[0].id].mastered_at is not None
    assert entries[two_true_false[1].id].mastered_at is None and entries[two_true_false[1].id].wrong_count == 2
    assert results.quiz_results([practice.quiz_id], sa.true()) == {}  # practice never counts


def test_notebook_pages(client, login, make_user, make_quiz, two_true_false, frozen_clock):
    member = make_user()
    login(member)
    quiz = make_quiz(two_true_false)
    _take(quiz, member, frozen_clock.now, {1: {"value": False}, 2: {"value": True}})
    page = client.get("/quizzes/notebook").get_data(as_text=True)
    assert two_true_false[0].stem in page and two_true_false[1].stem not in page
    assert 'data-testid="notebook-count">1<' in page
    started = client.post("/quizzes/notebook/practice")
    assert started.status_code == 302
    attempt_id = int(started.headers["Location"].rsplit("/", 1)[-1])
    assert db.session.get(QuizAttempt, attempt_id).is_practice
    assert client.get(started.headers["Location"]).status_code == 200
    client.post(f"/quizzes/attempts/{attempt_id}/submit")
    assert client.get(f"/quizzes/attempts/{attempt_id}").status_code == 200
    entry = db.session.scalar(sa.select(WrongAnswer))
    client.post(f"/quizzes/notebook/{entry.id}/remove")
    assert 'data-testid="notebook-count">0<' in client.get("/quizzes/notebook").get_data(as_text=True)


def test_another_members_notebook_entry_cannot_be_removed(
    client, login, make_user, make_quiz, two_true_false, frozen_clock
):
    owner = make_user()
    _take(make_quiz(two_true_false), owner, frozen_clock.now, {1: {"value": False}})
    entry = db.session.scalar(sa.select(WrongAnswer))
    login(make_user())
    assert client.post(f"/quizzes/notebook/{entry.id}/remove").status_code == 404
    assert db.session.get(WrongAnswer, entry.id).mastered_at is None
