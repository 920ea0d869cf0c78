"""Factories for the quiz tests: banks, questions of each type, quizzes (created through the models)."""

from __future__ import annotations

import itertools
import random

import pytest

from lms import clock
from lms.exams import quizzes
from lms.exams.models import Question, QuestionBank, QuestionType
from lms.extensions import db

_counter = itertools.count(1)

SINGLE_ANSWER_TEXT = "中国共产党第一次全国代表大会"
EXPLANATION_TEXT = "解析：党的一大于1921年7月召开"


@pytest.fixture
def make_bank(app):
    def factory(name: str | None = None) -> QuestionBank:
        bank = QuestionBank(name=name or f"题库{next(_counter)}")
        db.session.add(bank)
        db.session.commit()
        return bank

    return factory


@pytest.fixture
def make_question(app, make_bank):
    """``make_question(QuestionType.SINGLE, bank=..., points=2, tags=["党史"], ...)`` with sensible content."""
    default_bank: list[QuestionBank] = []

    def factory(question_type: QuestionType = QuestionType.SINGLE, bank: QuestionBank | None = None, **fields):
        if bank is None:
            if not default_bank:
                default_bank.append(make_bank("默认题库"))
            bank = default_bank[0]
        n = next(_counter)
        if question_type == QuestionType.SINGLE:
            fields.setdefault("stem", f"第{n}题：党的历史上哪次会议宣告了中国共产党的正式成立？")
            fields.setdefault("options", ["遵义会议", SINGLE_ANSWER_TEXT, "古田会议", "八七会议"])
            fields.setdefault("answer", {"choice": 1})
        elif question_type == QuestionType.MULTIPLE:
            fields.setdefault("stem", f"第{n}题：下列属于“三会一课”的有？")
            fields.setdefault("options", ["支部党员大会", "支部委员会", "党小组会", "茶话会"])
            fields.setdefault("answer", {"choices": [0, 1, 2]})
        elif question_type == QuestionType.TRUE_FALSE:
            fields.setdefault("stem", f"第{n}题：预备党员的预备期为一年。")
            fields.setdefault("options", [])
            fields.setdefault("answer", {"value": True})
        else:
            fields.setdefault("stem", f"第{n}题：党的根本宗旨是____，党的最高理想是____。")
            fields.setdefault("options", [])
            fields.setdefault("answer", {"blanks": [["全心全意为人民服务"], ["实现共产主义", "共产主义"]]})
        fields.setdefault("explanation", EXPLANATION_TEXT)
        question = Question(bank_id=bank.id, type=question_type, **fields)
        db.session.add(question)
        db.session.commit()
        return question

    return factory


@pytest.fixture
def make_quiz(app):
    """``make_quiz(questions, time_limit_seconds=600, ...)``: a published quiz with those fixed questions."""

    def factory(questions=(), *, publish: bool = True, title: str | None = None, **settings) -> quizzes.Quiz:
        now = clock.utcnow()
        quiz = quizzes.create_quiz(
            quizzes.QuizSettings(title=title or f"测验{next(_counter)}", **settings), created_by=None, now=now
        )
        quizzes.add_fixed_questions(quiz, [q.id for q in questions])
        if publish:
            quizzes.publish_quiz(quiz, now=now)
        db.session.commit()
        return quiz

    return factory


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
