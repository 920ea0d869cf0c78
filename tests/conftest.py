"""Fixtures: one app per test process, a fresh database per test, clients, factories, a frozen clock.

The app is built once per process (building it compiles ~180 URL rules and a
Jinja environment) and reset before each test: its config is restored from a
snapshot taken when it was built, ``MEDIA_ROOT`` moves to the test's
``tmp_path``, and its engine points at the test's own database:

- SQLite (the default): the schema is created once into a template file, and
  each test gets a copy of it (``tmp_path / "test.sqlite3"``).
- PostgreSQL (``LMS_TEST_DATABASE_URL``, as in CI for ``-m postgres``): the
  schema is made once per run and every table is emptied before each test.

``make_test_app(tmp_path, **overrides)`` builds a separate app for a test that
needs settings fixed at build time (rate limits, CSRF), on a fresh copy of the
same database. Global state (``lms.clock``'s freeze, ``lms.cache``) is reset
around every test. See docs/DEVELOPING.md "Tests".
"""

from __future__ import annotations

import atexit
import contextvars
import copy
import os
import shutil
import tempfile
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from lms import cache, clock, create_app
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.extensions import db, limiter
from tests.factories.auth import TEST_PASSWORD, create_branch, create_user, password_hash

__all__ = ["TEST_PASSWORD", "make_test_app", "password_hash"]

# Hypothesis: no per-example wall-clock deadline (200 ms by default), which a
# loaded machine exceeds without the code being wrong; the examples are the same.
hypothesis.settings.register_profile("lms", deadline=None)
hypothesis.settings.load_profile("lms")

POSTGRES_URL = os.environ.get("LMS_TEST_DATABASE_URL", "")
BASE_CONFIG = {
    "TESTING": True,
    "ENV_NAME": "test",
    "SECRET_KEY": "test-secret",
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    "SCHEDULER": "off",
}


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The test itself holds an app context (for factories and assertions); without
    this, requests would share it, and with it ``g`` (the logged-in user, the
    locale) and the database session, hiding bugs a real server would show.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


class _Databases:
    """The schema, made once per process: a template SQLite file, or PostgreSQL's tables."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lms-tests-"))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        self.template = self.folder / "template.sqlite3"
        self.ready = False
        self.empty_postgres: str | None = None

    def url(self) -> str:
        return POSTGRES_URL or f"sqlite:///{self.template}"

    def build(self, app: Flask) -> None:
        """Create the schema with ``app`` (whose engine points at ``url()``)."""
        with app.app_context():
            if POSTGRES_URL:
                db.drop_all()
            db.create_all()
            db.engine.dispose()  # SQLite: the last close checkpoints the WAL into the file
        self.ready = True

    def _empty_postgres(self) -> str:
        """DELETE every table (children first) and restart the id sequences, in one round trip.

        Far quicker than TRUNCATE on tables this small: TRUNCATE makes new files
        for every table and syncs them at commit (~0.5 s against ~20 ms).
        """
        if self.empty_postgres is None:
            sequences = db.session.scalars(
                sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
            ).all()
            tables = reversed(db.metadata.sorted_tables)  # our own names, not input
            # The audit log refuses DELETE (an append-only trigger); TRUNCATE fires no row trigger.
            statements = ['TRUNCATE "audit_log"']
            statements += [f'DELETE FROM "{table.name}"' for table in tables if table.name != "audit_log"]  # noqa: S608
            statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
            self.empty_postgres = "; ".join(statements)
        return self.empty_postgres

    def fresh(self, app: Flask, tmp_path: Path) -> None:
        """Give ``app`` (whose config is already reset) an empty database of its own."""
        if POSTGRES_URL:
            with app.app_context():
                db.session.execute(sa.text(self._empty_postgres()))
                db.session.commit()
                db.session.remove()
            return
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(self.template, path)
        _point_engine_at(app, path)


_databases: _Databases | None = None
_sqlite_targets: weakref.WeakKeyDictionary[sa.Engine, dict[str, str]] = weakref.WeakKeyDictionary()
_shared: tuple[Flask, dict] | None = None


def _schema() -> _Databases:
    global _databases
    if _databases is None:
        _databases = _Databases()
    return _databases


def _config(tmp_path: Path, overrides: dict) -> dict:
    return {
        **BASE_CONFIG,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DATABASE_URL": _schema().url(),
        **overrides,
    }


def _point_engine_at(app: Flask, path: Path) -> None:
    """Make the app's engine open ``path`` from now on (connections to the last file are closed).

    One engine for the process, not one per test: SQLAlchemy caches compiled
    statements per engine, and a new engine would compile every query again.
    """
    app.config["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    with app.app_context():
        engine = db.engine
    target = _sqlite_targets.get(engine)
    if target is None:
        target = _sqlite_targets[engine] = {}

        @sa.event.listens_for(engine, "do_connect")
        def _open_the_tests_file(dialect, connection_record, cargs, cparams):
            cargs[0] = target["path"]  # pysqlite connects with (database path, **options)

    target["path"] = str(path)
    engine.url = engine.url.set(database=str(path))  # what it shows (and Alembic reads)
    engine.dispose()


def _build(tmp_path: Path, overrides: dict) -> Flask:
    app = create_app(_config(tmp_path, overrides))
    app.test_client_class = IsolatedClient
    schema = _schema()
    if not schema.ready:
        schema.build(app)
    return app


def _shared_app(tmp_path: Path) -> Flask:
    """The process's app, reset for the test that runs in ``tmp_path``."""
    global _shared
    if _shared is None:
        app = _build(tmp_path, {})
        _shared = (app, copy.deepcopy(dict(app.config)))
    app, snapshot = _shared
    app.config.clear()
    app.config.update(copy.deepcopy(snapshot))
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")
    app.instance_path = str(tmp_path / "instance")  # import staging files stay in the test's folder
    # Flask-Limiter keeps "enabled" on its one extension object: the last app
    # initialised (make_test_app's) decides, so set it back to this app's.
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    _schema().fresh(app, tmp_path)
    return app


