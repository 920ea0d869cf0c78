"""Helpers for views that audit their actions: the branch path a row is scoped to, exports.

``lms.audit`` knows nothing of users and branches; these helpers turn a member,
a report's root branch or a content audience into the ``branch_path`` that lets
secretaries and subtree admins read the rows of their subtree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from lms import audit
from lms.auth.models import Branch, Role, User
from lms.extensions import db


def member_path(member: User | None) -> str | None:
    """The branch path of a member (None without a branch)."""
    return member.branch.path if member is not None and member.branch is not None else None


def audience_path(branch_ids: Iterable[int] | None) -> str | None:
    """The deepest branch shared by an audience's branches; None for an organisation-wide audience."""
    ids = [int(b) for b in branch_ids or ()]
    if not ids:
        return None
    return audit.common_path(db.session.scalars(sa.select(Branch.path).where(Branch.id.in_(ids))))


def viewer_path(root: Branch | None = None) -> str | None:
    """The subtree an action of the current user covers: ``root``'s, or their own when scoped."""
    if root is not None:
        return root.path
    if current_user.role != Role.ADMIN and current_user.branch is not None:
        return current_user.branch.path
    return None


def record_content(
    action: str,
    obj_type: str,
    obj: Any,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    *,
    label: str | None = None,
) -> None:
    """Audit an action on a quiz, contest, target or announcement, scoped to its audience."""
    audit.record(
        action,
        obj_type,
        getattr(obj, "id", None),
        before,
        after,
        label=label if label is not None else (getattr(obj, "title", None) or getattr(obj, "name", "") or ""),
        branch_path=audience_path(getattr(obj, "audience_branch_ids", None)),
    )


def record_export(
    kind: str,
    obj_id: Any = None,
    *,
    root: Branch | None = None,
    member: User | None = None,
    label: str = "",
    commit: bool = True,
) -> None:
    """Audit an export of personal data (Excel, PDF, print page) with its filters; commits by default.

    Export routes are GET requests that change nothing else, so the row is committed here.
    """
    filters = dict(request.args.items())
    audit.record(
        f"export.{kind}",
        "export",
        obj_id,
        after=filters or None,
        label=label or (member.name if member is not None else ""),
        branch_path=member_path(member) if member is not None else viewer_path(root),
    )
    if commit:
        db.session.commit()
