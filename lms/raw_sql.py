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
from types import SimpleNamespace

import sqlalchemy as sa

from lms.db import GatedConnection, postgres_begin_now


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


def lock_for_writes(connection: sa.Connection) -> None:
    """Begin ``connection``'s transaction (if none) and, on SQLite, take the write lock now (BEGIN IMMEDIATE).

    On PostgreSQL the transaction's BEGIN goes with the next statement (``lms.db``: reads run
    outside transactions until a write), sent in the same pipeline as the batch's SELECT.
    """
    if not connection.in_transaction():
        connection.begin()
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
        self.dialect = dialect
        self.result_columns = [(column.keyname, column.type) for column in compiled._result_columns]
        self.columns: list[tuple[str, object]] | None = None  # with processors, from the first result's types
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
        with self._executed(connection, values) as (compiled, cursor):
            fetched = cursor.fetchall()
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
        """Run an INSERT/UPDATE once per dict of ``rows`` (one executemany)."""
        if not rows:
            return
        compiled = self._for(connection)
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
