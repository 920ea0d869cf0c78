"""The admin's mail outbox on a 375 px phone (cards, one line bar, discard through the page's dialog) and a desktop."""

from __future__ import annotations

import os
from datetime import timedelta

from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.extensions import db
from lms.notices import outbox
from lms.notices.models import OutgoingMail
from tests.e2e.conftest import click_confirmed
from tests.e2e.test_elder_journey import PHONE, _fits, _is_cards, _one_line_bar

SHOTS = os.environ.get("LMS_SCREENSHOTS")  # a folder: save what the test sees, to look at


def _seed() -> tuple[OutgoingMail, OutgoingMail]:
    now = clock.utcnow()
    waiting = OutgoingMail(recipient="wangfang@example.org", subject="学习提醒：您有学习任务需要补上", body="请学习",
                           created_at=now - timedelta(minutes=30), send_after=now + timedelta(minutes=8), attempts=3,
                           last_error="SMTPServerDisconnected: Connection unexpectedly closed")  # fmt: skip
    failed = OutgoingMail(recipient="a-very-long-mailbox-name.of.a.member@branch-three.example.org",
                          subject="先锋学堂：设置新密码", body="https://lms.example.org/auth/forgot/SECRETTOKEN",
                          created_at=now - timedelta(days=1), send_after=now - timedelta(hours=2),
                          failed_at=now - timedelta(hours=2), attempts=12,
                          last_error="SMTPRecipientsRefused: {'a-very-long-mailbox-name.of.a.member@branch-three."
                                     "example.org': (550, b'5.1.1 Mailbox unavailable')}")  # fmt: skip
    db.session.add_all([waiting, failed])
    db.session.commit()
    return waiting, failed


def test_the_outbox_on_a_phone_and_a_desktop(browser, live_server, make_user, browser_login):
    admin = make_user(role=Role.ADMIN, username="mailboss", name="管理员")
    waiting, failed = _seed()
    phone = browser.new_context(locale="zh-CN", **PHONE)
    desktop = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        page = phone.new_page()
        browser_login(page, admin)
        page.goto(live_server("/admin/outbox"))
        table = page.get_by_test_id("outbox")
        expect(table).to_contain_text("wangfang@example.org")
        _is_cards(table, labels=["主题", "状态", "尝试次数", "下次尝试", "最近一次错误"])
        _fits(page)
        _one_line_bar(page)
        assert "SECRETTOKEN" not in page.content()
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/outbox-375.png", full_page=True)

        click_confirmed(page, page.get_by_test_id(f"discard-{waiting.id}"))
        expect(page.locator(".alert-success")).to_contain_text(f"第 {waiting.id} 号邮件已作废")
        expect(page.get_by_test_id(f"mail-{waiting.id}")).to_contain_text("已作废")
        page.get_by_test_id("state-discarded").click()
        expect(page.get_by_test_id("state-discarded")).to_have_attribute("aria-current", "page")
        expect(table.locator("tbody tr")).to_have_count(1)
        page.get_by_test_id(f"retry-{waiting.id}").click()
        expect(page.locator(".alert-success")).to_contain_text("将在下一轮发送")
        db.session.expire_all()
        row = db.session.get(OutgoingMail, waiting.id)
        assert row.failed_at is None and row.attempts == 0 and row.last_error != outbox.DISCARDED

        page = desktop.new_page()
        browser_login(page, admin)
        page.goto(live_server("/admin/outbox"))
        table = page.get_by_test_id("outbox")
        assert table.evaluate("t => getComputedStyle(t.tBodies[0].rows[0]).display") == "table-row"
        _fits(page)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/outbox-1280.png", full_page=True)
    finally:
        phone.close()
        desktop.close()
