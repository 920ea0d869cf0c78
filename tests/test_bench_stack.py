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


def test_pg_trgm_installed_elsewhere_is_visible_in_the_benchmark_schema(scratch_url, tmp_path):
    import _stack

    _run(scratch_url, "CREATE EXTENSION pg_trgm")  # in public, as --stack's migrations or an admin leave it
    database = _stack.database(argparse.Namespace(database_url=scratch_url, stack=False), tmp_path, "probe")
    try:
        url = database.url.replace("+psycopg", "")
        # What the app's schema does for search (lms.search.models.create_full_text): failed before the fix.
        _run(url, "CREATE EXTENSION IF NOT EXISTS pg_trgm", "CREATE TABLE docs (title text)",
             "CREATE INDEX docs_trgm ON docs USING gin (title gin_trgm_ops)")  # fmt: skip
        assert _run(url, "SELECT schemaname FROM pg_tables WHERE tablename = 'docs'") == [("bench_probe",)]
    finally:
        database.drop()


def test_an_extension_schema_with_tables_is_refused(scratch_url, tmp_path):
    import _stack

    _run(scratch_url, "CREATE EXTENSION pg_trgm", "CREATE TABLE public.users (id int)")
    with pytest.raises(SystemExit, match="holds 1 tables"):
        _stack.database(argparse.Namespace(database_url=scratch_url, stack=False), tmp_path, "probe")
    _run(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", scratch_url), "DROP SCHEMA IF EXISTS bench_probe")
