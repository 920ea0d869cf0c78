"""Admin pages of the question banks: permissions, editing, import with confirmation, export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import sqlalchemy as sa
from flask import g

from lms.auth.models import Role
from lms.exams.questions import banks
from lms.exams.questions.importers import ParsedQuestion, parse_file
from lms.exams.questions.models import Question, QuestionBank
from lms.extensions import db

GIFT = "::一::中共一大于哪年召开？{=1921 ~1927}\n\n::论述::谈谈体会。{}\n\n::判断::预备期一年{T}\n"


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


@pytest.fixture
def bank(app, admin):
    bank = banks.create_bank("党章题库", creator=admin)
    db.session.commit()
    return bank


@pytest.fixture
def as_admin(client, login, admin):
    login(admin)
    with client.session_transaction() as session:
        session["locale"] = "en"
    return client


def switch_user(login, user):
    """Log another user in; the test's app context (shared by its requests) caches the last one in g."""
    g.pop("_login_user", None)
    login(user)


def add(bank, stem="中国共产党的根本组织原则是（ ）。", **fields) -> Question:
    values = {"options": ["民主集中制", "集体领导"], "answer": {"choice": 0}, **fields}
    question = banks.add_question(bank, ParsedQuestion(fields.pop("type", "single"), stem, **values))
    db.session.commit()
    return question


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Question.id)))


def upload(client, bank, payload: bytes, filename: str, fmt: str = ""):
    return client.post(
        f"/admin/banks/{bank.id}/import",
        data={"file": (io.BytesIO(payload), filename), "format": fmt},
        content_type="multipart/form-data",
    )


