"""Notifications (the bell) and announcements to an audience."""

import socket

import pytest
import sqlalchemy as sa

from lms.auth.models import MemberStatus, Role
from lms.extensions import db
from lms.notices import services
from lms.notices.mail import send_mail
from lms.notices.models import Announcement, Notification

pytestmark = pytest.mark.postgres  # INSERT ... SELECT for one row per member


def test_notify_users_writes_one_row_per_active_user_in_one_statement(app, make_user, frozen_clock):
    first, second = make_user(), make_user()
    inactive = make_user(is_active=False)
    written = services.notify_users(
        [first.id, second.id, inactive.id, first.id], kind="system", title="你好", now=frozen_clock.now
    )
    db.session.commit()
    assert written == 2
    assert services.unread_count(first) == 1 and services.unread_count(inactive) == 0


def test_bell_shows_unread_count_and_opening_marks_read(client, make_user, login, frozen_clock):
    member = make_user()
    services.notify_users([member.id], kind="system", title="学习提醒", link="/announcements", now=frozen_clock.now)
    db.session.commit()
    login(member)
    assert 'data-testid="unread-count">1<' in client.get("/").get_data(as_text=True)
    notification = db.session.scalar(sa.select(Notification))
    response = client.post(f"/notifications/{notification.id}")
    assert response.headers["Location"] == "/announcements"
    assert 'data-testid="unread-count"' not in client.get("/").get_data(as_text=True)


def test_a_member_cannot_open_someone_elses_notification(client, make_user, login, frozen_clock):
    owner, other = make_user(), make_user()
    services.notify_users([owner.id], kind="system", title="私信", now=frozen_clock.now)
    db.session.commit()
    login(other)
    notification = db.session.scalar(sa.select(Notification))
    assert client.post(f"/notifications/{notification.id}").status_code == 404


def test_external_links_are_never_stored(app, make_user, frozen_clock):
    member = make_user()
    services.notify_users([member.id], kind="system", title="x", link="https://evil.example/", now=frozen_clock.now)
    assert db.session.scalar(sa.select(Notification.link)) is None


def test_announcement_reaches_only_its_audience_and_is_sanitised(client, make_branch, make_user, login):
    branch, other = make_branch("第一党支部"), make_branch("第二党支部")
    admin = make_user(role=Role.ADMIN, branch=branch)
    probationary = make_user(status=MemberStatus.PROBATIONARY, branch=branch)
    full = make_user(branch=branch)
    login(admin)
    response = client.post(
        "/admin/announcements/new",
        data={
            "title": "预备党员培训通知",
            "body": "<p>请按时参加</p><script>alert(1)</script>",
            "audience_statuses": ["probationary"],
            "publish": "y",
        },
    )
    assert response.status_code == 302
    announcement = db.session.scalar(sa.select(Announcement))
    assert "<script>" not in announcement.body_html and "请按时参加" in announcement.body_html
    assert services.unread_count(probationary) == 1
    assert services.unread_count(full) == 0
    login(full)
    assert client.get(f"/announcements/{announcement.id}").status_code == 404
    login(probationary)
    assert "请按时参加" in client.get("/").get_data(as_text=True) or "预备党员培训通知" in client.get("/").get_data(
        as_text=True
    )
    assert other  # a branch outside the audience exists


def test_secretary_can_only_address_their_own_subtree(client, make_branch, make_user, login):
    own, other = make_branch("第一党支部"), make_branch("第二党支部")
    secretary = make_user(role=Role.SECRETARY, branch=own)
    stranger = make_user(branch=other)
    colleague = make_user(branch=own)
    login(secretary)
    forged = client.post(
        "/admin/announcements/new", data={"title": "越权", "audience_branch_ids": [other.id], "publish": "y"}
    )
    assert forged.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Announcement)) == 0
    client.post("/admin/announcements/new", data={"title": "支部会议", "publish": "y"})
    assert services.unread_count(colleague) == 1
    assert services.unread_count(stranger) == 0


def test_mail_is_sent_through_the_configured_smtp_server(app):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
        assert send_mail(["a@example.com", "b@example.com"], "学习提醒", "请完成学习") == 2
    finally:
        controller.stop()
    assert sorted(e.rcpt_tos[0] for e in received) == ["a@example.com", "b@example.com"]


def test_no_smtp_host_means_no_mail(app):
    assert send_mail(["a@example.com"], "x", "y") == 0


def test_system_notifications_are_shown_in_each_readers_language(client, make_user, login, frozen_clock):
    from datetime import UTC, datetime

    from flask_babel import lazy_gettext as _l

    english, chinese = make_user(locale="en"), make_user(locale="zh_Hans")
    closes = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    services.notify_users(
        [english.id, chinese.id],
        kind="contest",
        title=_l("The contest “%(title)s” is open", title="党史竞赛"),
        body=_l("It closes at %(when)s. Good luck!", when=closes),
        now=frozen_clock.now,
    )
    services.notify_each(
        [(english.id, _l("Your notebook is empty. Well done!"), "")], kind="system", now=frozen_clock.now
    )
    db.session.commit()
    stored = db.session.scalars(sa.select(Notification).where(Notification.kind == "contest")).all()
    assert all("党史竞赛" in n.title and "{" not in n.title for n in stored)  # the default-language text is kept
    login(english)
    page = client.get("/notifications").get_data(as_text=True)
    assert "The contest “党史竞赛” is open" in page and "It closes at" in page and "Good luck!" in page
    assert "11:00" in page or "11:00 AM" in page  # the time in the reader's time zone, formatted at display
    assert "Your notebook is empty. Well done!" in page  # notify_each stores specs too
    login(chinese)
    page = client.get("/notifications").get_data(as_text=True)
    assert "It closes at" not in page and "党史竞赛" in page


def test_plain_text_notifications_are_shown_as_written(client, make_user, login, frozen_clock):
    member = make_user(locale="en")
    services.notify_users([member.id], kind="announcement", title="支部大会通知", now=frozen_clock.now)
    db.session.commit()
    assert db.session.scalar(sa.select(Notification.message)) is None
    login(member)
    assert "支部大会通知" in client.get("/notifications").get_data(as_text=True)
