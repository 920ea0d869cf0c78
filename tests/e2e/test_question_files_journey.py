"""Questions from files, seen in Chromium: an admin imports a Moodle XML file with an embedded image and a
table, reads the notes, confirms; a member takes a quiz with that question on a 375 px phone and sees the
image loaded and the table. Challenge mode shows the same question alike, and the question form's
per-option weights work on a phone.

Set ``LMS_SCREENSHOTS=<folder>`` to keep screenshots (375 px and desktop) of the pages."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from lms import clock
from lms.auth.models import Role
from lms.exams.contests import challenge as challenges
from lms.exams.questions import banks, question_html
from lms.exams.questions.importers import ParsedQuestion
from lms.exams.questions.importers.common import adopt_html
from lms.exams.questions.models import Question
from lms.extensions import db
from tests.e2e.conftest import EXPECT_TIMEOUT_MS, click_confirmed
from tests.exams.factories import create_bank, create_quiz

SCREENSHOTS = os.environ.get("LMS_SCREENSHOTS", "")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def _flag_png(size=(900, 600)) -> bytes:
    """A picture wider than a phone: a red field with a yellow square."""
    image = Image.new("RGB", size, (200, 16, 46))
    ImageDraw.Draw(image).rectangle((60, 60, 240, 240), fill=(255, 215, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _moodle_xml(image: bytes) -> bytes:
    encoded = base64.b64encode(image).decode()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/党史/图表题</text></category></question>
  <question type="multichoice">
    <name><text>看图识党旗</text></name>
    <questiontext format="html"><text><![CDATA[<p>下图是<b>中国共产党党旗</b>，旗面颜色象征革命：</p>
<p><img src="@@PLUGINFILE@@/flag.png" alt="党旗" width="900" height="600"></p>
<table border="1"><tr><th>年份</th><th>事件</th></tr><tr><td>1921</td><td>中共一大召开</td></tr>
<tr><td>1942</td><td>党旗样式首次规定</td></tr></table>
<iframe src="https://example.com/video"></iframe><p>党旗的旗面是什么颜色？</p>]]></text>
      <file name="flag.png" path="/" encoding="base64">{encoded}</file>
    </questiontext>
    <generalfeedback format="html"><text><![CDATA[<p>党旗旗面为<b>红色</b>。</p>]]></text></generalfeedback>
    <defaultgrade>2</defaultgrade>
    <single>true</single>
    <shuffleanswers>0</shuffleanswers>
    <answer fraction="100" format="html"><text><![CDATA[<p>红色</p>]]></text></answer>
    <answer fraction="0" format="html"><text><![CDATA[<p>黄色</p>]]></text></answer>
    <answer fraction="0" format="html"><text><![CDATA[<p>蓝色</p>]]></text></answer>
  </question>
</quiz>
""".encode()


def _phone(browser):
    """A phone-sized page that may run axe (its script is injected, which the site's CSP would refuse)."""
    context = browser.new_context(locale="zh-CN", viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    return context.new_page()


def _axe_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
          .filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )


def _image_loaded(locator) -> int:
    locator.scroll_into_view_if_needed()
    locator.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=locator.element_handle())
    return locator.evaluate("img => img.naturalWidth")