def zip_bomb() -> bytes:
    """A 100 KB .xlsx that would expand to 101 MB."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as handle:
        handle.writestr("[Content_Types].xml", "<Types/>")
        with handle.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(101):
                member.write(b"0" * (1024 * 1024))
    return archive.getvalue()


def bank_urls(bank, question):
    b, q = bank.id, question.id
    return [
        ("GET", "/admin/banks/"),
        ("POST", "/admin/banks/"),
        ("GET", f"/admin/banks/{b}"),
        ("GET", f"/admin/banks/{b}/settings"),
        ("POST", f"/admin/banks/{b}/settings"),
        ("GET", f"/admin/banks/{b}/questions/new"),
        ("POST", f"/admin/banks/{b}/questions/new"),
        ("GET", f"/admin/banks/{b}/questions/{q}"),
        ("GET", f"/admin/banks/questions/{q}"),
        ("POST", f"/admin/banks/{b}/questions/{q}"),
        ("POST", f"/admin/banks/{b}/questions/{q}/state"),
        ("GET", f"/admin/banks/{b}/import"),
        ("POST", f"/admin/banks/{b}/import"),
        ("POST", "/admin/banks/import/confirm"),
        ("GET", f"/admin/banks/{b}/export.xlsx"),
        ("GET", f"/admin/banks/{b}/export.gift"),
        ("GET", f"/admin/banks/{b}/export.json"),
        ("GET", "/admin/banks/template.xlsx"),
    ]


@pytest.mark.parametrize("role", [Role.LEARNER, Role.SECRETARY])
def test_learners_and_secretaries_get_403_on_every_bank_page(client, login, make_user, bank, role):
    question = add(bank)
    login(make_user(role=role))
    for method, url in bank_urls(bank, question):
        response = client.open(url, method=method, data={"name": "x", "disabled": "1"})
        assert response.status_code == 403, (method, url)
    assert count() == 1 and not question.is_disabled


def test_anonymous_visitors_are_sent_to_log_in(client, bank):
    question = add(bank)
    for method, url in bank_urls(bank, question):
        response = client.open(url, method=method)
        assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)


def test_the_manage_menu_links_the_banks_for_admins_only(client, login, make_user, as_admin):
    assert 'href="/admin/banks/"' in as_admin.get("/").get_data(as_text=True)
    switch_user(login, make_user())
    assert 'href="/admin/banks/"' not in client.get("/").get_data(as_text=True)


def test_admin_creates_lists_and_renames_banks(as_admin, bank):
    response = as_admin.post("/admin/banks/", data={"name": "党史题库", "description": "建党百年"})
    created = db.session.scalar(sa.select(QuestionBank).where(QuestionBank.name == "党史题库"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/banks/{created.id}")

    page = as_admin.get("/admin/banks/").get_data(as_text=True)
    assert "党史题库" in page and "党章题库" in page

    duplicate = as_admin.post("/admin/banks/", data={"name": "党史题库"})
    assert duplicate.status_code == 200 and "exists already" in duplicate.get_data(as_text=True)

    renamed = as_admin.post(f"/admin/banks/{bank.id}/settings", data={"name": "党章党规题库", "description": ""})
    assert renamed.status_code == 302
    db.session.refresh(bank)
    assert bank.name == "党章党规题库"


def test_question_list_searches_filters_and_pages(as_admin, bank):
    add(bank, "民主集中制题（ ）", tags=["党章"], difficulty=2)
    add(bank, "党费题（ ）", tags=["党费"], difficulty=4)
    for n in range(31):
        add(bank, f"练习题{n}（ ）")

    page = as_admin.get(f"/admin/banks/{bank.id}").get_data(as_text=True)
    assert "练习题30" in page and "民主集中制题" not in page  # newest first, 30 a page
    second = as_admin.get(f"/admin/banks/{bank.id}?page=2").get_data(as_text=True)
    assert "民主集中制题" in second

    by_tag = as_admin.get(f"/admin/banks/{bank.id}?tag=党费").get_data(as_text=True)
    assert "党费题" in by_tag and "民主集中制题" not in by_tag
    by_text = as_admin.get(f"/admin/banks/{bank.id}?q=民主集中").get_data(as_text=True)
    assert "民主集中制题" in by_text and "党费题" not in by_text
    by_level = as_admin.get(f"/admin/banks/{bank.id}?difficulty=4&type=single").get_data(as_text=True)
    assert "党费题" in by_level and "民主集中制题" not in by_level
    assert "No questions match." in as_admin.get(f"/admin/banks/{bank.id}?type=fill").get_data(as_text=True)


QUESTION_FORM = {
    "type": "single",
    "title": "",
    "stem": "预备党员的预备期为（ ）。",
    "option_a": "半年",
    "option_b": "一年",
    "option_c": "两年",
    "answer": "B",
    "explanation": "党章第七条。",
    "points": "2",
    "difficulty": "1",
    "tags": "党章、发展党员",
}


@pytest.mark.parametrize(
    ("fields", "answer"),
    [
        ({}, {"choice": 1}),
        ({"type": "multiple", "answer": "A,C"}, {"choices": [0, 2]}),
        ({"type": "true_false", "stem": "预备期为一年。", "answer": "√"}, {"value": True}),
        ({"type": "fill", "stem": "预备期为____。", "answer": "一年/1年"}, {"blanks": [["一年", "1年"]]}),
    ],
)
def test_admin_adds_a_question_of_each_type(as_admin, bank, fields, answer):
    response = as_admin.post(f"/admin/banks/{bank.id}/questions/new", data={**QUESTION_FORM, **fields})

    assert response.status_code == 302
    question = db.session.scalar(sa.select(Question))
    assert question.answer == answer and question.tags == ["党章", "发展党员"] and question.points == 2
    assert question.version == 1 and question.bank_id == bank.id
    if fields.get("type") == "fill":
        assert question.stem == "预备期为{{1}}。" and question.options == []


def test_a_bad_question_form_shows_the_problem_at_the_field_and_saves_nothing(as_admin, bank):
    response = as_admin.post(f"/admin/banks/{bank.id}/questions/new", data={**QUESTION_FORM, "answer": "E"})

    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "option E" in page and "is-invalid" in page
    assert count() == 0


def test_editing_a_question_makes_a_new_version(as_admin, bank):
    question = add(bank)
    form_page = as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").get_data(as_text=True)
    assert "民主集中制" in form_page and 'value="A"' in form_page

    data = {"type": "single", "stem": question.stem, "option_a": "民主集中制", "option_b": "集体领导",
            "answer": "A", "points": "1", "difficulty": "3", "tags": "", "explanation": "", "title": ""}  # fmt: skip
    unchanged = as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}", data=data, follow_redirects=True)
    assert "Nothing was changed." in unchanged.get_data(as_text=True)
    changed = as_admin.post(
        f"/admin/banks/{bank.id}/questions/{question.id}",
        data={**data, "explanation": "党章总纲"},
        follow_redirects=True,
    )
    assert "version 2" in changed.get_data(as_text=True)
    db.session.refresh(question)
    assert question.version == 2 and question.explanation == "党章总纲"


def test_a_link_by_question_id_alone_leads_to_its_bank_page(app, as_admin, bank):
    question = add(bank)
    with app.test_request_context():
        from flask import url_for

        short = url_for("banks.question", question_id=question.id)
    response = as_admin.get(short)
    assert short == f"/admin/banks/questions/{question.id}"
    assert response.headers["Location"].endswith(f"/admin/banks/{bank.id}/questions/{question.id}")
    assert as_admin.get("/admin/banks/questions/999").status_code == 404


def test_a_question_is_only_reachable_through_its_own_bank(as_admin, bank, admin):
    other = banks.create_bank("别的题库", creator=admin)
    question = add(other)
    assert as_admin.get(f"/admin/banks/{bank.id}/questions/{question.id}").status_code == 404
    assert (
        as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}/state", data={"disabled": "1"}).status_code
        == 404
    )
    assert as_admin.get("/admin/banks/999/questions/new").status_code == 404


def test_disable_and_enable_a_question(as_admin, bank):
    question = add(bank)
    response = as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}/state", data={"disabled": "1"})
    assert response.status_code == 302
    db.session.refresh(question)
    assert question.is_disabled and question.version == 1

    as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}/state", data={"disabled": "0"})
    db.session.refresh(question)
    assert not question.is_disabled


def test_the_import_shows_the_report_and_writes_only_on_confirm(as_admin, bank):
    response = upload(as_admin, bank, GIFT.encode(), "questions.gift")
    page = response.get_data(as_text=True)

    assert response.status_code == 200 and 'data-testid="import-report"' in page
    assert "论述" in page and "essay" in page  # skipped, named, with the reason
    assert count() == 0
    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]

    confirmed = as_admin.post("/admin/banks/import/confirm", data={"token": token}, follow_redirects=True)
    assert "2 questions imported." in confirmed.get_data(as_text=True)
    assert count() == 2
    again = as_admin.post("/admin/banks/import/confirm", data={"token": token}, follow_redirects=True)
    assert "expired" in again.get_data(as_text=True) and count() == 2


def test_the_file_s_own_text_in_notes_and_problems_is_escaped_in_the_report(as_admin, bank):
    """Messages are lazy strings (Flask-Babel's declare __html__): the file's text in them must not become markup."""
    gift = (
        '[html]图 <img src="https://x.example/a.png?q="><i id=injected>">{=甲 ~乙}\n\n'
        "<u id=type>类型</u>题\n"
    )
    rows = "题型,题干,答案\n<b id=bad>单</b>,题干,A\n"
    for payload, filename in ((gift.encode(), "notes.gift"), (rows.encode(), "rows.csv")):
        page = upload(as_admin, bank, payload, filename).get_data(as_text=True)
        assert 'data-testid="import-report"' in page
        assert "id=injected" not in page.replace("&lt;i id=injected&gt;", "") and "<b id=bad>" not in page
    assert "&lt;b id=bad&gt;" in page


def test_another_admin_cannot_confirm_an_upload(as_admin, bank, client, login, make_user):
    page = upload(as_admin, bank, GIFT.encode(), "questions.gift").get_data(as_text=True)
    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]
    switch_user(login, make_user(role=Role.ADMIN))

    response = client.post("/admin/banks/import/confirm", data={"token": token})
    assert response.status_code == 302 and count() == 0


@pytest.mark.parametrize(
    ("payload", "filename", "message"),
    [
        (b"", "empty.gift", "The file is empty."),
        (b"PK\x03\x04 not really a zip", "bank.xlsx", "not a valid Excel workbook"),
        (b"just some words", "bank.pdf", "Unknown file type"),
        ("题型,题干\n单选题,没有答案列\n".encode("gbk"), "bank.csv", "missing: 答案"),
        (b"\xff\xfe\x00\x00garbage\x00", "bank.txt", "not readable text"),
        ("zip-bomb", "bomb.xlsx", "100 MB"),
    ],
)
def test_a_broken_file_gets_a_clear_message_not_a_500(as_admin, bank, payload, filename, message):
    if payload == "zip-bomb":
        payload = zip_bomb()
    response = upload(as_admin, bank, payload, filename)

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count() == 0


@pytest.mark.parametrize("csrf", [False, True], ids=["view", "csrf-check-first"])
def test_a_50_mb_upload_is_refused_from_its_size_before_it_is_read(app, as_admin, bank, csrf, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", csrf)
    response = upload(as_admin, bank, b"0" * (50 * 1024 * 1024), "huge.xlsx")

    assert response.status_code == 413
    assert "larger than 10 MB" in response.get_data(as_text=True)
    assert count() == 0


def test_exports_download_the_bank(as_admin, bank):
    add(bank, tags=["党章"])
    xlsx = as_admin.get(f"/admin/banks/{bank.id}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert parse_file("x.xlsx", xlsx.data).items[0].question.tags == ["党章"]

    gift = as_admin.get(f"/admin/banks/{bank.id}/export.gift")
    assert "=民主集中制" in gift.get_data(as_text=True) and "attachment" in gift.headers["Content-Disposition"]
    data = json.loads(as_admin.get(f"/admin/banks/{bank.id}/export.json").data)
    assert data[0]["answers"] == ["A"]

    assert as_admin.get(f"/admin/banks/{bank.id}/export.pdf").status_code == 404
    template = as_admin.get("/admin/banks/template.xlsx")
    assert template.status_code == 200 and len(parse_file("t.xlsx", template.data).items) == 4


def test_the_import_page_documents_the_formats(as_admin, bank):
    page = as_admin.get(f"/admin/banks/{bank.id}/import").get_data(as_text=True)
    assert "题型" in page and "$CATEGORY" in page and "ANSWER: A" in page and "template.xlsx" in page


def test_forged_posts_without_the_csrf_token_are_refused(app, as_admin, bank):
    question = add(bank)
    app.config["WTF_CSRF_ENABLED"] = True
    assert as_admin.post("/admin/banks/", data={"name": "伪造"}).status_code == 400
    state = as_admin.post(f"/admin/banks/{bank.id}/questions/{question.id}/state", data={"disabled": "1"})
    assert state.status_code == 400
    assert upload(as_admin, bank, GIFT.encode(), "q.gift").status_code == 400
    db.session.refresh(question)
    assert not question.is_disabled and db.session.scalar(sa.select(sa.func.count(QuestionBank.id))) == 1


def test_exports_carry_one_charset_and_an_ascii_fallback_name(as_admin, admin):
    from urllib.parse import quote

    bank = banks.create_bank("先锋（党史）题库", creator=admin)
    db.session.commit()
    add(bank)
    gift = as_admin.get(f"/admin/banks/{bank.id}/export.gift")
    assert gift.headers["Content-Type"] == "text/plain; charset=utf-8"
    disposition = gift.headers["Content-Disposition"]
    assert f'filename="bank-{bank.id}.gift.txt"' in disposition
    assert "filename*=UTF-8''" + quote("先锋（党史）题库.gift.txt", safe="") in disposition
    json_export = as_admin.get(f"/admin/banks/{bank.id}/export.json")
    assert json_export.headers["Content-Type"] == "application/json; charset=utf-8"
    assert f'filename="bank-{bank.id}.json"' in json_export.headers["Content-Disposition"]
    xlsx = as_admin.get(f"/admin/banks/{bank.id}/export.xlsx")
    assert "charset" not in xlsx.headers["Content-Type"]
    assert f'filename="bank-{bank.id}.xlsx"' in xlsx.headers["Content-Disposition"]


def test_content_disposition_names_files_safely():
    from lms.downloads import content_disposition

    assert content_disposition("bank-1.json", "bank-1.json") == 'attachment; filename="bank-1.json"'
    header = content_disposition('a/b"c.txt', "fallback name.txt", inline=True)
    assert header.startswith("inline; filename=\"fallback-name.txt\"; filename*=UTF-8''a_b_c.txt")
