"""Permission scope: who may see which members' records.

Scope is data, not code paths: every query for member data is filtered with
``member_scope_clause(viewer)``; admins see everyone, secretaries their branch
subtree, everyone else only themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from lms.auth.models import Branch, Role, User
from lms.extensions import db


def member_scope_clause(viewer: User, user_id_column=None):
    """A WHERE clause limiting ``user_id_column`` (default ``User.id``) to the viewer's scope."""
    column = user_id_column if user_id_column is not None else User.id
    if viewer.role == Role.ADMIN:
        return sa.true()
    if viewer.role == Role.SECRETARY and viewer.branch is not None:
        subtree = sa.select(Branch.id).where(Branch.path.startswith(viewer.branch.path))
        if column is User.id:
            return User.branch_id.in_(subtree)
        return column.in_(sa.select(User.id).where(User.branch_id.in_(subtree)))
    return column == viewer.id


def branch_scope_clause(viewer: User):
    """A WHERE clause on ``Branch`` limiting branches to the viewer's subtree (all for admins)."""
    if viewer.role == Role.ADMIN:
        return sa.true()
    if viewer.role == Role.SECRETARY and viewer.branch is not None:
        return Branch.path.startswith(viewer.branch.path)
    return sa.false()


def can_manage_member(viewer: User, member: User) -> bool:
    """True when ``member`` is within the viewer's scope."""
    return db.session.scalar(sa.select(User.id).where(User.id == member.id, member_scope_clause(viewer))) is not None


def get_member_or_404(viewer: User, user_id: int) -> User:
    """Load a member the viewer may see; out-of-scope ids look like missing ones (404)."""
    member = db.session.scalar(sa.select(User).where(User.id == user_id, member_scope_clause(viewer)))
    if member is None:
        abort(404)
    return member


def get_branch_or_404(viewer: User, branch_id: int) -> Branch:
    """Load a branch inside the viewer's scope, else 404."""
    branch = db.session.scalar(sa.select(Branch).where(Branch.id == branch_id, branch_scope_clause(viewer)))
    if branch is None:
        abort(404)
    return branch


def role_required(*roles: Role) -> Callable:
    """View decorator: logged in and one of ``roles`` (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = role_required(Role.ADMIN)
secretary_required = role_required(Role.ADMIN, Role.SECRETARY)
