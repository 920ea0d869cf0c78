"""lms.db.WriteGate: SQLite writers queue on a lock (threads) and an flock (processes)
instead of in SQLite's busy handler, and nothing written is lost."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from lms.db import GatedConnection, write_gate
from lms.extensions import db


def _connect(path) -> GatedConnection:
    connection = sqlite3.connect(str(path), timeout=15, factory=GatedConnection, check_same_thread=False)
    connection.isolation_level = None
    return connection


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "gate.sqlite3"
    connection = _connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    connection.execute("INSERT INTO counter VALUES (1, 0)")
    connection.close()
    return path


def test_the_apps_sqlite_connections_are_gated(app):
    raw = db.session.connection().connection.dbapi_connection
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert isinstance(raw, GatedConnection)
    assert raw.gate is write_gate(db.engine.url.database)


def test_a_write_transaction_holds_the_gate_until_commit_or_rollback(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    raw = db.session.connection().connection.dbapi_connection
    db.session.execute(sa.text("SELECT 1"))
    assert not raw.holds_gate  # reads run outside any transaction and never take it
    db.session.execute(sa.text("CREATE TABLE scratch (n INTEGER)"))
    assert raw.holds_gate and raw.gate._owner == threading.get_ident()
    db.session.commit()
    assert not raw.holds_gate and raw.gate._owner is None
    db.session.execute(sa.text("INSERT INTO scratch VALUES (1)"))
    assert raw.holds_gate
    db.session.rollback()
    assert not raw.holds_gate
    assert raw.gate._mutex.acquire(blocking=False)  # free again
    raw.gate._mutex.release()


def test_a_second_thread_waits_at_the_gate_not_in_sqlite(database):
    first, second = _connect(database), _connect(database)
    first.begin_immediate()
    first.execute("UPDATE counter SET n = n + 1")
    entered = threading.Event()
    done = threading.Event()

    def writer():
        entered.set()
        second.begin_immediate()  # blocks on the gate while ``first`` holds it
        second.execute("UPDATE counter SET n = n + 10")
        second.commit()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    entered.wait()
    assert not done.wait(0.3)
    assert not second.in_transaction  # it never began: it is queued at the gate
    first.commit()
    thread.join(10)
    assert done.is_set()
    assert first.execute("SELECT n FROM counter").fetchone()[0] == 11
    first.close()
    second.close()


def test_the_gate_is_reentrant_in_one_thread_and_released_on_close(database):
    one, two = _connect(database), _connect(database)
    gate = one.gate
    one.begin_immediate()
    assert gate.acquire(1) and gate._depth == 2  # a second connection of the same thread does not deadlock
    gate.release()
    one.close()  # closing mid-transaction (rolled back by SQLite) gives the gate back
    assert gate._owner is None
    two.begin_immediate()
    two.execute("UPDATE counter SET n = 5")
    two.commit()
    two.close()


def test_a_failed_begin_gives_the_gate_back(database, monkeypatch):
    connection = _connect(database)
    connection.execute("BEGIN")  # already in a transaction: BEGIN IMMEDIATE fails
    with pytest.raises(sqlite3.OperationalError):
        connection.begin_immediate()
    connection.rollback()
    assert connection.gate._owner is None and not connection.holds_gate
    connection.close()


def _hold_flock(path: str, locked, release) -> None:
    fd = os.open(path + "-writer", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    locked.set()
    release.wait(20)
    fcntl.flock(fd, fcntl.LOCK_UN)


def test_another_process_holding_the_gate_makes_writers_wait(database):
    context = multiprocessing.get_context("fork")
    locked, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_flock, args=(os.path.realpath(database), locked, release))
    holder.start()
    try:
        assert locked.wait(20)
        connection = _connect(database)
        done = threading.Event()

        def writer():
            connection.begin_immediate()
            connection.execute("UPDATE counter SET n = n + 1")
            connection.commit()
            done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        assert not done.wait(0.3)
        release.set()
        thread.join(10)
        assert done.is_set()
        connection.close()
    finally:
        release.set()
        holder.join(20)


def _increment(path: str, times: int) -> None:
    connection = _connect(path)
    for _ in range(times):
        connection.begin_immediate()
        (n,) = connection.execute("SELECT n FROM counter WHERE id = 1").fetchone()
        connection.execute("UPDATE counter SET n = ? WHERE id = 1", (n + 1,))
        connection.commit()
    connection.close()


def test_concurrent_read_modify_write_from_threads_and_processes_loses_nothing(database):
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_increment, args=(str(database), 50)) for _ in range(2)]
    for process in processes:
        process.start()
    threads = [threading.Thread(target=_increment, args=(str(database), 50)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    connection = _connect(database)
    assert connection.execute("SELECT n FROM counter").fetchone()[0] == 250
    connection.close()


def test_no_descriptor_outlives_a_transaction(database):
    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    connection = _connect(database)
    connection.begin_immediate()  # SQLite opens its -wal and -shm files at the first write
    connection.commit()
    before = open_descriptors()
    for _ in range(20):
        connection.begin_immediate()
        assert open_descriptors() == before + 1  # the flocked side file, while the transaction lasts
        connection.execute("UPDATE counter SET n = n + 1")
        connection.commit()
    assert open_descriptors() == before
    connection.close()


def test_checkpoints_run_after_the_gate_is_released(app, monkeypatch):
    """SQLite's automatic checkpoint would run inside a commit, holding every other writer back."""
    import lms.db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    raw = db.session.connection().connection.dbapi_connection
    assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    monkeypatch.setattr(lms.db, "CHECKPOINT_EVERY_COMMITS", 3)
    raw.gate.commits = 0
    held: list[bool] = []
    real = GatedConnection.checkpoint

    def checkpoint(connection):
        held.append(connection.gate._owner is not None)
        real(connection)

    monkeypatch.setattr(GatedConnection, "checkpoint", checkpoint)
    db.session.execute(sa.text("CREATE TABLE scratch (n INTEGER)"))
    db.session.commit()
    for n in range(5):
        db.session.execute(sa.text("INSERT INTO scratch VALUES (:n)"), {"n": n})
        db.session.commit()
        db.session.execute(sa.text("SELECT count(*) FROM scratch")).scalar()  # reads are not counted
    assert held == [False, False]  # after the 3rd and 6th write transactions, with the gate free
    busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and copied == frames
