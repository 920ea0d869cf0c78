"""Permission scope: who may see which members' records.

Scope is data, not code paths: every query for member data is filtered with
``member_scope_clause(viewer)``; admins see everyone, secretaries and subtree
admins (党总支, 二级党委) their branch subtree, everyone else only themselves.
A subtree admin manages members, quizzes and targets whose audience lies
inside the subtree (``branches_in_scope``), and nothing outside it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from lms.auth.models import Branch, Role, User
from lms.extensions import db

# Roles whose scope is the subtree of their own branch.
SUBTREE_ROLES = (Role.SECRETARY, Role.SUBTREE_ADMIN)


def scope_branch(viewer: User) -> Branch | None:
    """The root of the viewer's subtree (None for admins, who see all, and for members)."""
    if viewer.role in SUBTREE_ROLES:
        return viewer.branch
    return None


def member_scope_clause(viewer: User, user_id_column=None):
    """A WHERE clause limiting ``user_id_column`` (default ``User.id``) to the viewer's scope."""
    column = user_id_column if user_id_column is not None else User.id
    if viewer.role == Role.ADMIN:
        return sa.true()
    if viewer.role in SUBTREE_ROLES and viewer.branch is not None:
        subtree = sa.select(Branch.id).where(Branch.path.startswith(viewer.branch.path))
        if column is User.id:
            return User.branch_id.in_(subtree)
        return column.in_(sa.select(User.id).where(User.branch_id.in_(subtree)))
    return column == viewer.id


def branch_scope_clause(viewer: User):
    """A WHERE clause on ``Branch`` limiting branches to the viewer's subtree (all for admins)."""
    if viewer.role == Role.ADMIN:
        return sa.true()
    if viewer.role in SUBTREE_ROLES and viewer.branch is not None:
        return Branch.path.startswith(viewer.branch.path)
    return sa.false()


def branches_in_scope(viewer: User, branch_ids) -> bool:
    """True when the viewer may address content to ``branch_ids``.

    Admins may address anyone (an empty list is the whole organisation); a
    subtree admin only a non-empty list of branches inside their subtree.
    """
    if viewer.role == Role.ADMIN:
        return True
    ids = {int(b) for b in branch_ids or ()}
    if not ids or viewer.role not in SUBTREE_ROLES or viewer.branch is None:
        return False
    inside = db.session.scalar(
        sa.select(sa.func.count(Branch.id)).where(Branch.id.in_(ids), Branch.path.startswith(viewer.branch.path))
    )
    return inside == len(ids)


def content_in_scope(viewer: User, content) -> bool:
    """True when the viewer may manage ``content`` (anything with ``audience_branch_ids``)."""
    return branches_in_scope(viewer, getattr(content, "audience_branch_ids", None) or ())


def get_content_or_404(viewer: User, model, content_id: int):
    """Load a quiz, target or other audience-scoped object the viewer may manage, else 404."""
    content = db.session.get(model, content_id)
    if content is None or not content_in_scope(viewer, content):
        abort(404)
    return content


def scoped_branch_tree(viewer: User) -> list[Branch] | None:
    """The branches a viewer may address content to, in tree order; None for admins (all)."""
    if viewer.role == Role.ADMIN:
        return None
    from lms.auth.services import branch_tree

    root = scope_branch(viewer)
    return [b for b in branch_tree() if root is not None and b.path.startswith(root.path)]


def check_audience(viewer: User, branch_ids) -> None:
    """Raise ValidationFailed (on the branches field) unless the viewer may address ``branch_ids``."""
    from flask_babel import lazy_gettext as _l

    from lms.errors import ValidationFailed

    if not branches_in_scope(viewer, branch_ids):
        raise ValidationFailed(
            _l("Choose one or more branches of your own subtree: you cannot address the whole organisation."),
            "audience_branch_ids",
        )


def audit_scope(viewer: User) -> dict:
    """Arguments for ``lms.audit.entries_query``: all rows for admins, the subtree's rows otherwise."""
    if viewer.role == Role.ADMIN:
        return {"org_wide": True}
    branch = scope_branch(viewer)
    return {"org_wide": False, "scope_path": branch.path if branch is not None else None}


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
# Admins of the organisation or of a subtree; the view then scopes what it touches.
manager_required = role_required(Role.ADMIN, Role.SUBTREE_ADMIN)
secretary_required = role_required(Role.ADMIN, Role.SUBTREE_ADMIN, Role.SECRETARY)
