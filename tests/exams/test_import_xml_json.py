"""Moodle XML in and out, JSON import: every export format round-trips to the same questions."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from lms.errors import ValidationFailed
from lms.exams.questions import banks
from lms.exams.questions import demo as demo_banks
from lms.exams.questions.importers import ParsedQuestion, parse_file
from lms.exams.questions.importers.moodle_xml import parse_moodle_xml
from tests.exams.test_export_roundtrip import TRICKY, imported, make_bank

ODD = [
    ParsedQuestion("multiple", "颜色", ["yellow", "red", "blue"], {"choices": [0], "weights": [100.0, -50.0, -50.0]}),
    ParsedQuestion("multiple", "不定项", ["甲", "乙", "丙"], {"choices": [2], "indefinite": True}, difficulty=1),
    ParsedQuestion("fill", "箭头{{1}}，分号{{2}}", [], {"blanks": [["a->b"], ["x;y", "7/1"]]}),
    ParsedQuestion("single", "1 &lt; 2 < 3 & {x}?", ["&amp;", "<b>"], {"choice": 1}, tags=["符号"]),
    ParsedQuestion("fill", "只有一空：{{1}}", [], {"blanks": [["甲", "乙"]]}, explanation="解析"),
]


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


@pytest.mark.parametrize("questions", [TRICKY, ODD, demo_banks.demo_questions()], ids=["tricky", "odd", "demo"])
@pytest.mark.parametrize(
    ("fmt", "filename"),
    [("xlsx", "bank.xlsx"), ("gift", "bank.gift"), ("xml", "bank.xml"), ("json", "bank.json")],
)
def test_every_export_format_imports_back_to_the_same_questions(app, questions, fmt, filename):
    bank = make_bank("往返", questions)
    original = banks.export_questions(bank)
    exporter = {
        "xlsx": banks.export_xlsx,
        "gift": lambda b: banks.export_gift(b).encode(),
        "xml": lambda b: banks.export_moodle_xml(b).encode(),
        "json": lambda b: banks.export_json(b).encode(),
    }[fmt]
    assert imported(filename, exporter(bank)) == original


MOODLE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/top/党史</text></category></question>
  <question type="multichoice">
    <name><text>Colours</text></name>
    <questiontext format="html"><text><![CDATA[<p>Which? <img src="@@PLUGINFILE@@/a.png"></p>]]></text>
      <file name="a.png" path="/" encoding="base64">iVBORw0KGgo=</file></questiontext>
    <generalfeedback format="html"><text>General.</text></generalfeedback>
    <defaultgrade>2.0000000</defaultgrade>
    <single>false</single>
    <answer fraction="100" format="html"><text>yellow</text><feedback format="html"><text>Yes</text></feedback></answer>
    <answer fraction="-50" format="html"><text>red</text></answer>
    <answer fraction="-50" format="html"><text>blue</text></answer>
  </question>
  <question type="truefalse">
    <name><text>TF</text></name>
    <questiontext format="moodle_auto_format"><text>1 &amp;lt; 2</text></questiontext>
    <answer fraction="100"><text>true</text></answer><answer fraction="0"><text>false</text></answer>
  </question>
  <question type="shortanswer">
    <name><text>SA</text></name>
    <questiontext format="html"><text>Capital: ____.</text></questiontext>
    <answer fraction="100"><text>Beijing</text></answer><answer fraction="50"><text>Peking</text></answer>
  </question>
  <question type="multianswer">
    <name><text>Cloze</text></name>
    <questiontext format="html"><text>{1:SHORTANSWER:=1921~=一九二一} in {1:SA:=上海#ok}</text></questiontext>
  </question>
  <question type="essay"><name><text>E</text></name><questiontext><text>Write.</text></questiontext></question>
</quiz>"""


def test_a_moodle_xml_bank_is_read_with_notes_and_reasons(app):
    items = parse_moodle_xml(MOODLE_XML.encode()).items

    colours, tf, sa, cloze, essay = items
    assert colours.question.type == "multiple" and colours.question.points == 2
    assert colours.question.answer == {"choices": [0], "weights": [100.0, -50.0, -50.0]}
    assert colours.question.tags == ["党史"]
    # the embedded "image" is no image: dropped, and said so; the rest had no formatting and reads as plain text
    assert "not an image" in " ".join(str(n) for n in colours.notes)
    assert colours.question.stem == "Which?" and not colours.question.html
    assert "yellow：Yes" in colours.question.explanation and "General." in colours.question.explanation
    assert tf.question.answer == {"value": True} and tf.question.stem == "1 < 2"
    assert sa.question.stem == "Capital: {{1}}." and sa.question.answer == {"blanks": [["Beijing"]]}
    assert sa.notes
    assert cloze.question.stem == "{{1}} in {{2}}"
    assert cloze.question.answer == {"blanks": [["1921", "一九二一"], ["上海"]]}
    assert not essay.ok and "essay" in str(essay.problems[0])


def test_xml_with_entities_is_refused(app):
    bomb = b'<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY a "aaaa">]><quiz>&a;</quiz>'
    with pytest.raises(ValidationFailed):
        parse_file("bank.xml", bomb)


@pytest.mark.parametrize("payload", [b"not json", b"{}", b'[1, {"type": "single"}]'])
def test_bad_json_is_refused_or_reported(app, payload):
    try:
        result = parse_file("bank.json", payload)
    except ValidationFailed:
        return
    assert all(not item.ok and item.problems for item in result.items)
