"""A member takes a 1-minute quiz in Chromium: answers autosave, a reload keeps answers and the
countdown, the submit dialog lists what is unanswered, and the result is shown."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from lms.exams.questions.models import QuestionType
from lms.exams.quizzes.models import QuizAttempt
from lms.extensions import db
from tests.e2e.conftest import click_confirmed
from tests.exams.factories import create_bank, create_question, create_quiz


def _seconds(text: str) -> int:
    minutes, seconds = text.strip().split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


def test_member_takes_a_timed_quiz_reloads_and_submits(page, live_server, make_user, browser_login):
    member = make_user(name="李明")
    bank = create_bank()
    questions = [create_question(kind, bank) for kind in QuestionType]  # single, multiple, true/false, fill
    quiz = create_quiz(questions, title="一分钟测验", time_limit_seconds=60)
    browser_login(page, member)
    page.on("dialog", lambda dialog: dialog.accept())  # "the timer starts now" confirmation

    page.goto(live_server(f"/quizzes/{quiz.id}"))
    click_confirmed(page, page.get_by_test_id("start-attempt"))
    page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))
    saved = page.get_by_test_id("save-state")
    timer = page.locator("[data-timer-text]")
    assert 0 < _seconds(timer.inner_text()) <= 60

    page.get_by_test_id("option-1-B").check()
    expect(saved).to_have_text("答案已全部保存")
    expect(page.get_by_test_id("nav-1")).to_have_class(re.compile("answered"))
    page.get_by_test_id("next").click()
    for letter in "ABC":
        page.get_by_test_id(f"option-2-{letter}").check()
    page.get_by_test_id("next").click()
    page.get_by_test_id("option-3-true").check()
    expect(saved).to_have_text("答案已全部保存")
    expect(page.get_by_test_id("nav-3")).to_have_class(re.compile("answered"))
    before_reload = _seconds(timer.inner_text())

    page.reload()
    expect(page.get_by_test_id("option-1-B")).to_be_checked()
    expect(page.get_by_test_id("option-2-C")).to_be_checked()
    expect(page.get_by_test_id("option-3-true")).to_be_checked()
    for position in (1, 2, 3):
        expect(page.get_by_test_id(f"nav-{position}")).to_have_class(re.compile("answered"))
    expect(page.get_by_test_id("nav-4")).not_to_have_class(re.compile("answered"))
    after_reload = _seconds(timer.inner_text())
    assert 0 < after_reload <= before_reload  # the server's deadline, not a fresh minute

    page.get_by_test_id("nav-4").click()
    page.get_by_test_id("blank-4-1").fill("全心全意为人民服务")
    page.get_by_test_id("submit-attempt").click()
    expect(page.get_by_test_id("unanswered-list")).to_be_hidden()  # one blank filled: answered
    _keep_answering(page)
    page.get_by_test_id("blank-4-2").fill("共产主义")
    page.get_by_test_id("submit-attempt").click()
    page.get_by_test_id("confirm-submit").click()

    page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))
    expect(page.get_by_test_id("result")).to_be_visible()
    expect(page.get_by_test_id("score")).to_have_text("100")
    expect(page.get_by_test_id("review-4")).to_contain_text("全心全意为人民服务")


def test_unanswered_questions_are_listed_before_submitting(page, live_server, make_user, browser_login):
    member = make_user()
    bank = create_bank()
    quiz = create_quiz([create_question(QuestionType.TRUE_FALSE, bank) for _ in range(3)], title="三道判断题")
    browser_login(page, member)
    page.goto(live_server(f"/quizzes/{quiz.id}"))
    click_confirmed(page, page.get_by_test_id("start-attempt"))
    page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))
    page.get_by_test_id("option-1-false").check()
    page.get_by_test_id("submit-attempt").click()
    unanswered = page.get_by_test_id("unanswered-list")
    expect(unanswered).to_be_visible()
    expect(unanswered.locator("button")).to_have_text(["2", "3"])
    unanswered.locator("button").first.click()  # jumps to question 2
    expect(page.locator("#q2")).to_be_visible()
    expect(page.locator("#q1")).to_be_hidden()


def test_answers_survive_a_dropped_connection_and_a_reload(page, live_server, make_user, browser_login):
    member = make_user()
    bank = create_bank()
    quiz = create_quiz([create_question(QuestionType.TRUE_FALSE, bank) for _ in range(2)], title="断网测验")
    browser_login(page, member)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(live_server(f"/quizzes/{quiz.id}"))
    click_confirmed(page, page.get_by_test_id("start-attempt"))
    page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))

    page.route("**/answers", lambda route: route.abort())  # the connection drops for saves
    page.get_by_test_id("option-1-false").check()
    expect(page.get_by_test_id("save-state")).to_contain_text("网络已断开")
    page.reload()  # before the answer ever reached the server
    expect(page.get_by_test_id("option-1-false")).to_be_checked()  # restored from the browser
    page.unroute("**/answers")  # the connection returns; the retry delivers it
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_test_id("save-state")).to_have_text("答案已全部保存")
    attempt = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.user_id == member.id))
    assert attempt.questions[0].response == {"value": False}


def test_two_tabs_share_one_attempt_and_the_latest_choice_wins(page, live_server, make_user, browser_login):
    member = make_user()
    bank = create_bank()
    quiz = create_quiz([create_question(QuestionType.TRUE_FALSE, bank)], title="两个标签页")
    browser_login(page, member)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(live_server(f"/quizzes/{quiz.id}"))
    click_confirmed(page, page.get_by_test_id("start-attempt"))
    page.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))
    second = page.context.new_page()
    second.goto(live_server(f"/quizzes/{quiz.id}"))
    second.get_by_test_id("continue-attempt").click()  # the same attempt, not a new one
    assert second.url == page.url

    page.get_by_test_id("option-1-true").check()
    expect(page.get_by_test_id("save-state")).to_have_text("答案已全部保存")
    second.get_by_test_id("option-1-false").check()  # this tab still thinks nothing was saved
    expect(second.get_by_test_id("save-state")).to_have_text("答案已全部保存")
    attempt = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.user_id == member.id))
    assert attempt.questions[0].response == {"value": False}
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the first tab syncs
    expect(page.get_by_test_id("option-1-false")).to_be_checked()
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def _keep_answering(page) -> None:
    """Close the submit dialog with 继续答题 and wait until it is gone.

    Bootstrap ignores a dismiss while the dialog is still fading in, so a click that
    lands during that transition is repeated rather than leaving the dialog open.
    """
    modal = page.locator("#submit-modal")
    for _ in range(10):
        page.get_by_text("继续答题").click()
        try:
            expect(modal).to_be_hidden(timeout=2000)
            return
        except AssertionError:
            continue
    expect(modal).to_be_hidden()
