"""Notifications and announcements: the rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.auth.audience import audience_clause, audience_includes
from lms.auth.models import Branch, Role, User
from lms.errors import Forbidden, ValidationFailed
from lms.extensions import db
from lms.notices.messages import rendered, to_spec
from lms.notices.models import Announcement, Notification
from lms.richtext import sanitize_html
from lms.security import safe_next_url


def _message(title, body) -> dict | None:
    """The specs of lazy (translatable) title and body, so each reader sees their own language."""
    specs = {part: spec for part, spec in (("title", to_spec(title)), ("body", to_spec(body))) if spec}
    return specs or None


def notify_users(
    user_ids: Iterable[int] | sa.Select,
    *,
    kind: str,
    title,
    body="",
    link: str | None = None,
    now: datetime,
) -> int:
    """Put one notification in the bell of each user; one INSERT ... SELECT.

    ``user_ids`` is a list of ids or a SELECT of user ids (so "everyone in this
    audience" never loads the users). ``title`` and ``body`` are plain text (shown
    as written) or lazy Babel strings (shown in each reader's language, see
    ``lms.notices.messages``). Returns how many notifications were written.
    """
    ids = user_ids if isinstance(user_ids, sa.Select) else sorted(set(user_ids))
    if not isinstance(ids, sa.Select) and not ids:
        return 0
    source = sa.select(
        User.id,
        sa.literal(kind, sa.String),
        sa.literal(rendered(title)[:200], sa.String),
        sa.literal(rendered(body), sa.Text),
        sa.literal(safe_next_url(link), sa.String),
        sa.literal(_message(title, body), Notification.__table__.c.message.type),
        sa.literal(now, Notification.__table__.c.created_at.type),
    ).where(User.id.in_(ids), User.is_active.is_(True))
    # RETURNING gives a count every driver reports the same way (psycopg's rowcount
    # for INSERT ... SELECT is not reliable); only the new ids travel back.
    inserted = db.session.execute(
        sa.insert(Notification)
        .from_select(["user_id", "kind", "title", "body", "link", "message", "created_at"], source)
        .returning(Notification.id)
    )
    return len(inserted.all())


def notify_each(
    messages: Iterable[tuple[int, object, object]], *, kind: str, link: str | None = None, now: datetime
) -> int:
    """Put a personal notification in each user's bell: ``(user_id, title, body)`` each.

    One INSERT executed with many rows (for reminders whose numbers differ per
    member); the caller picks the users. Title and body as in ``notify_users``.
    Returns how many were written.
    """
    rows = [
        {
            "user_id": user_id,
            "kind": kind,
            "title": rendered(title)[:200],
            "body": rendered(body),
            "link": safe_next_url(link),
            "message": _message(title, body),
            "created_at": now,
        }
        for user_id, title, body in messages
    ]
    if rows:
        db.session.execute(sa.insert(Notification), rows)
    return len(rows)


def unread_count(user: User) -> int:
    """How many notifications ``user`` has not opened (the bell's badge)."""
    return db.session.scalar(_unread_query(user.id))


def unread_count_of(user_id) -> sa.ScalarSelect:
    """The bell's count as a scalar subquery, for a page that reads it in its own statement."""
    return _unread_query(user_id).scalar_subquery()


def _unread_query(user_id) -> sa.Select:
    return sa.select(sa.func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))


