"""Group commit of heartbeats and the heartbeat's login fast path (lms.courses.beat_commit)."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from flask import url_for

from lms.auth.models import User
from lms.courses import beat_commit, tracking
from lms.courses.models import LessonKind, StudyLedgerEntry
from lms.extensions import db, login_manager


@pytest.fixture
def video(make_course, lesson_of, frozen_clock):
    return lesson_of(make_course((LessonKind.VIDEO, 600.0)))


def fresh_total(app, user_id: int | None = None) -> float:
    """The ledger as a new connection sees it: only committed rows."""
    query = sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0))
    if user_id is not None:
        query = query.where(StudyLedgerEntry.user_id == user_id)
    with db.engine.connect() as connection:
        return float(connection.execute(query).scalar())


def beat_body(session_id: str, lesson, start: float, end: float) -> dict:
    return {"session_id": session_id, "lesson_id": lesson.id, "from": start, "to": end, "rate": 1,
            "visible": True, "idle_seconds": 0}  # fmt: skip


def send(client, body):
    return client.post("/courses/heartbeat", data=json.dumps(body), headers={"Content-Type": "text/plain"})


def start(client, lesson) -> str:
    response = client.post(f"/courses/lessons/{lesson.id}/session", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["session_id"]


def test_a_beat_is_committed_before_it_is_answered(app, client, login, make_user, video, frozen_clock):
    member = make_user()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(15)
    committer = beat_commit.committer(app)
    before = committer.batches
    response = send(client, beat_body(session_id, video, 0, 15))
    assert response.status_code == 200 and response.get_json()["credited"] == 15
    assert committer.batches == before + 1
    assert fresh_total(app, member.id) == 15  # another connection sees it: it was committed


def test_a_failed_commit_is_never_answered_as_credited(app, client, login, make_user, video, frozen_clock,
                                                       monkeypatch):  # fmt: skip
    member = make_user()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(15)

    def failing_commit(connection):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sa.engine.Connection, "commit", failing_commit)
    with pytest.raises(sa.exc.OperationalError):
        send(client, beat_body(session_id, video, 0, 15))
    monkeypatch.undo()
    assert fresh_total(app, member.id) == 0


def test_the_fast_path_does_not_load_the_user(app, client, login, make_user, video, frozen_clock, monkeypatch):
    member = make_user()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(15)

    def no_loading(user_id):
        raise AssertionError("the heartbeat loaded the user")

    monkeypatch.setattr(login_manager, "_user_callback", no_loading)
    response = send(client, beat_body(session_id, video, 0, 15))
    assert response.status_code == 200 and response.get_json()["credited"] == 15


@pytest.mark.parametrize(("saved", "expected"), [("en", "Only the part that could really have been played"),
                                                  (None, "只计入了实际可能播放的部分")])  # fmt: skip
def test_a_beats_message_is_in_the_members_language_without_loading_the_user(
    app, client, login, make_user, video, frozen_clock, monkeypatch, saved, expected
):
    member = make_user()
    db.session.get(User, member.id).locale = saved
    db.session.commit()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(5)

    def no_loading(user_id):
        raise AssertionError("the heartbeat loaded the user")

    monkeypatch.setattr(login_manager, "_user_callback", no_loading)
    body = send(client, beat_body(session_id, video, 0, 15)).get_json()  # 15 s claimed 5 s after the start
    assert body["reason"] == "faster_than_plausible" and 0 < body["credited"] < 15
    assert body["message"].startswith(expected)


@pytest.mark.parametrize("change", ["deactivated", "revoked", "deleted"])
def test_a_deactivated_member_or_a_revoked_session_is_refused(app, client, login, make_user, video, frozen_clock,
                                                                change):  # fmt: skip
    member = make_user()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(15)
    user = db.session.get(User, member.id)
    if change == "deactivated":
        user.is_active = False
    elif change == "revoked":
        user.session_version += 1  # logout elsewhere, password change
    else:
        db.session.execute(sa.update(User).where(User.id == member.id).values(session_version=99))
    db.session.commit()
    response = send(client, beat_body(session_id, video, 0, 15))
    assert response.status_code == 401
    assert response.get_json()["reason"] == "login"
    assert fresh_total(app, member.id) == 0


def test_a_forced_password_change_is_enforced(app, client, login, make_user, video, frozen_clock):
    member = make_user()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(15)
    db.session.get(User, member.id).must_change_password = True
    db.session.commit()
    response = send(client, beat_body(session_id, video, 0, 15))
    assert response.status_code == 302
    with app.test_request_context():
        assert response.headers["Location"].endswith(url_for("auth.change_password"))
    assert fresh_total(app, member.id) == 0


def _queue_behind_a_busy_leader(app, committer, items):
    """Submit ``items`` (member, beat, now) from threads while a leader is busy; they wait as followers."""
    answers: dict[int, object] = {}
    with committer._cond:
        committer._leading = True

    def follower(index, member, beat, now):
        with app.app_context():
            try:
                answers[index] = committer.submit(member.id, member.session_version, beat, now)
            except Exception as error:
                answers[index] = error

    threads = [threading.Thread(target=follower, args=(i, *item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(committer._waiting) < len(items):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return threads, answers


def test_beats_waiting_together_are_applied_in_one_transaction(app, client, login, make_user, video, frozen_clock):
    members = [make_user() for _ in range(6)]
    sessions = {}
    for member in members:
        login(member)
        sessions[member.id] = start(client, video)
    frozen_clock.advance(15)
    now = frozen_clock.now
    committer = beat_commit.BeatCommitter(app)
    items = [(member, tracking.Heartbeat(session_id=sessions[member.id], lesson_id=video.id, start=0.0, end=15.0),
              now) for member in members]  # fmt: skip
    threads, answers = _queue_behind_a_busy_leader(app, committer, items)
    committer._lead(None)  # the busy leader turns to the waiting beats: one batch
    with committer._cond:
        committer._leading = False
        committer._cond.notify_all()
    for thread in threads:
        thread.join(30)
    assert committer.batches == 1
    assert [answers[i].credited for i in range(len(items))] == [15] * 6
    assert fresh_total(app) == 90


def test_a_waiting_beat_becomes_the_leader_when_the_leader_steps_down(app, client, login, make_user, video,
                                                                       frozen_clock):  # fmt: skip
    member = make_user()
    login(member)
    session_id = start(client, video)
    frozen_clock.advance(15)
    committer = beat_commit.BeatCommitter(app)
    beat = tracking.Heartbeat(session_id=session_id, lesson_id=video.id, start=0.0, end=15.0)
    threads, answers = _queue_behind_a_busy_leader(app, committer, [(member, beat, frozen_clock.now)])
    with committer._cond:  # the leader leaves without taking the waiting beat
        committer._leading = False
        committer._cond.notify_all()
    threads[0].join(30)
    assert answers[0].credited == 15 and committer.batches == 1
    assert fresh_total(app, member.id) == 15


def test_one_failing_beat_does_not_sink_the_batch(app, client, login, make_user, video, frozen_clock, monkeypatch):
    good, bad = make_user(), make_user()
    sessions = {}
    for member in (good, bad):
        login(member)
        sessions[member.id] = start(client, video)
    frozen_clock.advance(15)
    real = tracking.apply_heartbeats

    def record(connection, rows, beats):
        if any(user_id == bad.id for user_id, _, _ in beats):
            raise RuntimeError("broken row")
        return real(connection, rows, beats)

    monkeypatch.setattr(tracking, "apply_heartbeats", record)
    committer = beat_commit.BeatCommitter(app)
    items = [(member, tracking.Heartbeat(session_id=sessions[member.id], lesson_id=video.id, start=0.0, end=15.0),
              frozen_clock.now) for member in (bad, good)]  # fmt: skip
    threads, answers = _queue_behind_a_busy_leader(app, committer, items)
    committer._lead(None)
    with committer._cond:
        committer._leading = False
        committer._cond.notify_all()
    for thread in threads:
        thread.join(30)
    assert isinstance(answers[0], RuntimeError)
    assert answers[1].credited == 15
    assert fresh_total(app, good.id) == 15 and fresh_total(app, bad.id) == 0


def test_concurrent_beats_lose_nothing(app, login, make_user, video, frozen_clock):
    members = [make_user() for _ in range(5)]
    clients, sessions = {}, {}
    for member in members:
        clients[member.id] = login(member, on=app.test_client())
        sessions[member.id] = start(clients[member.id], video)
    frozen_clock.advance(60)
    answers: list[float] = []
    lock = threading.Lock()

    def viewer(member):
        for n in range(4):
            response = send(clients[member.id], beat_body(sessions[member.id], video, n * 15, n * 15 + 15))
            assert response.status_code == 200, response.get_data(as_text=True)
            with lock:
                answers.append(response.get_json()["credited"])

    threads = [threading.Thread(target=viewer, args=(member,)) for member in members for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 40
    assert sum(answers) > 0
    assert fresh_total(app) == pytest.approx(sum(answers))  # every credited answer is in the ledger, no more


def test_a_members_beats_in_one_batch_are_judged_as_one_at_a_time(app, client, login, make_user, video,
                                                                   frozen_clock):  # fmt: skip
    """Set-based: each beat of a batch sees the rows as the member's earlier beats left them."""
    batched, single = make_user(), make_user()
    sessions = {}
    for member in (batched, single):
        login(member)
        sessions[member.id] = start(client, video)
    frozen_clock.advance(30)
    now = frozen_clock.now
    segments = [(0.0, 15.0), (0.0, 15.0), (15.0, 30.0), (30.0, 45.0)]  # a replay, then beyond the budget

    def beats(member):
        return [tracking.Heartbeat(session_id=sessions[member.id], lesson_id=video.id, start=a, end=b)
                for a, b in segments]  # fmt: skip

    together = tracking.record_heartbeats([(batched.id, beat, now) for beat in beats(batched)])
    db.session.commit()
    one_by_one = []
    for beat in beats(single):
        one_by_one.append(tracking.record_heartbeat(single.id, beat, now=now))
        db.session.commit()
    assert [(r.credited, r.reason, r.watched_seconds) for r in together] == [
        (r.credited, r.reason, r.watched_seconds) for r in one_by_one
    ]
    assert together[0].credited == 15 and together[1].credited == 0  # the replay saw the first beat's interval
    assert fresh_total(app, batched.id) == fresh_total(app, single.id) == sum(r.credited for r in together)


