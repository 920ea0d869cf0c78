"""The declarative base, shared column types and mixins for every domain's models."""

from __future__ import annotations

import contextlib
import enum
import os
import re
import select
import sqlite3
import threading
import time
import weakref
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

from lms import clock

try:
    import fcntl
except ImportError:  # not POSIX: SQLite's busy handler alone queues the writers
    fcntl = None
try:
    from psycopg.pq import TransactionStatus as _PsycopgStatus

    _PSYCOPG_IDLE = _PsycopgStatus.IDLE
except ImportError:  # psycopg not installed: no PostgreSQL here
    _PSYCOPG_IDLE = None

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use lms.clock.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    # One registry carries the naming convention (stable constraint names for
    # migrations) and maps every ``Mapped[datetime]`` to UTCDateTime.
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def str_enum(enum_class: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    """A portable enum column that stores the members' values ("full"), not their names."""
    return sa.Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL, foreign keys, a busy timeout, and transactions we begin ourselves."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Autocommit at the driver level: _sqlite_begin_for_writes decides when a
    # transaction starts (see its docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    if getattr(dbapi_connection, "gate", None) is not None:
        # Checkpoints after the gate is released (GatedConnection.commit), not inside the commit
        # that happens to fill the WAL while every other writer waits for it.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


_WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT")


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _sqlite_begin_for_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    """On SQLite, begin a transaction with BEGIN IMMEDIATE at the first write.

    Reads before it run in autocommit, so a page that only reads never holds
    the database's single write lock (and never blocks writers while it renders).
    The first INSERT/UPDATE/DELETE, or a ``SELECT ... FOR UPDATE`` (which
    SQLite itself ignores), takes the write lock at once, queuing on the busy
    timeout instead of failing later with "database is locked". A service that
    reads and then writes a row it depends on selects it ``with_for_update()``:
    a row lock on PostgreSQL, the write lock on SQLite; the same code is safe on both.

    On a ``GatedConnection`` (the app's SQLite connections) the writer first
    takes the database's ``WriteGate``, so writers queue there instead of in
    SQLite's sleeping busy handler.
    """
    if conn.dialect.name != "sqlite" or not conn.in_transaction():
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.in_transaction:
        return
    compiled = getattr(context, "compiled", None)
    for_update = getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    if for_update or statement.lstrip().upper().startswith(_WRITE_PREFIXES):
        if isinstance(dbapi_connection, GatedConnection):
            dbapi_connection.begin_immediate()
        else:
            dbapi_connection.execute("BEGIN IMMEDIATE")


_POSTGRES_LOCKING_READ = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)


# conn.info key: the statements on this connection begin and end its PostgreSQL transaction themselves
# (``lms.raw_sql.script``), so the autocommit switching below leaves it alone.
SELF_MANAGED_TRANSACTION = "lms.db.self_managed_transaction"


def _transaction_left_alone(conn) -> bool:
    """An isolation level of its own, or a transaction its statements make (``SELF_MANAGED_TRANSACTION``)."""
    return "isolation_level" in conn.get_execution_options() or SELF_MANAGED_TRANSACTION in conn.info


@sa.event.listens_for(sa.engine.Engine, "begin")
def _postgres_reads_before_writes(conn) -> None:
    """On PostgreSQL, as on SQLite, a transaction's reads before its first write run outside it.

    psycopg sends BEGIN as a round trip of its own before a transaction's first statement,
    and a read-only request then ends with a ROLLBACK round trip, which also makes psycopg
    forget the connection's prepared statements (it discards them on every ROLLBACK), so
    the app's queries were parsed and planned anew on every request. Here the connection
    starts each transaction in autocommit (psycopg's flag, set client-side without a round
    trip); ``_postgres_begin_for_writes`` turns it off at the first statement that writes
    or locks, and psycopg then sends BEGIN before it. Under READ COMMITTED, PostgreSQL's
    default and the app's, every statement of a transaction already reads its own
    snapshot, so reads outside it see the same data; a read that a write depends on locks
    its rows (``with_for_update()``), which begins the transaction first. A connection with
    an isolation level of its own (``execution_options(isolation_level=...)``) is left alone.
    """
    if conn.dialect.name != "postgresql" or _transaction_left_alone(conn):
        return
    dbapi_connection = conn.connection.dbapi_connection
    info = getattr(dbapi_connection, "info", None)
    if dbapi_connection.autocommit or info is None or info.transaction_status != _PSYCOPG_IDLE:
        return
    dbapi_connection.autocommit = True