def _fits(page, locator) -> bool:
    """Whether the element lies within the viewport's width (nothing pushed off the side of a phone)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1


def test_an_imported_moodle_question_with_an_image_and_a_table_is_taken_on_a_phone(
    browser, page, live_server, make_user, browser_login
):
    admin = make_user(role=Role.ADMIN)
    bank = create_bank("图表题库")
    page.set_viewport_size(PHONE)
    browser_login(page, admin)
    page.goto(live_server(f"/admin/banks/{bank.id}/import"))
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "党史图表题.xml", "mimeType": "application/xml", "buffer": _moodle_xml(_flag_png())}],
    )
    page.locator("form[enctype] button[type=submit]").click()
    report = page.get_by_test_id("import-report")
    expect(report).to_contain_text("1 道题可以导入")
    importable = page.get_by_test_id("importable")
    expect(importable).to_contain_text("看图识党旗")
    expect(importable).to_contain_text("<iframe>")  # the note names what was removed
    _shot(page, "import-preview-375")
    page.get_by_test_id("confirm-import").click()
    page.wait_for_url(re.compile(rf"/admin/banks/{bank.id}$"))

    question = db.session.scalar(sa.select(Question).where(Question.bank_id == bank.id))
    [name] = question_html.referenced_images(question.stem)
    assert question_html.image_path(name) is not None and "<iframe" not in question.stem
    quiz = create_quiz([question], title="党旗知识测验")

    member = make_user(name="王红")
    phone = _phone(browser)
    browser_login(phone, member)
    phone.on("dialog", lambda dialog: dialog.accept())
    phone.goto(live_server(f"/quizzes/{quiz.id}"))
    click_confirmed(phone, phone.get_by_test_id("start-attempt"))
    phone.wait_for_url(re.compile(r"/quizzes/attempts/\d+$"))

    stem = phone.locator("#q1 .quiz-stem")
    image = stem.locator("img[alt=党旗]")
    assert _image_loaded(image) > 0
    assert _fits(phone, image)  # scaled down to the phone, not 900 px wide
    table = stem.locator("table")
    expect(table).to_be_visible()
    expect(table.locator("td").nth(1)).to_have_text("中共一大召开")
    assert _fits(phone, table)
    expect(phone.locator("#q1 .quiz-option").first).to_contain_text("红色")
    _shot(phone, "quiz-html-question-375")
    assert _axe_violations(phone) == []
    phone.set_viewport_size(DESKTOP)
    _shot(phone, "quiz-html-question-desktop")
    phone.set_viewport_size(PHONE)

    phone.get_by_test_id("option-1-A").check()
    expect(phone.get_by_test_id("save-state")).to_have_text("答案已全部保存")
    phone.get_by_test_id("submit-attempt").click()
    phone.get_by_test_id("confirm-submit").click()
    expect(phone.get_by_test_id("result")).to_be_visible()
    review = phone.get_by_test_id("review-1")
    assert _image_loaded(review.locator("img[alt=党旗]")) > 0
    expect(review.locator("table")).to_be_visible()
    _shot(phone, "quiz-html-review-375")
    phone.context.close()


def test_challenge_mode_shows_the_html_question_with_its_image(browser, live_server, make_user, browser_login):
    bank = banks.create_bank("挑战图题", creator=None)
    picture = "data:image/png;base64," + base64.b64encode(_flag_png((600, 400))).decode()
    parsed = ParsedQuestion(
        "single",
        f'<p>看图：<img src="{picture}" alt="党旗"></p><table><tr><td>旗面</td><td>？</td></tr></table>',
        ["<b>红色</b>", "黄色"],
        {"choice": 0},
        explanation="<p>党旗旗面为<b>红色</b>。</p>",
        html=True,
    )
    adopt_html(parsed, [])
    banks.add_question(bank, parsed)
    settings = challenges.ChallengeSettings(title="图题挑战", bank_ids=[bank.id])
    challenges.create_challenge(settings, created_by=None, now=clock.utcnow())
    db.session.commit()
    page = _phone(browser)
    browser_login(page, make_user())
    page.goto(live_server("/contests/challenges/"))
    page.get_by_test_id("challenge-start").click()
    stem = page.get_by_test_id("challenge-stem")
    assert _image_loaded(stem.locator("img[alt=党旗]")) > 0
    assert _fits(page, stem.locator("img[alt=党旗]"))
    expect(stem.locator("table td").first).to_have_text("旗面")
    option = page.locator("[data-choices] .quiz-option").filter(has_text="黄色")
    expect(page.locator("[data-choices] .quiz-option b")).to_have_text("红色")  # the option's HTML, not its tags
    _shot(page, "challenge-html-375")
    assert _axe_violations(page) == []
    option.click()  # wrong: the game ends and reveals the answer and the explanation in HTML
    expect(page.get_by_test_id("challenge-answer-options").locator("b")).to_have_text("红色")
    expect(page.locator("[data-explanation] b")).to_have_text("红色")
    assert _image_loaded(page.locator("[data-missed] img[alt=党旗]")) > 0
    _shot(page, "challenge-html-over-375")
    page.context.close()


def test_weights_are_typed_next_to_the_options_on_a_phone(browser, live_server, make_user, browser_login):
    bank = create_bank("加权题库")
    page = _phone(browser)
    browser_login(page, make_user(role=Role.ADMIN))
    page.goto(live_server(f"/admin/banks/{bank.id}/questions/new?type=multiple"))
    weight_a = page.get_by_label("选项A权重 %")
    expect(weight_a).to_be_hidden()
    page.fill("textarea[name=stem]", "下列属于党的优良作风的是？")
    for letter, text in zip("abc", ["理论联系实际", "密切联系群众", "脱离群众"], strict=True):
        page.fill(f"input[name=option_{letter}]", text)
    page.fill("input[name=answer]", "AB")
    page.select_option("select[name=scoring]", "weighted")
    expect(weight_a).to_be_visible()
    expect(page.locator("input[name=answer]")).to_be_hidden()
    expect(weight_a).to_have_value("50")  # the letters already given became equal weights
    expect(page.get_by_label("选项B权重 %")).to_have_value("50")
    assert _fits(page, weight_a)
    page.get_by_label("选项C权重 %").fill("-100")
    _shot(page, "question-form-weights-375")
    assert _axe_violations(page) == []
    page.set_viewport_size(DESKTOP)
    _shot(page, "question-form-weights-desktop")
    page.locator("button[type=submit]", has_text="保存").first.click()
    page.wait_for_url(re.compile(rf"/admin/banks/{bank.id}$"))
    question = db.session.scalar(sa.select(Question).where(Question.bank_id == bank.id))
    assert question.answer["weights"][:3] == [50.0, 50.0, -100.0]
    page.context.close()
