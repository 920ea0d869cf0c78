"""An older member on a 375 px phone in large-text mode: home → continue learning → next lesson → search → a quiz."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.courses import services
from lms.courses.models import LessonKind, LessonProgress
from lms.exams.questions.models import QuestionType
from lms.extensions import db
from tests.e2e.conftest import click_confirmed
from tests.exams.factories import create_bank, create_question, create_quiz

PHONE = {"viewport": {"width": 375, "height": 667}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def _tall_enough(locator, at_least: float) -> None:
    box = locator.bounding_box()
    assert box and box["height"] >= at_least - 0.5, box


def _is_cards(table, labels: list[str]) -> None:
    """A .table-cards table on a phone: the header row hidden, each body row a block, each value labelled."""
    shape = table.evaluate(
        "t => ({head: t.querySelector('thead').getBoundingClientRect().height,"
        " rows: [...t.tBodies[0].rows].map(r => getComputedStyle(r).display),"
        " labels: [...t.querySelectorAll('td[data-label]')].map(td => getComputedStyle(td, '::before').content)})"
    )
    assert shape["head"] <= 1, shape
    assert shape["rows"] and set(shape["rows"]) == {"block"}, shape
    assert all(f'"{label}"' in shape["labels"] for label in labels), shape


def _one_line_bar(page) -> None:
    """The bar's brand, bell, large-text switch, language switch and menu button share one row."""
    tops = page.evaluate(
        "() => ['.navbar-brand', '[data-testid=bell]', '[data-testid=large-text]', '[data-testid=switch-language]',"
        " '.navbar-toggler'].map(s => { const b = document.querySelector(s).getBoundingClientRect();"
        " return [s, Math.round(b.top + b.height / 2)]; })"
    )
    middles = {middle for _, middle in tops}
    assert max(middles) - min(middles) <= 4, tops


def test_large_text_phone_journey(browser, live_server, make_user, browser_login):
    now = clock.utcnow()
    admin = make_user(role=Role.ADMIN, username="boss")
    member = make_user(username="laodang", name="老党员")
    course = services.create_course(services.CourseFields(title="党章学习", category="党章"), actor=admin, now=now)
    article = LessonKind.ARTICLE
    first = services.add_lesson(course, services.LessonFields(
        kind=article, title="不忘初心", body_html="<p>中国共产党人的初心和使命。</p>", reading_minutes=5), now=now)
    second = services.add_lesson(course, services.LessonFields(
        kind=article, title="党章总纲", body_html="<p>党章是党的根本大法。</p>", reading_minutes=5), now=now)
    db.session.flush()
    db.session.refresh(course)
    services.publish_course(course, now=now)
    # The member read the first lesson for a minute yesterday and stopped.
    db.session.add(LessonProgress(user_id=member.id, lesson_id=first.id, watched_seconds=60.0,
                                  last_studied_at=now - timedelta(days=1), started_at=now - timedelta(days=1)))
    bank = create_bank()
    quiz = create_quiz([create_question(QuestionType.TRUE_FALSE, bank)], title="党章小测", time_limit_seconds=600)
    db.session.commit()

    context = browser.new_context(locale="zh-CN", **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        browser_login(page, member)
        # One tap turns large text on, for the account.
        switch = page.get_by_test_id("large-text")
        _tall_enough(switch, 44)
        switch.click()
        expect(page.locator("html")).to_have_class("large-text")
        page.wait_for_load_state("load")  # measured once the page has its styles
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
        _fits(page)
        _one_line_bar(page)

        continue_button = page.get_by_test_id("continue-button")
        expect(page.get_by_test_id("continue-learning")).to_contain_text("不忘初心")
        _tall_enough(continue_button, 48)
        continue_button.click()
        page.wait_for_url(re.compile(rf"/courses/lessons/{first.id}$"))
        expect(page.get_by_test_id("article-body")).to_contain_text("初心和使命")
        _fits(page)

        next_button = page.get_by_test_id("next-lesson")
        _tall_enough(next_button, 48)
        next_button.click()
        page.wait_for_url(re.compile(rf"/courses/lessons/{second.id}$"))
        expect(page.get_by_test_id("back-to-course")).to_be_visible()
        _fits(page)

        # Search from the menu: a two-character word of a lesson title.
        page.locator(".navbar-toggler").click()
        search = page.locator("#nav-search")
        expect(search).to_be_visible()
        search.fill("初心")
        search.press("Enter")
        page.wait_for_url(re.compile(r"/search/\?q="))
        hit = page.get_by_test_id("search-results").get_by_role("link", name="不忘初心")
        expect(hit).to_be_visible()
        _fits(page)

        page.goto(live_server(f"/quizzes/{quiz.id}"))
        start = page.get_by_test_id("start-attempt")
        _tall_enough(start, 48)
        click_confirmed(page, start)  # the page's own dialog, not the browser's confirm()
        page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))
        _fits(page)
        option = page.get_by_test_id("option-1-true")
        option.check()
        expect(page.get_by_test_id("save-state")).to_have_text("答案已全部保存")
        page.get_by_test_id("submit-attempt").click()
        page.get_by_test_id("confirm-submit").click()
        page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))
        expect(page.get_by_test_id("result")).to_be_visible()
        _fits(page)

        # Back on the quiz, the attempts table is one card per attempt, each value with its label.
        page.goto(live_server(f"/quizzes/{quiz.id}"))
        attempts = page.get_by_test_id("quiz-attempts")
        expect(attempts).to_contain_text("第 1 次作答")
        _is_cards(attempts, labels=["开始时间", "状态", "成绩"])
        _tall_enough(attempts.get_by_role("link", name="查看"), 48)
        _fits(page)
        _one_line_bar(page)
        db.session.expire_all()
        assert db.session.get(type(member), member.id).large_text is True
    finally:
        context.close()
