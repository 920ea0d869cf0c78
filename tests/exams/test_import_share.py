"""The share of questions imported right from files as they really come (issue #13): workbooks built the
way admins fill them, Moodle's own GIFT and Aiken test inputs, a Moodle XML export with HTML and images.

Each file comes with what a careful person reads in it: per question, the type and key it must import
with, or ``SKIP`` when the platform has no such question type (then it must be skipped with a reason).
A question counts as right when it matches; the share over all files must be at least 97%, and no
file may make an import fail. Run with ``-s`` to see the figure.
"""

from __future__ import annotations

import base64
import datetime
import io
from pathlib import Path

from flask_babel import force_locale
from openpyxl import Workbook
from PIL import Image

from lms.exams.questions.importers import parse_file
from tests.exams import share_corpus
from tests.exams.test_import_real_sheets import as_bytes, real_workbook

FIXTURES = Path(__file__).parent / "fixtures" / "moodle"
SKIP = "skip"


def second_workbook() -> bytes:
    """Another admin's template: other header words, full-width letters, a 1–3 scale, odd answers."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["XX支部 2024 年度应知应会题库"])
    sheet.merge_cells("A1:K1")
    sheet.append(["题目类型", "题目", "选项Ａ", "选项Ｂ", "选项Ｃ", "选项Ｄ", "选项Ｅ", "参考答案", "试题解析",
                  "分值", "难度（1-3）"])  # fmt: skip
    rows = [
        ["单项选择题", "党的最高理想是（ ）。", "共产主义", "小康", "富强", "", "", " a ", "", "1", "1"],
        ["多项选择题", "“四个意识”包括（ ）。", "政治意识", "大局意识", "核心意识", "看齐意识", "娱乐意识",
         "A、B、C、D", "", "2", "2"],
        ["多选", "下列属于党的纪律的有（ ）。", "政治纪律", "组织纪律", "廉洁纪律", "", "", "A,B,C", "", "2", "3"],
        ["是非题", "党员有权参加党的有关会议。", "", "", "", "", "", "√", "", "1", ""],
        ["判断", "党员可以信仰宗教。", "", "", "", "", "", "×", "", "1", ""],
        ["判断题", "入党誓词共八十字。", "", "", "", "", "", "对", "", "1", ""],
        ["填空", "中国共产党的根本组织原则是____。", "", "", "", "", "", "民主集中制", "", "1", ""],
        ["填空题", "党的三大优良作风：理论联系实际、____、____。", "", "", "", "", "",
         "密切联系群众|批评与自我批评", "", "2", ""],
        ["单选", "党的建设的主线是（ ）。", "长期执政能力建设和先进性纯洁性建设", "思想建设", "组织建设", "",
         "", "Ａ", "", "1", ""],
        ["不定项", "属于“两学一做”的是（ ）。", "学党章党规", "学系列讲话", "做合格党员", "做生意", "",
         "ABC", "", "2", ""],
        ["多选题", "颜色（按权重计分）", "红", "黄", "蓝", "", "", "A:50%, B:50%, C:-100%", "", "2", ""],
        ["单选题", "百分比：党员缴纳党费的比例可为（ ）。", 0.005, 0.01, 0.02, "", "", "A", "", "1", ""],
        ["单选题", "中华人民共和国成立于（ ）。", datetime.date(1949, 10, 1), datetime.date(1921, 7, 1), "", "",
         "", "A", "", "1", ""],
    ]  # fmt: skip
    for row in rows:
        sheet.append(row)
    sheet["C14"].number_format = sheet["D14"].number_format = sheet["E14"].number_format = "0.0%"
    sheet["C15"].number_format = sheet["D15"].number_format = "yyyy/m/d"
    return as_bytes(workbook)


SECOND_EXPECTED = [
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 1, 2, 3]}),
    ("multiple", {"choices": [0, 1, 2]}),
    ("true_false", {"value": True}),
    ("true_false", {"value": False}),
    ("true_false", {"value": True}),
    ("fill", {"blanks": [["民主集中制"]]}),
    ("fill", {"blanks": [["密切联系群众"], ["批评与自我批评"]]}),
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 1, 2], "indefinite": True}),
    ("multiple", {"choices": [0, 1], "weights": [50.0, 50.0, -100.0]}),
    ("single", {"choice": 0}),
    ("single", {"choice": 0}),
]
REAL_EXPECTED = [
    ("single", {"choice": 1}),
    ("single", {"choice": 1}),
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 1, 2]}),
    ("multiple", {"choices": [0], "indefinite": True}),
    ("true_false", {"value": True}),
    ("true_false", {"value": False}),
    ("fill", {"blanks": [["民主基础上的集中和集中指导下的民主"]]}),
    ("fill", {"blanks": [["1921"], ["上海"]]}),
    ("fill", {"blanks": [["谦虚谨慎"], ["艰苦奋斗"]]}),
]
GIFT_EXPECTED = [
    SKIP,  # Q8: essay
    SKIP,  # matching
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 2], "weights": [50.0, -100.0, 50.0, -100.0]}),
    SKIP,  # numerical
    ("fill", {"blanks": [["Frog"]]}),
    ("true_false", {"value": False}),
    ("true_false", {"value": True}),
    ("true_false", {"value": True}),
]
CATEGORY_EXPECTED = [
    SKIP,  # matching
    ("single", {"choice": 1}),
    ("fill", {"blanks": [["Moodler"]]}),
    ("true_false", {"value": True}),
]
AIKEN_EXPECTED = [("single", {"choice": 1}), ("single", {"choice": 0})]
# Moodle's file of broken Aiken questions: the broken ones skipped with the reason, the good ones kept.
AIKEN_ERRORS_EXPECTED = [SKIP, SKIP, ("single", {"choice": 0}), SKIP, ("single", {"choice": 1})]


def moodle_xml_with_images() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (180, 20, 20)).save(buffer, format="PNG")
    image = base64.b64encode(buffer.getvalue()).decode()
    question = """<question type="multichoice"><name><text>{name}</text></name>
      <questiontext format="html"><text><![CDATA[<p>{stem} <img src="@@PLUGINFILE@@/flag.png"></p>]]></text>
      <file name="flag.png" path="/" encoding="base64">{image}</file></questiontext>
      <generalfeedback format="html"><text><![CDATA[<p>见<b>党章</b>。</p>]]></text></generalfeedback>
      <defaultgrade>1</defaultgrade><single>{single}</single>
      <answer fraction="{f1}" format="html"><text><![CDATA[<p>甲</p>]]></text></answer>
      <answer fraction="{f2}" format="html"><text><![CDATA[<p>乙</p>]]></text></answer>
      <answer fraction="{f3}" format="html"><text><![CDATA[<p>H<sub>2</sub>O</p>]]></text></answer>
    </question>"""
    body = "".join(
        question.format(name=f"图{n}", stem=f"看图回答第{n}题", image=image, single=single, f1=a, f2=b, f3=c)
        for n, (single, a, b, c) in enumerate(
            [("true", 100, 0, 0), ("false", 50, 50, -100), ("true", 0, 100, 0), ("false", 100, -50, -50)], start=1
        )
    )
    essay = (
        '<question type="essay"><name><text>论述</text></name>'
        "<questiontext><text>谈体会</text></questiontext></question>"
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><quiz>{body}{essay}</quiz>'.encode()


XML_EXPECTED = [
    ("single", {"choice": 0}),
    ("multiple", {"choices": [0, 1], "weights": [50.0, 50.0, -100.0]}),
    ("single", {"choice": 1}),
    ("multiple", {"choices": [0], "weights": [100.0, -50.0, -50.0]}),
    SKIP,
]


def corpus() -> list[tuple[str, bytes, list]]:
    return [
        ("real.xlsx", real_workbook(), REAL_EXPECTED),
        ("second.xlsx", second_workbook(), SECOND_EXPECTED),
        ("questions.gift.txt", (FIXTURES / "questions.gift.txt").read_bytes(), GIFT_EXPECTED),
        ("category.gift", (FIXTURES / "questions_in_category.gift.txt").read_bytes(), CATEGORY_EXPECTED),
        ("questions.aiken", (FIXTURES / "questions.aiken.txt").read_bytes(), AIKEN_EXPECTED),
        ("errors.aiken", (FIXTURES / "aiken_errors.txt").read_bytes(), AIKEN_ERRORS_EXPECTED),
        ("images.xml", moodle_xml_with_images(), XML_EXPECTED),
        *share_corpus.corpus(),  # files written as admins write them, not to suit the importer
    ]


def right(item, expected) -> bool:
    if expected == SKIP:
        return not item.ok and bool(item.problems)  # skipped, and the reason given
    if len(expected) == 3:  # a fill-in whose blanks must be where the text puts them
        return item.ok and (item.question.type, item.question.answer, item.question.stem) == expected
    return item.ok and (item.question.type, item.question.answer) == expected


def test_the_share_of_questions_imported_right_from_real_files_is_at_least_97_percent(app):
    wrong, total = [], 0
    with force_locale("en"):
        for filename, payload, expected in corpus():
            items = parse_file(filename, payload).items  # no file may break the import
            assert len(items) == len(expected), filename
            total += len(items)
            wrong += [
                (filename, item.line) for item, want in zip(items, expected, strict=True) if not right(item, want)
            ]
    share = (total - len(wrong)) / total
    print(f"\nquestions imported right: {total - len(wrong)}/{total} = {share:.1%}; wrong: {wrong}")
    assert share >= 0.97, wrong


def test_the_html_questions_of_the_moodle_export_keep_their_images_and_formatting(app):
    items = parse_file("images.xml", moodle_xml_with_images()).items
    for item in items[:4]:
        question = item.question
        assert question.html and len(question.images) == 1
        assert "<sub>2</sub>" in question.options[2] and "<b>党章</b>" in question.explanation