def postgres_begin_now(conn) -> None:
    """Begin ``conn``'s PostgreSQL transaction with its next statement (a write path's raw statements)."""
    dbapi_connection = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql" and dbapi_connection.autocommit and not _transaction_left_alone(conn):
        dbapi_connection.autocommit = False


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _postgres_begin_for_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    """The first statement that is not a plain SELECT begins the transaction (see above)."""
    if conn.dialect.name != "postgresql":
        return
    dbapi_connection = conn.connection.dbapi_connection
    if not dbapi_connection.autocommit or not conn.in_transaction() or _transaction_left_alone(conn):
        return
    compiled = getattr(context, "compiled", None)
    for_update = getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    text = statement.lstrip()
    if for_update or text[:6].upper() != "SELECT" or _POSTGRES_LOCKING_READ.search(text):
        dbapi_connection.autocommit = False


class WriteGate:
    """One SQLite database file's writers, queued: a lock for this process's threads and an
    ``flock`` of a side file (``<database>-writer``) for the processes.

    SQLite lets one writer in at a time and makes the others wait in its busy
    handler, which sleeps (1, 2, 5 ... 100 ms) and retries: under load most of a
    request's time goes to those sleeps, and a writer that arrives while another
    sleeps may take the lock first (a convoy). Waiting here instead costs no CPU
    and wakes the next writer the moment the previous one commits. The busy
    handler stays the fallback for writers that do not take the gate (sqlite3
    shell, other tools). Reentrant per thread (a second connection of the same
    thread does not wait for the first); released when the transaction ends.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.commits = 0  # write transactions committed since this process's last checkpoint
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the gate; False (not taken) after ``timeout`` seconds of waiting in this process."""
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return True
        if not self._mutex.acquire(timeout=timeout):
            return False
        try:
            # Opened per transaction (a few microseconds), so no descriptor outlives it.
            fd = os.open(self.path + "-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL
            except BaseException:
                os.close(fd)
                raise
        except BaseException:
            self._mutex.release()
            raise
        self._fd, self._owner, self._depth = fd, me, 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd, self._owner, self._depth = self._fd, None, None, 0
        try:
            os.close(fd)  # releases the flock
        finally:
            self._mutex.release()


# The connections of a database hold its gate; it goes when the last one does.
_GATES: weakref.WeakValueDictionary[tuple[int, str], WriteGate] = weakref.WeakValueDictionary()
_GATES_LOCK = threading.Lock()


def write_gate(path: str) -> WriteGate:
    """The gate of the database file at ``path`` in this process (a forked child gets its own)."""
    key = (os.getpid(), os.path.realpath(path))
    with _GATES_LOCK:
        gate = _GATES.get(key)
        if gate is None:
            gate = _GATES[key] = WriteGate(key[1])
        return gate


# About SQLite's own 1,000 pages of WAL at the few pages a small write transaction touches.
CHECKPOINT_EVERY_COMMITS = 200


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions pass the database's ``WriteGate``.

    The app's SQLite engine makes these (``connect_args={"factory": GatedConnection}``);
    in-memory databases are not gated.
    """

    def __init__(self, database, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        name = os.fspath(database)
        if isinstance(name, bytes):
            name = name.decode()
        memory = name in ("", ":memory:") or name.startswith("file:") or "mode=memory" in name
        self.gate = None if memory or fcntl is None else write_gate(name)
        self.gate_timeout = float(kwargs.get("timeout", args[0] if args else 5.0))
        self.holds_gate = False

    def begin_immediate(self) -> None:
        if self.gate is not None and not self.holds_gate:
            self.holds_gate = self.gate.acquire(self.gate_timeout)
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release_gate()
            raise

    def _release_gate(self) -> None:
        if self.holds_gate and not self.in_transaction:
            self.holds_gate = False
            self.gate.release()

    def commit(self) -> None:
        wrote = self.holds_gate
        try:
            super().commit()
        finally:
            self._release_gate()
        if wrote:
            self.gate.commits += 1
            if self.gate.commits >= CHECKPOINT_EVERY_COMMITS:
                self.gate.commits = 0
                self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL back into the database (PASSIVE: writers go on meanwhile), outside the gate.

        SQLite's automatic checkpoint (every 1,000 WAL pages) runs inside a commit, so with
        the gate it held every other writer back for its fsync; the app's connections turn
        it off and checkpoint here every ``CHECKPOINT_EVERY_COMMITS`` write transactions of
        the process instead.
        """
        with contextlib.suppress(sqlite3.Error):  # a busy database: the next one will do
            self.execute("PRAGMA wal_checkpoint(PASSIVE)").close()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_gate()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holds_gate:
                self.holds_gate = False
                self.gate.release()

    def __del__(self) -> None:
        if getattr(self, "holds_gate", False):
            self.holds_gate = False
            self.gate.release()


# --- Connection liveness and one-statement reads (PostgreSQL) ---------------------------------

PING_IDLE_SECONDS = 5.0


def socket_has_data(dbapi_connection) -> bool:
    """Whether an idle connection's socket has something to read: the server closed it (a restart,
    a terminated backend) or sent a notice. One ``select`` poll, no round trip. False for a
    connection without a socket (SQLite)."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    try:
        return bool(select.select([fileno()], [], [], 0)[0])
    except Exception:  # no socket any more
        return True


def install_idle_ping(engine: sa.Engine, idle_seconds: float = PING_IDLE_SECONDS) -> None:
    """Ping a pooled connection at checkout only when it may have gone stale.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip for every
    request on PostgreSQL. Here a connection is pinged when it sat in the pool for over
    ``idle_seconds`` or its socket shows the server closed it (a restart, a terminated backend,
    an idle timeout all close the socket); a failed ping makes the pool replace it
    (``DisconnectionError`` in a checkout listener). What is left uncaught is a connection
    whose host vanished without closing it within ``idle_seconds`` of its last use: that one
    request fails and SQLAlchemy invalidates the pool, as with any connection lost mid-request.
    """
    dialect = engine.dialect

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:  # a new connection
            return
        if time.monotonic() - idle_since <= idle_seconds and not socket_has_data(dbapi_connection):
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping")

    _IDLE_PINGED.add(engine)


_IDLE_PINGED: weakref.WeakSet = weakref.WeakSet()


def pings_before_use(engine: sa.Engine) -> bool:
    """Whether the engine's pool checks a connection's liveness at checkout (every time, or when idle)."""
    return bool(getattr(engine.pool, "_pre_ping", False)) or engine in _IDLE_PINGED


@contextlib.contextmanager
def one_statement_reads(engine: sa.Engine):
    """A pooled connection for reads that each stand alone (a board poll's one query).

    Its reads run outside a transaction on both engines (``_postgres_reads_before_writes``,
    ``_sqlite_begin_for_writes``): on PostgreSQL each is one round trip, with no BEGIN
    before it and no ROLLBACK when the connection goes back to the pool. Named for what it
    is for; a write through it would begin a transaction that its close rolls back.
    """
    with engine.connect() as connection:
        yield connection


def utcnow_default() -> datetime:
    """Column default: the clock's now (a callable, never a value computed at import)."""
    return clock.utcnow()


__all__ = ["UTC", "NAMING_CONVENTION", "Base", "GatedConnection", "TimestampMixin", "UTCDateTime", "WriteGate",
           "install_idle_ping", "one_statement_reads", "pings_before_use", "socket_has_data", "str_enum",
           "utcnow_default"]


def render_migration_item(type_: str, obj, autogen_context):
    """Alembic hook: write UTCDateTime as a plain timezone-aware DateTime in migrations,
    so migration files never import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
