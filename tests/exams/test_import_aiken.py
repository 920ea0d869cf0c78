"""Aiken import: options A. or A), the ANSWER line, and what goes wrong."""

from __future__ import annotations

import pytest

from lms.errors import ValidationFailed
from lms.exams.questions.importers import parse_file
from lms.exams.questions.importers.aiken import parse_aiken

pytestmark = pytest.mark.usefixtures("english")


AIKEN = """中国共产党的根本组织原则是什么？
A. 民主集中制
B. 集体领导
C) 党管干部
D) 群众路线
ANSWER: A

党的纪律处分有哪些？
A、警告
B、严重警告
C、记大过
Ｄ．开除党籍
答案：ABD
解析：记大过不是党纪处分。
"""


def test_options_with_dot_or_parenthesis_and_the_answer_line():
    result = parse_aiken(AIKEN)
    first, second = result.items

    assert first.ok and first.line == 1
    assert first.question.type == "single"
    assert first.question.options == ["民主集中制", "集体领导", "党管干部", "群众路线"]
    assert first.question.answer == {"choice": 0}
    assert second.line == 8 and second.question.type == "multiple"
    assert second.question.options == ["警告", "严重警告", "记大过", "开除党籍"]
    assert second.question.answer == {"choices": [0, 1, 3]}
    assert second.question.explanation == "记大过不是党纪处分。"


def test_an_answer_letter_with_no_option_is_reported_with_its_line():
    result = parse_aiken("Good?\nA. yes\nB. no\nANSWER: B\n\nBad?\nA. yes\nB. no\nANSWER: E\n")

    assert [item.ok for item in result.items] == [True, False]
    assert result.items[1].line == 6
    assert "option E" in str(result.items[1].problems[0])


def test_a_question_without_answer_line_is_skipped_and_the_next_one_read():
    result = parse_aiken("First?\nA. x\nB. y\nSecond?\nA. x\nB. y\nANSWER: A\n")

    assert [item.ok for item in result.items] == [False, True]
    assert "ANSWER" in str(result.items[0].problems[0])
    assert result.items[1].line == 4


def test_a_question_with_one_option_or_options_out_of_order_is_skipped():
    result = parse_aiken("One?\nA. x\nANSWER: A\n\nOrder?\nA. x\nC. y\nANSWER: A\n")

    assert not result.items[0].ok and "two options" in str(result.items[0].problems[0])
    assert not result.items[1].ok and "out of order" in str(result.items[1].problems[0])


def test_gbk_and_bom_files_decode_and_txt_is_detected_as_aiken():
    for payload in (AIKEN.encode("gbk"), AIKEN.encode("utf-8-sig")):
        result = parse_file("questions.txt", payload)
        assert result.format == "aiken"
        assert result.items[0].question.options[0] == "民主集中制"


def test_an_empty_file_is_refused():
    with pytest.raises(ValidationFailed):
        parse_aiken("\n \n")
