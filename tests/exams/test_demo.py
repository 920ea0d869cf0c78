"""The demo quizzes: created once, with finished attempts, and a second run changes nothing."""

import sqlalchemy as sa

from lms.auth import demo as auth_demo
from lms.auth.models import User
from lms.exams.questions import demo as demo_banks
from lms.exams.questions.models import Question, QuestionBank
from lms.exams.quizzes import demo as demo_quizzes
from lms.exams.quizzes import notebook as quiz_notebook
from lms.exams.quizzes.models import AttemptState, Quiz, QuizAttempt, QuizDrawRule
from lms.extensions import db


def _counts():
    return [db.session.scalar(sa.select(sa.func.count(model.id))) for model in (Quiz, Question, QuizAttempt)]


def test_demo_quizzes_use_the_bank_demo_and_are_idempotent(app, frozen_clock):
    auth_demo.seed_demo()
    demo_banks.seed_demo()
    demo_quizzes.seed_demo()
    db.session.commit()
    counts = _counts()
    assert counts[0] == 3 and counts[2] == 4
    bank_ids = set(db.session.scalars(sa.select(QuizDrawRule.bank_id).where(QuizDrawRule.bank_id.is_not(None))))
    assert {db.session.get(QuestionBank, i).name for i in bank_ids} == {demo_banks.DEMO_BANK}
    assert set(db.session.scalars(sa.select(QuizAttempt.state))) == {AttemptState.FINISHED}
    demo_quizzes.seed_demo()
    db.session.commit()
    assert _counts() == counts
    member = db.session.scalar(sa.select(User).where(User.username == "member"))
    assert quiz_notebook.notebook(member, frozen_clock.now).entries  # 李明 made mistakes to practise


def test_demo_quizzes_bring_their_own_bank_without_the_bank_demo(app, frozen_clock):
    auth_demo.seed_demo()
    demo_quizzes.seed_demo()
    db.session.commit()
    assert _counts() == [3, len(demo_quizzes.DEMO_QUESTIONS), 4]
    assert db.session.scalar(sa.select(QuestionBank.name)) == demo_quizzes.BANK_NAME
