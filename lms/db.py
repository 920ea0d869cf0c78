"""The declarative base, shared column types and mixins for every domain's models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

from lms import clock

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
    import sqlite3

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
    """
    if conn.dialect.name != "sqlite" or not conn.in_transaction():
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.in_transaction:
        return
    compiled = getattr(context, "compiled", None)
    for_update = getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    if for_update or statement.lstrip().upper().startswith(_WRITE_PREFIXES):
        dbapi_connection.execute("BEGIN IMMEDIATE")


def utcnow_default() -> datetime:
    """Column default: the clock's now (a callable, never a value computed at import)."""
    return clock.utcnow()


__all__ = ["UTC", "NAMING_CONVENTION", "Base", "TimestampMixin", "UTCDateTime", "str_enum", "utcnow_default"]


def render_migration_item(type_: str, obj, autogen_context):
    """Alembic hook: write UTCDateTime as a plain timezone-aware DateTime in migrations,
    so migration files never import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
