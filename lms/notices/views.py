"""The bell, the notifications page, and announcements (member and manager pages)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import audit, clock
from lms.actions import run_action
from lms.auth.audience import audience_includes
from lms.auth.auditing import record_content
from lms.auth.forms import fill_audience_choices
from lms.auth.models import Branch
from lms.auth.permissions import admin_required, branch_scope_clause, secretary_required
from lms.errors import DomainError
from lms.extensions import db
from lms.inputs import page_arg
from lms.notices import outbox, outbox_admin, services
from lms.notices.forms import AnnouncementForm
from lms.notices.mail import mail_enabled
from lms.notices.models import Announcement
from lms.security import safe_next_url

bp = Blueprint("notices", __name__)


@bp.app_context_processor
def bell():
    if "unread_notifications" in g:  # read with the page's own statement (the contest attempt page)
        return {"unread_notifications": g.unread_notifications}
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


# --- The mail outbox (organisation admins) -------------------------------------------

OUTBOX_PAGE_SIZE = 50


@bp.route("/admin/outbox")
@admin_required
def outbox_mails():
    """Mail waiting, sent, failed, expired or discarded, newest first; filtered by state and recipient."""
    now = clock.utcnow()
    state = request.args.get("state", "")
    state = state if state in outbox_admin.STATES else ""
    recipient = request.args.get("recipient", "").strip()[:254]
    query = outbox_admin.mails_query(now=now, state=state or None, recipient=recipient or None)
    pagination = db.paginate(query, page=page_arg(), per_page=OUTBOX_PAGE_SIZE, error_out=False)
    return render_template(
        "notices/outbox.html",
        pagination=pagination,
        counts=outbox_admin.state_counts(now),
        state=state,
        recipient=recipient,
        now=now,
        mail_on=mail_enabled(),
        max_attempts=outbox.setting("MAIL_OUTBOX_MAX_ATTEMPTS"),
        keep_days=outbox.setting("MAIL_OUTBOX_KEEP_DAYS"),
        labels=outbox_admin.STATE_LABELS,
        state_of=outbox_admin.state_of,
        is_sending=outbox_admin.is_sending,
        error_text=_error_text,
    )


def _error_text(mail) -> str:
    """The last error in words: the outbox's own notes translated, an SMTP error as it came, links hidden."""
    if mail.last_error == outbox.DISCARDED:
        return str(_l("Discarded by an administrator."))
    if mail.last_error == outbox.EXPIRED:
        return str(_l("Its link expired before it could be sent."))
    return outbox_admin.redact_links(mail.last_error, str(_l("[link hidden]")))


def _outbox_action(mail_id: int, change, action: str, success):
    """Run ``change(mail_id, now=)``, audit it (never the body) and go back to the list as it was filtered."""
    back = safe_next_url(request.form.get("next"))
    if not (back or "").startswith(url_for("notices.outbox_mails")):
        back = url_for("notices.outbox_mails")

    def run():
        mail, before, after = change(mail_id, now=clock.utcnow())
        audit.record(action, "outgoing_mail", mail.id, before, after, label=mail.recipient)
        return mail

    return run_action(run, to=back, success=success)


@bp.route("/admin/outbox/<int:mail_id>/retry", methods=["POST"])
@admin_required
def retry_mail(mail_id: int):
    return _outbox_action(mail_id, outbox_admin.retry_mail, "outgoing_mail.retry",
                          lambda mail: _l("Mail #%(id)d will be sent at the next run.", id=mail.id))  # fmt: skip


@bp.route("/admin/outbox/<int:mail_id>/discard", methods=["POST"])
@admin_required
def discard_mail(mail_id: int):
    return _outbox_action(mail_id, outbox_admin.discard_mail, "outgoing_mail.discard",
                          lambda mail: _l("Mail #%(id)d will not be sent.", id=mail.id))  # fmt: skip
