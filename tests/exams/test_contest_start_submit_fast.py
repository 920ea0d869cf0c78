"""The contest start's and submit's fast path (contests.views.start / submit, member_read, cache).

The member's login, the contest with its quiz (and the override or the attempt) are read in one
statement, without Flask-Login loading the member or the ORM loading the contest; a one-set
contest's questions come from the process's cache. Every refusal of the ordinary path must still
happen, and every edit must be seen at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import url_for

from lms.auth.models import Role, User
from lms.exams.contests import cache as contest_cache
from lms.exams.contests.models import Contest, ContestEntry, DrawMode
from lms.exams.questions.models import Question, QuestionType
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuestionSnapshot, Quiz, QuizAttempt, QuizOverride
from lms.extensions import db, login_manager
from tests.exams.contest_factories import create_contest
from tests.logins import remember_me_only
from tests.sql_count import RoundTrips

pytestmark = pytest.mark.postgres  # the round trips, and the start without a savepoint there

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=2)


@pytest.fixture
def questions(app, make_question):
    return [make_question(QuestionType.SINGLE, points=2) for _ in range(4)]


@pytest.fixture
def contest(app, questions):
    return create_contest(questions, open_at=OPEN, close_at=CLOSE, time_limit_seconds=1200, shuffle_questions=False)


@pytest.fixture
def member(client, login, make_user, frozen_clock):
    frozen_clock.set(OPEN + timedelta(minutes=1))
    user = make_user()
    login(user)
    return user


def _start(client, contest_id: int):
    return client.post(f"/contests/{contest_id}/start")


def _submit(client, contest_id: int, attempt_id: int):
    return client.post(
        f"/contests/{contest_id}/attempts/{attempt_id}/submit", json={}, headers={"Accept": "application/json"}
    )


def _attempts(user_id: int) -> list[tuple[int, AttemptState]]:
    with db.engine.connect() as connection:
        query = sa.select(QuizAttempt.id, QuizAttempt.state).where(QuizAttempt.user_id == user_id)
        return [tuple(row) for row in connection.execute(query.order_by(QuizAttempt.id))]


def _started(client, contest_id: int, user_id: int) -> int:
    response = _start(client, contest_id)
    assert response.status_code == 302 and response.location.endswith(f"/contests/{contest_id}/take")
    return _attempts(user_id)[-1][0]


@pytest.fixture
def no_loading(monkeypatch):
    """Fail if Flask-Login loads the member; the contests and quizzes the ORM loads meanwhile."""

    def no_user(user_id):
        raise AssertionError("the member was loaded")

    monkeypatch.setattr(login_manager, "_user_callback", no_user)
    loaded = []

    def on_load(target, context):
        loaded.append(target)

    for model in (Contest, Quiz):
        sa.event.listen(model, "load", on_load)
    yield loaded
    for model in (Contest, Quiz):
        sa.event.remove(model, "load", on_load)


def _change(user_id: int, **values) -> None:
    user = db.session.get(User, user_id)
    for key, value in values.items():
        setattr(user, key, value)
    db.session.commit()


# --- The fast path: the same results without loading the member or the contest ---------------


def test_start_and_submit_load_neither_the_member_nor_the_contest(app, client, contest, member, request):
    contest_id = contest.id
    loaded = request.getfixturevalue("no_loading")
    contest = type("Ids", (), {"id": contest_id})  # the test itself loads nothing either
    attempt_id = _started(client, contest.id, member.id)
    again = _start(client, contest.id)  # a second tab: the same attempt
    assert again.status_code == 302 and again.location.endswith("/take")
    assert _attempts(member.id) == [(attempt_id, AttemptState.IN_PROGRESS)]
    response = _submit(client, contest.id, attempt_id)
    assert response.status_code == 200
    with app.test_request_context():
        assert response.get_json() == {"ok": True, "state": "finished", "redirect": url_for(
            "contests.result", contest_id=contest.id)}  # fmt: skip
    assert _submit(client, contest.id, attempt_id).get_json()["state"] == "finished"  # idempotent
    assert _attempts(member.id) == [(attempt_id, AttemptState.FINISHED)]
    assert [type(target).__name__ for target in loaded] == []
    entry = db.session.scalar(sa.select(ContestEntry).where(ContestEntry.attempt_id == attempt_id))
    assert (entry.user_id, entry.once_slot) == (member.id, 1)


def test_a_start_that_lost_the_race_to_another_tab_returns_its_attempt(client, contest, member, monkeypatch):
    """The read saw no attempt, but the other tab's committed first: the database refuses the
    second (one open attempt a member), and this start returns the other's."""
    from lms.exams.contests import member_read

    first = _started(client, contest.id, member.id)
    real = member_read.start_read
    monkeypatch.setattr(member_read, "start_read", lambda *args: (*real(*args)[:4], []))
    second = _start(client, contest.id)
    assert second.status_code == 302 and second.location.endswith("/take")
    assert _attempts(member.id) == [(first, AttemptState.IN_PROGRESS)]
    assert db.session.scalar(sa.select(sa.func.count(ContestEntry.id))) == 1