def test_a_batch_runs_each_statement_once(app, client, login, make_user, video, frozen_clock):
    members = [make_user() for _ in range(4)]
    sessions = {}
    for member in members:
        login(member)
        sessions[member.id] = start(client, video)
    frozen_clock.advance(15)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        results = tracking.record_heartbeats(
            [(m.id, tracking.Heartbeat(session_id=sessions[m.id], lesson_id=video.id, start=0.0, end=15.0),
              frozen_clock.now) for m in members]
        )  # fmt: skip
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert [r.credited for r in results] == [15] * 4
    writes = [s for s in statements if s in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    # SELECT ... IN ... FOR UPDATE, then one executemany each: sessions, progress, ledger.
    assert writes == ["SELECT", "UPDATE", "UPDATE", "INSERT"]
    assert fresh_total(app) == 60


def test_a_committed_batch_reads_the_logins_in_the_beats_own_select(app, client, login, make_user, video,
                                                                     frozen_clock):  # fmt: skip
    members = [make_user() for _ in range(3)]
    sessions = {}
    for member in members:
        login(member)
        sessions[member.id] = start(client, video)
    frozen_clock.advance(15)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    committer = beat_commit.BeatCommitter(app)
    pending = [beat_commit.PendingBeat(m.id, m.session_version, tracking.Heartbeat(
        session_id=sessions[m.id], lesson_id=video.id, start=0.0, end=15.0), frozen_clock.now) for m in members]
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        outcomes = committer._transaction(pending)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert [outcome.credited for outcome in outcomes] == [15] * 3
    assert [s for s in statements if s in ("SELECT", "INSERT", "UPDATE", "DELETE")] == [
        "SELECT", "UPDATE", "UPDATE", "INSERT"]  # fmt: skip
    assert fresh_total(app) == 45


@pytest.mark.parametrize("active", [True, False])
def test_a_member_without_a_playback_session_is_still_checked_for_login(app, client, login, make_user, video,
                                                                         frozen_clock, active):  # fmt: skip
    """No session row to read the login from: the member's row is read on its own."""
    member = make_user()
    login(member)
    if not active:
        db.session.get(User, member.id).is_active = False
        db.session.commit()
    response = send(client, beat_body("no-such-session", video, 0, 15))
    if active:
        assert response.status_code == 200 and response.get_json()["reason"] == "session_not_active"
    else:
        assert response.status_code == 401 and response.get_json()["reason"] == "login"


def test_the_rate_limiter_skips_the_heartbeat_without_resolving_limits(tmp_path, monkeypatch):
    """The beat is limited per member on its session row; Flask-Limiter's per-request work is skipped."""
    from lms.extensions import limiter
    from tests.conftest import make_test_app

    strict = make_test_app(tmp_path, RATELIMIT_ENABLED=True)
    resolved: list[str] = []
    real = limiter.limit_manager.resolve_limits

    def resolving(app, endpoint, *args, **kwargs):
        resolved.append(endpoint)
        return real(app, endpoint, *args, **kwargs)

    monkeypatch.setattr(limiter.limit_manager, "resolve_limits", resolving)
    with strict.app_context():
        client = strict.test_client()
        assert send(client, {}).status_code == 401  # anonymous: refused by the view, after the hooks
        assert resolved == []
        client.get("/auth/login")  # other endpoints are still checked
        assert resolved == ["auth.login"]
        db.session.remove()


def _beat_now(committer, member, session_id, lesson, frozen_clock, start_at: float):
    frozen_clock.advance(15)
    beat = tracking.Heartbeat(session_id=session_id, lesson_id=lesson.id, start=start_at, end=start_at + 15)
    return committer.submit(member.id, member.session_version, beat, frozen_clock.now)


@pytest.mark.postgres  # pre-ping, locks
def test_batches_run_on_one_kept_connection(app, client, login, make_user, video, frozen_clock):
    member = make_user()
    login(member)
    session_id = start(client, video)
    committer = beat_commit.BeatCommitter(app)
    checkouts = []

    def count(*args):
        checkouts.append(1)

    sa.event.listen(db.engine.pool, "checkout", count)
    try:
        for second in range(3):
            assert _beat_now(committer, member, session_id, video, frozen_clock, second * 15).credited == 15
    finally:
        sa.event.remove(db.engine.pool, "checkout", count)
    assert len(checkouts) == 1  # no pool checkout (nor pre-ping on PostgreSQL) per batch
    assert committer.batches == 3 and fresh_total(app, member.id) == 45
    assert not committer._connection.in_transaction()  # nothing held between batches


@pytest.mark.postgres  # pre-ping, locks
def test_a_failed_batch_leaves_no_transaction_behind(app, client, login, make_user, video, frozen_clock,
                                                     monkeypatch):  # fmt: skip
    member = make_user()
    login(member)
    session_id = start(client, video)
    committer = beat_commit.BeatCommitter(app)
    assert _beat_now(committer, member, session_id, video, frozen_clock, 0).credited == 15
    kept = committer._connection

    def broken(connection, rows, beats):
        tracking.lock_beat_rows(connection, [member.id])  # the write lock (SQLite) / row locks (PostgreSQL) taken
        raise RuntimeError("broken row")

    monkeypatch.setattr(tracking, "apply_heartbeats", broken)
    with pytest.raises(RuntimeError):
        _beat_now(committer, member, session_id, video, frozen_clock, 15)
    monkeypatch.undo()
    assert kept.closed and committer._connection is None  # rolled back and closed: no lock is left held
    with db.engine.connect() as other:  # another writer gets in at once
        other.execute(sa.update(User).where(User.id == member.id).values(name="改名"))
        other.commit()
    assert _beat_now(committer, member, session_id, video, frozen_clock, 15).credited == 15
    assert committer._connection is not kept and fresh_total(app, member.id) == 30


@pytest.mark.postgres  # pre-ping, locks
def test_the_kept_connection_follows_the_engines_pool_and_the_process(app, client, login, make_user, video,
                                                                      frozen_clock, monkeypatch):  # fmt: skip
    member = make_user()
    login(member)
    session_id = start(client, video)
    committer = beat_commit.BeatCommitter(app)
    _beat_now(committer, member, session_id, video, frozen_clock, 0)
    first = committer._connection
    db.engine.dispose()  # e.g. the tests' database moved, or a worker's post-fork hook
    assert _beat_now(committer, member, session_id, video, frozen_clock, 15).credited == 15
    second = committer._connection
    assert second is not first and first.closed
    pid = beat_commit.os.getpid()
    monkeypatch.setattr(beat_commit.os, "getpid", lambda: pid + 1)  # a forked child
    assert _beat_now(committer, member, session_id, video, frozen_clock, 30).credited == 15
    assert committer._connection is not second and not second.closed  # the parent's connection is left alone
    monkeypatch.undo()
    second.close()
    assert fresh_total(app, member.id) == 45


@pytest.mark.postgres  # PostgreSQL: the writes and the COMMIT go in one pipeline (raw_sql.pipeline)
def test_a_write_failing_after_the_others_were_sent_commits_nothing(app, client, login, make_user, video,
                                                                     frozen_clock, monkeypatch):  # fmt: skip
    member = make_user()
    login(member)
    session_id = start(client, video)
    committer = beat_commit.BeatCommitter(app)
    assert _beat_now(committer, member, session_id, video, frozen_clock, 0).credited == 15
    real = tracking.add_study_seconds_many

    def to_a_missing_lesson(rows, *, connection):  # the last write of the batch breaks a foreign key
        real([(user_id, 10**9, day, source, seconds) for user_id, _, day, source, seconds in rows],
             connection=connection)  # fmt: skip

    monkeypatch.setattr(tracking, "add_study_seconds_many", to_a_missing_lesson)
    with pytest.raises(Exception) as raised:  # noqa: PT011 (psycopg or sqlite3, raised at the commit or at once)
        _beat_now(committer, member, session_id, video, frozen_clock, 15)
    assert "foreign key" in str(raised.value).lower()
    monkeypatch.undo()
    with db.engine.connect() as connection:  # the session and progress updates sent before it were not committed
        progress = connection.execute(sa.text(
            "SELECT watched_seconds FROM lesson_progress WHERE user_id = :u"), {"u": member.id}).scalar()  # fmt: skip
    assert progress == 15 and fresh_total(app, member.id) == 15
    assert _beat_now(committer, member, session_id, video, frozen_clock, 15).credited == 15
    assert fresh_total(app, member.id) == 30


@pytest.mark.postgres
def test_on_postgresql_a_batch_is_two_scripts_of_prepared_statements(app, client, login, make_user, video,
                                                                     frozen_clock):  # fmt: skip
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's simple query protocol")
    members = [make_user() for _ in range(2)]
    sessions = {}
    for member in members:
        login(member)
        sessions[member.id] = start(client, video)
    db.session.remove()
    db.engine.dispose()  # the committer's connection is a new one: it has prepared nothing yet
    committer = beat_commit.BeatCommitter(app)
    seen = []

    def record(connection, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert _beat_now(committer, members[0], sessions[members[0].id], video, frozen_clock, 0).credited == 15
        first = list(seen)
        seen.clear()
        assert _beat_now(committer, members[1], sessions[members[1].id], video, frozen_clock, 0).credited == 15
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    # One message each way: BEGIN with the locking SELECT, then the writes with COMMIT.
    assert len(first) == 2 and first[0].startswith("BEGIN; PREPARE lms_raw_") and first[1].endswith("; COMMIT")
    assert [statement.split()[0] for statement in first[1].split("; ")].count("PREPARE") == 3  # 2 UPDATEs, ledger
    # The next batch runs what the connection prepared: nothing is prepared or planned again.
    assert len(seen) == 2 and "PREPARE" not in seen[0] + seen[1]
    assert seen[0].startswith("BEGIN; EXECUTE lms_raw_") and seen[1].count("EXECUTE") == 3
    kept = committer._connection.connection.dbapi_connection
    assert kept.autocommit and kept.prepare_threshold is None  # psycopg never deallocates them at a rollback
    assert kept.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
    assert fresh_total(app, members[0].id) == fresh_total(app, members[1].id) == 15


def test_a_beat_arriving_while_the_batch_waits_for_the_write_lock_joins_the_batch(app, client, login, make_user,
                                                                                   video, frozen_clock):  # fmt: skip
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write gate")
    first, second = make_user(), make_user()
    sessions = {}
    for member in (first, second):
        login(member)
        sessions[member.id] = start(client, video)
    frozen_clock.advance(15)
    committer = beat_commit.BeatCommitter(app)
    answers = {}

    def submit(member):
        with app.app_context():
            beat = tracking.Heartbeat(session_id=sessions[member.id], lesson_id=video.id, start=0.0, end=15.0)
            answers[member.id] = committer.submit(member.id, member.session_version, beat, frozen_clock.now)

    with db.engine.connect() as other:  # another writer (e.g. the other process's batch) holds the write lock
        other.execute(sa.update(User).where(User.id == first.id).values(name="改名"))
        leader = threading.Thread(target=submit, args=(first,))
        leader.start()
        deadline = time.monotonic() + 30
        while committer._waiting or not committer._leading:  # the leader took its beat and waits for the lock
            assert time.monotonic() < deadline
            time.sleep(0.01)
        follower = threading.Thread(target=submit, args=(second,))
        follower.start()
        while not committer._waiting:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        other.commit()
    leader.join(30)
    follower.join(30)
    assert answers[first.id].credited == 15 and answers[second.id].credited == 15
    assert committer.batches == 1  # not a second wait for the lock
    assert fresh_total(app) == 30
