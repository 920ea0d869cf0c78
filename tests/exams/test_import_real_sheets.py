"""Question workbooks as admins really fill them in (issue #13): title rows, a 说明 sheet,
section rows, merged 题型 cells, header synonyms, odd difficulty words and answers."""

from __future__ import annotations

import io

import pytest
from flask_babel import force_locale
from openpyxl import Workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from lms.errors import ValidationFailed
from lms.exams.questions import banks
from lms.exams.questions.importers import parse_file
from lms.exams.questions.importers.xlsx_csv import parse_table
from lms.exams.questions.models import QuestionType
from lms.exams.questions.types import grade

HEADER = ["*题型", "试题内容（必填）", "选项1", "选项2", "选项3", "选项4", "正确答案", "答案解析", "分数", "难易程度"]


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


def as_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def real_workbook() -> bytes:
    """A 说明 sheet first, then a titled sheet with sections and merged type cells."""
    workbook = Workbook()
    notes = workbook.active
    notes.title = "说明"
    notes.append(["填写说明：题型、试题内容、正确答案为必填项。"])
    notes.append(["答案填写选项字母。"])
    sheet = workbook.create_sheet("题库")
    sheet.append(["2024年党史学习教育知识竞赛题库"])
    sheet.merge_cells("A1:J1")
    sheet.append(["（请按模板填写，勿改表头）"])
    sheet.append(HEADER)  # row 3
    sheet.append(["一、单选题（共3题，每题1分）"])  # row 4
    sheet.merge_cells("A4:J4")
    sheet.append(["单选题", "中共一大在（ ）召开。", "北京", "上海", "广州", "武汉", "B", "", "1", "易"])  # row 5
    sheet.append([None, "遵义会议召开于（ ）年。", "1934", "1935", "1936", "1937", "b", "", "1", "中"])  # row 6
    sheet.append([None, "党的根本宗旨是（ ）。", "全心全意为人民服务", "发展经济", "改革开放", "科教兴国",
                  "Ａ", "", "1", "难"])  # row 7  # fmt: skip
    sheet.merge_cells("A5:A7")
    sheet.append(["二、多选题"])  # row 8
    sheet.append([None, "“三会”包括（ ）。", "支部党员大会", "支部委员会", "党小组会", "民主生活会", "ABC", "", "2",
                  "高"])  # fmt: skip
    sheet.append(["不定项选择题", "属于党的纪律的是（ ）。", "政治纪律", "吃饭", "睡觉", "旅游", "A", "", "2",
                  "★★"])  # fmt: skip
    sheet.append(["三、判断题（正确的选A，错误的选B）"])  # row 11
    sheet.append([None, "预备党员的预备期为一年。", "错误", "正确", None, None, "B", "", "1", "N/A"])  # row 12
    sheet.append([None, "党的最高领导机关是中央委员会。", "错误", "正确", None, None, "A", "", "1", "难度3"])
    sheet.append(["四、填空题"])  # row 14
    sheet.append([None, "民主集中制的原则是        。", None, None, None, None, "民主基础上的集中和集中指导下的民主",
                  "", "1", "低"])  # fmt: skip
    sheet.append([None, "中国共产党成立于____年，一大在____召开。", None, None, None, None, "1921；上海"])
    sheet.append([None, "____、____是党的两个务必。", None, None, None, None, "谦虚谨慎、艰苦奋斗"])
    return as_bytes(workbook)


def by_row(result):
    return {item.line: item for item in result.items}


def test_the_question_sheet_header_row_sections_and_merged_types_are_found(app):
    result = parse_table("bank.xlsx", real_workbook())
    rows = by_row(result)

    assert sorted(rows) == [5, 6, 7, 9, 10, 12, 13, 15, 16, 17]  # section rows are no items
    assert all(item.ok for item in result.items), {i.line: [str(p) for p in i.problems] for i in result.items}
    assert [rows[n].question.type for n in (5, 6, 7)] == ["single"] * 3  # merged 题型 applies to each row
    assert rows[6].question.answer == {"choice": 1}
    assert rows[7].question.answer == {"choice": 0}  # full-width Ａ
    assert rows[9].question.type == "multiple"  # type from the section row above
    assert rows[9].question.points == 2


def test_difficulty_words_stars_and_unknown_values_never_crash(app):
    rows = by_row(parse_table("bank.xlsx", real_workbook()))

    assert [rows[n].question.difficulty for n in (5, 6, 7, 9, 10, 15)] == [1, 3, 5, 5, 2, 1]
    assert rows[13].question.difficulty == 3  # 难度3
    assert rows[12].question.difficulty == 3
    assert any("N/A" in str(note) for note in rows[12].notes)  # not understood: said so


def test_indefinite_choice_imports_with_one_right_option_and_grades(app):
    question = by_row(parse_table("bank.xlsx", real_workbook()))[10].question

    assert question.type == "multiple"
    assert question.answer == {"choices": [0], "indefinite": True}
    assert grade(QuestionType.MULTIPLE, question.answer, {"choices": [0]}, 2).points == 2


