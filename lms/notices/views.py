"""The bell, the notifications page, and announcements (member and manager pages)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import audit, clock
from lms.actions import run_action
from lms.auth.audience import audience_includes
from lms.auth.auditing import record_content
from lms.auth.forms import fill_audience_choices
from lms.auth.models import Branch
from lms.auth.permissions import branch_scope_clause, secretary_required
from lms.errors import DomainError
from lms.extensions import db
from lms.inputs import page_arg
from lms.notices import services
from lms.notices.forms import AnnouncementForm
from lms.notices.models import Announcement
from lms.security import safe_next_url

bp = Blueprint("notices", __name__)


@bp.app_context_processor
def bell():
    if current_user and current_user.is_authenticated:
        return {"unread_notifications": services.unread_count(current_user)}
    return {}


def announcements_panel(user) -> str | None:
    """The home panel: the latest announcements the member may read."""
    today = clock.local_day(clock.utcnow())
    items = services.visible_announcements(user, today, limit=3)
    if not items:
        return None
    return render_template("notices/_panel.html", announcements=items)


@bp.route("/notifications")
@login_required
def notifications():
    page = page_arg()
    pagination = db.paginate(services.notifications_query(current_user), page=page, per_page=30, error_out=False)
    return render_template("notices/notifications.html", pagination=pagination)


@bp.route("/notifications/<int:notification_id>", methods=["POST"])
@login_required
def open_notification(notification_id: int):
    notification = services.open_notification(current_user, notification_id, clock.utcnow())
    if notification is None:
        abort(404)
    db.session.commit()
    return redirect(safe_next_url(notification.link) or url_for("notices.notifications"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    services.mark_all_read(current_user, clock.utcnow())
    db.session.commit()
    return redirect(url_for("notices.notifications"))


@bp.route("/announcements")
@login_required
def announcements():
    today = clock.local_day(clock.utcnow())
    return render_template(
        "notices/announcements.html", announcements=services.visible_announcements(current_user, today)
    )


@bp.route("/announcements/<int:announcement_id>")
@login_required
def announcement(announcement_id: int):
    item = db.get_or_404(Announcement, announcement_id)
    manager = services.can_edit_announcement(current_user, item)
    if not manager and (not item.is_published or not audience_includes(item, current_user)):
        abort(404)
    return render_template("notices/announcement.html", announcement=item, manager=manager)


# --- Managing announcements (admins and secretaries) --------------------------------


@bp.route("/admin/announcements")
@secretary_required
def manage_announcements():
    items = db.session.scalars(services.managed_announcements_query(current_user)).all()
    return render_template("notices/manage.html", announcements=items)


def _branches_for(user):
    from lms.auth.services import branch_tree

    allowed = set(db.session.scalars(sa.select(Branch.id).where(branch_scope_clause(user))))
    return [branch for branch in branch_tree() if branch.id in allowed]


@bp.route("/admin/announcements/new", methods=["GET", "POST"])
@bp.route("/admin/announcements/<int:announcement_id>/edit", methods=["GET", "POST"])
@secretary_required
def edit_announcement(announcement_id: int | None = None):
    item = db.get_or_404(Announcement, announcement_id) if announcement_id else None
    if item is not None and not services.can_edit_announcement(current_user, item):
        abort(403)
    form = AnnouncementForm(obj=item)
    fill_audience_choices(form, _branches_for(current_user))
    if request.method == "GET" and item is not None:
        form.load_audience(item)
        form.body.data = item.body_html
        form.publish.data = item.is_published
    if form.validate_on_submit():
        statuses, roles, branch_ids = form.audience_values()
        before = audit.row_snapshot(item) if item is not None else None

        def save():
            saved = services.save_announcement(
                item,
                author=current_user,
                title=form.title.data,
                body_html=form.body.data,
                statuses=statuses,
                roles=roles,
                branch_ids=branch_ids,
                pinned=form.pinned.data,
                expires_on=form.expires_on.data,
                publish=form.publish.data,
                now=clock.utcnow(),
            )
            db.session.flush()
            action = "announcement.update" if before is not None else "announcement.create"
            record_content(action, "announcement", saved, before or {}, audit.row_snapshot(saved))
            return saved

        done = run_action(
            save,
            form=form,
            aliases={"branches": "audience_branch_ids"},
            to=lambda saved: url_for("notices.announcement", announcement_id=saved.id),
            success=_l("Announcement saved."),
        )
        if done:
            return done
    return render_template("notices/edit.html", form=form, announcement=item)


@bp.route("/admin/announcements/<int:announcement_id>/delete", methods=["POST"])
@secretary_required
def delete_announcement(announcement_id: int):
    item = db.get_or_404(Announcement, announcement_id)
    try:
        record_content("announcement.delete", "announcement", item, audit.row_snapshot(item), None)
        services.delete_announcement(current_user, item)
    except DomainError:
        abort(403)
    db.session.commit()
    flash(_l("Announcement deleted."), "success")
    return redirect(url_for("notices.manage_announcements"))