def test_a_one_attempt_contest_refuses_a_second_start_after_the_submit(client, contest, member):
    attempt_id = _started(client, contest.id, member.id)
    _submit(client, contest.id, attempt_id)
    response = _start(client, contest.id)
    assert response.status_code == 302 and response.location.endswith(f"/contests/{contest.id}")
    assert len(_attempts(member.id)) == 1


def test_the_members_override_is_applied(client, contest, member):
    db.session.add(QuizOverride(quiz_id=contest.quiz_id, user_id=member.id, time_limit_seconds=60))
    db.session.commit()
    attempt_id = _started(client, contest.id, member.id)
    deadline = db.session.scalar(sa.select(QuizAttempt.deadline).where(QuizAttempt.id == attempt_id))
    assert deadline == OPEN + timedelta(minutes=2)


# --- Every refusal of the ordinary path ----------------------------------------------------------


@pytest.mark.parametrize("change", ["deactivated", "revoked"])
def test_a_deactivated_member_or_a_revoked_session_is_refused(app, client, contest, member, change):
    attempt_id = _started(client, contest.id, member.id)
    if change == "deactivated":
        _change(member.id, is_active=False)
    else:
        _change(member.id, session_version=member.session_version + 1)
    assert _submit(client, contest.id, attempt_id).status_code == 401
    response = _start(client, contest.id)
    assert response.status_code == 302 and "/login" in response.location
    assert _attempts(member.id) == [(attempt_id, AttemptState.IN_PROGRESS)]


def test_a_refused_login_starts_nothing(client, contest, member):
    _change(member.id, is_active=False)
    response = _start(client, contest.id)
    assert response.status_code == 302 and "/login" in response.location
    assert _attempts(member.id) == []


def test_a_forced_password_change_is_enforced(app, client, contest, member):
    _change(member.id, must_change_password=True)
    with app.test_request_context():
        target = url_for("auth.change_password")
    response = _start(client, contest.id)
    assert response.status_code == 302 and response.location.endswith(target)
    assert _attempts(member.id) == []
    _change(member.id, must_change_password=False)
    attempt_id = _started(client, contest.id, member.id)
    _change(member.id, must_change_password=True)
    response = _submit(client, contest.id, attempt_id)
    assert response.status_code == 302 and response.location.endswith(target)
    assert _attempts(member.id) == [(attempt_id, AttemptState.IN_PROGRESS)]


def test_anonymous_is_refused(client, contest, member):
    with client.session_transaction() as session:
        session.clear()
    response = _start(client, contest.id)
    assert response.status_code == 302 and "/login" in response.location
    assert _submit(client, contest.id, 1).status_code == 401
    assert _attempts(member.id) == []


@pytest.mark.parametrize("session_login", ["none", "stale"])
def test_a_remember_me_cookie_still_starts_and_submits(app, client, contest, member, session_login):
    remember_me_only(app, client, member, session_login)
    attempt_id = _started(client, contest.id, member.id)
    assert _submit(client, contest.id, attempt_id).get_json()["state"] == "finished"


def test_another_members_attempt_looks_missing(client, login, make_user, contest, member):
    attempt_id = _started(client, contest.id, member.id)
    login(make_user())
    response = _submit(client, contest.id, attempt_id)
    assert response.status_code == 404
    assert _attempts(member.id) == [(attempt_id, AttemptState.IN_PROGRESS)]


