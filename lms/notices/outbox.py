"""The mail outbox: requests and jobs queue e-mail, the ``mail-outbox`` job sends it.

``queue_mail(recipient, subject, body, now=)`` only inserts a row (flushes; the
caller commits), so no request waits on an SMTP server, a slow server cannot
tell anyone whether an account exists, and a failing server loses nothing.

``send_outbox(now)`` is the scheduled job. It claims a batch of due mails for
itself, commits the claim (no transaction stays open while SMTP talks), sends
them over one SMTP connection, and records each result in its own short
transaction as it goes. The claim is a conditional UPDATE under a unique token
(rows selected ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the select
takes the write lock), so two workers never send the same mail; a worker that
dies holding a claim loses it when ``claimed_until`` passes. A failed mail is
tried again later (exponential backoff) and given up after
``MAIL_OUTBOX_MAX_ATTEMPTS`` with ``last_error`` kept. ``purge_outbox(now)``
deletes sent and given-up mails after ``MAIL_OUTBOX_KEEP_DAYS``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from lms import clock
from lms.extensions import db
from lms.notices.mail import build_message, mail_enabled, smtp_connection
from lms.notices.models import OutgoingMail

log = logging.getLogger(__name__)

DEFAULTS = {
    "MAIL_OUTBOX_BATCH": 50,  # mails per SMTP connection
    # then given up (failed_at set, last_error kept): 12 attempts span about 26 hours, so a
    # mail server down overnight loses nothing (DESIGN.md §13)
    "MAIL_OUTBOX_MAX_ATTEMPTS": 12,
    "MAIL_OUTBOX_RETRY_SECONDS": 120,  # first retry after 2 min, then 4, 8, 16... (capped at 6 h)
    "MAIL_OUTBOX_CLAIM_SECONDS": 600,  # a claim not finished by then is taken over
    "MAIL_OUTBOX_KEEP_DAYS": 30,  # sent and given-up mails are deleted after this
}
MAX_RETRY_SECONDS = 6 * 3600
# ``last_error`` of a mail given up without an error of its own (the admin page names these states).
EXPIRED = "expired before it could be sent"
DISCARDED = "discarded by an administrator"


def setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def queue_mail(
    recipient: str | None, subject: str, body: str, *, now: datetime, expires_at: datetime | None = None
) -> OutgoingMail | None:
    """Put one plain-text mail in the outbox; None (nothing queued) without a recipient or an SMTP host. Flushes.

    A mail with ``expires_at`` (a reset link that stops working) is given up rather than sent after it.
    """
    recipient = (recipient or "").strip()
    if not recipient or not mail_enabled():
        return None
    mail = OutgoingMail(
        recipient=recipient, subject=str(subject)[:300], body=str(body), created_at=now, send_after=now, attempts=0,
        expires_at=expires_at,
    )
    db.session.add(mail)
    db.session.flush()
    return mail


def queue_mails(messages: Iterable[tuple[str | None, str, str]], *, now: datetime) -> int:
    """Queue personal mails ``(recipient, subject, body)`` in one INSERT; return how many were queued."""
    rows = [
        {"recipient": r.strip(), "subject": str(s)[:300], "body": str(b), "created_at": now, "send_after": now,
         "attempts": 0}
        for r, s, b in messages
        if r and r.strip()
    ]  # fmt: skip
    if not rows or not mail_enabled():
        return 0
    db.session.execute(sa.insert(OutgoingMail), rows)
    return len(rows)


@dataclass(frozen=True)
class ClaimedMail:
    id: int
    recipient: str
    subject: str
    body: str
    attempts: int


@dataclass(frozen=True)
class Claim:
    token: str
    mails: list[ClaimedMail]


def _due(now: datetime):
    return sa.and_(
        OutgoingMail.sent_at.is_(None),
        OutgoingMail.failed_at.is_(None),
        OutgoingMail.send_after <= now,
        sa.or_(OutgoingMail.expires_at.is_(None), OutgoingMail.expires_at > now),
        sa.or_(OutgoingMail.claimed_until.is_(None), OutgoingMail.claimed_until < now),
    )


def claim_token() -> str:
    """Unique per claim: this host and process, and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


