"""Two members take a contest in Chromium while a third watches the live board: the board,
never reloaded, shows both in the right order; leaving the page during the attempt is counted."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from lms import clock
from lms.exams.contests.models import ContestEntry
from lms.exams.questions.models import QuestionType
from lms.extensions import db
from tests.e2e.conftest import click_confirmed
from tests.exams.contest_factories import clear_cache, create_contest
from tests.exams.factories import create_bank, create_question


def _new_page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    return context.new_page()


def _take(page, live_server, contest, answers: dict[int, str]) -> None:
    """Start the contest, tick ``answers`` ({position: "true"/"false"}) and submit."""
    page.on("dialog", lambda dialog: dialog.accept())  # "the timer starts now" confirmation
    page.goto(live_server(f"/contests/{contest.id}"))
    click_confirmed(page, page.get_by_test_id("start-contest"))
    page.wait_for_url(re.compile(rf"/contests/{contest.id}/take$"))
    for position, value in answers.items():
        page.get_by_test_id(f"nav-{position}").click()
        page.get_by_test_id(f"option-{position}-{value}").check()
        expect(page.get_by_test_id("save-state")).to_have_text("答案已全部保存")
    page.get_by_test_id("submit-attempt").click()
    page.get_by_test_id("confirm-submit").click()
    page.wait_for_url(re.compile(rf"/contests/{contest.id}/result$"))


def test_two_members_take_a_contest_and_the_live_board_shows_both_in_order(
    app, page, browser, live_server, make_user, browser_login
):
    clear_cache()
    app.config["CONTEST_BOARD_SECONDS"] = 1
    bank = create_bank()
    questions = [create_question(QuestionType.TRUE_FALSE, bank, answer={"value": True}) for _ in range(3)]
    now = clock.utcnow()
    contest = create_contest(
        questions,
        open_at=now - timedelta(minutes=1),
        close_at=now + timedelta(hours=1),
        time_limit_seconds=600,
        shuffle_questions=False,
        title="浏览器竞赛",
    )
    viewer, first, second = make_user(name="观众"), make_user(name="张先锋"), make_user(name="李先进")

    browser_login(page, viewer)
    page.goto(live_server(f"/contests/{contest.id}/board"))
    expect(page.get_by_test_id("board")).to_contain_text("还没有人交卷")
    page.evaluate("window.__notReloaded = true")

    second_page = _new_page(browser)
    browser_login(second_page, second)
    _take(second_page, live_server, contest, {1: "true", 2: "true", 3: "false"})  # 2 of 3
    expect(second_page.get_by_test_id("score")).to_have_text("2")
    expect(second_page.get_by_test_id("rank")).to_contain_text("第 1 名 / 共 1 人")

    first_page = _new_page(browser)
    browser_login(first_page, first)
    first_page.on("dialog", lambda dialog: dialog.accept())
    first_page.goto(live_server(f"/contests/{contest.id}"))
    click_confirmed(first_page, first_page.get_by_test_id("start-contest"))
    first_page.wait_for_url(re.compile(rf"/contests/{contest.id}/take$"))
    # The member switches to another tab and back: the page reports it.
    first_page.evaluate(
        """() => {
          Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
          document.dispatchEvent(new Event("visibilitychange"));
          Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
        }"""
    )
    for position in (1, 2, 3):
        first_page.get_by_test_id(f"nav-{position}").click()
        first_page.get_by_test_id(f"option-{position}-true").check()
        expect(first_page.get_by_test_id("save-state")).to_have_text("答案已全部保存")
    first_page.get_by_test_id("submit-attempt").click()
    first_page.get_by_test_id("confirm-submit").click()
    first_page.wait_for_url(re.compile(rf"/contests/{contest.id}/result$"))
    expect(first_page.get_by_test_id("score")).to_have_text("3")
    expect(first_page.get_by_test_id("rank")).to_contain_text("第 1 名 / 共 2 人")

    # The viewer's board updated by itself: 张先锋 (3 points) above 李先进 (2 points).
    rows = page.locator("[data-board-rows] tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("张先锋")
    expect(rows.nth(0)).to_contain_text("3")
    expect(rows.nth(1)).to_contain_text("李先进")
    expect(rows.nth(1).locator("td").first).to_have_text("2")
    assert page.evaluate("window.__notReloaded") is True

    db.session.expire_all()
    counts = dict(db.session.execute(sa.select(ContestEntry.user_id, ContestEntry.hidden_count)).all())
    assert counts == {first.id: 1, second.id: 0}
    for extra in (first_page, second_page):
        extra.context.close()
