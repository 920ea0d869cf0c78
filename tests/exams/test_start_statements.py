"""Starting a contest attempt: a few Core statements (a contest starts 2,000 in a minute), the same result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.errors import InvalidState
from lms.exams.contests import taking as contest_taking
from lms.exams.contests.models import ContestEntry
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes.models import AttemptState, QuestionSnapshot, QuizAttempt
from lms.extensions import db
from tests.exams.contest_factories import create_contest

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=2)


@pytest.fixture
def contest(app, make_question):
    questions = [make_question(QuestionType.SINGLE, points=2) for _ in range(5)]
    return create_contest(questions, open_at=OPEN, close_at=CLOSE, time_limit_seconds=1800)


def _statements(run):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split(None, 1)[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return result, seen


def test_a_start_writes_the_attempt_its_questions_and_entry_in_few_statements(app, contest, make_user):
    member = make_user()
    contest_taking.start_contest_attempt(contest, make_user(), OPEN)  # the snapshots exist from now on
    db.session.commit()
    db.session.refresh(contest), db.session.refresh(member)  # as the view has them: loaded
    attempt, seen = _statements(lambda: contest_taking.start_contest_attempt(contest, member, OPEN))
    # The member's attempts, their override, the questions, the snapshots' ids; the attempt,
    # its questions (one executemany), the entry; one savepoint around the three inserts.
    assert seen.count("SELECT") == 4 and seen.count("INSERT") == 3, seen
    assert seen.count("SAVEPOINT") == 1 and seen.index("SAVEPOINT") == seen.index("INSERT") - 1, seen
    assert len(seen) <= 9, seen
    db.session.commit()
    row = db.session.execute(sa.select(QuizAttempt.__table__).where(QuizAttempt.id == attempt.id)).one()
    for column, value in row._mapping.items():
        assert getattr(attempt, column) == value, column  # the session's object is the row
    assert attempt.state == AttemptState.IN_PROGRESS and attempt.max_score == 10.0
    assert [question.position for question in attempt.questions] == [1, 2, 3, 4, 5]
    assert all(isinstance(question.snapshot, QuestionSnapshot) for question in attempt.questions)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionSnapshot)) == 5  # shared, not copied
    entry = db.session.scalar(sa.select(ContestEntry).where(ContestEntry.attempt_id == attempt.id))
    assert (entry.user_id, entry.once_slot, entry.hidden_count) == (member.id, 1, 0)


def test_a_start_that_lost_a_race_returns_the_winners_attempt(app, contest, make_user, monkeypatch):
    member = make_user()
    winner = contest_taking.start_contest_attempt(contest, member, OPEN)
    db.session.commit()
    winner_id = winner.id
    # This request read the member's attempts before the winner's commit: it saw none.
    real = contest_taking.own_attempt_rows
    monkeypatch.setattr(contest_taking, "own_attempt_rows", lambda c, u: real(c, make_user()))
    attempt = contest_taking.start_contest_attempt(contest, member, OPEN + timedelta(seconds=1))
    assert attempt.id == winner_id
    assert db.session.scalar(sa.select(sa.func.count(ContestEntry.id))) == 1


def test_an_attempt_rolled_back_with_its_entry_leaves_nothing_in_the_session(app, contest, make_user, monkeypatch):
    member = make_user()
    created = []

    def refused(contest, attempt):
        created.append(attempt.id)
        raise sa.exc.IntegrityError("INSERT INTO contest_entries", {}, Exception("once_slot"))

    monkeypatch.setattr(contest_taking, "_insert_entry", refused)
    with pytest.raises(InvalidState):
        contest_taking.start_contest_attempt(contest, member, OPEN)
    assert created and db.session.get(QuizAttempt, created[0]) is None
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 0


def test_a_second_start_reads_the_members_attempts_as_rows(app, make_question, make_user):
    questions = [make_question(QuestionType.SINGLE, points=2) for _ in range(3)]
    contest = create_contest(questions, open_at=OPEN, close_at=CLOSE, time_limit_seconds=600, attempts_allowed=3)
    member = make_user()
    first = contest_taking.start_contest_attempt(contest, member, OPEN)
    contest_taking.submit_contest_attempt(contest, first.id, member, OPEN + timedelta(minutes=1))
    db.session.commit()
    first_id = first.id
    db.session.expunge_all()
    contest, member = db.session.merge(contest, load=True), db.session.merge(member, load=True)
    loaded = []

    def on_load(target, context):
        loaded.append(target.id)

    sa.event.listen(QuizAttempt, "load", on_load)
    try:
        second = contest_taking.start_contest_attempt(contest, member, OPEN + timedelta(minutes=2))
    finally:
        sa.event.remove(QuizAttempt, "load", on_load)
    assert loaded == []  # the finished attempt was counted from a row, not loaded as an object
    assert second.number == 2 and second.id != first_id
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(ContestEntry.id))) == 2
