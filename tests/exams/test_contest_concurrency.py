"""Two starts by the same member at the same moment make one attempt (SQLite here, PostgreSQL in CI).

Real threads, each with its own app context and so its own database session and
connection, released together by a barrier placed after every read the start
makes and before its first write. On PostgreSQL both then insert and the
database's unique constraint decides; on SQLite the first write lock does.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.auth.models import User
from lms.exams.contests import taking
from lms.exams.contests.models import Contest, ContestEntry
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts
from lms.exams.quizzes.models import QuizAttempt
from lms.extensions import db
from tests.exams.contest_factories import create_contest

pytestmark = pytest.mark.postgres  # two transactions race for one row

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)


def _race(app, monkeypatch, calls):
    """Run each call in its own thread and app context, released together; return results or errors."""
    barrier = threading.Barrier(len(calls), timeout=20)
    waited = threading.local()

    def wait_once():
        # Only a thread's first pass waits: a start retried after losing a race goes straight on.
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()

    postgres = db.engine.dialect.name == "postgresql"
    # The barrier sits after the reads: on PostgreSQL inside start_attempt, right before
    # the inserts (no lock is held there); on SQLite before the write lock is asked for.
    if postgres:
        original = attempts._check_may_start

        def check_then_wait(*args, **kwargs):
            number = original(*args, **kwargs)
            wait_once()
            return number

        monkeypatch.setattr(attempts, "_check_may_start", check_then_wait)
    else:
        original_status = taking.member_status

        def status_then_wait(*args, **kwargs):
            status = original_status(*args, **kwargs)
            wait_once()
            return status

        monkeypatch.setattr(taking, "member_status", status_then_wait)
    results: list = [None] * len(calls)

    def run(index, call):
        with app.app_context():
            try:
                results[index] = call()
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_simultaneous_starts_by_one_member_make_one_attempt(app, make_question, make_user, monkeypatch):
    questions = [make_question(QuestionType.SINGLE) for _ in range(3)]
    contest_id = create_contest(questions, open_at=OPEN).id
    user_id = make_user().id
    db.session.remove()  # the test's own session holds nothing while the threads work

    def start():
        contest = db.session.get(Contest, contest_id)
        member = db.session.get(User, user_id)
        return taking.start_contest_attempt(contest, member, OPEN + timedelta(seconds=1)).id

    results = _race(app, monkeypatch, [start, start])
    assert all(isinstance(result, int) for result in results), results
    assert results[0] == results[1]
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(ContestEntry.id))) == 1


def test_two_members_starting_together_each_get_their_own_attempt(app, make_question, make_user, monkeypatch):
    questions = [make_question(QuestionType.SINGLE) for _ in range(3)]
    contest_id = create_contest(questions, open_at=OPEN).id
    user_ids = [make_user().id, make_user().id]
    db.session.remove()

    def start_for(user_id):
        def start():
            contest = db.session.get(Contest, contest_id)
            return taking.start_contest_attempt(contest, db.session.get(User, user_id), OPEN).user_id

        return start

    results = _race(app, monkeypatch, [start_for(i) for i in user_ids])
    assert sorted(results) == sorted(user_ids)
    assert db.session.scalar(sa.select(sa.func.count(ContestEntry.id))) == 2
