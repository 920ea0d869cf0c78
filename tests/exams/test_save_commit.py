"""Answer saves, set-based and group-committed (lms.exams.quizzes.saves)."""

from __future__ import annotations

import gc
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.db import pings_before_use
from lms.exams.quizzes import saves
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuizAttempt
from lms.extensions import db

pytestmark = pytest.mark.postgres  # row locks, the lent connection, parallel batches on PostgreSQL


def _start(client, quiz) -> int:
    response = client.post(f"/quizzes/{quiz.id}/start")
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def stored(attempt_id: int) -> dict[int, tuple]:
    """The attempt's answers as a new connection sees them: only committed rows."""
    query = sa.select(AttemptQuestion.position, AttemptQuestion.client_seq, AttemptQuestion.response,
                      AttemptQuestion.time_spent_seconds).where(AttemptQuestion.attempt_id == attempt_id)  # fmt: skip
    with db.engine.connect() as connection:
        return {row.position: tuple(row)[1:] for row in connection.execute(query)}


def test_a_save_is_committed_before_it_is_answered(app, client, login, make_user, make_quiz, four_questions,
                                                   frozen_clock):  # fmt: skip
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    committer = saves.SaveCommitter.of(app)
    before = committer.batches
    response = client.post(f"/quizzes/attempts/{attempt_id}/answers",
                           json={"position": 3, "response": {"value": True}, "seq": 1})  # fmt: skip
    assert response.status_code == 200 and response.get_json()["applied"]
    assert committer.batches == before + 1
    assert stored(attempt_id)[3][:2] == (1, {"value": True})  # another connection sees it: it was committed


def test_a_failed_commit_is_never_answered_as_saved(app, client, login, make_user, make_quiz, four_questions,
                                                    frozen_clock, monkeypatch):  # fmt: skip
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))

    def failing_commit(connection):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sa.engine.Connection, "commit", failing_commit)
    with pytest.raises(sa.exc.OperationalError):
        client.post(f"/quizzes/attempts/{attempt_id}/answers",
                    json={"position": 3, "response": {"value": True}, "seq": 1})  # fmt: skip
    monkeypatch.undo()
    assert stored(attempt_id)[3][:2] == (0, None)


