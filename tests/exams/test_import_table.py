"""Excel/CSV question template: every feature, and the broken files people upload."""

from __future__ import annotations

import io
import zipfile

import pytest
from flask_babel import force_locale

from lms.errors import ValidationFailed
from lms.exams.questions.importers import parse_file
from lms.exams.questions.importers.xlsx_csv import HEADER, parse_table, split_options
from lms.spreadsheets import xlsx_bytes

pytestmark = pytest.mark.usefixtures("english")  # messages in English (the msgids); one test checks Chinese


def row(kind, stem, options=(), answer="", explanation="", points="", difficulty="", tags="", title=""):
    cells = list(options) + [""] * (8 - len(options))
    return [kind, stem, *cells, answer, explanation, points, difficulty, tags, title]


def workbook(*rows, header=HEADER) -> bytes:
    return xlsx_bytes([("题库", header, rows)])


def csv_bytes(*rows, encoding="utf-8", header=HEADER) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def problems(item) -> list[str]:
    return [str(problem) for problem in item.problems]


def test_every_question_type_is_read_from_the_excel_template(app):
    payload = workbook(
        row("单选题", "中共一大于（ ）年召开。", ["1919", "1921", "1927"], "B", "1921年7月。", "2", "1", "党史",
            "一大"),
        row("多选题", "“三会”包括（ ）。", ["支部党员大会", "支部委员会", "党小组会", "民主生活会"], "A,B,C", "",
            "3", "4", "三会一课、组织生活"),
        row("判断题", "预备期为一年。", answer="对"),
        row("填空题", "党的宗旨是____，最高理想是实现____。", answer="全心全意为人民服务|共产主义/实现共产主义"),
    )  # fmt: skip
    result = parse_table("bank.xlsx", payload)

    assert [item.ok for item in result.items] == [True, True, True, True]
    assert [item.line for item in result.items] == [2, 3, 4, 5]
    single, multiple, truth, fill = (item.question for item in result.items)
    assert single.type == "single" and single.answer == {"choice": 1} and single.options == ["1919", "1921", "1927"]
    assert (single.points, single.difficulty, single.tags, single.title) == (2.0, 1, ["党史"], "一大")
    assert single.explanation == "1921年7月。"
    assert multiple.answer == {"choices": [0, 1, 2]} and multiple.tags == ["三会一课", "组织生活"]
    assert (multiple.points, multiple.difficulty) == (3.0, 4)
    assert truth.answer == {"value": True} and truth.options == [] and truth.points == 1.0 and truth.difficulty == 3
    assert fill.stem == "党的宗旨是{{1}}，最高理想是实现{{2}}。"
    assert fill.answer == {"blanks": [["全心全意为人民服务"], ["共产主义", "实现共产主义"]]}


@pytest.mark.parametrize(
    ("kind", "answer", "expected"),
    [
        ("单选题", "b", {"choice": 1}),
        ("单选", "Ｂ", {"choice": 1}),
        ("single choice", " B ", {"choice": 1}),
        ("多选题", "ABD", {"choices": [0, 1, 3]}),
        ("多项选择题", "A、B、D", {"choices": [0, 1, 3]}),
        ("multiple", "d,a b", {"choices": [0, 1, 3]}),
        ("判断题", "正确", {"value": True}),
        ("判断", "错误", {"value": False}),
        ("true/false", "√", {"value": True}),
        ("TF", "×", {"value": False}),
        ("判断题", "T", {"value": True}),
        ("判断题", "false", {"value": False}),
        ("判断题", "错", {"value": False}),
    ],
)
def test_answers_are_understood_in_the_usual_spellings(app, kind, answer, expected):
    options = ["甲", "乙", "丙", "丁"] if "选" in kind or kind.startswith(("single", "multiple")) else []
    result = parse_table("bank.xlsx", workbook(row(kind, "题干", options, answer)))

    assert result.items[0].ok, problems(result.items[0])
    assert result.items[0].question.answer == expected


