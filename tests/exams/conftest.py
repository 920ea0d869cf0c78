"""Fixtures for the quiz tests: banks, questions of each type, quizzes (created through the models)."""

from __future__ import annotations

import random

import pytest

from lms.exams.questions.models import QuestionBank, QuestionType
from tests.factories.exams import create_bank, create_question, create_quiz


@pytest.fixture
def make_bank(app):
    return create_bank


@pytest.fixture
def make_question(app, make_bank):
    """``make_question(QuestionType.SINGLE, bank=..., points=2, tags=["党史"], ...)`` with sensible content."""
    default_bank: list[QuestionBank] = []

    def factory(question_type: QuestionType = QuestionType.SINGLE, bank: QuestionBank | None = None, **fields):
        if bank is None:
            if not default_bank:
                default_bank.append(make_bank("默认题库"))
            bank = default_bank[0]
        return create_question(question_type, bank, **fields)

    return factory


@pytest.fixture
def make_quiz(app):
    """``make_quiz(questions, time_limit_seconds=600, ...)``: a published quiz with those fixed questions."""
    return create_quiz


@pytest.fixture
def four_questions(make_question):
    """One question of each type: single, multiple, true/false, fill (two blanks)."""
    return [
        make_question(QuestionType.SINGLE),
        make_question(QuestionType.MULTIPLE),
        make_question(QuestionType.TRUE_FALSE),
        make_question(QuestionType.FILL),
    ]


@pytest.fixture
def rng():
    return random.Random(7)
