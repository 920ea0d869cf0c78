"""On a 375 px phone (normal text) the member's tables are cards and the bar keeps one line; on a desktop they
stay tables."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lms.auth.models import Role
from tests.e2e.test_elder_journey import PHONE, _fits, _is_cards, _one_line_bar


def _login(context, live_server, member, browser_login):
    page = context.new_page()
    browser_login(page, member)
    return page


def test_the_yearly_record_is_cards_on_a_phone_and_a_table_on_a_desktop(browser, live_server, make_user, browser_login):
    member = make_user(username="liuwei", name="刘伟")
    phone = browser.new_context(locale="zh-CN", **PHONE)
    desktop = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        page = _login(phone, live_server, member, browser_login)
        _one_line_bar(page)
        page.goto(live_server("/assessment/record"))
        hours = page.get_by_test_id("hours-by-source")
        expect(hours).to_be_visible()
        _is_cards(hours, labels=["视频课程", "阅读", "线下学习", "合计"])
        _fits(page)
        _one_line_bar(page)

        page = _login(desktop, live_server, member, browser_login)
        page.goto(live_server("/assessment/record"))
        hours = page.get_by_test_id("hours-by-source")
        assert hours.evaluate("t => getComputedStyle(t.tBodies[0].rows[0]).display") == "table-row"
        assert hours.evaluate("t => t.querySelector('thead').getBoundingClientRect().height") > 10
    finally:
        phone.close()
        desktop.close()


def test_the_bar_keeps_one_line_on_a_small_phone_in_english_too(browser, live_server, make_user, browser_login):
    member = make_user(username="zhanghua", name="张华", locale="en")
    context = browser.new_context(locale="en-US", **{**PHONE, "viewport": {"width": 320, "height": 640}})
    try:
        page = _login(context, live_server, member, browser_login)
        expect(page.get_by_test_id("switch-language")).to_have_text("中文")
        _one_line_bar(page)
        with page.expect_navigation():  # measured once the new page has its styles
            page.get_by_test_id("switch-language").click()
        expect(page.get_by_test_id("switch-language")).to_have_accessible_name("EN English")
        _one_line_bar(page)
    finally:
        context.close()


def test_the_desktop_menu_keeps_one_row_in_large_text(browser, live_server, make_user, browser_login):
    member = make_user(username="gaoli", name="高丽", large_text=True)
    for width in (1400, 1440, 1600):
        context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 800})
        try:
            page = _login(context, live_server, member, browser_login)
            tops = page.locator("#mainNav .navbar-nav .nav-link").evaluate_all(
                "links => links.filter(a => a.offsetParent).map(a => Math.round(a.getBoundingClientRect().top))"
            )
            assert len(tops) >= 5 and len(set(tops)) == 1, (width, tops)  # every entry on one row
            _fits(page)
        finally:
            context.close()


BAR_BUTTONS = "['[data-testid=bell]', '[data-testid=large-text]', '[data-testid=switch-language]', '.navbar-toggler']"
BRAND_JS = """() => { const b = document.querySelector('.navbar-brand'); const s = getComputedStyle(b);
  return {text: b.textContent.trim(), scroll: b.scrollWidth, client: b.clientWidth, size: parseFloat(s.fontSize),
          buttons: BUTTONS.map(sel => {
            const r = document.querySelector(sel).getBoundingClientRect(); return [sel, r.width, r.height]; })}; }
""".replace("BUTTONS", BAR_BUTTONS)


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large"])
def test_the_brand_is_whole_on_a_320_px_phone_in_both_languages(browser, live_server, make_user, browser_login,
                                                                 large_text):  # fmt: skip
    """At 320 px (and 375 px) the bar keeps one line and shows "★ 先锋学堂" / "★ Vanguard" whole, at 16 px or more,
    beside buttons of full size (no ellipsis: the text fits its box)."""
    for locale, brand in (("zh_Hans", "★ 先锋学堂"), ("en", "★ Vanguard")):
        member = make_user(username=f"brand-{locale[:2]}-{int(large_text)}", name="张华", locale=locale,
                           large_text=large_text)  # fmt: skip
        for width in (320, 375):
            context = browser.new_context(locale="zh-CN", **{**PHONE, "viewport": {"width": width, "height": 640}})
            try:
                page = _login(context, live_server, member, browser_login)
                shown = page.evaluate(BRAND_JS)
                assert shown["text"] == brand, shown
                assert shown["scroll"] <= shown["client"], (locale, large_text, width, shown)  # not cut short
                assert shown["size"] >= 16, shown
                target = 48 if large_text else 44
                assert all(w >= target - 0.5 and h >= target - 0.5 for _, w, h in shown["buttons"]), shown
                _one_line_bar(page)
                _fits(page)
            finally:
                context.close()


def _menu_rows(page) -> int:
    tops = page.locator("#mainNav .navbar-nav .nav-link").evaluate_all(
        "links => links.filter(a => a.offsetParent).map(a => Math.round(a.getBoundingClientRect().top))"
    )
    return len(set(tops))


@pytest.mark.parametrize(
    ("role", "locale", "large_text", "width", "box"),
    [(Role.ADMIN, "zh_Hans", False, 1280, False), (Role.ADMIN, "zh_Hans", False, 1600, True),
     (Role.ADMIN, "zh_Hans", True, 1440, False), (Role.LEARNER, "en", False, 1440, False)],
    ids=["admin-zh-1280", "admin-zh-1600", "admin-zh-large-1440", "member-en-1440"],
)  # fmt: skip
def test_the_desktop_menu_keeps_one_row_where_the_search_box_gives_way(browser, live_server, make_user,
                                                                       browser_login, role, locale, large_text, width,
                                                                       box):  # fmt: skip
    """An organisation admin's bar in Chinese (eight entries and 管理) and a member's in English keep one row:
    where the search box has no room, a magnifier stands in for it and opens the search page, whose own box
    searches. (An admin's English entries are 856 px long: from 1400 px they take two rows.)"""
    user = make_user(role=role, username=f"bar-{role}-{locale[:2]}-{int(large_text)}-{width}", name="王管理员",
                     locale=locale, large_text=large_text)  # fmt: skip
    entries = 9 if role == Role.ADMIN else 8
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 700})
    try:
        page = _login(context, live_server, user, browser_login)
        assert page.locator("#mainNav .navbar-nav .nav-link:visible").count() >= entries
        assert _menu_rows(page) == 1
        _fits(page)
        if box:
            expect(page.locator("#nav-search")).to_be_visible()
            expect(page.get_by_test_id("search-link")).to_be_hidden()
            return
        expect(page.locator("#nav-search")).to_be_hidden()
        link = page.get_by_test_id("search-link")
        size = link.bounding_box()
        assert size["width"] >= 44 and size["height"] >= 44, size
        link.click()
        page.wait_for_url(re.compile(r"/search/"))
        expect(page.get_by_test_id("search-form")).to_be_visible()
    finally:
        context.close()