def test_saves_waiting_together_are_applied_in_one_transaction_as_one_at_a_time(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock
):
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    members = [make_user() for _ in range(3)]
    attempts = {}
    for member in members:
        login(member)
        attempts[member.id] = _start(client, quiz)
    frozen_clock.advance(30)
    now = frozen_clock.now
    items = []
    for member in members:
        attempt_id = attempts[member.id]
        items += [
            (saves.prepare_save(attempt_id, member, 3, {"value": True}, 1), now),
            (saves.prepare_save(attempt_id, member, 3, {"value": False}, 3), now + timedelta(seconds=10)),
            (saves.prepare_save(attempt_id, member, 3, {"value": True}, 2), now + timedelta(seconds=20)),  # stale
            (saves.prepare_save(attempt_id, member, 1, {"choice": 0}, 1), now + timedelta(seconds=25)),
        ]
    db.session.rollback()
    committer = saves.SaveCommitter(app)
    answers: dict[int, object] = {}
    with committer._cond:
        committer._leading = committer.max_leaders()  # busy leaders: the saves queue as followers

    def follower(index, prepared, moment):
        with app.app_context():
            answers[index] = committer.submit(prepared, moment)

    threads = [threading.Thread(target=follower, args=(i, *item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(committer._waiting) < len(items):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    committer._lead(None)
    with committer._cond:
        committer._leading = 0
        committer._cond.notify_all()
    for thread in threads:
        thread.join(30)
    assert committer.batches == 1
    for offset in range(0, len(items), 4):
        first, newer, stale, other = (answers[offset + k] for k in range(4))
        assert first.applied and newer.applied and not stale.applied and other.applied
        assert stale.seq == 3 and stale.response == {"value": False}  # the stale save answers what is stored
    for member in members:
        rows = stored(attempts[member.id])
        # 30 s to the first save, 10 s to the second on the same question; the stale one counts nothing.
        assert rows[3] == (3, {"value": False}, 40)
        assert rows[1][0] == 1 and rows[1][2] == 15


def test_a_batch_runs_each_statement_once(app, client, login, make_user, make_quiz, four_questions, frozen_clock):
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    members = [make_user() for _ in range(3)]
    prepared = []
    for member in members:
        login(member)
        attempt_id = _start(client, quiz)
        prepared.append((saves.prepare_save(attempt_id, member, 3, {"value": True}, 1), frozen_clock.now))
    db.session.rollback()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.engine.connect() as connection:
            results = saves.apply_saves(connection, prepared)
            connection.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert all(result.applied for result in results)
    # The attempts and their answers locked in one SELECT, one executemany per write.
    assert [s for s in statements if s in ("SELECT", "INSERT", "UPDATE", "DELETE")] == ["SELECT", "UPDATE", "UPDATE"]


def test_a_save_to_a_submitted_attempt_is_refused_through_the_batch(app, client, login, make_user, make_quiz,
                                                                     four_questions, frozen_clock):  # fmt: skip
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    assert client.post(f"/quizzes/attempts/{attempt_id}/submit").status_code in (200, 302)
    response = client.post(f"/quizzes/attempts/{attempt_id}/answers",
                           json={"position": 3, "response": {"value": True}, "seq": 1})  # fmt: skip
    assert response.status_code == 409 and response.get_json()["final"] is True
    assert db.session.get(QuizAttempt, attempt_id).state == AttemptState.FINISHED
    assert stored(attempt_id)[3][:2] == (0, None)


def test_a_start_inserts_its_questions_in_one_statement(app, make_user, make_quiz, four_questions, frozen_clock):
    """A contest's burst of starts: the attempt's questions go in one executemany, and read back at once."""
    from lms.exams.quizzes import attempts as quiz_attempts

    quiz = make_quiz(four_questions, time_limit_seconds=600)
    member = make_user()
    inserts: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ATTEMPT_QUESTIONS"):
            inserts.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        attempt = quiz_attempts.start_attempt(quiz, member, frozen_clock.now)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert len(inserts) == 1
    assert [question.position for question in attempt.questions] == [1, 2, 3, 4]
    assert attempt.max_score == sum(question.points for question in attempt.questions)


def test_a_save_checks_out_one_connection(app, client, login, make_user, make_quiz, four_questions, frozen_clock):
    """The save is prepared and, its request leading, committed on one connection (a checkout costs a ping)."""
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    checkouts = []

    def checkout(dbapi_connection, record, proxy):
        checkouts.append(dbapi_connection)

    sa.event.listen(db.engine.pool, "checkout", checkout)
    try:
        response = client.post(f"/quizzes/attempts/{attempt_id}/answers",
                               json={"position": 3, "response": {"value": True}, "seq": 1})  # fmt: skip
    finally:
        sa.event.remove(db.engine.pool, "checkout", checkout)
    assert response.status_code == 200 and response.get_json()["applied"]
    assert len(checkouts) <= 1  # none on PostgreSQL once the thread keeps one (below)
    assert stored(attempt_id)[3][:2] == (1, {"value": True})


def _pings_on_checkout() -> bool:
    return pings_before_use(db.engine)


def _save(client, attempt_id: int, position: int, seq: int):
    return client.post(f"/quizzes/attempts/{attempt_id}/answers",
                       json={"position": position, "response": {"value": True}, "seq": seq})  # fmt: skip


def test_where_checkouts_ping_a_thread_keeps_its_save_connection_between_saves(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock
):
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    assert _save(client, attempt_id, 3, 1).get_json()["applied"]
    checkouts = []

    def checkout(dbapi_connection, record, proxy):
        checkouts.append(dbapi_connection)

    sa.event.listen(db.engine.pool, "checkout", checkout)
    try:
        for seq in (2, 3):
            assert _save(client, attempt_id, 3, seq).get_json()["applied"]
        refused = _save(client, attempt_id, 99, 4)  # no such question: refused, the connection kept
        assert refused.status_code == 404
        assert _save(client, attempt_id, 3, 5).get_json()["applied"]
    finally:
        sa.event.remove(db.engine.pool, "checkout", checkout)
    kept = getattr(saves.SaveCommitter.of(app)._kept, "entry", None)
    if _pings_on_checkout():
        assert checkouts == []  # no checkout, so no ping round trip, per save
        assert kept is not None and not kept[0].in_transaction()  # no transaction left open between requests
    else:
        assert len(checkouts) == 4 and kept is None  # SQLite: from the pool each time
    assert stored(attempt_id)[3][0] == 5


def test_a_kept_save_connection_the_server_closed_is_replaced(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock
):
    if not _pings_on_checkout():
        pytest.skip("connections are kept only where the pool pings them (PostgreSQL)")
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    assert _save(client, attempt_id, 3, 1).get_json()["applied"]
    committer = saves.SaveCommitter.of(app)
    dead = committer._kept.entry[0]
    pid = dead.connection.dbapi_connection.info.backend_pid
    with db.engine.connect() as admin:  # the database drops it (a restart, an idle timeout)
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    deadline = time.monotonic() + 5  # the server's end of the socket closes as the backend exits
    while not saves.SaveCommitter._closed_by_server(dead) and time.monotonic() < deadline:
        time.sleep(0.01)
    response = _save(client, attempt_id, 3, 2)  # used at once: not idle long enough to be pinged anyway
    assert response.status_code == 200 and response.get_json()["applied"]
    assert committer._kept.entry[0] is not dead
    assert stored(attempt_id)[3][0] == 2


def test_a_save_request_failing_drops_its_kept_connection(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    if not _pings_on_checkout():
        pytest.skip("connections are kept only where the pool pings them (PostgreSQL)")
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    assert _save(client, attempt_id, 3, 1).get_json()["applied"]
    committer = saves.SaveCommitter.of(app)
    used = committer._kept.entry[0]

    def broken(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(saves, "apply_saves", broken)
    with pytest.raises(RuntimeError):
        _save(client, attempt_id, 3, 2)
    monkeypatch.undo()
    assert committer._kept.entry is None and used.closed
    assert _save(client, attempt_id, 3, 2).get_json()["applied"]


def test_a_failed_batch_on_a_lent_connection_is_applied_one_by_one_on_it(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    members = [make_user() for _ in range(2)]
    prepared = []
    for member in members:
        login(member)
        attempt_id = _start(client, quiz)
        prepared.append(saves.prepare_save(attempt_id, member, 3, {"value": True}, 1))
    db.session.rollback()
    # A save of a question its attempt does not have: with its attempt's other save in the batch, the
    # batch fails after it took the lock (KeyError); alone, it finds no attempt (FINAL).
    bad = saves.PreparedSave(prepared[1].attempt_id, 10**9, 3, 1, prepared[1].question_type, [], {"value": True})
    committer = saves.SaveCommitter(app)
    others = [saves.PendingSave(prepared[0], frozen_clock.now), saves.PendingSave(bad, frozen_clock.now)]
    rollbacks = []
    with db.engine.connect() as lent:
        sa.event.listen(lent, "rollback", lambda conn: rollbacks.append(conn))
        with committer._cond:
            committer._waiting += others
        result = committer.submit(prepared[1], frozen_clock.now, connection=lent)
        assert rollbacks == [lent]  # the failed batch rolled back on the lender's connection, which goes on
    assert result.applied
    assert others[0].outcome.applied and others[1].outcome == saves.FINAL
    assert committer.batches == 3  # the failed batch counts nothing; then one by one
    for save in prepared:
        assert stored(save.attempt_id)[3][:2] == (1, {"value": True})


def test_batches_run_one_at_a_time_on_sqlite_and_in_parallel_elsewhere(app):
    expected = 1 if db.engine.dialect.name == "sqlite" else saves.PARALLEL_BATCHES
    assert saves.SaveCommitter(app).max_leaders() == expected
    assert saves.PARALLEL_BATCHES > 1


def test_a_batch_locks_in_one_step_and_writes_with_its_commit_in_another(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    """On PostgreSQL each step is one psycopg pipeline (one round trip): the SELECT ... FOR UPDATE
    with its BEGIN, then both UPDATEs with the COMMIT; the answer is only then given."""
    member = make_user()
    login(member)
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    prepared = saves.prepare_save(attempt_id, member, 3, {"value": True}, 1)
    db.session.rollback()
    steps: list[list[str]] = []
    real_pipeline = saves.pipeline

    def recording_pipeline(connection):
        step: list[str] = []
        steps.append(step)

        def statement(conn, cursor, sql, params, context, executemany):
            step.append(sql.split()[0].upper())

        def commit(conn):
            step.append("COMMIT")

        sa.event.listen(db.engine, "before_cursor_execute", statement)
        sa.event.listen(connection, "commit", commit)
        try:
            with real_pipeline(connection):
                yield
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", statement)
            sa.event.remove(connection, "commit", commit)

    monkeypatch.setattr(saves, "pipeline", __import__("contextlib").contextmanager(recording_pipeline))
    result = saves.SaveCommitter(app).submit(prepared, frozen_clock.now)
    assert result.applied
    assert steps == [["SELECT"], ["UPDATE", "UPDATE", "COMMIT"]]
    assert stored(attempt_id)[3][:2] == (1, {"value": True})


def test_a_write_failing_in_the_batch_commits_nothing_and_leaves_the_lent_connection_usable(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    member = make_user()
    login(member)
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    prepared = saves.prepare_save(attempt_id, member, 3, {"value": True}, 1)
    db.session.rollback()
    with db.engine.connect() as connection:
        touched_before = connection.scalar(sa.select(QuizAttempt.last_activity_at).where(QuizAttempt.id == attempt_id))
    # The answer's UPDATE fails in the database (NOT NULL; on PostgreSQL inside the pipeline).
    failing = saves.RawStatement(
        sa.text("UPDATE attempt_questions SET time_spent_seconds = NULL WHERE id = :b_question")
    )
    monkeypatch.setattr(saves, "_WRITE_RAW", failing)
    frozen_clock.advance(5)
    with db.engine.connect() as lent:
        # By the driver (raw_sql), or by SQLAlchemy's commit when psycopg's pipeline reports it there.
        with pytest.raises((db.engine.dialect.dbapi.IntegrityError, sa.exc.IntegrityError)):
            saves.SaveCommitter(app).submit(prepared, frozen_clock.now, connection=lent)
        assert lent.scalar(sa.select(sa.literal(1))) == 1  # the lender's connection goes on
        lent.rollback()
    assert stored(attempt_id)[3][:2] == (0, None)
    with db.engine.connect() as connection:  # the attempt's touch, written before the failure, was not committed
        assert (
            connection.scalar(sa.select(QuizAttempt.last_activity_at).where(QuizAttempt.id == attempt_id))
            == touched_before
        )


def test_a_kept_save_connection_idle_for_long_is_pinged_first(
    app, client, login, make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    if not _pings_on_checkout():
        pytest.skip("connections are kept only where the pool pings them (PostgreSQL)")
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=600))
    assert _save(client, attempt_id, 3, 1).get_json()["applied"]
    pings = []
    real_ping = db.engine.dialect.do_ping
    monkeypatch.setattr(
        db.engine.dialect, "do_ping", lambda dbapi_connection: pings.append(1) or real_ping(dbapi_connection)
    )
    assert _save(client, attempt_id, 3, 2).get_json()["applied"]
    assert pings == []  # used a moment ago: no ping
    monkeypatch.setattr(saves, "KEPT_IDLE_PING_SECONDS", 0.0)
    assert _save(client, attempt_id, 3, 3).get_json()["applied"]
    assert pings == [1]


def test_a_kept_save_connection_goes_back_to_the_pool_when_its_thread_ends(app):
    """A server that starts a thread per request (Werkzeug's) leaks no connection."""
    if not _pings_on_checkout():
        pytest.skip("connections are kept only where the pool pings them (PostgreSQL)")
    db.session.remove()
    checked_out = db.engine.pool.checkedout()
    outcomes = []

    def request_thread():
        with app.test_request_context():
            committer = saves.SaveCommitter.of(app)
            with committer.request_connection() as connection:
                outcomes.append(connection.scalar(sa.select(sa.literal(1))))
            outcomes.append(committer._kept.entry[0])

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join()
    assert outcomes[0] == 1
    kept = outcomes.pop()
    del thread
    gc.collect()
    assert kept.closed
    assert db.engine.pool.checkedout() == checked_out
