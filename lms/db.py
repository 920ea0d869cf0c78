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
    # pysqlite's own implicit BEGIN is deferred; we emit BEGIN IMMEDIATE in _sqlite_begin
    # so that two writers queue on the busy timeout instead of failing with
    # "database is locked" when a read transaction later tries to write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


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
