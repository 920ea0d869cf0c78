"""The finalizing job is scheduled and survives a bad attempt; answer saves are rate limited per member."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes.models import AttemptState, QuizAttempt
from lms.extensions import db
from tests.conftest import make_test_app, password_hash
from tests.exams.factories import create_bank, create_question, create_quiz


def test_finalizing_job_runs_every_30_seconds(app):
    from lms.jobs import scheduled_jobs

    spec = next(spec for spec in scheduled_jobs() if spec.name == "finalize-overdue-attempts")
    assert spec.seconds == 30 and spec.needs_lease


@pytest.mark.postgres  # a savepoint per attempt, rolled back alone
def test_job_commits_through_run_job_and_one_broken_attempt_does_not_block_the_rest(
    app, make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    from lms.jobs import run_job, scheduled_jobs

    quiz = make_quiz(four_questions, time_limit_seconds=60)
    first = quiz_attempts.start_attempt(quiz, make_user(), frozen_clock.now)
    second = quiz_attempts.start_attempt(quiz, make_user(), frozen_clock.now)
    db.session.commit()
    first_id, second_id = first.id, second.id
    real = quiz_attempts._finalize_locked

    def broken_for_the_first(attempt, *args, **kwargs):
        if attempt.id == first_id:
            raise RuntimeError("simulated failure")
        return real(attempt, *args, **kwargs)

    monkeypatch.setattr(quiz_attempts, "_finalize_locked", broken_for_the_first)
    frozen_clock.advance(3600)
    spec = next(spec for spec in scheduled_jobs() if spec.name == "finalize-overdue-attempts")
    assert run_job(app, spec)
    states = dict(db.session.execute(sa.select(QuizAttempt.id, QuizAttempt.state)).all())
    assert states == {first_id: AttemptState.IN_PROGRESS, second_id: AttemptState.FINISHED}


def test_answer_saves_are_rate_limited_per_member(tmp_path):
    from lms.auth.models import User

    app = make_test_app(tmp_path, RATELIMIT_ENABLED=True, QUIZ_SAVE_LIMIT="3 per minute")
    with app.app_context():
        member = User(username="limited", name="限速党员", password_hash=password_hash())
        db.session.add(member)
        db.session.commit()
        quiz = create_quiz([create_question(QuestionType.TRUE_FALSE, create_bank())])
        attempt = quiz_attempts.start_attempt(quiz, member, quiz.created_at + timedelta(seconds=1))
        db.session.commit()
        attempt_id, user_key = attempt.id, member.get_id()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_key
    url = f"/quizzes/attempts/{attempt_id}/answers"
    codes = [
        client.post(url, json={"position": 1, "response": {"value": True}, "seq": n}).status_code for n in range(1, 6)
    ]
    assert codes == [200, 200, 200, 429, 429]
    with app.app_context():
        db.engine.dispose()