def notifications_query(user: User) -> sa.Select:
    """The user's notifications, newest first."""
    return (
        sa.select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def open_notification(user: User, notification_id: int, now: datetime) -> Notification | None:
    """Mark one of the user's own notifications read; None when it is not theirs."""
    notification = db.session.scalar(
        sa.select(Notification).where(Notification.id == notification_id, Notification.user_id == user.id)
    )
    if notification is not None and notification.read_at is None:
        notification.read_at = now
    return notification


def mark_all_read(user: User, now: datetime) -> int:
    """Mark every unread notification of ``user`` read."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    return result.rowcount or 0


# --- Announcements -----------------------------------------------------------------


def _allowed_branch_ids(author: User, branch_ids: list[int]) -> list[int]:
    """Admins may address anyone; a secretary only branches inside their own subtree."""
    if author.role == Role.ADMIN:
        return branch_ids
    if author.role not in (Role.SECRETARY, Role.SUBTREE_ADMIN) or author.branch is None:
        raise Forbidden(_l("Only admins and secretaries publish announcements."))
    if not branch_ids:
        return [author.branch_id]
    inside = set(
        db.session.scalars(
            sa.select(Branch.id).where(Branch.id.in_(branch_ids), Branch.path.startswith(author.branch.path))
        )
    )
    if inside != set(branch_ids):
        raise ValidationFailed(
            _l("Secretaries can only address their own branch and the branches below it."), "branches"
        )
    return branch_ids


def save_announcement(
    announcement: Announcement | None,
    *,
    author: User,
    title: str,
    body_html: str,
    statuses: list[str],
    roles: list[str],
    branch_ids: list[int],
    pinned: bool,
    expires_on: date | None,
    publish: bool,
    now: datetime,
) -> Announcement:
    """Create or edit an announcement; publishing it the first time notifies its audience."""
    title = (title or "").strip()
    if not title:
        raise ValidationFailed(_l("The title is required."), "title")
    body = sanitize_html(body_html if "<" in (body_html or "") else _paragraphs(body_html))
    if announcement is None:
        announcement = Announcement(author_id=author.id)
        db.session.add(announcement)
    elif not can_edit_announcement(author, announcement):
        raise Forbidden(_l("You cannot change this announcement."))
    announcement.title = title
    announcement.body_html = body
    announcement.pinned = pinned
    announcement.expires_on = expires_on
    announcement.set_audience(statuses, roles, _allowed_branch_ids(author, branch_ids))
    db.session.flush()
    if publish and announcement.published_at is None:
        announcement.published_at = now
        audience = sa.select(User.id).where(audience_clause(announcement))
        notify_users(audience, kind="announcement", title=title, link=f"/announcements/{announcement.id}", now=now)
    return announcement


def _paragraphs(text: str | None) -> str:
    from markupsafe import escape

    blocks = [block.strip() for block in (text or "").replace("\r\n", "\n").split("\n\n") if block.strip()]
    return "".join(f"<p>{escape(block)}</p>".replace("\n", "<br>") for block in blocks)


def can_edit_announcement(user: User, announcement: Announcement) -> bool:
    """Admins edit all; a secretary edits those they wrote."""
    return user.role == Role.ADMIN or (
        user.role in (Role.SECRETARY, Role.SUBTREE_ADMIN) and announcement.author_id == user.id
    )


def delete_announcement(user: User, announcement: Announcement) -> None:
    """Remove an announcement (its notifications stay in the bells, now pointing nowhere)."""
    if not can_edit_announcement(user, announcement):
        raise Forbidden(_l("You cannot change this announcement."))
    db.session.delete(announcement)


def managed_announcements_query(user: User) -> sa.Select:
    """Announcements the user may manage, newest first."""
    query = sa.select(Announcement).order_by(Announcement.created_at.desc())
    if user.role != Role.ADMIN:
        query = query.where(Announcement.author_id == user.id)
    return query


def visible_announcements(user: User, today: date, limit: int = 50) -> list[Announcement]:
    """Published, unexpired announcements addressed to ``user``: pinned first, then newest."""
    candidates = db.session.scalars(
        sa.select(Announcement)
        .where(
            Announcement.published_at.is_not(None),
            sa.or_(Announcement.expires_on.is_(None), Announcement.expires_on >= today),
        )
        .order_by(Announcement.pinned.desc(), Announcement.published_at.desc())
        .limit(limit * 4)
    ).all()
    # Few announcements are live at once; the audience test is cheap in Python.
    return [a for a in candidates if audience_includes(a, user)][:limit]