def claim_batch(*, now: datetime, limit: int | None = None, token: str | None = None) -> Claim:
    """Take up to ``limit`` due mails, oldest first, for one sender. Flushes; commit before sending.

    The candidates are selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL: concurrent
    senders pick different rows; SQLite: the select takes the write lock), and the
    claim is a conditional UPDATE (still due, not claimed) under a unique token, so
    no mail is ever in two claims.
    """
    token = token or claim_token()
    limit = limit or setting("MAIL_OUTBOX_BATCH")
    ids = list(
        db.session.scalars(
            sa.select(OutgoingMail.id)
            .where(_due(now))
            .order_by(OutgoingMail.send_after, OutgoingMail.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return Claim(token, [])
    db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id.in_(ids), _due(now))
        .values(claimed_by=token, claimed_until=now + timedelta(seconds=setting("MAIL_OUTBOX_CLAIM_SECONDS")))
        .execution_options(synchronize_session=False)
    )
    rows = db.session.execute(
        sa.select(OutgoingMail.id, OutgoingMail.recipient, OutgoingMail.subject, OutgoingMail.body,
                  OutgoingMail.attempts)
        .where(OutgoingMail.claimed_by == token)
        .order_by(OutgoingMail.send_after, OutgoingMail.id)
    ).all()  # fmt: skip
    return Claim(token, [ClaimedMail(*row) for row in rows])


def retry_delay(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: doubling from ``MAIL_OUTBOX_RETRY_SECONDS``, at most 6 h."""
    seconds = setting("MAIL_OUTBOX_RETRY_SECONDS") * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_RETRY_SECONDS))


def _mine(mail_id: int, token: str):
    return sa.update(OutgoingMail).where(OutgoingMail.id == mail_id, OutgoingMail.claimed_by == token)


def record_sent(mail: ClaimedMail, token: str, *, now: datetime) -> None:
    db.session.execute(
        _mine(mail.id, token).values(sent_at=now, attempts=mail.attempts + 1, claimed_by=None, claimed_until=None)
    )


def record_failure(mail: ClaimedMail, token: str, error: str, *, now: datetime) -> bool:
    """Count a failed attempt: retry later, or give up after the last one (returns True then)."""
    attempts = mail.attempts + 1
    gave_up = attempts >= setting("MAIL_OUTBOX_MAX_ATTEMPTS")
    values = {"attempts": attempts, "last_error": error[:500], "claimed_by": None, "claimed_until": None}
    if gave_up:
        values["failed_at"] = now
    else:
        values["send_after"] = now + retry_delay(attempts)
    db.session.execute(_mine(mail.id, token).values(**values))
    if gave_up:
        log.warning("gave up mail %s to %s after %d attempts: %s", mail.id, mail.recipient, attempts, error)
    return gave_up


def release(mails: Iterable[ClaimedMail], token: str) -> None:
    """Hand back claimed mails not tried (no attempt counted)."""
    ids = [mail.id for mail in mails]
    if ids:
        db.session.execute(
            sa.update(OutgoingMail)
            .where(OutgoingMail.id.in_(ids), OutgoingMail.claimed_by == token)
            .values(claimed_by=None, claimed_until=None)
        )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# Errors about one message; the connection goes on with the next.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPNotSupportedError, ValueError)


def deliver(claim: Claim) -> int:
    """Send the claimed mails over one SMTP connection; record each result as it goes (commits). Return how many went.

    Each result is committed at once, so a worker that dies mid-batch sends at
    most the mail in flight again. The batch stops at half the claim's lifetime;
    the rest is handed back untried.
    """
    sent, done = 0, 0
    deadline = time.monotonic() + setting("MAIL_OUTBOX_CLAIM_SECONDS") / 2
    try:
        with smtp_connection() as smtp:
            for mail in claim.mails:
                if time.monotonic() > deadline:
                    break
                try:
                    smtp.send_message(build_message(mail.recipient, mail.subject, mail.body))
                except _MESSAGE_ERRORS as error:
                    record_failure(mail, claim.token, _describe(error), now=clock.utcnow())
                else:
                    record_sent(mail, claim.token, now=clock.utcnow())
                    sent += 1
                done += 1
                db.session.commit()
    except (OSError, smtplib.SMTPException) as error:
        # The connection failed: this attempt failed for every mail not yet done.
        log.warning("mail outbox: SMTP failed after %d of %d mails: %s", done, len(claim.mails), error)
        for mail in claim.mails[done:]:
            record_failure(mail, claim.token, _describe(error), now=clock.utcnow())
        db.session.commit()
        return sent
    release(claim.mails[done:], claim.token)
    db.session.commit()
    return sent


def send_outbox(now: datetime) -> int:
    """The scheduled job (every worker may run it): claim a batch of due mails and send it; return how many went.

    Commits more than once, on purpose: the claim must be visible to other
    workers before the first mail goes, and no transaction (on SQLite: no write
    lock) may stay open while the SMTP server answers. Mail waits while no SMTP
    host is configured.
    """
    if not mail_enabled():
        return 0
    expire_outbox(now)
    claim = claim_batch(now=now)
    db.session.commit()
    if not claim.mails:
        return 0
    return deliver(claim)


def expire_outbox(now: datetime) -> int:
    """Give up the pending mails whose time has passed (a reset link no longer works); return how many. Flushes."""
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.failed_at.is_(None),
            OutgoingMail.expires_at <= now,
            sa.or_(OutgoingMail.claimed_until.is_(None), OutgoingMail.claimed_until < now),
        )
        .values(failed_at=now, last_error=EXPIRED, claimed_by=None, claimed_until=None)
    )
    return result.rowcount


def purge_outbox(now: datetime) -> int:
    """Delete mails sent or given up more than ``MAIL_OUTBOX_KEEP_DAYS`` ago; return how many. Flushes."""
    before = now - timedelta(days=setting("MAIL_OUTBOX_KEEP_DAYS"))
    result = db.session.execute(
        sa.delete(OutgoingMail).where(sa.or_(OutgoingMail.sent_at < before, OutgoingMail.failed_at < before))
    )
    return result.rowcount