def test_an_attempt_of_another_contest_looks_missing(client, make_question, contest, member):
    other = create_contest([make_question()], open_at=OPEN, close_at=CLOSE)
    attempt_id = _started(client, other.id, member.id)
    assert _submit(client, contest.id, attempt_id).status_code == 404
    assert _submit(client, contest.id + 1000, attempt_id).status_code == 404  # no such contest
    assert _attempts(member.id) == [(attempt_id, AttemptState.IN_PROGRESS)]


@pytest.mark.parametrize("when", [OPEN - timedelta(minutes=5), CLOSE + timedelta(minutes=1)])
def test_before_the_opening_or_after_the_close_nothing_starts(client, contest, member, frozen_clock, when):
    frozen_clock.set(when)
    response = _start(client, contest.id)
    assert response.status_code == 302 and response.location.endswith(f"/contests/{contest.id}")
    assert _attempts(member.id) == []


def test_an_unpublished_or_missing_contest_is_not_found(client, questions, member):
    draft = create_contest(questions, open_at=OPEN, close_at=CLOSE, publish=False)
    assert _start(client, draft.id).status_code == 404
    assert _start(client, draft.id + 1000).status_code == 404
    assert _attempts(member.id) == []


def test_a_member_outside_the_audience_can_neither_start_nor_submit(client, contest, member):
    attempt_id = _started(client, contest.id, member.id)
    contest.quiz.set_audience(roles=[str(Role.SECRETARY)])  # edited while the contest runs
    db.session.commit()
    assert _start(client, contest.id).status_code == 404
    assert _submit(client, contest.id, attempt_id).status_code == 404
    assert _attempts(member.id) == [(attempt_id, AttemptState.IN_PROGRESS)]


def test_a_member_of_a_branch_outside_the_audience_is_refused(client, make_branch, questions, member):
    other = make_branch("另一个党支部")
    contest = create_contest(questions, open_at=OPEN, close_at=CLOSE, audience_branch_ids=[other.id])
    assert _start(client, contest.id).status_code == 404
    db.session.get(User, member.id).branch_id = other.id
    db.session.commit()
    assert _started(client, contest.id, member.id)


# --- The per-process cache follows every edit ----------------------------------------------------


def _snapshot_stems(attempt_id: int) -> list[str]:
    query = (
        sa.select(QuestionSnapshot.stem)
        .join(AttemptQuestion, AttemptQuestion.snapshot_id == QuestionSnapshot.id)
        .where(AttemptQuestion.attempt_id == attempt_id)
        .order_by(AttemptQuestion.position)
    )
    return list(db.session.scalars(query))


