"""The search index: one row per searchable object, plus the database's own full-text index over it.

SQLite: two FTS5 tables over ``search_documents`` (external content, kept in step by
triggers): ``search_fts`` with the trigram tokenizer (substring match for words of three
or more characters) and ``search_grams`` over ``grams``, the text's character bigrams,
so that two-character words (初心, 党章) are found through an index too.
PostgreSQL: pg_trgm GIN indexes on title and body (ILIKE uses them) when the extension
can be created; without it the same queries run as plain ILIKE scans.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import utcnow_default
from lms.extensions import db

log = logging.getLogger(__name__)

FTS_TABLES = ("search_fts", "search_grams")


class SearchDocument(db.Model):
    __tablename__ = "search_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # course, lesson, article, announcement, question
    object_id: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    # Space-separated character bigrams of title and body (see ``index.bigrams``).
    grams: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_default, onupdate=utcnow_default)

    __table_args__ = (sa.UniqueConstraint("kind", "object_id"),)


SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "title, body, content='search_documents', content_rowid='id', tokenize='trigram')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_grams USING fts5("
    "grams, content='search_documents', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER IF NOT EXISTS search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); "
    "INSERT INTO search_grams(rowid, grams) VALUES (new.id, new.grams); END",
    "CREATE TRIGGER IF NOT EXISTS search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO search_grams(search_grams, rowid, grams) VALUES ('delete', old.id, old.grams); END",
    "CREATE TRIGGER IF NOT EXISTS search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO search_grams(search_grams, rowid, grams) VALUES ('delete', old.id, old.grams); "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); "
    "INSERT INTO search_grams(rowid, grams) VALUES (new.id, new.grams); END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS search_documents_ai",
    "DROP TRIGGER IF EXISTS search_documents_ad",
    "DROP TRIGGER IF EXISTS search_documents_au",
    "DROP TABLE IF EXISTS search_fts",
    "DROP TABLE IF EXISTS search_grams",
)
POSTGRES_INDEXES = (
    "CREATE INDEX IF NOT EXISTS search_documents_title_trgm ON search_documents USING gin (title gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS search_documents_body_trgm ON search_documents USING gin (body gin_trgm_ops)",
)


def has_trigram_extension(connection) -> bool:
    """True when PostgreSQL's pg_trgm is installed in a schema on the search path (so ``similarity()`` exists)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.exec_driver_sql(
        "SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm' AND n.nspname = ANY (current_schemas(true))"
    ).scalar())  # fmt: skip


def create_full_text(connection) -> None:
    """Make the database's full-text index over ``search_documents`` (after the table)."""
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_DDL:
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        # Creating an extension needs a privileged role: without it, search falls back to ILIKE scans.
        try:
            with connection.begin_nested():
                connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError:
            log.warning("pg_trgm is not available: search runs without trigram indexes")
            return
        if not has_trigram_extension(connection):  # installed in a schema outside the search path
            log.warning("pg_trgm is installed outside the search path: search runs without trigram indexes")
            return
        for statement in POSTGRES_INDEXES:
            connection.exec_driver_sql(statement)


def drop_full_text(connection) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_DROP:
            connection.exec_driver_sql(statement)


sa.event.listen(SearchDocument.__table__, "after_create", lambda target, connection, **kw: create_full_text(connection))
sa.event.listen(SearchDocument.__table__, "before_drop", lambda target, connection, **kw: drop_full_text(connection))


def is_full_text_index(name: str | None) -> bool:
    """PostgreSQL's pg_trgm indexes (``POSTGRES_INDEXES``) are made by hand, not from the models."""
    return bool(name) and name in {"search_documents_title_trgm", "search_documents_body_trgm"}


def is_full_text_table(name: str | None) -> bool:
    """FTS5 tables and their shadow tables are the database's own; autogenerate leaves them alone."""
    return bool(name) and any(name == t or name.startswith(t + "_") for t in FTS_TABLES)
