"""Notifications (the bell), e-mail, and announcements (通知公告).

A small shared service so every domain can tell members something:
``notify_users(user_ids, kind=..., title=..., body=..., link=..., now=...)``
writes one notification per user in a single INSERT ... SELECT (pass lazy Babel
strings as title and body and each reader sees them in their own language:
``lms.notices.messages``), and
``outbox.queue_mail(recipient, subject, body, now=)`` queues e-mail (when
``LMS_SMTP_HOST`` is set) for the ``mail-outbox`` job to send.
It lives outside ``assessment`` because nothing may import from there.
"""


def init_app(app) -> None:
    """Navigation entries and the home panel of messages and announcements."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.navigation import register_home_panel, register_nav
    from lms.notices.views import announcements_panel

    # 通知公告 is a tab beside 消息通知 (the bell): one place for messages.
    register_nav("notices.notifications", _l("Messages"), order=80)
    register_nav("notices.manage_announcements", _l("Announcements"), roles=(Role.ADMIN, Role.SECRETARY), order=60,
                 section="manage")  # fmt: skip
    register_nav("notices.outbox_mails", _l("Mail outbox"), roles=(Role.ADMIN,), order=61, section="manage")
    register_home_panel("announcements", announcements_panel, order=5)