def _question_reads(run) -> int:
    """How many statements of ``run`` read the questions' contents or look up their snapshots."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return sum("questions.stem" in s or "question_snapshots.content_hash" in s for s in seen)


def test_the_question_set_is_cached_and_an_edited_question_is_seen_at_once(client, login, make_user, contest,
                                                                          questions, member):  # fmt: skip
    first = _started(client, contest.id, member.id)  # writes the snapshots: nothing kept yet
    login(second := make_user())
    _started(client, contest.id, second.id)  # reads them: the set is kept
    assert contest_cache.question_set(contest.id) is not None
    login(third := make_user())
    assert _question_reads(lambda: _started(client, contest.id, third.id)) == 0  # from the cache
    question = db.session.get(Question, questions[1].id)
    question.stem, question.version = "修改后的题干", question.version + 1  # an edit (banks.update_question)
    db.session.commit()
    login(fourth := make_user())
    reads = _question_reads(lambda: _started(client, contest.id, fourth.id))
    assert reads >= 1
    latest = _attempts(fourth.id)[-1][0]
    stems = _snapshot_stems(latest)
    assert stems[1] == "修改后的题干" and stems[0] == _snapshot_stems(first)[0]
    assert _snapshot_stems(first)[1] != "修改后的题干"  # attempts keep their own snapshot


def test_a_deleted_question_or_a_new_draw_is_seen_at_once(client, login, make_user, make_question, contest,
                                                          questions, member):  # fmt: skip
    _started(client, contest.id, member.id)
    login(second := make_user())
    _started(client, contest.id, second.id)
    assert contest_cache.question_set(contest.id) is not None
    db.session.delete(db.session.get(Question, questions[3].id))
    db.session.commit()
    login(third := make_user())
    assert len(_snapshot_stems(_started(client, contest.id, third.id))) == 3
    replacement = make_question(stem="新的题目")
    contest = db.session.get(Contest, contest.id)
    contest.frozen_draw = [[replacement.id, 5.0]]
    db.session.commit()
    login(fourth := make_user())
    assert _snapshot_stems(_started(client, contest.id, fourth.id)) == ["新的题目"]


def test_an_edit_of_the_contest_is_seen_at_once(client, login, make_user, contest, member, frozen_clock):
    _started(client, contest.id, member.id)
    login(second := make_user())
    _started(client, contest.id, second.id)  # everything that could be kept is kept
    quiz = db.session.get(Quiz, contest.quiz_id)
    quiz.close_at = OPEN + timedelta(seconds=30)  # closed early
    db.session.commit()
    login(third := make_user())
    response = _start(client, contest.id)
    assert response.status_code == 302 and response.location.endswith(f"/contests/{contest.id}")
    assert _attempts(third.id) == []
    quiz.close_at, quiz.attempts_allowed = CLOSE, 2
    db.session.commit()
    first = _attempts(member.id)[0][0]
    _submit(client, contest.id, _started(client, contest.id, third.id))
    login(member)
    _submit(client, contest.id, first)
    second_attempt = _started(client, contest.id, member.id)  # two attempts allowed now
    assert second_attempt != first


def test_a_per_member_draw_still_draws_for_each_member(app, client, make_question, member):
    pool = [make_question(QuestionType.TRUE_FALSE) for _ in range(6)]
    contest = create_contest(open_at=OPEN, close_at=CLOSE, draw_mode=DrawMode.PER_MEMBER, publish=False)
    from lms.exams.contests import setup

    bank_id = pool[0].bank_id
    setup.add_draw_rule(db.session.get(Contest, contest.id), bank_id=bank_id, question_type=None, tag="",
                        difficulty=None, count=3, points=1.0)  # fmt: skip
    setup.publish_contest(db.session.get(Contest, contest.id), now=OPEN - timedelta(hours=1))
    db.session.commit()
    attempt_id = _started(client, contest.id, member.id)
    assert len(_snapshot_stems(attempt_id)) == 3
    assert contest_cache.question_set(contest.id) is None


# --- What a start and a submit cost ---------------------------------------------------------------


def test_a_start_and_a_submit_statements_and_round_trips(client, login, make_user, contest, member):
    _started(client, contest.id, member.id)
    login(second := make_user())
    _started(client, contest.id, second.id)  # the question set is kept from now on
    login(third := make_user())
    contest_id = contest.id
    trips = RoundTrips(db.engine)
    with trips.counting("start"):
        assert _start(client, contest_id).status_code == 302
    attempt_id = _attempts(third.id)[-1][0]
    with trips.counting("submit"):
        assert _submit(client, contest_id, attempt_id).get_json()["state"] == "finished"
    start, submit = trips.last("start"), trips.last("submit")
    # The start: the login with the contest, quiz, override, the member's attempts and the question
    # set's check; the attempt, its questions (one executemany) and the entry (in a savepoint on
    # SQLite, where it takes the write lock; on PostgreSQL the request has written nothing before).
    writes = ["INSERT", "INSERT*", "INSERT"]
    if db.engine.dialect.name == "sqlite":
        writes = ["SAVEPOINT", *writes, "RELEASE_SAVEPOINT"]
    assert [s for s in start.seen if s not in ("BEGIN", "COMMIT")] == ["SELECT", *writes], start.seen
    # The submit: the login with the contest and the attempt; then the attempt locked, its answers
    # graded (on SQLite before the lock, whose read then is the answers' sequence numbers), written.
    # (On PostgreSQL the writes and the commit go in one pipeline: one round trip.)
    reads = ["SELECT"] * (3 if db.engine.dialect.name == "postgresql" else 4)
    assert [s for s in submit.seen if s not in ("BEGIN", "COMMIT", "[pipeline")] == [*reads, "UPDATE*", "UPDATE"], (
        submit.seen
    )
    if db.engine.dialect.name == "postgresql":
        # The first read runs before the transaction (lms.db: reads before the first write, or a
        # locking read, run in autocommit), so BEGIN goes with the first write or the row lock.
        assert start.seen == ["SELECT", "BEGIN", "INSERT", "INSERT*", "INSERT", "COMMIT"]
        # The submit's COMMIT is the connection's, inside the pipeline (the session's commit after
        # it sends nothing): SQLAlchemy's commit event does not see it, the round trips count it.
        assert submit.seen == ["SELECT", "BEGIN", "SELECT", "SELECT", "[pipeline", "UPDATE*", "UPDATE"]
        assert (start.round_trips, submit.round_trips) == (6, 5)


def test_a_submit_hands_its_connection_back_only_after_its_pipeline(app, client, contest, member):
    """Handed back inside its pipeline (the session's commit there did), the connection was taken by
    another thread while its pipeline was still open: under load, "the connection is closed"."""
    contest_id, member_id = contest.id, member.id
    attempt_id = _started(client, contest_id, member_id)
    in_pipeline_at_checkin = []

    def checkin(dbapi_connection, record):
        if dbapi_connection is not None:
            in_pipeline_at_checkin.append(getattr(dbapi_connection, "_pipeline", None) is not None)

    sa.event.listen(db.engine, "checkin", checkin)
    try:
        assert _submit(client, contest_id, attempt_id).get_json()["state"] == "finished"
    finally:
        sa.event.remove(db.engine, "checkin", checkin)
    assert in_pipeline_at_checkin and not any(in_pipeline_at_checkin)
    assert _attempts(member_id)[-1][1] == AttemptState.FINISHED


def test_a_submit_whose_write_fails_commits_none_of_its_writes(app, client, contest, member, monkeypatch):
    """The grades, the attempt's close and the commit go together (one pipeline on PostgreSQL):
    a write the database refuses leaves the attempt in progress and no grade written."""
    from lms.exams.quizzes import attempts as quiz_attempts
    from lms.raw_sql import RawStatement

    contest_id, member_id = contest.id, member.id
    attempt_id = _started(client, contest_id, member_id)
    failing = RawStatement(sa.text("UPDATE quiz_attempts SET number = NULL WHERE id = :b_id"))  # NOT NULL
    monkeypatch.setattr(quiz_attempts, "_CLOSE_RAW", failing)
    with pytest.raises((db.engine.dialect.dbapi.IntegrityError, sa.exc.IntegrityError)):
        _submit(client, contest_id, attempt_id)
    db.session.rollback()
    assert _attempts(member_id) == [(attempt_id, AttemptState.IN_PROGRESS)]
    with db.engine.connect() as connection:
        scores = connection.scalars(sa.select(AttemptQuestion.score).where(AttemptQuestion.attempt_id == attempt_id))
        assert list(scores) == [None] * 4


def test_a_submit_with_wrong_and_right_answers_grades_and_records_the_mistakes(client, contest, member):
    """The grades and the notebook's upsert go in the commit's pipeline on PostgreSQL."""
    from lms.exams.quizzes.models import WrongAnswer
    from tests.exams.contest_factories import key_response, wrong_response

    contest_id, member_id = contest.id, member.id
    attempt_id = _started(client, contest_id, member_id)
    attempt = db.session.get(QuizAttempt, attempt_id)
    questions = sorted(attempt.questions, key=lambda question: question.position)
    answers = [key_response(questions[0]), wrong_response(questions[1])]
    db.session.rollback()
    for position, response in enumerate(answers, start=1):
        body = {"position": position, "response": response, "seq": 1}
        assert client.post(f"/quizzes/attempts/{attempt_id}/answers", json=body).get_json()["applied"]
    assert _submit(client, contest_id, attempt_id).get_json()["state"] == "finished"
    db.session.expire_all()
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert (attempt.state, attempt.score, attempt.score_percent) == (AttemptState.FINISHED, 2.0, 25.0)
    wrong = db.session.scalars(sa.select(WrongAnswer).where(WrongAnswer.user_id == member_id)).all()
    assert [(entry.question_id, entry.wrong_count) for entry in wrong] == [(questions[1].question_id, 1)]
