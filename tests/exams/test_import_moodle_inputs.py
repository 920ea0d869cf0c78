"""GIFT and Aiken as they really come: Moodle's own test inputs (tests/exams/fixtures/moodle,
GPL-3.0 test data) and the variants of issue #13."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask_babel import force_locale

from lms.exams.questions.importers import ParsedQuestion
from lms.exams.questions.importers.aiken import parse_aiken
from lms.exams.questions.importers.gift import parse_gift, write_gift
from lms.exams.questions.models import QuestionType
from lms.exams.questions.types import grade

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_moodle_gift_fixture_imports_what_the_platform_has_and_skips_the_rest_with_reasons(app):
    result = parse_gift(fixture("questions.gift.txt"))
    by_title = {item.question.title if item.ok else item.label: item for item in result.items}

    q2 = by_title["Q2"].question
    assert q2.type == "single" and q2.options == ["yellow", "red", "blue"] and q2.answer == {"choice": 0}
    colours = by_title["colours"].question
    assert colours.type == "multiple"
    assert colours.answer == {"choices": [0, 2], "weights": [50.0, -100.0, 50.0, -100.0]}
    assert by_title["Q1"].question.answer == {"value": False}
    assert "Hitchiker" in by_title["Q1"].question.explanation
    assert [item.question.answer for item in result.items if item.ok and item.question.title == "2-08 TSL"] == [
        {"value": True},
        {"value": True},
    ]
    skipped = [item for item in result.items if not item.ok]
    assert len(skipped) == 3  # essay, matching, numerical: not types of this platform, each said why
    assert all(item.problems for item in skipped)
    shortanswer = next(item for item in result.items if item.ok and item.question.title == "Shortanswer")
    assert shortanswer.question.answer["blanks"] == [["Frog"]]
    assert shortanswer.notes  # the 50% answer is not accepted: noted


def test_moodle_gift_category_fixture(app):
    result = parse_gift(fixture("questions_in_category.gift.txt"))
    ok = {item.question.title: item for item in result.items if item.ok}

    assert set(ok) == {"Greeting", "Moodle user", "Moodle acronym"}
    assert ok["Greeting"].question.answer == {"choice": 1}
    assert ok["Greeting"].question.tags == ["Default for New Features"]
    greeting = ok["Greeting"].question  # HTML with a link: kept as safe HTML
    assert greeting.html
    assert greeting.stem.startswith(
        '<a href="http://demo.moodle.net/file.php/5/media/bonjour.mp3" rel="noopener noreferrer">Listen'
    )
    assert ok["Moodle acronym"].question.stem.startswith("Moodle is an acronym for Modular")


def test_moodle_aiken_fixtures(app):
    good = parse_aiken(fixture("questions.aiken.txt"))
    assert [item.question.answer for item in good.items] == [{"choice": 1}, {"choice": 0}]
    assert '<html class="cool"> & images' in good.items[1].question.stem

    errors = parse_aiken(fixture("aiken_errors.txt"))
    assert [item.ok for item in errors.items if item.ok] == [True, True]
    assert errors.items[-1].question.options == ["Incorrect (No space)", "Correct (No space)"]
    assert not errors.items[0].ok


def test_weighted_scoring_is_moodles_sum_floored_at_zero():
    key = {"choices": [0], "weights": [100.0, -50.0, -50.0]}

    assert grade(QuestionType.MULTIPLE, key, {"choices": [0]}, 2).points == 2
    assert grade(QuestionType.MULTIPLE, key, {"choices": [0, 1]}, 2).points == 1
    assert grade(QuestionType.MULTIPLE, key, {"choices": [1, 2]}, 2).points == 0
    key = {"choices": [0, 2], "weights": [50.0, -100.0, 50.0]}
    assert grade(QuestionType.MULTIPLE, key, {"choices": [2]}, 4).points == 2


def test_full_width_gift_marks_are_read_with_a_note(app):
    item = parse_gift("首都是{＝北京 ～上海 ～广州}".encode()).items[0]

    assert item.ok and item.question.options == ["北京", "上海", "广州"]
    assert item.notes


def test_a_category_line_in_the_same_block_as_a_question(app):
    result = parse_gift("$CATEGORY: $course$/top/党史\n一大在哪召开{=上海 ~北京}\n")

    assert len(result.items) == 1 and result.items[0].question.tags == ["党史"]
    assert result.items[0].line == 2


def test_entities_in_plain_text_and_html_structure(app):
    item = parse_gift("1 &lt; 2 {T}").items[0]
    assert item.question.stem == "1 < 2"
    literal = parse_gift("[plain]1 &lt; 2 {T}").items[0]
    assert literal.question.stem == "1 &lt; 2"
    rich = parse_gift("[html]<p>H<sub>2</sub>O and x<sup>2</sup></p><ul><li>a</li><li>b</li></ul>{T}").items[0]
    assert rich.question.html  # sub/superscripts and lists are kept as HTML
    assert rich.question.stem == "<p>H<sub>2</sub>O and x<sup>2</sup></p><ul><li>a</li><li>b</li></ul>"
    assert not rich.notes


def test_more_than_eight_options_are_kept_and_more_than_26_reported(app):
    options = " ".join(f"~o{i}" for i in range(10))
    item = parse_gift(f"Q{{=right {options}}}").items[0]
    assert item.ok and len(item.question.options) == 11

    options = " ".join(f"~o{i}" for i in range(26))
    item = parse_gift(f"Q{{=right {options}}}").items[0]
    assert not item.ok and "at most 26 options (A–Z)" in str(item.problems[0])


def test_gift_round_trip_keeps_weights_indefinite_and_arrows(app):
    questions = [
        ParsedQuestion(
            "multiple", "颜色", ["yellow", "red", "blue"], {"choices": [0], "weights": [100.0, -50.0, -50.0]}
        ),
        ParsedQuestion("multiple", "三会", ["甲", "乙", "丙"], {"choices": [0, 1]}),
        ParsedQuestion("fill", "箭头{{1}}", [], {"blanks": [["a->b"]]}),
        ParsedQuestion("single", "1 &lt; 2 ?", ["&amp;", "b"], {"choice": 0}),
    ]
    back = [item.question for item in parse_gift(write_gift(questions)).items]
    assert [(q.type, q.stem, q.options, q.answer) for q in back] == [
        (q.type, q.stem, q.options, q.answer) for q in questions
    ]


@pytest.mark.parametrize(
    "text",
    [
        "1．党的最高领导机关是\nA：全国代表大会\nB：中央委员会\nANSWER: A",
        "党的最高领导机关是\nA、全国代表大会\nB、中央委员会\nANSWER: A",
        "党的最高领导机关是\n(A) 全国代表大会\n(B) 中央委员会\nANSWER: A",
        "党的最高领导机关是\n（A）全国代表大会\n（B）中央委员会\nANSWER: A",
        "党的最高领导机关是\nA.全国代表大会 B.中央委员会\nANSWER: A",
    ],
)
def test_aiken_option_spellings_and_question_numbers(app, text):
    item = parse_aiken(text).items[0]

    assert item.ok, [str(p) for p in item.problems]
    assert item.question.stem == "党的最高领导机关是"
    assert item.question.options == ["全国代表大会", "中央委员会"]


def test_aiken_names_the_line_of_a_wrong_answer(app):
    item = parse_aiken("Q\nA. x\nB. y\n\nANSWER: E").items[0]

    assert "Line 5" in str(item.problems[0])
