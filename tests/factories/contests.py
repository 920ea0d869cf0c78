"""Contests and the answers members give in them (the contest tests and the contest browser journey)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from lms import cache
from lms.exams.contests import setup, taking
from lms.exams.contests.models import Contest
from lms.exams.questions import types as question_types
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts
from lms.exams.quizzes.models import QuizAttempt
from lms.extensions import db

_counter = itertools.count(1)


def clear_cache() -> None:
    """Forget every cached board: ids restart in each test's fresh database."""
    cache._local.clear()


def create_contest(
    questions=(),
    *,
    open_at: datetime,
    close_at: datetime | None = None,
    publish: bool = True,
    title: str | None = None,
    **settings,
) -> Contest:
    """A contest with ``questions`` as the set for everyone (published unless ``publish=False``)."""
    now = open_at - timedelta(hours=1)
    contest = setup.create_contest(
        setup.ContestSettings(
            title=title or f"知识竞赛{next(_counter)}",
            open_at=open_at,
            close_at=close_at or open_at + timedelta(hours=2),
            **settings,
        ),
        created_by=None,
        now=now,
    )
    if questions:
        setup.add_fixed_questions(contest, [q.id for q in questions])
    if publish:
        setup.publish_contest(contest, now=now)
    db.session.commit()
    return contest


def key_response(question) -> dict:
    """The right answer to one attempt question, as the page would post it (shown order)."""
    snapshot = question.snapshot
    kind = QuestionType(snapshot.type)
    if kind == QuestionType.FILL:
        return {"blanks": [accepted[0] for accepted in snapshot.answer["blanks"]]}
    if kind == QuestionType.TRUE_FALSE:
        return {"value": snapshot.answer["value"]}
    return question_types.to_shown_order(kind, question.option_order, snapshot.answer)


def wrong_response(question) -> dict:
    """A wrong answer to one attempt question."""
    kind = QuestionType(question.snapshot.type)
    right = key_response(question)
    if kind == QuestionType.FILL:
        return {"blanks": ["错" for _ in right["blanks"]]}
    if kind == QuestionType.TRUE_FALSE:
        return {"value": not right["value"]}
    if kind == QuestionType.SINGLE:
        return {"choice": (right["choice"] + 1) % len(question.option_order)}
    return {"choices": [c for c in range(len(question.option_order)) if c not in right["choices"]][:1]}


def answer(attempt: QuizAttempt, user, now: datetime, *, correct: int) -> None:
    """Save right answers to the first ``correct`` questions and wrong ones to the rest."""
    for question in attempt.questions:
        response = key_response(question) if question.position <= correct else wrong_response(question)
        attempts.save_answer(attempt.id, user, question.position, response, question.client_seq + 1, now)


def take(contest: Contest, user, started: datetime, *, correct: int, seconds: int) -> QuizAttempt:
    """Start, answer (``correct`` right) and submit ``seconds`` later; commits."""
    attempt = taking.start_contest_attempt(contest, user, started)
    answer(attempt, user, started + timedelta(seconds=1), correct=correct)
    attempt = taking.submit_contest_attempt(contest, attempt.id, user, started + timedelta(seconds=seconds))
    db.session.commit()
    return attempt