def make_test_app(tmp_path, **overrides):
    """A new app of its own on a fresh database, for settings read when the app is built.

    Use the ``app`` fixture unless the test needs such settings (``RATELIMIT_ENABLED``,
    limits): this builds the whole app (~0.2 s).
    """
    app = _build(tmp_path, overrides)
    app.instance_path = str(tmp_path / "instance")
    if "DATABASE_URL" in overrides:  # a database of the caller's choosing: the schema goes there
        with app.app_context():
            db.create_all()
    else:
        _schema().fresh(app, tmp_path)
    return app


def pytest_configure(config):
    workers = getattr(config.option, "numprocesses", None)
    if POSTGRES_URL and workers not in (None, 0):
        raise pytest.UsageError(
            "LMS_TEST_DATABASE_URL is set: the test workers would share that one database. "
            "Run in one process (no -n; make test PYTEST_WORKERS=0)."
        )


def pytest_collection_modifyitems(items):
    """Under pytest-xdist, the long tests go first: those marked slow (browser ones first), then the browser
    journeys. Each worker takes the next test when it is free, so the short ones fill in at the end instead
    of one worker finishing a long test alone. In one process, the order stays the files' order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: (item.get_closest_marker("slow") is None, "/e2e/" not in item.nodeid))


@pytest.fixture(autouse=True)
def _global_state():
    """Every test starts with a running clock and empty caches (ids restart with each database)."""
    from lms.exams.contests import cache as contest_cache

    clock.freeze(None)
    cache._local.clear()
    cache._remote_copies.clear()
    contest_cache.forget()
    yield
    clock.freeze(None)
    cache._local.clear()
    cache._remote_copies.clear()
    contest_cache.forget()


@pytest.fixture
def english(app):
    """Messages in English (the msgids) during the test: ``pytestmark = pytest.mark.usefixtures("english")``."""
    with force_locale("en"):
        yield


@pytest.fixture
def app(tmp_path):
    app = _shared_app(tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
    if not POSTGRES_URL:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def frozen_clock():
    """Freeze ``lms.clock.utcnow``: ``frozen_clock.set(dt)``, ``frozen_clock.advance(seconds)``."""

    class FrozenClock:
        def __init__(self) -> None:
            self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
            clock.freeze(self.now)

        def set(self, moment: datetime) -> datetime:
            self.now = moment
            clock.freeze(moment)
            return moment

        def advance(self, seconds: float) -> datetime:
            return self.set(self.now + timedelta(seconds=seconds))

    controller = FrozenClock()
    yield controller
    clock.freeze(None)


@pytest.fixture
def make_branch(app):
    """Create a branch: ``make_branch("第一党支部", parent=branch, kind=BranchKind.BRANCH)``."""

    def factory(name: str | None = None, parent: Branch | None = None, kind: BranchKind = BranchKind.BRANCH) -> Branch:
        return create_branch(name, parent, kind)

    return factory


@pytest.fixture
def make_user(app, make_branch):
    """Create an account; keyword arguments set any User column. Password: TEST_PASSWORD."""
    default_branch: list[Branch] = []

    def factory(role: Role = Role.LEARNER, status: MemberStatus = MemberStatus.FULL, **fields) -> User:
        if "branch" not in fields and "branch_id" not in fields:
            if not default_branch:
                default_branch.append(make_branch("默认党支部"))
            fields["branch"] = default_branch[0]
        return create_user(role, status, **fields)

    return factory


@pytest.fixture
def login(client):
    """Log ``user`` in on ``client`` (default: the test client) without the slow password check."""

    def do_login(user: User, on=None):
        target = on or client
        with target.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return target

    return do_login
