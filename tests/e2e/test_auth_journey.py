"""A member logs in, sees my learning, switches language and logs out; a wrong password is refused."""

import re

from playwright.sync_api import expect


def test_member_logs_in_switches_language_and_logs_out(page, live_server, make_user, browser_login):
    member = make_user(username="liming", name="李明")
    page.goto(live_server("/auth/login"))
    page.fill("input[name=login]", "liming")
    page.fill("input[name=password]", "wrong-password1")
    page.click("button[type=submit]")
    expect(page.locator(".alert-danger")).to_contain_text("用户名或密码错误")

    browser_login(page, member)
    expect(page.get_by_test_id("my-learning")).to_have_text("我的学习")

    page.get_by_test_id("switch-language").click()
    expect(page.get_by_test_id("my-learning")).to_have_text("My learning")

    page.wait_for_load_state("load")  # Bootstrap's script has bound the toggler (a click before it is lost)
    page.locator(".navbar-toggler").click()
    expect(page.locator("#mainNav")).to_have_class(re.compile(r"\bshow\b"))  # the menu has finished opening
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(live_server("/auth/login"))
    expect(page.locator(".alert-info")).to_contain_text("You have logged out.")