def test_true_false_answered_by_letter_follows_the_option_text(app):
    rows = by_row(parse_table("bank.xlsx", real_workbook()))

    assert rows[12].question.answer == {"value": True}  # B = 正确
    assert rows[13].question.answer == {"value": False}  # A = 错误
    assert any("正确" in str(note) for note in rows[12].notes)


def test_blanks_as_spaces_and_answers_separated_by_semicolon_or_comma(app):
    rows = by_row(parse_table("bank.xlsx", real_workbook()))

    assert rows[15].question.stem == "民主集中制的原则是{{1}}。"
    assert rows[16].question.answer == {"blanks": [["1921"], ["上海"]]}
    assert rows[17].question.answer == {"blanks": [["谦虚谨慎"], ["艰苦奋斗"]]}


def test_underlined_spaces_in_rich_text_are_a_blank(app):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["题型", "题干", "答案"])
    stem = CellRichText("党的宗旨是", TextBlock(InlineFont(u="single"), "      "), "。")
    sheet.append(["填空题", None, "全心全意为人民服务"])
    sheet["B2"].value = stem
    item = parse_table("bank.xlsx", as_bytes(workbook)).items[0]

    assert item.ok and item.question.stem == "党的宗旨是{{1}}。"


def test_percentages_dates_and_decimals_read_as_displayed(app):
    from datetime import datetime

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["题型", "题干", "选项A", "选项B", "答案"])
    sheet.append(["单选题", "比例是（ ）", 0.005, 0.5, "A"])
    sheet["C2"].number_format = "0.0%"
    sheet["D2"].number_format = "0%"
    sheet.append(["单选题", "新中国成立于（ ）", datetime(1949, 10, 1), datetime(1921, 7, 1), "A"])
    sheet["C3"].number_format = "yyyy/m/d"
    sheet["D3"].number_format = 'yyyy"年"m"月"d"日"'
    sheet.append(["填空题", "圆周率约为____", None, None, 3.14])
    sheet["E4"].number_format = "0.00"
    items = parse_table("bank.xlsx", as_bytes(workbook)).items

    assert items[0].question.options == ["0.5%", "50%"]
    assert items[1].question.options == ["1949/10/1", "1921年7月1日"]
    assert items[2].question.answer == {"blanks": [["3.14"]]}


def test_columns_not_understood_and_a_three_level_scale_are_reported(app):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["题型", "题干", "选项A", "选项B", "答案", "难度（1-3）", "出题人"])
    sheet.append(["单选题", "问题一", "甲", "乙", "A", 3, "张三"])
    sheet.append(["单选题", "问题二", "甲", "乙", "A", 2, "李四"])
    result = parse_table("bank.xlsx", as_bytes(workbook))

    assert [item.question.difficulty for item in result.items] == [5, 3]
    notes = " ".join(str(note) for note in result.notes)
    assert "出题人" in notes and "3-level" in notes


def test_a_sheet_without_any_header_row_is_refused_clearly(app):
    workbook = Workbook()
    workbook.active.append(["随便写的", "内容"])
    with pytest.raises(ValidationFailed) as error:
        parse_table("bank.xlsx", as_bytes(workbook))
    assert "header row" in str(error.value.message)


def test_no_row_crashes_the_import_and_the_upload_never_500s(app, monkeypatch):
    from lms.exams.questions.importers import xlsx_csv

    def broken(values, **kwargs):
        raise AttributeError("'int' object has no attribute 'is_integer'")

    monkeypatch.setattr(xlsx_csv, "question_from_values", broken)
    result = parse_file("bank.xlsx", real_workbook())
    assert result.items and all(not item.ok for item in result.items)
    assert "could not be read" in str(result.items[0].problems[0])


def test_a_parser_failure_becomes_a_file_message(app, monkeypatch):
    from lms.exams.questions.importers import gift

    monkeypatch.setattr(gift, "parse_gift", lambda payload: 1 / 0)
    with pytest.raises(ValidationFailed) as error:
        parse_file("bank.gift", b"Q{T}")
    assert "could not be read" in str(error.value.message)


def test_a_semicolon_inside_a_fill_answer_survives_export_and_reimport(app):
    from lms.exams.questions.importers.common import ParsedQuestion
    from tests.exams.test_export_roundtrip import imported, make_bank

    questions = [
        ParsedQuestion(type="fill", stem="写出：{{1}}", answer={"blanks": [["a;b", "c；d", "e"]]}),
        ParsedQuestion(type="fill", stem="{{1}}和{{2}}", answer={"blanks": [["7/1"], ["x;y"]]}),
        ParsedQuestion(
            type="multiple", stem="哪些？", options=["甲", "乙", "丙"], answer={"choices": [1], "indefinite": True}
        ),
        ParsedQuestion(
            type="multiple",
            stem="加权？",
            options=["甲", "乙", "丙"],
            answer={"choices": [0, 2], "weights": [50.0, -100.0, 50.0]},
        ),
    ]
    bank = make_bank("分号", questions)
    original = banks.export_questions(bank)
    assert imported("bank.xlsx", banks.export_xlsx(bank)) == original
