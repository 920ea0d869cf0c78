"""Multi-selects become thumb-sized checkboxes (no Ctrl-click) that still submit the form's values."""

from __future__ import annotations

import sqlalchemy as sa

from lms.auth.models import Role
from lms.extensions import db
from lms.notices.models import Announcement


def test_audience_picker_is_checkboxes_that_submit(page, live_server, make_user, browser_login):
    admin = make_user(role=Role.ADMIN, username="boss")
    browser_login(page, admin)
    page.goto(live_server("/admin/announcements/new"))
    select = page.locator("select[multiple][name=audience_statuses]")
    assert select.count() == 1 and not select.is_visible()
    picker = select.locator("xpath=following-sibling::div[contains(@class,'check-picker')]")
    boxes = picker.locator("input[type=checkbox]")
    assert boxes.count() == select.locator("option").count() >= 2
    box = boxes.nth(1)
    assert box.bounding_box()["height"] >= 20 and picker.locator(".form-check").first.bounding_box()["height"] >= 44
    box.check()
    page.fill("input[name=title]", "勾选受众")
    page.locator("main form [type=submit]").last.click()
    page.wait_for_load_state("load")
    db.session.expire_all()
    item = db.session.scalar(sa.select(Announcement).where(Announcement.title == "勾选受众"))
    assert item is not None and len(item.audience_statuses) == 1
