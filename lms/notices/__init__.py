"""Notifications (the bell), e-mail, and announcements (通知公告).

A small shared service so every domain can tell members something:
``notify_users(user_ids, kind=..., title=..., body=..., link=..., now=...)``
writes one notification per user in a single INSERT ... SELECT (pass lazy Babel
strings as title and body and each reader sees them in their own language:
``lms.notices.messages``), and
``send_mail(recipients, subject, body)`` sends e-mail when ``LMS_SMTP_HOST`` is set.
It lives outside ``assessment`` because nothing may import from there.
"""
