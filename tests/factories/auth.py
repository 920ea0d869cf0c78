"""Branches and members: ``create_branch``, ``create_user``, one shared password hash."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from werkzeug.security import generate_password_hash

from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.extensions import db

TEST_PASSWORD = "Passw0rd-test"

_counter = itertools.count(1)
_password_hash: str | None = None


def password_hash() -> str:
    """One scrypt hash of TEST_PASSWORD for every factory user.

    scrypt is slow on purpose (Werkzeug's default cost: 32 MB and ~0.1 s a check),
    and every login through the real form checks it. Factory users store a hash
    of a lower cost (N=2**10): the same KDF and the same code path, since the
    cost is read from the stored hash; hashes the app makes itself keep the default.
    """
    global _password_hash
    if _password_hash is None:
        _password_hash = generate_password_hash(TEST_PASSWORD, method="scrypt:1024:8:1")
    return _password_hash


def create_branch(
    name: str | None = None, parent: Branch | None = None, kind: BranchKind = BranchKind.BRANCH
) -> Branch:
    """A branch made by the auth service (``parent`` makes it a sub-branch)."""
    from lms.auth import services

    branch = services.create_branch(name or f"支部{next(_counter)}", kind, parent.id if parent else None)
    db.session.commit()
    return branch


def create_user(role: Role = Role.LEARNER, status: MemberStatus = MemberStatus.FULL, **fields) -> User:
    """An account; keyword arguments set any User column (``branch`` is required here). Password: TEST_PASSWORD."""
    n = next(_counter)
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
