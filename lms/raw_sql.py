"""Core statements run on the DBAPI cursor, compiled once: the heartbeat batch's hot path.

SQLAlchemy's per-execution work (cache key, execution context, events, result
metadata, re-rendering an expanding ``IN``) costs more than SQLite takes to run
the heartbeat's small statements. A ``RawStatement`` compiles its statement once
per dialect with SQLAlchemy, then runs the SQL string on the connection's DBAPI
cursor with the same bind and result processors SQLAlchemy would apply (dates,
JSON, enums, booleans), for SQLite's ``qmark`` and PostgreSQL's ``pyformat``
paramstyles alike. Rows come back as ``SimpleNamespace`` keyed like the
statement's columns.

The connection's transaction is begun with ``lock_for_writes`` below: it takes
SQLite's write lock (through the app's write gate) before the batch's SELECT
... FOR UPDATE, as ``lms.db``'s ``before_cursor_execute`` hook would for a
compiled statement (the engine's ``before_cursor_execute`` listeners are still
called, without an execution context).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from types import SimpleNamespace

import sqlalchemy as sa

from lms.db import SELF_MANAGED_TRANSACTION, GatedConnection, postgres_begin_now


@contextlib.contextmanager
def pipeline(connection: sa.Connection):
    """On PostgreSQL (psycopg), the statements run inside and the commit that ends it go in one round trip.

    psycopg's pipeline mode: statements are sent without waiting for each result; the
    commit waits for all of them (an error in any raises there, and nothing is
    committed). Elsewhere it does nothing.
    """
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or not hasattr(dbapi_connection, "pipeline"):
        yield
        return
    with dbapi_connection.pipeline():
        yield


_SCRIPT = "lms.raw_sql.script"  # connection.info (the DBAPI connection's): the Script being built on it
_PREPARED = "lms.raw_sql.prepared"  # pool entry info: the statement names prepared on the DBAPI connection
_statement_names = itertools.count(1)


class Script:
    """On PostgreSQL, a transaction's RawStatements sent as scripts: one message and one round trip each.

    The heartbeat batch sends ``BEGIN`` with its SELECT ... FOR UPDATE in one script,
    then its writes with ``COMMIT`` in another. Each statement is prepared once per
    connection (``PREPARE``, sent in the first script that uses it) and run as ``EXECUTE
    name(literals)``, the values made literals by psycopg's own quoting
    (``ClientCursor.mogrify``). A message holding several statements is PostgreSQL's
    simple query protocol: the server runs and answers them in turn and, after an error,
    skips the rest (the transaction is then aborted and nothing is committed). psycopg's
    pipeline sends the same statements as several messages each and reads them back
    one by one, which cost a batch of one beat 1.6 times the client CPU (0.74 against
    0.46 ms, one thread, no other load).

    For a connection of its own (the beat committer's kept one). Its statements keep one
    generic plan (``plan_cache_mode``: ``= ANY`` of an array of unknown length looks
    dearer to the planner than a plan made for the values, so it planned every execution
    anew, which tripled the SELECT's cost). psycopg stays in autocommit there (the
    scripts' BEGIN and COMMIT make the transaction), and its own automatic preparation is
    switched off, so it never sends the ``DEALLOCATE ALL`` that would drop these
    statements (it does at a rollback when it has prepared statements of its own).
    Prepared statements outlive a rollback; a connection whose script failed is
    invalidated, so it is never used again with an aborted transaction.
    """

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.begun = False
        self.committed = False
        self.prepare: list[str] = []  # PREPARE statements sent with the next script
        self.templates: list[str] = []  # EXECUTE statements with %s for their values
        self.values: list = []
        self.preparing: set[str] = set()
        self.prepared: set[str] = connection.connection.info.setdefault(_PREPARED, set())

    def add(self, compiled: _Compiled, rows: list[dict]) -> None:
        """Add one EXECUTE of ``compiled`` per dict of ``rows`` (and its PREPARE if the connection lacks it)."""
        name, prepare, names, template = compiled.scripted()
        if name not in self.prepared and name not in self.preparing:
            self.preparing.add(name)
            self.prepare.append(prepare)
        for values in rows:
            self.templates.append(template)
            self.values.extend(compiled.script_value(key, values[key]) for key in names)

    def send(self, *, commit: bool = False):
        """Send what was added (after BEGIN in the transaction's first script, before COMMIT when ``commit``);
        the cursor, at the last statement's result."""
        from psycopg import ClientCursor

        dbapi_connection = self.connection.connection.dbapi_connection
        statements = [*([] if self.begun else ["BEGIN"]), *self.prepare]
        if self.templates:
            statements.append(ClientCursor(dbapi_connection).mogrify("; ".join(self.templates), self.values))
        if commit:
            statements.append("COMMIT")
        sql = "; ".join(statements)
        cursor = dbapi_connection.cursor()
        _before_cursor_execute(self.connection, cursor, sql, None, False)
        cursor.execute(sql)
        while cursor.nextset():
            pass
        self.begun, self.committed = True, commit
        self.prepared |= self.preparing
        self.preparing.clear()
        self.prepare, self.templates, self.values = [], [], []
        return cursor

    def commit(self) -> None:
        """Send the writes with COMMIT: the transaction ends (SQLAlchemy's with it; psycopg has none to end)."""
        self.send(commit=True).close()
        self.connection.commit()


class _Immediate:
    """``script``'s stand-in where scripts are not used: statements run at once, ``commit`` commits."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def commit(self) -> None:
        self.connection.commit()


@contextlib.contextmanager
def script(connection: sa.Connection):
    """The RawStatements run inside are one transaction; on PostgreSQL (psycopg) sent as ``Script``s.

    Begins the transaction (as ``lock_for_writes``). On PostgreSQL a SELECT (``rows``) is
    sent with what was added before it and answers its rows; writes (``execute_many``)
    wait for the next SELECT or for ``commit``, which sends them with COMMIT. Elsewhere
    the statements run at once and ``commit`` commits. A transaction left uncommitted
    inside is rolled back; on PostgreSQL a failure inside invalidates the connection
    (``Script``), elsewhere it is the caller's to roll back.
    """
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        lock_for_writes(connection)
        yield _Immediate(connection)  # a failure is the caller's to roll back (the committer closes the connection)
        if connection.in_transaction():
            connection.rollback()  # not committed: SQLite's write lock (and the write gate) released at once
        return
    if not connection.in_transaction():
        connection.begin()
    dbapi_connection = connection.connection.dbapi_connection
    dbapi_connection.autocommit = True  # raises if psycopg is in a transaction: a script begins its own
    if _PREPARED not in connection.connection.info:  # the connection's first script (see ``Script``)
        dbapi_connection.prepare_threshold = None
        dbapi_connection.execute("SET plan_cache_mode = force_generic_plan")
    info = connection.info  # the DBAPI connection's (its pool entry's): kept here, as invalidating ends access
    built = info[_SCRIPT] = Script(connection)
    info[SELF_MANAGED_TRANSACTION] = True
    try:
        yield built
        if built.begun and not built.committed:
            dbapi_connection.execute("ROLLBACK")  # sent as written: psycopg's rollback() would deallocate
    except BaseException:
        connection.invalidate()
        raise
    finally:
        info.pop(_SCRIPT, None)
        info.pop(SELF_MANAGED_TRANSACTION, None)
    if connection.in_transaction():
        connection.rollback()


def lock_for_writes(connection: sa.Connection) -> None:
    """Begin ``connection``'s transaction (if none) and, on SQLite, take the write lock now (BEGIN IMMEDIATE).

    On PostgreSQL the transaction's BEGIN goes with the next statement (``lms.db``: reads run
    outside transactions until a write), sent in the same pipeline as the batch's SELECT;
    inside a ``script``, the script sends it.
    """
    if not connection.in_transaction():
        connection.begin()
    if _SCRIPT in connection.info:
        return
    postgres_begin_now(connection)
    if connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            if isinstance(dbapi_connection, GatedConnection):
                dbapi_connection.begin_immediate()
            else:
                dbapi_connection.execute("BEGIN IMMEDIATE")


def _before_cursor_execute(connection: sa.Connection, cursor, sql: str, params, executemany: bool) -> None:
    """The engine's ``before_cursor_execute`` listeners (statement counts in tests and benchmarks)."""
    if connection._has_events or connection.engine._has_events:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, cursor, sql, params, None, executemany)


class _Compiled:
    def __init__(self, statement, dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.positional = bool(compiled.positional)
        self.names: list[str] = list(compiled.positiontup or [])
        self.bind = {name: processor for name, processor in (compiled._bind_processors or {}).items() if processor}
        self.expanding = {bind.key for bind in compiled.binds.values() if bind.expanding}
        self.types = {bind.key: bind.type for bind in compiled.binds.values()}
        self.dialect = dialect
        self.result_columns = [(column.keyname, column.type) for column in compiled._result_columns]
        self.columns: list[tuple[str, object]] | None = None  # with processors, from the first result's types
        self._scripted: tuple[str, str, list[str], str] | None = None
        self.placeholder = "?" if dialect.paramstyle == "qmark" else "%({})s"

    def render(self, values: dict) -> tuple[str, object]:
        """The SQL (expanding IN rendered for ``values``) and its parameters in the driver's style."""
        sql = self.sql
        params: dict = {}
        for name in self.expanding:
            items = [self._value(name, item) for item in values[name]]
            keys = [f"{name}_{index}" for index in range(1, len(items) + 1)]
            marks = ", ".join("?" if self.positional else self.placeholder.format(key) for key in keys)
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", marks)
            params.update(zip(keys, items, strict=True))
        if self.positional:
            ordered: list = []
            for name in self.names:
                if name in self.expanding:
                    ordered.extend(value for key, value in params.items() if key.rpartition("_")[0] == name)
                else:
                    ordered.append(self._value(name, values[name]))
            return sql, ordered
        params.update((name, self._value(name, value)) for name, value in values.items() if name not in self.expanding)
        return sql, params

    def _value(self, name: str, value):
        processor = self.bind.get(name)
        return processor(value) if processor is not None else value

    def scripted(self) -> tuple[str, str, list[str], str]:
        """(name, ``PREPARE name AS ...``, the values' names in order, ``EXECUTE name(%s, ...)``) for a Script.

        An expanding ``IN`` becomes ``= ANY`` of one array value, so one prepared statement
        serves every batch size."""
        found = self._scripted
        if found is None:
            names: list[str] = []

            def expanded(match: re.Match) -> str:
                name = match.group(1)
                return f"= ANY(%({name})s::{self.types[name].compile(dialect=self.dialect)}[])"

            def numbered(match: re.Match) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            sql = re.sub(r"IN \(__\[POSTCOMPILE_(\w+)\]\)", expanded, self.sql)
            if "POSTCOMPILE" in sql:
                raise ValueError(f"an expanding parameter outside ``x IN (...)`` cannot be scripted: {sql}")
            sql = re.sub(r"%\((\w+)\)s", numbered, sql).replace("%%", "%")
            name = f"lms_raw_{next(_statement_names)}"
            template = f"EXECUTE {name}({', '.join(['%s'] * len(names))})" if names else f"EXECUTE {name}"
            found = self._scripted = (name, f"PREPARE {name} AS {sql}", names, template)
        return found

    def script_value(self, name: str, value):
        if name in self.expanding:
            return [self._value(name, item) for item in value]
        return self._value(name, value)

    def many(self, rows: list[dict]) -> list:
        if self.positional:
            return [[self._value(name, row[name]) for name in self.names] for row in rows]
        return [{name: self._value(name, value) for name, value in row.items()} for row in rows]


class RawStatement:
    """A Core statement compiled once per dialect, run on the DBAPI cursor (see the module's docstring)."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, connection: sa.Connection) -> _Compiled:
        name = connection.dialect.name
        found = self._compiled.get(name)
        if found is None:
            found = self._compiled.setdefault(name, _Compiled(self.statement, connection.dialect))
        return found

    @contextlib.contextmanager
    def _executed(self, connection: sa.Connection, values: dict):
        """(compiled, cursor) with the statement run for ``values``; the cursor is closed after."""
        compiled = self._for(connection)
        sql, params = compiled.render(values)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            _before_cursor_execute(connection, cursor, sql, params, False)
            cursor.execute(sql, params)
            yield compiled, cursor
        finally:
            cursor.close()

    def _fetched(self, connection: sa.Connection, values: dict) -> tuple[list, list]:
        """(the columns as (key, result processor), the raw rows) of a SELECT run with ``values``."""
        built = connection.info.get(_SCRIPT)
        if built is not None:  # sent with what the script holds so far
            compiled = self._for(connection)
            built.add(compiled, [values])
            cursor = built.send()
            try:
                return self._columns(compiled, cursor)
            finally:
                cursor.close()
        with self._executed(connection, values) as (compiled, cursor):
            return self._columns(compiled, cursor)

    @staticmethod
    def _columns(compiled: _Compiled, cursor) -> tuple[list, list]:
        """(the columns with their result processors, the rows) of the cursor's result."""
        fetched = cursor.fetchall()  # first: in a psycopg pipeline the description comes with the rows
        if compiled.columns is None:
            compiled.columns = [
                (key, type_._cached_result_processor(compiled.dialect, described[1]))
                for (key, type_), described in zip(compiled.result_columns, cursor.description, strict=True)
            ]
        return compiled.columns, fetched

    def rows(self, connection: sa.Connection, values: dict) -> list[SimpleNamespace]:
        """Run a SELECT with ``values`` (expanding parameters as lists); its rows, processed."""
        columns, fetched = self._fetched(connection, values)
        return [_processed(columns, row) for row in fetched]

    def head_and_rows(
        self, connection: sa.Connection, values: dict, head: int
    ) -> tuple[SimpleNamespace | None, list[SimpleNamespace]]:
        """For a SELECT whose first ``head`` columns repeat on every row (a joined parent): those
        columns of the first row, processed once, and the other columns of every row; (None, []): no row."""
        columns, fetched = self._fetched(connection, values)
        if not fetched:
            return None, []
        rows = [_processed(columns[head:], row[head:]) for row in fetched]
        return _processed(columns[:head], fetched[0][:head]), rows

    def execute(self, connection: sa.Connection, values: dict) -> int:
        """Run an INSERT/UPDATE/DELETE once with ``values``; its rowcount."""
        with self._executed(connection, values) as (_compiled, cursor):
            return cursor.rowcount

    def execute_many(self, connection: sa.Connection, rows: list[dict]) -> None:
        """Run an INSERT/UPDATE once per dict of ``rows`` (one executemany; inside a ``script``, added to it)."""
        if not rows:
            return
        compiled = self._for(connection)
        built = connection.info.get(_SCRIPT)
        if built is not None:
            built.add(compiled, rows)
            return
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            params = compiled.many(rows)
            _before_cursor_execute(connection, cursor, compiled.sql, params, True)
            cursor.executemany(compiled.sql, params)
        finally:
            cursor.close()


def _processed(columns: list, values) -> SimpleNamespace:
    """One row as a namespace, each value through its column's result processor (dates, JSON, enums)."""
    return SimpleNamespace(**{key: (processor(value) if processor is not None else value)
                              for (key, processor), value in zip(columns, values, strict=True)})  # fmt: skip
