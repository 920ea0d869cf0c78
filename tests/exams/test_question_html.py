"""Questions in HTML: safe HTML kept, images stored as the platform's images, shown safely on every page,
and round trips through every format identical (with weights, 不定项, more than 8 options, tricky fill answers)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import pytest
from PIL import Image

from lms.auth.models import Role
from lms.exams.questions import banks, question_html, stems
from lms.exams.questions.importers import ParsedQuestion, parse_file
from lms.exams.questions.importers.aiken import parse_aiken
from lms.exams.questions.importers.gift import parse_gift
from lms.exams.questions.importers.moodle_xml import parse_moodle_xml
from lms.exams.questions.importers.xlsx_csv import export_table
from lms.exams.questions.models import Question
from lms.extensions import db
from lms.spreadsheets import xlsx_bytes

pytestmark = pytest.mark.usefixtures("english")


def png(colour=(200, 30, 30), size=(12, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def data_uri(payload: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(payload).decode()


def notes_of(item) -> str:
    return " ".join(str(note) for note in item.notes)


# --- Reading HTML -------------------------------------------------------------------


def test_gift_html_keeps_safe_html_and_embedded_images_and_notes_what_it_drops(app):
    source = (
        '[html]<p onclick="steal()">Look: <img src="' + data_uri(png()) + '" alt="flag"> '
        '<script>alert(1)</script><iframe src="https://evil.example"></iframe>'
        '<a href="javascript:alert(1)">bad</a> <a href="https://www.12371.cn/">good</a> '
        '<img src="https://example.com/x.png">H<sub>2</sub>O</p>'
        "<table><tr><td>a</td></tr></table>{=是 ~否}"
    )
    item = parse_gift(source).items[0]

    question = item.question
    assert item.ok and question.html
    [name] = question.images
    assert re.fullmatch(r"[0-9a-f]{32}\.(png|jpg)", name)
    assert f'<img src="@@PLUGINFILE@@/{name}" alt="flag">' in question.stem
    assert '<a href="https://www.12371.cn/" rel="noopener noreferrer">good</a>' in question.stem
    assert "<sub>2</sub>" in question.stem and "<table>" in question.stem
    for dropped in ("script", "alert", "iframe", "onclick", "javascript", "example.com"):
        assert dropped not in question.stem
    notes = notes_of(item)
    assert "<iframe>" in notes and "<script>" in notes  # disallowed tags named
    assert "on… handlers" in notes
    assert "https://example.com/x.png" in notes  # an external image is not fetched, and said so


def test_html_with_only_paragraphs_stays_plain_text(app):
    item = parse_gift("[html]<p>第一段</p><p>1 &lt; 2</p>{T}").items[0]
    assert not item.question.html and item.question.stem == "第一段\n1 < 2"


def test_moodle_xml_plugin_files_become_images_and_bad_ones_are_noted(app):
    good = base64.b64encode(png()).decode()
    xml = f"""<?xml version="1.0" encoding="UTF-8"?><quiz>
    <question type="multichoice"><name><text>Q</text></name>
      <questiontext format="html"><text><![CDATA[<p>Flag <img src="@@PLUGINFILE@@/flag%20one.png"> and
        <img src="@@PLUGINFILE@@/missing.png"> and <img src="@@PLUGINFILE@@/bad.png"></p>]]></text>
        <file name="flag one.png" path="/" encoding="base64">{good}</file>
        <file name="bad.png" path="/" encoding="base64">bm90IGFuIGltYWdl</file></questiontext>
      <single>true</single>
      <answer fraction="100" format="html"><text><![CDATA[<b>red</b>]]></text></answer>
      <answer fraction="0" format="html"><text>blue</text></answer>
    </question></quiz>"""
    item = parse_moodle_xml(xml.encode()).items[0]

    assert item.ok and item.question.html
    [name] = item.question.images
    assert item.question.stem.count("<img") == 1 and f"@@PLUGINFILE@@/{name}" in item.question.stem
    assert item.question.options == ["<b>red</b>", "blue"]
    notes = notes_of(item)
    assert "missing.png" in notes and "not an image" in notes


# --- Storing and showing ------------------------------------------------------------


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


def html_question(image: bytes) -> ParsedQuestion:
    return ParsedQuestion(
        "single",
        f'<p>看图：<img src="{data_uri(image)}" alt="图"> <b>哪一个</b>？</p>',
        ["<i>甲</i>", "乙"],
        {"choice": 0},
        explanation="<ul><li>解析一</li></ul>",
        html=True,
    )


def adopted(question: ParsedQuestion) -> ParsedQuestion:
    from lms.exams.questions.importers.common import adopt_html

    adopt_html(question, [])
    return question


def test_imported_images_are_stored_reencoded_under_their_digest_and_served_to_members(
    app, client, login, make_user, admin
):
    bank = banks.create_bank("图题", creator=admin)
    question = banks.add_question(bank, adopted(html_question(png())))
    db.session.commit()

    [name] = question_html.referenced_images(question.stem)
    path = question_html.image_path(name)
    assert path is not None and name.startswith(question_html.hashlib.sha256(path.read_bytes()).hexdigest()[:32])
    assert question.stem.startswith(question_html.MARK) and all(
        o.startswith(question_html.MARK) for o in question.options
    )

    assert client.get(f"/question-images/{name}").status_code in (302, 401)  # signed-in users only
    login(make_user())
    response = client.get(f"/question-images/{name}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"  # an opaque image: re-encoded as JPEG
    assert client.get("/question-images/..%2f..%2fsecret.png").status_code == 404


def test_html_renders_cleaned_and_plain_text_stays_escaped(app):
    with app.test_request_context():
        shown = str(stems.stem_html(question_html.MARK + '<p>a<script>x()</script><img src="@@PLUGINFILE@@/'
                                    + "a" * 32 + '.png"> {{1}}</p>'))  # fmt: skip
        assert "<script>" not in shown and 'src="/question-images/' + "a" * 32 + '.png"' in shown
        assert 'class="quiz-gap"' in shown
        assert str(stems.stem_html("<b>plain</b> {{1}}")).startswith("&lt;b&gt;plain&lt;/b&gt;")
        assert str(question_html.render("<i>x</i>")) == "&lt;i&gt;x&lt;/i&gt;"
        assert str(stems.stem_html(question_html.MARK + "<p><b>长</b>题干</p>", 2)) == "长题…"  # shortened: text


def test_an_html_question_is_shown_safely_when_taken_and_reviewed(client, login, make_user, make_quiz, admin):
    bank = banks.create_bank("图题", creator=admin)
    question = banks.add_question(bank, adopted(html_question(png())))
    plain = banks.add_question(bank, ParsedQuestion("true_false", "<b>不是粗体</b>", [], {"value": True}))
    fill_in = ParsedQuestion("fill", "<p><b>填空</b>：{{1}}。</p>", [], {"blanks": [["甲"]]}, html=True)
    fill = banks.add_question(bank, adopted(fill_in))
    db.session.commit()
    login(make_user())
    quiz = make_quiz([question, plain, fill])
    attempt_id = int(client.post(f"/quizzes/{quiz.id}/start").headers["Location"].rsplit("/", 1)[-1])

    page = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert "<b>哪一个</b>" in page and "<i>甲</i>" in page and 'src="/question-images/' in page
    assert "&lt;b&gt;不是粗体&lt;/b&gt;" in page and "<!--html-->" not in page
    assert re.search(r'<p><b>填空</b>：<input type="text"[^>]*data-blank="0"[^>]*>。</p>', page)  # blank in place

    client.post(f"/quizzes/attempts/{attempt_id}/submit")
    review = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert "<li>解析一</li>" in review and "<i>甲</i>" in review and "&lt;b&gt;不是粗体" in review


# --- Round trips --------------------------------------------------------------------

PLAIN = [
    ParsedQuestion("multiple", "颜色（加权）", ["yellow", "red", "blue"],
                   {"choices": [0], "weights": [100.0, -50.0, -50.0]}, points=2),
    ParsedQuestion("multiple", "不定项：下列正确的是", ["甲", "乙", "丙"], {"choices": [1], "indefinite": True}),
    ParsedQuestion("single", "十个选项", [f"选项{i}" for i in range(12)], {"choice": 10}),
    ParsedQuestion("multiple", "多于八项的多选", [f"o{i}" for i in range(10)], {"choices": [0, 9]}),
    ParsedQuestion("fill", "分号{{1}}与箭头{{2}}", [], {"blanks": [["a;b", "c；d"], ["x->y"]]}),
]  # fmt: skip


def rich(image: bytes) -> list[ParsedQuestion]:
    return [
        adopted(html_question(image)),
        adopted(ParsedQuestion("multiple", "<p>H<sub>2</sub>O <img src=\"" + data_uri(image) + "\"></p>",
                               ["<b>a</b>", "b &amp; c", "d"], {"choices": [0, 1]}, explanation="<u>why</u>",
                               html=True)),
        adopted(ParsedQuestion("fill", "<p><b>填空</b>：{{1}} 和 {{2}}</p>", [], {"blanks": [["a<b"], ["x->y", "p;q"]]},
                               html=True)),
    ]  # fmt: skip


def copied(admin, source, payload: bytes, filename: str):
    target = banks.create_bank(f"目标{filename}", creator=admin)
    report = banks.prepare_import(target, filename, payload, None, admin=admin, now=_now())
    assert not report.skipped, [(i.line, [str(p) for p in i.problems]) for i in report.skipped]
    banks.confirm_import(report.token, admin=admin, now=_now())
    db.session.commit()
    return banks.export_questions(target)


def _now():
    from lms import clock

    return clock.utcnow()


def csv_export(bank) -> bytes:
    header, rows = export_table(banks.export_questions(bank))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


EXPORTS = {
    "bank.xlsx": lambda bank: banks.export_xlsx(bank),
    "bank.csv": csv_export,
    "bank.gift": lambda bank: banks.export_gift(bank).encode(),
    "bank.xml": lambda bank: banks.export_moodle_xml(bank).encode(),
    "bank.json": lambda bank: banks.export_json(bank).encode(),
}


@pytest.mark.parametrize("filename", list(EXPORTS))
def test_every_format_copies_a_bank_identically(app, admin, filename):
    source = banks.create_bank("源", creator=admin)
    for question in [*PLAIN, *rich(png())]:
        banks.add_question(source, ParsedQuestion(**question.as_dict()))
    db.session.commit()
    original = banks.export_questions(source)
    assert sum(q.html for q in original) == 3

    assert copied(admin, source, EXPORTS[filename](source), filename) == original
    # the images are the same stored files: nothing new was written on the way back
    assert len(list(question_html.image_folder().iterdir())) == 1


def test_aiken_round_trip_of_what_it_can_express(app):
    from lms.exams.questions.importers.aiken import parse_aiken as read

    questions = [q for q in PLAIN if q.type in ("single", "multiple") and not set(q.answer) - {"choice", "choices"}]
    text = "\n\n".join(
        "\n".join([q.stem, *(f"{chr(65 + i)}. {o}" for i, o in enumerate(q.options)),
                   "ANSWER: " + "".join(chr(65 + i) for i in q.answer.get("choices", [q.answer.get("choice")]))])
        for q in questions
    )  # fmt: skip
    assert [item.question for item in read(text).items] == questions


def test_more_than_26_options_are_refused_with_a_clear_message(app):
    options = "\n".join(f"{chr(65 + i)}. o{i}" for i in range(26))
    assert parse_aiken(f"Q\n{options}\nANSWER: Z").items[0].ok
    item = parse_file("x.json", json.dumps([{"type": "single", "stem": "Q", "answers": ["A"],
                                            "options": [f"o{i}" for i in range(27)]}]).encode()).items[0]  # fmt: skip
    assert not item.ok and "at most 26 options (A–Z)" in str(item.problems[0])
    rows = [["单选题", "Q", *[f"o{i}" for i in range(27)], "A"]]
    header = ["题型", "题干", *[f"选项{i}" for i in range(1, 28)], "答案"]
    result = parse_file("x.xlsx", xlsx_bytes([("q", header, rows)]))
    assert "“选项27”" in " ".join(str(note) for note in result.notes)  # a 27th option column is not read: said so


# --- The edit form ------------------------------------------------------------------


@pytest.fixture
def as_admin(client, login, admin):
    login(admin)
    with client.session_transaction() as session:
        session["locale"] = "en"
    return client


def form_data(**fields) -> dict:
    data = {"type": "multiple", "text_format": "", "title": "", "stem": "题干", "answer": "", "explanation": "",
            "points": "1", "difficulty": "3", "tags": ""}  # fmt: skip
    return {**data, **fields}


def test_a_one_or_more_question_with_one_right_answer_saves_and_edits(as_admin, admin):
    bank = banks.create_bank("表单", creator=admin)
    db.session.commit()
    data = form_data(type="indefinite", option_a="甲", option_b="乙", option_c="丙", answer="B")
    as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=data)
    question = db.session.query(Question).filter_by(bank_id=bank.id).one()
    assert question.answer == {"choices": [1], "indefinite": True}

    page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert '<option selected value="indefinite">' in page
    again = as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}", data=data, follow_redirects=True)
    assert "Nothing was changed." in again.get_data(as_text=True)


def test_editing_a_weighted_question_keeps_its_weights(as_admin, admin):
    bank = banks.create_bank("表单", creator=admin)
    question = banks.add_question(bank, ParsedQuestion(**PLAIN[0].as_dict()))
    db.session.commit()

    page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert '<option selected value="weighted">' in page
    assert 'name="weight_b" step="any" type="number" value="-50"' in page
    data = form_data(stem="颜色（加权）", option_a="yellow", option_b="red", option_c="blue", scoring="weighted",
                     weight_a="100", weight_b="-50", weight_c="-50", points="2", explanation="新解析")  # fmt: skip
    as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}", data=data)
    db.session.refresh(question)
    assert question.answer == {"choices": [0], "weights": [100.0, -50.0, -50.0]} and question.explanation == "新解析"


def test_the_form_saves_html_with_an_image_and_more_than_eight_options(as_admin, admin):
    bank = banks.create_bank("表单", creator=admin)
    db.session.commit()
    options = {f"option_{chr(97 + i)}": f"<b>o{i}</b>" for i in range(10)}
    data = form_data(type="single", text_format="html", answer="J", **options,
                     stem=f'<p>图 <img src="{data_uri(png())}"><script>x()</script></p>')  # fmt: skip
    response = as_admin.post(f"/admin/banks/{bank.id}/questions/new", data=data, follow_redirects=True)
    assert "&lt;script&gt;" in response.get_data(as_text=True)  # the removal is told (flash)
    question = db.session.query(Question).filter_by(bank_id=bank.id).one()
    assert question.answer == {"choice": 9} and len(question.options) == 10
    assert "<script>" not in question.stem and question_html.referenced_images(question.stem)

    page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert 'name="option_j"' in page and '<option selected value="html">' in page


# --- No HTML breaks an import ---------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lms.errors import ValidationFailed  # noqa: E402

HTML_BITS = ["<p>", "</p>", "<img src=\"", "data:image/png;base64,", "iVBORw0KGgo=", "@@PLUGINFILE@@/", "\">",
             "<script>", "</script>", "<a href=\"javascript:x\">", "</a>", "<table><tr><td>", "<sub>", "{{1}}",
             " onerror=\"x\"", "<", ">", "&lt;", "&", "\"", "'", "党", "x", " ", "\n", "~", "=", "#", "{",
             "}"]  # fmt: skip
html_text = st.lists(st.sampled_from(HTML_BITS), max_size=40).map("".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(html_text, html_text)
def test_no_html_breaks_the_importers_or_gets_unsafe_markup_through(app, stem, option):
    gift = f"[html]{stem}{{={option} ~b}}"
    xml = (f'<?xml version="1.0"?><quiz><question type="multichoice"><questiontext format="html"><text><![CDATA['
           f'{stem}]]></text></questiontext><answer fraction="100" format="html"><text><![CDATA[{option}]]></text>'
           f'</answer><answer fraction="0"><text>b</text></answer></question></quiz>')  # fmt: skip
    for filename, payload in (("q.gift", gift.encode()), ("q.xml", xml.encode())):
        try:
            result = parse_file(filename, payload)
        except ValidationFailed:
            continue
        for item in result.items:
            assert item.ok or item.problems
            if item.ok and item.question.html:  # (a plain text is escaped wherever it is shown)
                texts = " ".join([item.question.stem, *item.question.options, item.question.explanation])
                assert "<script" not in texts and not re.search(r"<[^>]*(\son\w+=|javascript:)", texts)
                tags = set(re.findall(r"</?([a-z0-9]+)", texts))
                assert tags <= question_html.TAGS
