"""Audiences: who a course, quiz, contest, target or notice is for.

An audience is three lists (statuses, roles, branch ids); an empty list means
"any". A branch includes its whole subtree. Models that have an audience use
``AudienceMixin``; callers test one user with ``audience_includes`` or select
all included users with ``audience_clause``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.auth.models import Branch, User
from lms.extensions import db


class AudienceMixin:
    audience_statuses: Mapped[list] = mapped_column(sa.JSON, default=list)
    audience_roles: Mapped[list] = mapped_column(sa.JSON, default=list)
    audience_branch_ids: Mapped[list] = mapped_column(sa.JSON, default=list)

    def set_audience(self, statuses=(), roles=(), branch_ids=()) -> None:
        self.audience_statuses = sorted({str(s) for s in statuses})
        self.audience_roles = sorted({str(r) for r in roles})
        self.audience_branch_ids = sorted({int(b) for b in branch_ids})

    @property
    def audience_is_everyone(self) -> bool:
        return not (self.audience_statuses or self.audience_roles or self.audience_branch_ids)


def _branch_paths(branch_ids: list[int]) -> list[str]:
    if not branch_ids:
        return []
    return list(db.session.scalars(sa.select(Branch.path).where(Branch.id.in_(branch_ids))))


def branch_ancestor_ids(user) -> frozenset[int]:
    """The ids of the member's branch and every branch above it (from the materialised path)."""
    branch = user.branch
    if branch is None:
        return frozenset()
    return frozenset(int(part) for part in branch.path.strip("/").split("/") if part)


def audience_includes(audience: AudienceMixin, user, ancestors: frozenset[int] | None = None) -> bool:
    """True when ``user`` belongs to the audience; no query (branch subtrees via the path's ancestry).

    ``ancestors`` (``branch_ancestor_ids(user)``) may be passed when checking many audiences;
    ``user`` needs ``status``, ``role`` and, unless ``ancestors`` is given, ``branch``.
    """
    if audience.audience_statuses and str(user.status) not in audience.audience_statuses:
        return False
    if audience.audience_roles and str(user.role) not in audience.audience_roles:
        return False
    if audience.audience_branch_ids:
        ancestors = branch_ancestor_ids(user) if ancestors is None else ancestors
        return any(int(b) in ancestors for b in audience.audience_branch_ids)
    return True


def audience_clause(audience: AudienceMixin):
    """A WHERE clause on ``User`` selecting the active members of the audience."""
    clauses = [User.is_active.is_(True)]
    if audience.audience_statuses:
        clauses.append(User.status.in_(audience.audience_statuses))
    if audience.audience_roles:
        clauses.append(User.role.in_(audience.audience_roles))
    if audience.audience_branch_ids:
        paths = _branch_paths(audience.audience_branch_ids)
        if not paths:
            return sa.false()
        clauses.append(
            User.branch_id.in_(sa.select(Branch.id).where(sa.or_(*(Branch.path.startswith(p) for p in paths))))
        )
    return sa.and_(*clauses)
