"""Demo mail outbox: what an admin finds on ``/admin/outbox`` after a few days of a real site.

Only mail that will never go is seeded (sent, given up, expired), to addresses under
the reserved ``.invalid`` domain, so a demo that is later given an SMTP server sends
nothing. One of them is a password-reset mail that expired: its body holds a link
the outbox page must never show. Idempotent: nothing is added once the outbox has mail.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from lms import clock
from lms.extensions import db
from lms.notices.models import OutgoingMail
from lms.notices.outbox import EXPIRED

REMINDER = "学习提醒：您有学习任务需要补上"
REMINDER_BODY = "您本季度的学时尚未达到目标。详情请查看“我的学习”。"
RESET = "先锋学堂：设置新密码"
# A made-up token of a real one's shape: the page must not show it.
RESET_BODY = (
    "王芳，请在 30 分钟内打开以下链接为先锋学堂设置新密码：\n\n"
    "https://vanguard.example.invalid/auth/forgot/eyJ1IjoxMiwidiI6M30.ZxY1Qg.demo-reset-token-never-shown\n\n"
    "如果不是您本人申请，请忽略本邮件，您的密码不会改变。"
)


def seed_demo() -> list[str]:
    if db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)):
        return []
    now = clock.utcnow()
    week_start = now - timedelta(days=3)
    mails = [
        OutgoingMail(recipient=f"{name}@example.invalid", subject=REMINDER, body=REMINDER_BODY, created_at=week_start,
                     send_after=week_start, sent_at=week_start + timedelta(seconds=12), attempts=1)
        for name in ("zhangwei", "liuyang", "chenjing")
    ]  # fmt: skip
    given_up = week_start + timedelta(hours=26)
    mails.append(
        OutgoingMail(
            recipient="lijun@example.invalid", subject=REMINDER, body=REMINDER_BODY, created_at=week_start,
            send_after=given_up, failed_at=given_up, attempts=12,
            last_error="SMTPRecipientsRefused: {'lijun@example.invalid': (550, b'5.1.1 Mailbox unavailable')}",
        )
    )  # fmt: skip
    asked = now - timedelta(days=1)
    expires = asked + timedelta(minutes=30)
    mails.append(
        OutgoingMail(
            recipient="wangfang@example.invalid", subject=RESET, body=RESET_BODY, created_at=asked,
            send_after=asked + timedelta(minutes=16), expires_at=expires, failed_at=expires, attempts=4,
            last_error=EXPIRED,
        )
    )  # fmt: skip
    db.session.add_all(mails)
    db.session.flush()
    return [f"demo outbox: {len(mails)} mails (sent, failed, expired)"]
