"""The benchmarks' database choice (benchmarks/_stack.py) on PostgreSQL."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres_only

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


@pytest.fixture
def scratch_url():
    """A fresh database of its own (the test database's public schema holds the app's tables)."""
    if not POSTGRES_URL:
        pytest.skip("needs LMS_TEST_DATABASE_URL")
    import psycopg

    admin = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", POSTGRES_URL)
    name = "lms_bench_stack_test"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    yield admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _run(url: str, *statements: str):
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        result = None
        for statement in statements:
            result = connection.execute(statement)
        return result.fetchall() if result is not None and result.description else None


def _make_search_table(url: str) -> tuple[bool, list[str]]:
    """What the app's schema does for search: the table, then its trigram indexes (lms.search.models)."""
    import sqlalchemy as sa

    from lms.search.models import SearchDocument, has_trigram_extension

    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            SearchDocument.__table__.create(connection)
            indexes = connection.execute(sa.text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'search_documents' AND indexname LIKE '%trgm' "
                "AND schemaname = current_schema() ORDER BY 1")).scalars().all()  # fmt: skip
            return has_trigram_extension(connection), indexes
    finally:
        engine.dispose()


def test_pg_trgm_installed_in_public_is_on_the_benchmark_schemas_path(scratch_url, tmp_path):
    import _stack

    _run(scratch_url, "CREATE EXTENSION pg_trgm")  # in public, as made by hand or by migrations
    database = _stack.database(argparse.Namespace(database_url=scratch_url, stack=False), tmp_path, "probe")
    try:
        # Failed before: "operator class gin_trgm_ops does not exist" (IF NOT EXISTS skipped the extension).
        assert _make_search_table(database.url) == (
            True, ["search_documents_body_trgm", "search_documents_title_trgm"])  # fmt: skip
    finally:
        database.drop()


def test_pg_trgm_in_a_schema_with_tables_leaves_the_app_without_trigram_indexes(scratch_url, tmp_path):
    import _stack

    # As while another benchmark's run lasts: the extension in its schema, next to its tables.
    _run(scratch_url, "CREATE SCHEMA bench_other", "CREATE EXTENSION pg_trgm SCHEMA bench_other",
         "CREATE TABLE bench_other.search_documents (id int)")  # fmt: skip
    database = _stack.database(argparse.Namespace(database_url=scratch_url, stack=False), tmp_path, "probe")
    try:
        assert "bench_other" not in database.url  # its tables would be found instead of the run's own
        assert _make_search_table(database.url) == (False, [])  # made, without trigram indexes (a warning)
        assert _run(scratch_url, "SELECT count(*) FROM bench_probe.search_documents") == [(0,)]
    finally:
        database.drop()
