"""E-mail through the SMTP server in ``LMS_SMTP_*`` (nothing is sent when no host is set).

Requests and jobs do not send mail themselves: they queue it with
``lms.notices.outbox.queue_mail`` and the ``mail-outbox`` job sends it. The
functions here are the sending end (one SMTP connection for a batch).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from lms import org_settings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 20


def mail_enabled() -> bool:
    """True when an SMTP host is configured."""
    return bool(org_settings.value("SMTP_HOST"))


def _config() -> dict:
    return {key: org_settings.value(key) for key in org_settings.SPECS if key.startswith("SMTP_")}


@contextmanager
def smtp_connection() -> Iterator[smtplib.SMTP]:
    """One open, logged-in SMTP connection to the configured server (raises OSError/SMTPException)."""
    config = _config()
    with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if config.get("SMTP_TLS"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
        yield smtp


def build_message(recipient: str, subject: str, body: str, sender: str | None = None) -> EmailMessage:
    """A plain-text message from the configured sender."""
    message = EmailMessage()
    message["From"] = sender or org_settings.value("SMTP_SENDER")
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    return message


def send_mail(recipients: Iterable[str], subject: str, body: str) -> int:
    """Send one plain-text message to each recipient now; return how many were accepted.

    Blocks on the SMTP server: never call it in a request (queue with
    ``lms.notices.outbox.queue_mail``). A failing server is logged, never raised.
    """
    return send_each((recipient, subject, body) for recipient in recipients)


def send_each(messages: Iterable[tuple[str, str, str]]) -> int:
    """Send personal messages ``(recipient, subject, body)`` over one SMTP connection now; return how many went.

    Failures are logged, never raised (see ``send_mail``).
    """
    messages = [m for m in messages if m[0]]
    if not messages or not mail_enabled():
        return 0
    sender = org_settings.value("SMTP_SENDER")
    sent = 0
    try:
        with smtp_connection() as smtp:
            for recipient, subject, body in messages:
                smtp.send_message(build_message(recipient, subject, body, sender))
                sent += 1
    except (OSError, smtplib.SMTPException):
        log.exception("sending mail failed after %d of %d messages", sent, len(messages))
    return sent
