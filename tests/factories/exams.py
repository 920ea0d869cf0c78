"""Question banks, questions of each type and quizzes (``make_bank``, ``make_question``, ``make_quiz`` wrap them)."""

from __future__ import annotations

import itertools

from lms import clock
from lms.exams.questions.models import Question, QuestionBank, QuestionType
from lms.exams.quizzes import setup
from lms.exams.quizzes.models import Quiz
from lms.extensions import db

_counter = itertools.count(1)

SINGLE_ANSWER_TEXT = "中国共产党第一次全国代表大会"
EXPLANATION_TEXT = "解析：党的一大于1921年7月召开"


def create_bank(name: str | None = None) -> QuestionBank:
    bank = QuestionBank(name=name or f"题库{next(_counter)}")
    db.session.add(bank)
    db.session.commit()
    return bank


def create_question(question_type: QuestionType, bank: QuestionBank, **fields) -> Question:
    """A question of ``question_type`` with sensible content; keyword arguments override any column."""
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
        fields.setdefault("stem", f"第{n}题：党的根本宗旨是{{{{1}}}}，党的最高理想是{{{{2}}}}。")
        fields.setdefault("options", [])
        fields.setdefault("answer", {"blanks": [["全心全意为人民服务"], ["实现共产主义", "共产主义"]]})
    fields.setdefault("explanation", EXPLANATION_TEXT)
    question = Question(bank_id=bank.id, type=question_type, **fields)
    db.session.add(question)
    db.session.commit()
    return question


def create_quiz(questions=(), *, publish: bool = True, title: str | None = None, **settings) -> Quiz:
    """A quiz with ``questions`` as fixed questions (published unless ``publish=False``)."""
    now = clock.utcnow()
    quiz = setup.create_quiz(
        setup.QuizSettings(title=title or f"测验{next(_counter)}", **settings), created_by=None, now=now
    )
    setup.add_fixed_questions(quiz, [q.id for q in questions])
    if publish:
        setup.publish_quiz(quiz, now=now)
    db.session.commit()
    return quiz
