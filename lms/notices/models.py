"""Notifications and announcements."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.auth.audience import AudienceMixin
from lms.auth.models import User
from lms.db import TimestampMixin
from lms.extensions import db
from lms.notices import messages


class Notification(db.Model):
    """One message in one member's bell; ``read_at`` is set when opened."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))  # announcement, reminder, digest, system
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str | None] = mapped_column(sa.String(300))  # a local path
    # {"title": spec, "body": spec} (lms.notices.messages): shown in the reader's language;
    # title and body above hold the text in the default language (and all of user-written text).
    message: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at", "created_at"),)

    def _shown(self, part: str, stored: str) -> str:
        spec = (self.message or {}).get(part)
        return messages.render(spec) if spec else stored

    @property
    def shown_title(self) -> str:
        """The title in the reader's language (system messages) or as written (announcements)."""
        return self._shown("title", self.title)

    @property
    def shown_body(self) -> str:
        """The body in the reader's language (system messages) or as written."""
        return self._shown("body", self.body)


class Announcement(AudienceMixin, TimestampMixin, db.Model):
    """A notice (通知公告) published by an admin or a secretary to an audience."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body_html: Mapped[str] = mapped_column(sa.Text, default="")  # sanitised on save
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    pinned: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    expires_on: Mapped[date | None]

    author: Mapped[User | None] = relationship()

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class OutgoingMail(db.Model):
    """One e-mail in the outbox (``lms.notices.outbox``): queued by a request or a job, sent by the
    ``mail-outbox`` job. Pending while ``sent_at`` and ``failed_at`` are empty; ``claimed_by`` and
    ``claimed_until`` hold it for one sending worker."""

    __tablename__ = "outgoing_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    send_after: Mapped[datetime]  # not before (the next retry after a failure)
    expires_at: Mapped[datetime | None]  # not after (a password-reset link's lifetime): then given up
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # given up after the last attempt
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_until: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_outgoing_mails_pending", "sent_at", "failed_at", "send_after"),)
