"""Moodle GIFT import: each feature of the format, and what the platform skips."""

from __future__ import annotations

import pytest

from lms.errors import ValidationFailed
from lms.exams.questions.importers import parse_file
from lms.exams.questions.importers.gift import parse_gift

pytestmark = pytest.mark.usefixtures("english")


def only(text: str):
    result = parse_gift(text)
    assert len(result.items) == 1, [item.label for item in result.items]
    return result.items[0]


def reasons(item) -> str:
    return " ".join(str(problem) for problem in item.problems)


def test_single_choice_with_title_and_feedback():
    item = only(
        """::一大::中国共产党第一次全国代表大会于哪一年召开？{
  =1921年#正确，1921年7月召开。
  ~1919年#这是五四运动的年份。
  ~1949年
  ####中共一大在上海召开，最后一天转到嘉兴南湖。
}"""
    )
    question = item.question
    assert item.ok and item.line == 1
    assert question.type == "single" and question.title == "一大"
    assert question.stem == "中国共产党第一次全国代表大会于哪一年召开？"
    assert question.options == ["1921年", "1919年", "1949年"] and question.answer == {"choice": 0}
    assert question.explanation.splitlines() == [
        "中共一大在上海召开，最后一天转到嘉兴南湖。",
        "1921年：正确，1921年7月召开。",
        "1919年：这是五四运动的年份。",
    ]


def test_multiple_choice_from_percentage_weights():
    item = only("下列属于“三会”的有{~%50%支部党员大会 ~%50%党小组会 ~%-100%民主生活会 ~%-100%党课}")

    assert item.question.type == "multiple"
    assert item.question.answer == {"choices": [0, 1], "weights": [50.0, 50.0, -100.0, -100.0]}  # kept
    assert item.question.options == ["支部党员大会", "党小组会", "民主生活会", "党课"]


def test_weights_with_one_positive_option_stay_a_multiple_response_question():
    item = only("Pick{~%100%yellow ~%-50%red ~%-50%blue}")

    assert item.question.type == "multiple"  # check boxes: choosing red too costs half
    assert item.question.answer == {"choices": [0], "weights": [100.0, -50.0, -50.0]}


@pytest.mark.parametrize(
    ("block", "value"), [("{T}", True), ("{TRUE}", True), ("{F}", False), ("{FALSE}", False), ("{true}", True)]
)
def test_true_false(block, value):
    item = only("预备党员的预备期为一年。" + block)

    assert item.question.type == "true_false" and item.question.answer == {"value": value}
    assert item.question.stem == "预备党员的预备期为一年。"


def test_true_false_feedback_is_kept_in_the_explanation():
    item = only("留党察看最长不超过一年。{F#不对，最长两年。#对，最长两年。####党章第四十条。}")

    assert item.question.answer == {"value": False}
    assert item.question.explanation.splitlines() == ["党章第四十条。", "对，最长两年。", "不对，最长两年。"]


def test_short_answer_is_a_fill_in_blank_with_every_accepted_answer():
    item = only("中国共产党的宗旨是什么？{=全心全意为人民服务 =为人民服务}")

    assert item.question.type == "fill"
    assert item.question.stem == "中国共产党的宗旨是什么？{{1}}"
    assert item.question.answer == {"blanks": [["全心全意为人民服务", "为人民服务"]]}


def test_a_short_answer_after_a_text_that_marks_its_blank_fills_that_blank_with_a_note():
    item = only("“三湾改编”确立了（ ）的原则。{=党指挥枪 =党对军队的绝对领导}")
    assert item.question.stem == "“三湾改编”确立了{{1}}的原则。"
    assert "the blank is there" in " ".join(str(note) for note in item.notes)

    assert (
        only("党的宗旨是____，不是（ ）。{=为人民服务}").question.stem == "党的宗旨是____，不是（ ）。{{1}}"
    )  # two marks
    assert only("党的宗旨是 {=为人民服务} ，不是（ ）。").question.stem == "党的宗旨是 {{1}} ，不是（ ）。"  # in place


@pytest.mark.parametrize("stem", ["(){{1}}", "遵义会议（1935年）召开于（ ）{{1}}", "填空：____{{1}}"])
def test_our_own_export_of_a_text_with_its_own_mark_before_the_blank_reads_back_the_same(stem):
    """A stem whose text has one （ ）/____ of its own and ends with its blank: the export says the block is
    the blank ("[blank:end]"), so the mark stays text (found by the export property test)."""
    from lms.exams.questions.importers import ParsedQuestion
    from lms.exams.questions.importers.gift import write_gift

    question = ParsedQuestion("fill", stem, [], {"blanks": [["答案"]]}, points=1.0, difficulty=2)
    source = write_gift([question], "bank")
    assert "// [blank:end]" in source
    assert only(source.split("\n\n", 1)[1]).question.stem == stem