def test_fill_in_blanks_accept_alternatives_separated_by_slash_or_semicolon(app):
    result = parse_table(
        "bank.xlsx",
        workbook(row("填空题", "（ ）年，（ ）召开了中共一大。", answer="1921/一九二一|7/1；七月一日 ；七一")),
    )

    assert result.items[0].question.answer == {"blanks": [["1921", "一九二一"], ["7/1", "七月一日", "七一"]]}
    assert result.items[0].question.stem == "{{1}}年，{{2}}召开了中共一大。"


def test_a_fill_in_stem_without_a_blank_gets_one_at_its_end(app):
    result = parse_table("bank.xlsx", workbook(row("填空题", "党的最高理想是什么？", answer="共产主义")))

    assert result.items[0].question.stem == "党的最高理想是什么？{{1}}"


def test_a_fill_in_stem_with_the_wrong_number_of_blanks_is_skipped_with_the_reason(app):
    result = parse_table("bank.xlsx", workbook(row("填空题", "____和____", answer="甲")))

    assert not result.items[0].ok
    assert "2" in problems(result.items[0])[0] and "1" in problems(result.items[0])[0]


def test_each_bad_row_is_skipped_with_its_row_number_and_why(app):
    payload = workbook(
        row("单选题", "好题", ["甲", "乙"], "A"),
        row("单选题", "答案字母没有对应选项", ["甲", "乙", "丙"], "E"),
        row("问答题", "未知题型", answer="x"),
        row("单选题", "", ["甲", "乙"], "A"),
        row("多选题", "只有一个正确选项", ["甲", "乙", "丙"], "B"),
        row("单选题", "两个答案", ["甲", "乙", "丙"], "AB"),
        row("判断题", "判断题答案不对", answer="也许"),
        row("单选题", "只有一个选项", ["甲"], "A"),
        row("单选题", "选项中间空了", ["甲", "", "丙"], "A"),
        row("单选题", "分值不对", ["甲", "乙"], "A", points="abc"),
        row("单选题", "难度不对", ["甲", "乙"], "A", difficulty="9"),
        row("单选题", "没有答案", ["甲", "乙"], ""),
        row("单选题", "选项重复", ["甲", "甲"], "A"),
    )
    result = parse_table("bank.xlsx", payload)

    assert [item.ok for item in result.items] == [True] + [False] * 12
    by_line = {item.line: " ".join(problems(item)) for item in result.items}
    assert "option E" in by_line[3] and "A–C" in by_line[3]
    assert "问答题" in by_line[4]
    assert "stem" in by_line[5]
    assert "at least two correct" in by_line[6]
    assert "exactly one answer letter" in by_line[7]
    assert "也许" in by_line[8]
    assert "at least two options" in by_line[9]
    assert "empty while a later one" in by_line[10]
    assert "abc" in by_line[11]
    assert "Difficulty" in by_line[12]
    assert "answer is missing" in by_line[13]
    assert "same text" in by_line[14]
    assert [p.field for p in result.items[1].problems] == ["answer"]


def test_messages_are_translated_to_chinese_for_chinese_readers(app):
    with force_locale("zh_Hans"):
        result = parse_table("bank.xlsx", workbook(row("单选题", "答案字母没有对应选项", ["甲", "乙"], "E")))
        assert "选项" in problems(result.items[0])[0]


def test_english_headers_and_a_sheet_without_optional_columns_are_read(app):
    header = ["type", "question", "A", "B", "answer"]
    result = parse_table("bank.xlsx", xlsx_bytes([("q", header, [["single", "Which?", "x", "y", "B"]])]))

    assert result.items[0].question.answer == {"choice": 1}


def test_a_sheet_missing_required_columns_is_refused_naming_them(app):
    with pytest.raises(ValidationFailed) as error:
        parse_table("bank.xlsx", xlsx_bytes([("q", ["题干", "选项A"], [["x", "y"]])]))

    assert "题型" in str(error.value.message) and "答案" in str(error.value.message)


