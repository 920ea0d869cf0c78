"""Browser journey of a meeting on phones (375×667): schedule, QR sign-in, leave, close, 学时 and the 台账.

The secretary schedules a 主题党日 and opens the sign-in screen; a member, in a
browser of their own and logged out, opens the URL the QR code carries (read
from the page), logs in, comes back and signs in; another member asks for
leave and the secretary approves it; the meeting is closed and the present
member's 学时 appear in their archive (as they and the secretary see it) and in
the 台账 export, and not in the archive of the member on leave.
"""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, timedelta
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.extensions import db
from lms.meetings import kinds
from lms.meetings.models import MeetingKind
from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import click_confirmed

PHONE = {"width": 375, "height": 667}
SCREENSHOTS = os.environ.get("LMS_SCREENSHOTS", "")


def _phone(browser):
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def _login(page, live_server, user, path="/auth/login"):
    page.goto(live_server(path))
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)


def _shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)


def test_a_meeting_from_scheduling_to_study_hours_and_the_register(
    browser, live_server, make_branch, make_user, frozen_clock
):
    kinds.seed_defaults()
    db.session.commit()
    branch = make_branch("第一党支部")
    secretary = make_user(username="wangshuji", name="王书记", role=Role.SECRETARY, branch=branch,
                          is_committee_member=True)  # fmt: skip
    present = make_user(username="liming", name="李明", branch=branch)
    on_leave = make_user(username="zhaoting", name="赵婷", branch=branch)
    theme_day = db.session.query(MeetingKind).filter_by(code="theme_party_day").one()
    now = frozen_clock.set(clock.utcnow().replace(second=0, microsecond=0))
    starts = (now + timedelta(minutes=20)).astimezone(clock.local_zone())
    ends = starts + timedelta(hours=2)

    secretary_context, desk = _phone(browser)
    member_context, phone = _phone(browser)
    leave_context, other_phone = _phone(browser)
    try:
        # The secretary schedules the meeting; the kind's rule preselects the branch's members.
        _login(desk, live_server, secretary)
        desk.goto(live_server(f"/meetings/new?branch_id={branch.id}&kind_id={theme_day.id}"))
        desk.fill("input[name=topic]", "重温入党誓词")
        desk.fill("input[name=starts_at]", starts.strftime("%Y-%m-%dT%H:%M"))
        desk.fill("input[name=ends_at]", ends.strftime("%Y-%m-%dT%H:%M"))
        desk.fill("input[name=place]", "党员活动室")
        for member in (secretary, present, on_leave):
            expect(desk.locator(f"input[name=attendee_ids][value='{member.id}']")).to_be_checked()
        desk.get_by_test_id("save-meeting").click()
        expect(desk.get_by_test_id("attendance-table")).to_contain_text("李明")
        meeting_url = desk.url

        # Another member asks for leave before the meeting; the secretary approves it.
        _login(other_phone, live_server, on_leave)
        other_phone.goto(meeting_url)
        other_phone.get_by_test_id("leave-form").locator("input[name=reason]").fill("出差")
        other_phone.get_by_test_id("leave-form").locator("button[type=submit]").click()
        expect(other_phone.get_by_test_id("my-leave")).to_contain_text("已请假待批")
        desk.reload()
        desk.get_by_test_id("leave-decision").locator("button[value=approve]").click()
        expect(desk.locator(f"tr[data-user-id='{on_leave.id}'] [data-status]")).to_have_attribute(
            "data-status", "leave"
        )

        # The sign-in screen shows the QR code; the test reads the URL it encodes from the page.
        desk.get_by_test_id("open-checkin").click()
        code = desk.get_by_test_id("checkin-qr")
        expect(code).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
        scanned = code.get_attribute("data-checkin-url")
        assert "/scan/" in scanned
        _shot(desk, "meetings-checkin-screen-375.png")

        # The member's camera opens the URL: logged out, they log in and come back to sign in.
        phone.goto(scanned)
        expect(phone).to_have_url(re.compile(r"/auth/login\?next="))
        phone.fill("input[name=login]", present.username)
        phone.fill("input[name=password]", TEST_PASSWORD)
        phone.click("button[type=submit]")
        phone.get_by_test_id("confirm-scan").click()
        expect(phone.get_by_test_id("scan-done")).to_have_text("签到成功。")
        phone.goto(meeting_url)
        expect(phone.get_by_test_id("my-attendance")).to_contain_text("出席")
        _shot(phone, "meetings-member-page-375.png")

        # The screen's script fetches a new code and the count of members signed in.
        expect(desk.get_by_test_id("checkin-count")).to_contain_text("1 / 3", timeout=15_000)

        # After the meeting the secretary closes it.
        frozen_clock.set(ends.astimezone(UTC) + timedelta(minutes=5))
        desk.goto(meeting_url)
        desk.once("dialog", lambda dialog: dialog.accept())
        click_confirmed(desk, desk.get_by_test_id("close-meeting"))
        expect(desk.locator(".alert-success")).to_contain_text("会议已结束")
        expect(desk.locator(f"tr[data-user-id='{secretary.id}'] [data-status]")).to_have_attribute(
            "data-status", "absent"
        )

        # 学时 in the present member's archive, as they and the secretary see it; none for the member on leave.
        phone.goto(live_server("/courses/archive"))
        expect(phone.get_by_test_id("archive-offline-table")).to_contain_text("重温入党誓词")
        expect(phone.get_by_test_id("archive-offline")).to_have_text(f"{theme_day.study_hours:.1f}")
        desk.goto(live_server(f"/courses/archive/{present.id}"))
        expect(desk.get_by_test_id("archive-offline-table")).to_contain_text("主题党日")
        other_phone.goto(live_server("/courses/archive"))
        expect(other_phone.get_by_test_id("archive-offline")).to_have_text("0.0")

        # The 台账 export lists the meeting and each member's attendance and credited hours.
        desk.goto(live_server(f"/meetings/register?branch_id={branch.id}"))
        expect(desk.get_by_test_id("register-meetings")).to_contain_text("重温入党誓词")
        with desk.expect_download() as download:
            desk.get_by_test_id("register-xlsx").click()
        workbook = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
        attendance = {row[3]: row for row in list(workbook.worksheets[2].iter_rows(values_only=True))[1:]}
        assert attendance["李明"][4] == "出席" and attendance["李明"][-1] == theme_day.study_hours
        assert attendance["赵婷"][4] == "请假" and attendance["赵婷"][-1] == 0
    finally:
        for context in (secretary_context, member_context, leave_context):
            context.close()
