"""The old offline study pages under /admin/courses/offline (on the courses admin blueprint).

Offline study records became meetings (``lms.meetings.offline_import``), so these
pages lead to the meetings (by path: courses does not import meetings); the audit
trail of the old records stays readable.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request
from flask_login import current_user

from lms.auth import services as auth_services
from lms.auth.models import Branch, User
from lms.auth.permissions import branch_scope_clause, secretary_required
from lms.courses import offline
from lms.courses.models import OFFLINE_ACTIVITY_LABELS
from lms.extensions import db

MEETINGS_PATH = "/meetings/"


def branch_choices(viewer: User | None = None) -> list[tuple[int, str]]:
    """(id, indented name) of the branches in the viewer's scope (all without a viewer), as a tree."""
    scope = None
    if viewer is not None and not viewer.is_admin:
        scope = set(db.session.scalars(sa.select(Branch.id).where(branch_scope_clause(viewer))))
    return [
        (branch.id, "　" * branch.depth + branch.name)
        for branch in auth_services.branch_tree()
        if scope is None or branch.id in scope
    ]


@secretary_required
def offline_records():
    return redirect(MEETINGS_PATH, code=301)


@secretary_required
def offline_new():
    return redirect(MEETINGS_PATH + "new", code=301)


@secretary_required
def offline_detail(record_id: int):
    offline.get_record_or_404(current_user, record_id)
    return redirect(f"{MEETINGS_PATH}from-offline/{record_id}", code=303 if request.method == "POST" else 301)


@secretary_required
def offline_audit():
    return render_template(
        "courses/admin/offline_audit.html", trail=offline.audit_trail(current_user), labels=OFFLINE_ACTIVITY_LABELS
    )


def register(bp: Blueprint) -> None:
    """Add the old offline study paths to the courses admin blueprint ``bp``."""
    bp.add_url_rule("/offline", view_func=offline_records)
    bp.add_url_rule("/offline/new", view_func=offline_new, methods=["GET", "POST"])
    bp.add_url_rule("/offline/<int:record_id>", view_func=offline_detail)
    bp.add_url_rule("/offline/<int:record_id>/edit", endpoint="offline_edit", view_func=offline_detail,
                    methods=["GET", "POST"])  # fmt: skip
    bp.add_url_rule("/offline/<int:record_id>/delete", endpoint="offline_delete", view_func=offline_detail,
                    methods=["POST"])  # fmt: skip
    bp.add_url_rule("/offline/audit", view_func=offline_audit)
