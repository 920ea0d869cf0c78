"""Export a bank (Excel template, GIFT, JSON) and import it back to the same questions."""

from __future__ import annotations

import json

import pytest

from lms.exams.questions import banks
from lms.exams.questions import demo as demo_banks
from lms.exams.questions.importers import ParsedQuestion, parse_file
from lms.extensions import db

TRICKY = [
    ParsedQuestion("single", "Braces {x} and colon: here? ~ = # \\ ok", ["=1+1", "a#b", "c~d"], {"choice": 0},
                   points=1.5, difficulty=5, tags=["特殊字符"], explanation="Line one\nline two: {ok}", title="T: 1"),
    ParsedQuestion("multiple", "[html] is not a format here", ["一", "二", "三", "四"], {"choices": [1, 2, 3]},
                   points=3, tags=["a", "b"]),
    ParsedQuestion("fill", "{{1}} starts, {{2}} middle, ends {{3}}", [],
                   {"blanks": [["甲", "乙/丙"], ["x", "y"], ["7/1"]]}, explanation="多空"),
    ParsedQuestion("fill", "// looks like a comment {{1}}", [], {"blanks": [["ok"]]}),
    ParsedQuestion("true_false", "第二行\n的判断题", [], {"value": False}, explanation="解析"),
]  # fmt: skip


def make_bank(name: str, questions) -> object:
    bank = banks.create_bank(name, creator=None)
    for question in questions:
        banks.add_question(bank, ParsedQuestion(**question.as_dict()))
    db.session.commit()
    return bank


def imported(filename: str, payload: bytes) -> list[ParsedQuestion]:
    result = parse_file(filename, payload)
    assert not result.skipped, [(i.line, [str(p) for p in i.problems]) for i in result.skipped]
    return [item.question for item in result.items]


@pytest.mark.parametrize("questions", [TRICKY, demo_banks.demo_questions()], ids=["tricky", "demo"])
def test_excel_export_imports_back_to_the_same_questions(app, questions):
    bank = make_bank("源题库", questions)
    original = banks.export_questions(bank)

    assert imported("bank.xlsx", banks.export_xlsx(bank)) == original


@pytest.mark.parametrize("questions", [TRICKY, demo_banks.demo_questions()], ids=["tricky", "demo"])
def test_gift_export_imports_back_to_the_same_questions(app, questions):
    bank = make_bank("源题库", questions)
    original = banks.export_questions(bank)

    assert imported("bank.gift", banks.export_gift(bank).encode()) == original


def test_a_bank_copied_through_gift_into_another_bank_has_the_same_questions(app, tmp_path):
    from lms.auth.models import Role, User

    admin = User(username="a", name="a", role=Role.ADMIN, password_hash="x")
    db.session.add(admin)
    source = make_bank("源题库", TRICKY)
    target = banks.create_bank("目标题库", creator=admin)
    report = banks.prepare_import(
        target, "x.gift", banks.export_gift(source).encode(), None, admin=admin, now=banks_now()
    )
    banks.confirm_import(report.token, admin=admin, now=banks_now())
    db.session.commit()

    assert banks.export_questions(target) == banks.export_questions(source)


def banks_now():
    from lms import clock

    return clock.utcnow()


def test_json_export_has_one_object_per_question_with_readable_answers(app):
    bank = make_bank("源题库", TRICKY)
    objects = json.loads(banks.export_json(bank))

    assert len(objects) == len(TRICKY)
    assert set(objects[0]) >= {"type", "stem", "options", "answers", "points", "tags", "explanation"}
    assert [o["answers"] for o in objects] == [
        ["A"],
        ["B", "C", "D"],
        [["甲", "乙/丙"], ["x", "y"], ["7/1"]],
        [["ok"]],
        [False],
    ]
    assert objects[0]["points"] == 1.5 and objects[0]["tags"] == ["特殊字符"]


def test_disabled_questions_are_left_out_of_exports_unless_asked(app):
    bank = make_bank("源题库", TRICKY)
    question = bank.questions[0]
    banks.set_question_disabled(question, True)
    db.session.commit()

    assert len(json.loads(banks.export_json(bank))) == len(TRICKY) - 1
    assert len(json.loads(banks.export_json(bank, include_disabled=True))) == len(TRICKY)


def test_the_downloadable_template_imports_its_own_examples(app):
    result = parse_file("template.xlsx", banks.template_xlsx())

    assert [item.question.type for item in result.items] == ["single", "multiple", "true_false", "fill"]
    assert all(item.ok for item in result.items)
