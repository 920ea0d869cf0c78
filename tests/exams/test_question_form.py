"""The question form: weights typed next to each option (权重 %) when a multiple-choice question is scored by
weights, their errors on their own fields, the typed answer syntax still read, and the page usable on a phone."""

from __future__ import annotations

import re

import pytest

from lms.auth.models import Role
from lms.exams.questions import banks
from lms.exams.questions.importers import ParsedQuestion
from lms.exams.questions.models import Question
from lms.extensions import db


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


@pytest.fixture
def as_admin(client, login, admin):
    login(admin)
    with client.session_transaction() as session:
        session["locale"] = "en"
    return client


@pytest.fixture
def bank(admin):
    bank = banks.create_bank("权重", creator=admin)
    db.session.commit()
    return bank


def form_data(**fields) -> dict:
    data = {"type": "multiple", "text_format": "", "title": "", "stem": "哪些颜色是暖色？", "scoring": "weighted",
            "answer": "", "explanation": "", "points": "2", "difficulty": "3", "tags": "",
            "option_a": "红", "option_b": "橙", "option_c": "蓝", "option_d": "绿"}  # fmt: skip
    return {**data, **fields}


def only_question(bank) -> Question:
    return db.session.query(Question).filter_by(bank_id=bank.id).one()


def field_errors(page: str, name: str) -> list[str]:
    """The error messages shown under the input named ``name``."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>(.*?)</div>\s*</div>', page, re.S)
    assert match, name
    return re.findall(r'<div class="invalid-feedback">([^<]*)</div>', match.group(0))


def test_a_weighted_question_is_created_and_edited_through_the_weight_fields(as_admin, bank):
    data = form_data(weight_a="50", weight_b="50%", weight_c="-100", weight_d="")
    response = as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=data)
    assert response.status_code == 302
    question = only_question(bank)
    assert question.answer == {"choices": [0, 1], "weights": [50.0, 50.0, -100.0, 0.0]}

    page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert '<option selected value="weighted">' in page
    for letter, value in (("a", "50"), ("b", "50"), ("c", "-100"), ("d", "")):
        assert re.search(rf'<input[^>]*name="weight_{letter}"[^>]*value="{value}"', page), letter
    assert re.search(r"<div data-answer hidden>", page)  # the letters field is not the key of this question
    assert 'aria-label="Option C weight %"' in page
    assert '<label class="input-group-text" for="weight_c">Weight %' in page

    edited = form_data(weight_a="100", weight_b="", weight_c="-50", weight_d="-50", stem="哪一个是红色？")
    response = as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}", data=edited)
    assert response.status_code == 302
    db.session.refresh(question)
    assert question.answer == {"choices": [0], "weights": [100.0, 0.0, -50.0, -50.0]} and question.version == 2


def test_a_not_one_or_more_question_keeps_its_indefinite_type_with_weights(as_admin, bank):
    data = form_data(type="indefinite", weight_a="100", weight_b="-50", weight_c="-50")
    as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=data)
    question = only_question(bank)
    assert question.answer == {"choices": [0], "weights": [100.0, -50.0, -50.0, 0.0], "indefinite": True}
    page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert '<option selected value="indefinite">' in page and '<option selected value="weighted">' in page


def test_weights_that_are_wrong_are_shown_on_their_fields_and_nothing_is_saved(as_admin, bank):
    page = as_admin.post(
        f"/admin/banks/{bank.id}/questions/new", data=form_data(weight_a="五十", weight_b="50", weight_f="10")
    ).get_data(as_text=True)
    assert field_errors(page, "weight_a") == ["“五十” is not a number."]
    assert field_errors(page, "weight_f") == ["Option F has a weight but no text."]
    assert db.session.query(Question).count() == 0

    page = as_admin.post(
        f"/admin/banks/{bank.id}/questions/new", data=form_data(weight_a="50", weight_b="30")
    ).get_data(as_text=True)
    assert "The positive option weights must add up to 100%." in page
    page = as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=form_data()).get_data(as_text=True)
    assert "Give the right options their weights." in page
    assert db.session.query(Question).count() == 0


def test_letters_scoring_ignores_the_weight_fields_and_the_typed_weights_still_work(as_admin, bank, admin):
    data = form_data(scoring="", answer="AB", weight_a="70", weight_b="30")  # weights left over from switching
    as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=data)
    assert only_question(bank).answer == {"choices": [0, 1]}

    other = banks.create_bank("旧写法", creator=admin)
    db.session.commit()
    as_admin.post(f"/admin/banks/{other.id}/questions/new", data=form_data(scoring="", answer="A:50%, B:50%, C:-100%"))
    assert only_question(other).answer == {"choices": [0, 1], "weights": [50.0, 50.0, -100.0, 0.0]}


def test_a_single_choice_question_never_takes_weights(as_admin, bank):
    as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=form_data(type="single", answer="B", weight_a="100"))
    assert only_question(bank).answer == {"choice": 1}


def test_a_letters_question_opens_with_the_weights_hidden(as_admin, bank, admin):
    question = banks.add_question(bank, ParsedQuestion("multiple", "多选", ["甲", "乙", "丙"], {"choices": [0, 2]}))
    db.session.commit()
    page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert '<option selected value="">By the right letters</option>' in page
    assert re.search(r'<input[^>]*name="answer"[^>]*value="AC"', page)
    assert page.count("data-weight hidden") == 26
