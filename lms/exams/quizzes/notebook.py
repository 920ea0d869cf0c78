"""The wrong-answer notebook (错题本): reading a member's mistakes, and practice over them.

An entry leaves the notebook when the member answers it right in notebook practice or removes
it. An entry is shown (with its correct answer and explanation) only once the review policy of
the quiz it came from lets the member see answers: a mistake in a closed-book exam stays hidden
until then, so the notebook never leaks an exam's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import InvalidState, NotFound
from lms.exams.questions.models import Question
from lms.exams.quizzes.models import (
    AttemptQuestion,
    AttemptState,
    KeptGrade,
    QuestionSnapshot,
    Quiz,
    QuizAttempt,
    QuizKind,
    ReviewPolicy,
    WrongAnswer,
)
from lms.extensions import db

NOTEBOOK_QUIZ_KEY = "wrong-answer-practice"

PRACTICE_SIZE = 20


@dataclass(frozen=True)
class NotebookEntry:
    entry: WrongAnswer
    attempt_question: AttemptQuestion
    snapshot: QuestionSnapshot
    quiz: Quiz


@dataclass(frozen=True)
class Notebook:
    entries: list[NotebookEntry]
    hidden: int  # mistakes whose quiz does not show answers yet
    tags: list[str]


def notebook(user: User, now: datetime, *, tag: str = "") -> Notebook:
    """The member's current notebook: entries they may review now, newest mistake first."""
    from lms.exams.quizzes.results import closed_for_everyone

    rows = db.session.execute(
        sa.select(WrongAnswer, AttemptQuestion, QuestionSnapshot, Quiz, QuizAttempt.state)
        .join(AttemptQuestion, AttemptQuestion.id == WrongAnswer.attempt_question_id)
        .join(QuestionSnapshot, QuestionSnapshot.id == AttemptQuestion.snapshot_id)
        .join(QuizAttempt, QuizAttempt.id == AttemptQuestion.attempt_id)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(WrongAnswer.user_id == user.id, WrongAnswer.mastered_at.is_(None))
        .order_by(WrongAnswer.last_wrong_at.desc(), WrongAnswer.id.desc())
    ).all()
    closed: dict[int, bool] = {}
    entries, hidden, tags = [], 0, set()
    for entry, attempt_question, snapshot, quiz, state in rows:
        if quiz.review_policy == ReviewPolicy.AFTER_SUBMIT:
            visible = state == AttemptState.FINISHED
        elif quiz.review_policy == ReviewPolicy.AFTER_CLOSE:
            if quiz.id not in closed:
                closed[quiz.id] = closed_for_everyone(quiz, now)
            visible = closed[quiz.id]
        else:
            visible = False
        if not visible:
            hidden += 1
            continue
        tags.update(snapshot.tags or [])
        if tag and tag not in (snapshot.tags or []):
            continue
        entries.append(NotebookEntry(entry, attempt_question, snapshot, quiz))
    return Notebook(entries, hidden, sorted(tags))


def remove_entry(user: User, entry_id: int, now: datetime) -> None:
    """The member takes a question out of their notebook."""
    entry = db.session.scalar(sa.select(WrongAnswer).where(WrongAnswer.id == entry_id, WrongAnswer.user_id == user.id))
    if entry is None:
        raise NotFound(_l("This question is not in your notebook."))
    entry.mastered_at = now
    db.session.flush()


def notebook_quiz(now: datetime) -> Quiz:
    """The system quiz that notebook practice attempts belong to (made on first use)."""
    quiz = db.session.scalar(sa.select(Quiz).where(Quiz.system_key == NOTEBOOK_QUIZ_KEY))
    if quiz is not None:
        return quiz
    try:
        with db.session.begin_nested():
            quiz = Quiz(
                kind=QuizKind.NOTEBOOK,
                system_key=NOTEBOOK_QUIZ_KEY,
                title="错题练习",
                is_published=False,
                is_practice=True,
                attempts_allowed=0,
                kept_grade=KeptGrade.LAST,
                review_policy=ReviewPolicy.AFTER_SUBMIT,
                partial_credit=True,
                shuffle_options=True,
                created_at=now,
                updated_at=now,
            )
            db.session.add(quiz)
        return quiz
    except sa.exc.IntegrityError:
        return db.session.scalar(sa.select(Quiz).where(Quiz.system_key == NOTEBOOK_QUIZ_KEY))


def start_practice(user: User, now: datetime, *, tag: str = "", size: int = PRACTICE_SIZE) -> QuizAttempt:
    """Start (or resume) a practice attempt over the member's notebook: up to ``size``
    questions, the most recent mistakes first, as they read in the bank now."""
    from lms.exams.quizzes.attempts import find_open_attempt, start_attempt

    quiz = notebook_quiz(now)
    existing = find_open_attempt(quiz.id, user.id)
    if existing is not None:
        return existing
    book = notebook(user, now, tag=tag)
    ids = [e.entry.question_id for e in book.entries]
    enabled = set(
        db.session.scalars(sa.select(Question.id).where(Question.id.in_(ids), Question.is_disabled.is_(False)))
    )
    chosen = [i for i in ids if i in enabled][:size]
    if not chosen:
        raise InvalidState(_l("Your notebook has no questions to practise."))
    return start_attempt(quiz, user, now, question_ids=chosen)


def notebook_size(user: User, now: datetime) -> int:
    """How many reviewable entries the member's notebook holds (for the home panel)."""
    return len(notebook(user, now).entries)
