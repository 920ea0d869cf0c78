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


def test_one_statement_reads_send_no_begin_and_leave_the_pool_transactional(engine):
    statuses = []
    with lms_db.one_statement_reads(engine) as connection:
        dbapi_connection = connection.connection.dbapi_connection
        assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        statuses.append(dbapi_connection.info.transaction_status)
        assert connection.execute(sa.text("SELECT txid_current_if_assigned()")).scalar() is None
    import psycopg

    assert statuses == [psycopg.pq.TransactionStatus.IDLE]  # no transaction was opened around the read
    with engine.connect() as connection:  # the pool's next user gets an ordinary connection back
        assert connection.connection.dbapi_connection is dbapi_connection
        assert not dbapi_connection.autocommit
        connection.execute(sa.text("SELECT 1"))
        assert dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_the_board_poll_reads_in_one_round_trip(app, client, login, make_user, monkeypatch):
    """A poll's read is one statement outside a transaction (no BEGIN/ROLLBACK round trips)."""
    _postgres_only()
    from lms.exams.contests import board_poll

    seen = []
    real = lms_db.one_statement_reads

    def watching(engine):
        manager = real(engine)
        connection = manager.__enter__()
        seen.append(connection.connection.dbapi_connection.autocommit)
        return _Entered(manager, connection)

    monkeypatch.setattr(board_poll, "one_statement_reads", watching)
    user = make_user()
    assert board_poll.poll_view(12345, (user.id, user.session_version)) is None  # no such contest
    assert seen == [True]


class _Entered:
    def __init__(self, manager, connection):
        self.manager, self.connection = manager, connection

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc):
        return self.manager.__exit__(*exc)
