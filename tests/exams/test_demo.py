"""The demo quizzes: created once, with finished attempts, and a second run changes nothing."""

import sqlalchemy as sa

from lms.auth import demo as auth_demo
from lms.exams import demo_quizzes, notebook
from lms.exams.models import AttemptState, Question, Quiz, QuizAttempt
from lms.extensions import db


def test_demo_quizzes_are_idempotent_and_have_finished_attempts(app, frozen_clock):
    auth_demo.seed_demo()
    demo_quizzes.seed_demo()
    db.session.commit()
    counts = [db.session.scalar(sa.select(sa.func.count(model.id))) for model in (Quiz, Question, QuizAttempt)]
    assert counts == [3, len(demo_quizzes.DEMO_QUESTIONS), 4]
    states = set(db.session.scalars(sa.select(QuizAttempt.state)))
    assert states == {AttemptState.FINISHED}
    demo_quizzes.seed_demo()
    db.session.commit()
    assert [db.session.scalar(sa.select(sa.func.count(model.id))) for model in (Quiz, Question, QuizAttempt)] == counts
    from lms.auth.models import User

    member = db.session.scalar(sa.select(User).where(User.username == "member"))
    assert notebook.notebook(member, frozen_clock.now).entries  # 李明 made mistakes to practise
