"""What an organisation admin sees and does in the mail outbox (``/admin/outbox``).

A mail's state follows from its columns (``lms.notices.outbox`` writes them):

- waiting: neither sent nor given up, and not past its ``expires_at``
  (``sending`` while a worker holds its claim);
- sent: ``sent_at`` set;
- expired: given up because its link stopped working (``expires_at`` at or before
  ``failed_at``), or still pending past ``expires_at`` (the job gives it up next);
- discarded: given up by an admin (``last_error`` is ``outbox.DISCARDED``);
- failed: given up after the last attempt.

``retry_mail`` makes a waiting, failed or discarded mail due now with a fresh
attempt budget; ``discard_mail`` gives up a waiting one. Neither touches a mail a
worker is sending, a sent one or an expired one. Both flush; the view audits and
commits. The page never shows a mail's body: a password-reset mail carries a live
link, and the subject, recipient and state tell an admin what they need.
"""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from lms import audit
from lms.errors import InvalidState, NotFound
from lms.extensions import db
from lms.notices.models import OutgoingMail
from lms.notices.outbox import DISCARDED

WAITING, SENT, FAILED, EXPIRED_STATE, DISCARDED_STATE = "waiting", "sent", "failed", "expired", "discarded"
STATES = (WAITING, SENT, FAILED, EXPIRED_STATE, DISCARDED_STATE)
STATE_LABELS = {
    WAITING: lazy_pgettext("mail state", "Waiting"),
    SENT: lazy_pgettext("mail state", "Sent"),
    FAILED: lazy_pgettext("mail state", "Failed"),
    EXPIRED_STATE: lazy_pgettext("mail state", "Expired"),
    DISCARDED_STATE: lazy_pgettext("mail state", "Discarded"),
}
# What the audit log keeps of a mail: never its body (a reset mail's link).
AUDITED_FIELDS = ("send_after", "sent_at", "failed_at", "attempts", "last_error")

M = OutgoingMail


def _pending():
    return sa.and_(M.sent_at.is_(None), M.failed_at.is_(None))


def _given_up_expired():
    return sa.and_(M.failed_at.is_not(None), M.expires_at.is_not(None), M.expires_at <= M.failed_at)


def state_clause(state: str, now: datetime):
    """The WHERE clause of one state (see the module's docstring)."""
    if state == SENT:
        return M.sent_at.is_not(None)
    if state == WAITING:
        return sa.and_(_pending(), sa.or_(M.expires_at.is_(None), M.expires_at > now))
    if state == EXPIRED_STATE:
        return sa.or_(_given_up_expired(), sa.and_(_pending(), M.expires_at <= now))
    discarded = sa.and_(M.failed_at.is_not(None), M.last_error == DISCARDED, sa.not_(_given_up_expired()))
    if state == DISCARDED_STATE:
        return discarded
    if state == FAILED:
        return sa.and_(M.failed_at.is_not(None), sa.not_(_given_up_expired()), sa.not_(discarded))
    raise ValueError(state)


def state_of(mail: OutgoingMail, now: datetime) -> str:
    """The state of one mail, as ``state_clause`` selects it."""
    if mail.sent_at is not None:
        return SENT
    if mail.failed_at is None:
        return EXPIRED_STATE if mail.expires_at is not None and mail.expires_at <= now else WAITING
    if mail.expires_at is not None and mail.expires_at <= mail.failed_at:
        return EXPIRED_STATE
    return DISCARDED_STATE if mail.last_error == DISCARDED else FAILED


def is_sending(mail: OutgoingMail, now: datetime) -> bool:
    """A worker holds the mail (it may be talking to the SMTP server about it right now)."""
    return mail.claimed_until is not None and mail.claimed_until >= now


def state_counts(now: datetime) -> dict[str, int]:
    """How many mails are in each state: one query."""
    columns = [sa.func.count().filter(state_clause(state, now)).label(state) for state in STATES]
    row = db.session.execute(sa.select(*columns).select_from(M)).one()
    return {state: int(row._mapping[state] or 0) for state in STATES}


def mails_query(*, now: datetime, state: str | None = None, recipient: str | None = None) -> sa.Select:
    """The outbox, newest first, filtered by state and by part of the recipient's address."""
    query = sa.select(M).order_by(M.created_at.desc(), M.id.desc())
    if state in STATES:
        query = query.where(state_clause(state, now))
    if recipient:
        escaped = recipient.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.func.lower(M.recipient).like(f"%{escaped}%", escape="\\"))
    return query


# A web address, or a long run of token characters (a signed reset token without its address).
_LINK = re.compile(r"(?:https?://|www\.)\S+|[A-Za-z0-9_\-.~+/=:]{40,}")


def redact_links(text: str | None, placeholder: str) -> str:
    """``text`` with every link and token-like run replaced by ``placeholder`` (for errors that quote a message)."""
    return _LINK.sub(placeholder, text or "")


def _locked(mail_id: int) -> OutgoingMail:
    mail = db.session.scalar(sa.select(M).where(M.id == mail_id).with_for_update())
    if mail is None:
        raise NotFound(_l("Mail #%(id)d is not in the outbox (sent and given-up mails are deleted after a while).",
                          id=mail_id))  # fmt: skip
    return mail


def _check_free(mail: OutgoingMail, now: datetime) -> None:
    state = state_of(mail, now)
    if state == SENT:
        raise InvalidState(_l("This mail has already been sent."))
    if state == EXPIRED_STATE or (mail.expires_at is not None and mail.expires_at <= now):
        raise InvalidState(
            _l("This mail has expired: the link in it no longer works. The member can ask for a new one.")
        )
    if is_sending(mail, now):
        raise InvalidState(_l("This mail is being sent right now. Look again in a minute."))


def retry_mail(mail_id: int, *, now: datetime) -> tuple[OutgoingMail, dict, dict]:
    """Make a waiting, failed or discarded mail due now, with the whole attempt budget again
    (the retries start again from the shortest delay). Returns (mail, before, after) for the audit. Flushes."""
    mail = _locked(mail_id)
    _check_free(mail, now)
    before = audit.snapshot(mail, AUDITED_FIELDS)
    mail.send_after = now
    mail.failed_at = None
    mail.attempts = 0
    if mail.last_error == DISCARDED:
        mail.last_error = None
    mail.claimed_by = mail.claimed_until = None
    db.session.flush()
    return mail, before, audit.snapshot(mail, AUDITED_FIELDS)


def discard_mail(mail_id: int, *, now: datetime) -> tuple[OutgoingMail, dict, dict]:
    """Give up a waiting mail: it is never sent (``retry_mail`` undoes it). Returns (mail, before, after). Flushes."""
    mail = _locked(mail_id)
    _check_free(mail, now)
    if state_of(mail, now) != WAITING:
        raise InvalidState(_l("Only a waiting mail can be discarded: this one will not be sent anyway."))
    before = audit.snapshot(mail, AUDITED_FIELDS)
    mail.failed_at = now
    mail.last_error = DISCARDED
    mail.claimed_by = mail.claimed_until = None
    db.session.flush()
    return mail, before, audit.snapshot(mail, AUDITED_FIELDS)
