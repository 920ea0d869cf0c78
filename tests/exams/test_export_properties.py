"""Property tests: any valid question survives GIFT and Excel export and import unchanged,
and no text, however odd, makes the parsers fail with anything but a file-level message."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lms.errors import ValidationFailed
from lms.exams.questions.importers import ParsedQuestion, finish_question, parse_file
from lms.exams.questions.importers.aiken import parse_aiken
from lms.exams.questions.importers.gift import parse_gift, write_gift
from lms.exams.questions.importers.xlsx_csv import HEADER, export_rows
from lms.spreadsheets import xlsx_bytes

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# The characters that matter to the formats, plus ordinary Chinese and Latin text.
SPECIAL = "~=#{}:\\[]%/|；;、，,()（）_ \n"
text = st.text(alphabet=st.sampled_from(list("党章一大ABCxyz019") + list(SPECIAL)), min_size=1, max_size=30)
line = text.map(lambda value: value.replace("\n", " "))
word = st.text(alphabet=st.sampled_from(list("党章一大ABCxyz019~=#{}:%/ []")), min_size=1, max_size=12)
tag = st.text(alphabet=st.sampled_from(list("党史章程ABC12 -")), min_size=1, max_size=10)


@st.composite
def questions(draw) -> ParsedQuestion:
    kind = draw(st.sampled_from(["single", "multiple", "true_false", "fill"]))
    common = {
        "points": draw(st.sampled_from([0.5, 1.0, 2.0, 2.5, 10.0])),
        "difficulty": draw(st.integers(1, 5)),
        "tags": draw(st.lists(tag, max_size=3)),
        "explanation": draw(st.one_of(st.just(""), text)),
        "title": draw(st.one_of(st.just(""), line)),
    }
    if kind in ("single", "multiple"):
        options = draw(st.lists(line, min_size=2, max_size=8))
        if kind == "single":
            answer = {"choice": draw(st.integers(0, len(options) - 1))}
        else:
            answer = {"choices": draw(st.lists(st.integers(0, len(options) - 1), min_size=2, max_size=8, unique=True))}
        return ParsedQuestion(kind, draw(text), options, answer, **common)
    if kind == "true_false":
        return ParsedQuestion(kind, draw(text), [], {"value": draw(st.booleans())}, **common)
    pieces = draw(st.lists(line, min_size=1, max_size=4))
    blanks = draw(st.lists(st.lists(word, min_size=1, max_size=3), min_size=len(pieces), max_size=len(pieces)))
    stem = "".join(f"{piece}{{{{{n}}}}}" for n, piece in enumerate(pieces, start=1))
    return ParsedQuestion(kind, stem, [], {"blanks": blanks}, **common)


def valid(question: ParsedQuestion) -> ParsedQuestion:
    assume(not finish_question(question))
    return question


@SETTINGS
@given(st.lists(questions(), min_size=1, max_size=4))
def test_any_valid_question_survives_gift(app, drawn):
    originals = [valid(q) for q in drawn]
    result = parse_gift(write_gift(originals, "bank"))

    assert [item.question for item in result.items] == originals


@settings(SETTINGS, max_examples=60)
@given(st.lists(questions(), min_size=1, max_size=4))
def test_any_valid_question_survives_the_excel_template(app, drawn):
    originals = [valid(q) for q in drawn]
    for question in originals:  # the table's own limits, documented on the import page
        for blank in question.answer.get("blanks", []):
            assume(not any(ch in w for w in blank for ch in "|｜;；") and len(blank) == len(set(blank)))
        assume(not any(ch in t for t in question.tags for ch in ",，;；、|｜"))
    result = parse_file("bank.xlsx", xlsx_bytes([("q", HEADER, export_rows(originals))]))

    assert [item.question for item in result.items] == originals


FORMAT_TEXT = st.text(alphabet=st.sampled_from(list(SPECIAL + "\n\n\tTFAB.)ANSWER:$CATEGORY/#->党x")), max_size=300)


@pytest.mark.parametrize("parse", [parse_gift, parse_aiken])
@SETTINGS
@given(st.one_of(st.text(max_size=300), FORMAT_TEXT))
def test_no_text_breaks_the_text_parsers(app, parse, source):
    try:
        result = parse(source)
    except ValidationFailed:
        return
    for item in result.items:
        assert item.ok or item.problems
