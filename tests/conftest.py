"""Fixtures: an app per test on a fresh database, clients, factories and a frozen clock.

SQLite (the default): a new file per test, schema from the models.
PostgreSQL (``LMS_TEST_DATABASE_URL``, as in CI): the schema is made once per run
and every table is truncated before each test.
"""

from __future__ import annotations

import contextvars
import itertools
import os
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from lms import clock, create_app
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.extensions import db

TEST_PASSWORD = "Passw0rd-test"
POSTGRES_URL = os.environ.get("LMS_TEST_DATABASE_URL", "")
_password_hash: str | None = None
_postgres_schema_ready = False


def password_hash() -> str:
    """One scrypt hash for every factory user: hashing is slow on purpose."""
    global _password_hash
    if _password_hash is None:
        from lms.auth.services import hash_password

        _password_hash = hash_password(TEST_PASSWORD)
    return _password_hash


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The test itself holds an app context (for factories and assertions); without
    this, requests would share it, and with it ``g`` (the logged-in user, the
    locale) and the database session, hiding bugs a real server would show.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_test_app(tmp_path, **overrides):
    """An app on a fresh database (see module docstring)."""
    global _postgres_schema_ready
    config = {
        "TESTING": True,
        "ENV_NAME": "test",
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SCHEDULER": "off",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DATABASE_URL": POSTGRES_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        if POSTGRES_URL:
            if not _postgres_schema_ready:
                db.drop_all()
                db.create_all()
                _postgres_schema_ready = True
            names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
            db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.commit()
        else:
            db.create_all()
    return app


@pytest.fixture
def app(tmp_path):
    app = make_test_app(tmp_path)
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


_counter = itertools.count(1)


@pytest.fixture
def make_branch(app):
    """Create a branch: ``make_branch("第一党支部", parent=branch, kind=BranchKind.BRANCH)``."""
    from lms.auth.services import create_branch

    def factory(name: str | None = None, parent: Branch | None = None, kind: BranchKind = BranchKind.BRANCH) -> Branch:
        branch = create_branch(name or f"支部{next(_counter)}", kind, parent.id if parent else None)
        db.session.commit()
        return branch

    return factory


@pytest.fixture
def make_user(app, make_branch):
    """Create an account; keyword arguments set any User column. Password: TEST_PASSWORD."""
    default_branch: list[Branch] = []

    def factory(role: Role = Role.LEARNER, status: MemberStatus = MemberStatus.FULL, **fields) -> User:
        n = next(_counter)
        if "branch" not in fields and "branch_id" not in fields:
            if not default_branch:
                default_branch.append(make_branch("默认党支部"))
            fields["branch"] = default_branch[0]
        if status == MemberStatus.PROBATIONARY:
            fields.setdefault("probation_end", date(2026, 12, 31))
        # On the platform long before any test's period: targets are pro-rated from the day an account is made.
        fields.setdefault("created_at", datetime(2020, 1, 1, tzinfo=UTC))
        fields.setdefault("username", f"user{n}")
        fields.setdefault("name", f"测试用户{n}")
        user = User(role=role, status=status, password_hash=password_hash(), **fields)
        db.session.add(user)
        db.session.commit()
        return user

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