def test_csv_in_utf8_with_bom_and_in_gbk_is_read(app):
    rows = [row("单选题", "中国共产党的根本组织原则是（ ）。", ["民主集中制", "集体领导"], "A")]
    for payload in (csv_bytes(*rows, encoding="utf-8-sig"), csv_bytes(*rows, encoding="gbk")):
        result = parse_file("bank.csv", payload)
        assert result.format == "csv"
        assert result.items[0].question.stem == "中国共产党的根本组织原则是（ ）。"
        assert result.items[0].question.options == ["民主集中制", "集体领导"]


def test_a_csv_that_is_not_text_is_refused(app):
    with pytest.raises(ValidationFailed) as error:
        parse_file("bank.csv", b"\x00\x01\x02\xff\xfe" * 50)
    assert "UTF-8" in str(error.value.message)


def test_a_template_with_only_the_header_is_refused_as_empty(app):
    with pytest.raises(ValidationFailed) as error:
        parse_table("bank.xlsx", workbook())
    assert "no questions" in str(error.value.message)


def test_an_xlsx_that_is_not_a_workbook_is_refused(app):
    with pytest.raises(ValidationFailed) as error:
        parse_file("bank.xlsx", b"this is plain text pretending to be a workbook")
    assert "not a valid Excel workbook" in str(error.value.message)

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("word/document.xml", "<w/>")
    with pytest.raises(ValidationFailed):
        parse_file("bank.xlsx", archive.getvalue())


def test_an_xlsx_zip_bomb_is_refused_before_it_is_expanded(app):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as handle:
        handle.writestr("[Content_Types].xml", "<Types/>")
        with handle.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"0" * (1024 * 1024)
            for _ in range(101):
                member.write(chunk)
    payload = archive.getvalue()
    assert len(payload) < 1024 * 1024  # small on disk, 101 MB expanded

    with pytest.raises(ValidationFailed) as error:
        parse_file("bank.xlsx", payload)
    assert "expands to more than" in str(error.value.message)


def test_an_old_xls_file_gets_a_clear_message(app):
    with pytest.raises(ValidationFailed) as error:
        parse_file("bank.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    assert ".xlsx" in str(error.value.message)


@pytest.mark.parametrize(
    ("cell", "options"),
    [
        ("A.人民民主专政|B.人民代表大会制度|C.民主集中制", ["人民民主专政", "人民代表大会制度", "民主集中制"]),
        ("A、甲 B、乙 C、丙 D、丁", ["甲", "乙", "丙", "丁"]),
        ("Ａ．党旗\nＢ．国旗", ["党旗", "国旗"]),
        ("(A)三个月；(B)六个月", ["三个月", "六个月"]),
        ("A:1921年;B:1927年;C:1949年", ["1921年", "1927年", "1949年"]),
        ("A.维生素B.族|B.蛋白质", ["维生素B.族", "蛋白质"]),  # a letter inside an option is not a cut
        ("党旗\n国旗\n党徽", ["党旗", "国旗", "党徽"]),
        ("党旗|国旗", ["党旗", "国旗"]),
        ("党旗；国旗", ["党旗", "国旗"]),
        ("B.不从A开始|C.乙", ["B.不从A开始", "C.乙"]),
    ],
)
def test_options_in_one_cell_are_split_at_their_letters_or_separators(cell, options):
    assert split_options(cell) == options


def test_a_sheet_from_another_exam_system_with_all_options_in_one_column_is_read(app):
    header = ["试题类型", "试题内容", "选项", "正确答案", "所属知识点"]
    rows = [["单选题", "我国的国体是（ ）。", "A.人民民主专政|B.人民代表大会制度", "A", "宪法"],
            ["多选题", "新发展理念包括（ ）。", "A.创新\nB.协调\nC.绿色", "ABC", "二十大"],
            ["单选题", "没有选项的单选题", "", "A", ""]]  # fmt: skip
    result = parse_table("export.csv", csv_bytes(*rows, header=header))
    first, second, third = result.items
    assert first.question.options == ["人民民主专政", "人民代表大会制度"] and first.question.tags == ["宪法"]
    assert second.question.answer == {"choices": [0, 1, 2]} and len(second.question.options) == 3
    assert "The answer names option A, but the question has no options." in problems(third)
    assert not result.notes  # every column understood
