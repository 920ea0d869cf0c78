"""Pooled connections on PostgreSQL: pinged when they may be stale, not at every checkout;
one-statement reads outside a transaction (lms.db)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from lms import db as lms_db
from lms.extensions import db

pytestmark = pytest.mark.postgres


def _postgres_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the idle ping and autocommit reads are PostgreSQL's (SQLite has no socket or BEGIN round trip)")


@pytest.fixture
def engine(app):
    """An engine like the app's with ONE pooled connection, so each checkout gets the same one back."""
    _postgres_only()
    engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)
    lms_db.install_idle_ping(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine, monkeypatch):
    calls = []
    real = engine.dialect.do_ping

    def counting(dbapi_connection):
        calls.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return calls


def test_postgres_pools_ping_idle_connections_instead_of_every_checkout(app):
    _postgres_only()
    assert lms_db.pings_before_use(db.engine)
    assert not getattr(db.engine.pool, "_pre_ping", False)  # no ping round trip per request


def test_postgres_pools_keep_enough_connections_for_busy_threads(app):
    """SQLAlchemy's default pool (5 kept) made a busy worker open and close a connection per request."""
    _postgres_only()
    assert db.engine.pool.size() == 20 and db.engine.pool._max_overflow == 10


def test_a_connection_used_again_at_once_is_not_pinged(engine, pings):
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    for _ in range(3):
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 2")).scalar() == 2
    assert pings == []


def test_a_connection_idle_for_long_is_pinged_at_checkout(engine, pings, monkeypatch):
    with engine.connect() as connection:
        used = connection.connection.dbapi_connection
    later = time.monotonic() + lms_db.PING_IDLE_SECONDS + 1
    monkeypatch.setattr(lms_db.time, "monotonic", lambda: later)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        assert connection.connection.dbapi_connection is used  # alive: kept
    assert pings == [used]


def test_a_connection_the_server_closed_is_replaced_at_checkout_without_an_error(engine, pings):
    with engine.connect() as connection:
        dead = connection.connection.dbapi_connection
        pid = dead.info.backend_pid
    with db.engine.connect() as admin:  # the database drops it (a restart, an idle timeout)
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    deadline = time.monotonic() + 5
    while not lms_db.socket_has_data(dead) and time.monotonic() < deadline:
        time.sleep(0.01)
    with engine.connect() as connection:  # used at once: the socket, not the idle time, tells
        assert connection.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
        assert connection.connection.dbapi_connection is not dead
    assert pings == [dead]


def test_one_statement_reads_send_no_begin(engine):
    import psycopg

    with lms_db.one_statement_reads(engine) as connection:
        dbapi_connection = connection.connection.dbapi_connection
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        assert dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # no BEGIN was sent
        assert connection.execute(sa.text("SELECT txid_current_if_assigned()")).scalar() is None
    with engine.connect() as connection:  # the pool's next user: a write still begins a transaction
        assert connection.connection.dbapi_connection is dbapi_connection
        connection.execute(sa.text("CREATE TEMPORARY TABLE t (x int)"))
        assert dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def _status(connection):
    import psycopg

    return psycopg.pq.TransactionStatus(connection.connection.dbapi_connection.info.transaction_status).name


def test_reads_before_the_first_write_run_outside_a_transaction(engine):
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        assert connection.in_transaction() and _status(connection) == "IDLE"  # no BEGIN sent
        connection.execute(sa.text("CREATE TEMPORARY TABLE t (x int) ON COMMIT PRESERVE ROWS"))
        assert _status(connection) == "INTRANS"  # the write began it
        connection.commit()
        connection.execute(sa.text("SELECT count(*) FROM t"))
        assert _status(connection) == "IDLE"  # the next transaction starts outside again


def test_writes_after_reads_are_one_transaction(engine):
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TEMPORARY TABLE t (x int) ON COMMIT PRESERVE ROWS"))
        connection.commit()
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
        connection.execute(sa.text("INSERT INTO t VALUES (1)"))
        connection.execute(sa.text("INSERT INTO t VALUES (2)"))
        connection.rollback()  # both go
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0


def test_a_locking_read_and_a_savepoint_begin_the_transaction(engine):
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE TEMPORARY TABLE t (x int) ON COMMIT PRESERVE ROWS"))
        connection.execute(sa.text("INSERT INTO t VALUES (1)"))
        connection.commit()
        connection.execute(sa.select(sa.literal_column("x")).select_from(sa.table("t")).with_for_update())
        assert _status(connection) == "INTRANS"  # the row lock lasts until the commit
        connection.commit()
        connection.execute(sa.text("SELECT x FROM t FOR SHARE"))
        assert _status(connection) == "INTRANS"
        connection.rollback()
        with connection.begin_nested():  # SAVEPOINT needs a transaction: it begins one
            connection.execute(sa.text("INSERT INTO t VALUES (2)"))
        assert _status(connection) == "INTRANS"
        connection.commit()
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar() == 2


def test_prepared_statements_survive_read_only_requests(app, client, login, make_user):
    """psycopg drops a connection's prepared statements at every ROLLBACK; read-only requests send none."""
    _postgres_only()
    login(make_user())
    used = set()

    def checkout(dbapi_connection, record, proxy):
        used.add(dbapi_connection)

    sa.event.listen(db.engine, "checkout", checkout)
    try:
        for _ in range(30):  # the pool hands its idle connections round: each gets several requests
            assert client.get("/notifications").status_code == 200
    finally:
        sa.event.remove(db.engine, "checkout", checkout)
    assert all(connection.info.transaction_status == 0 for connection in used)  # IDLE: nothing left open
    # A query run 5 times on a connection (psycopg's threshold) is prepared there, and stays prepared.
    assert any(connection._prepared._names for connection in used)


def test_the_board_poll_reads_in_one_round_trip(app, make_user, monkeypatch):
    """A poll's read is one statement outside a transaction (no BEGIN/ROLLBACK round trips)."""
    _postgres_only()
    from lms.exams.contests import board_poll

    statuses = []
    real_execute = sa.Connection.execute

    def execute(connection, *args, **kwargs):
        result = real_execute(connection, *args, **kwargs)
        statuses.append(connection.connection.dbapi_connection.info.transaction_status)
        return result

    user = make_user()
    identity = (user.id, user.session_version)
    db.session.rollback()  # the test's own session ends its transaction
    monkeypatch.setattr(sa.Connection, "execute", execute)
    assert board_poll.poll_view(12345, identity) is None  # no such contest
    assert statuses == [0]  # one statement, with no BEGIN before it (the connection stayed IDLE)