def test_partial_credit_short_answers_are_not_accepted_and_noted():
    item = only("Who? {=%100%no one =nobody =%50%Grant}")

    assert item.question.answer == {"blanks": [["no one", "nobody"]]}
    assert "Grant" in str(item.notes[0])


def test_embedded_blank_keeps_the_text_on_both_sides():
    item = only("中国共产党的最高理想和最终目标是实现{=共产主义}。")

    assert item.question.stem == "中国共产党的最高理想和最终目标是实现{{1}}。"
    assert item.question.answer == {"blanks": [["共产主义"]]}


def test_embedded_choice_shows_a_blank_in_the_stem():
    item = only("遵义会议召开于{=1935年 ~1921年 ~1949年}1月。")

    assert item.question.type == "single"
    assert item.question.stem == "遵义会议召开于（ ）1月。"


def test_several_blocks_make_several_blanks():
    item = only("中共一大于{=1921}年在{=上海 =上海市}召开。")

    assert item.question.stem == "中共一大于{{1}}年在{{2}}召开。"
    assert item.question.answer == {"blanks": [["1921"], ["上海", "上海市"]]}


def test_comments_escapes_and_format_prefix():
    item = only(
        "// a comment line\n"
        "::Colon\\: title::[html]<p>Braces \\{ and \\} and \\~ \\= \\# \\: and a<br>line</p>{=a\\=b\\#c =x\\\\y}"
    )

    assert item.question.title == "Colon: title"
    assert item.question.stem == "Braces { and } and ~ = # : and a\nline{{1}}"
    assert item.question.answer == {"blanks": [["a=b#c", "x\\y"]]}


def test_category_becomes_a_knowledge_point_of_the_questions_after_it():
    result = parse_gift(
        "$CATEGORY: $course$/top/党史\n\n一大{=1921}\n\n$CATEGORY: 党章\n\n预备期一年{T}\n\n"
        "// [tag:重点] [tag:党章]\n宗旨{=为人民服务}"
    )

    assert [item.question.tags for item in result.items] == [["党史"], ["党章"], ["重点", "党章"]]


def test_tag_points_and_difficulty_comments_are_read():
    item = only("// [tag:党史] [points:2.5] [difficulty:4]\n一大{=1921}")

    assert (item.question.tags, item.question.points, item.question.difficulty) == (["党史"], 2.5, 4)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("::配对题::把国家和首都配对{=中国 -> 北京 =法国 -> 巴黎}", "matching"),
        ("::数字题::中共一大召开于哪年？{#1921:0}", "numerical"),
        ("::论述题::谈谈你对党的宗旨的理解。{}", "essay"),
        ("::说明::下面是党章知识题。", "description"),
    ],
)
def test_types_the_platform_lacks_are_skipped_naming_the_question(text, reason):
    result = parse_gift(text + "\n\n好题{T}")
    skipped, good = result.items

    assert not skipped.ok and reason in reasons(skipped)
    assert skipped.label in ("配对题", "数字题", "论述题", "说明")
    assert good.ok


def test_a_skipped_question_without_title_is_named_by_its_first_words():
    item = only("请论述“三会一课”制度的意义和具体做法，并结合实际谈谈体会。{}")

    assert item.label.startswith("请论述“三会一课”制度")


@pytest.mark.parametrize(
    "text",
    ["党的宗旨是{=全心全意为人民服务", "党的宗旨是=全心全意为人民服务}", "党的{宗旨是{=全心全意}}"],
)
def test_unbalanced_braces_skip_only_that_question_with_its_line(text):
    result = parse_gift("好题一{T}\n\n" + text + "\n\n好题二{F}")

    assert [item.ok for item in result.items] == [True, False, True]
    assert result.items[1].line == 3
    assert "unbalanced braces" in reasons(result.items[1])


def test_a_single_choice_with_two_right_answers_is_skipped():
    item = only("Pick{=a =b ~c}")

    assert not item.ok and "exactly one" in reasons(item)


def test_a_title_that_is_never_closed_is_reported():
    item = only("::No end title {T}")

    assert not item.ok and "title" in reasons(item)


def test_line_numbers_count_comments_and_blank_lines():
    result = parse_gift("// header\n\n\n// about Q\n一大{=1921}\n\n\n\nbroken {=a")

    assert [item.line for item in result.items] == [5, 9]


def test_gbk_and_utf8_bom_files_decode():
    text = "::编码::中国共产党的宗旨是{=全心全意为人民服务}。"
    for payload in (text.encode("gbk"), text.encode("utf-8-sig"), text.encode("utf-8")):
        result = parse_file("bank.gift", payload)
        assert result.items[0].question.stem == "中国共产党的宗旨是{{1}}。"


def test_an_empty_or_comment_only_file_is_refused():
    for text in ("", "\n\n   \n", "// only a comment\n"):
        with pytest.raises(ValidationFailed) as error:
            parse_gift(text)
        assert "no questions" in str(error.value.message)


def test_a_txt_file_with_braces_is_read_as_gift():
    assert parse_file("questions.txt", "一大{=1921}".encode()).format == "gift"
