"""E-mail through the SMTP server in ``LMS_SMTP_*`` (nothing is sent when no host is set)."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from lms import org_settings

log = logging.getLogger(__name__)


def mail_enabled() -> bool:
    """True when an SMTP host is configured."""
    return bool(org_settings.value("SMTP_HOST"))


def send_mail(recipients: Iterable[str], subject: str, body: str) -> int:
    """Send one plain-text message to each recipient; return how many were accepted.

    A failing server is logged, never raised: in-app notifications already
    carry the message, e-mail is a courtesy copy.
    """
    return send_each((recipient, subject, body) for recipient in recipients)


def send_each(messages: Iterable[tuple[str, str, str]]) -> int:
    """Send personal messages ``(recipient, subject, body)`` over one SMTP connection; return how many went.

    Failures are logged, never raised (see ``send_mail``).
    """
    messages = [m for m in messages if m[0]]
    if not messages or not mail_enabled():
        return 0
    config = {key: org_settings.value(key) for key in org_settings.SPECS if key.startswith("SMTP_")}
    sent = 0
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=20) as smtp:
            if config.get("SMTP_TLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            for recipient, subject, body in messages:
                message = EmailMessage()
                message["From"] = config["SMTP_SENDER"]
                message["To"] = recipient
                message["Subject"] = subject
                message.set_content(body)
                smtp.send_message(message)
                sent += 1
    except (OSError, smtplib.SMTPException):
        log.exception("sending mail failed after %d of %d messages", sent, len(messages))
    return sent
