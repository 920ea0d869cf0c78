"""Fuzz-style checks (issue #10): bad input is a clear 4xx with a message, never a 500.

Every registered route is walked (new routes fall under this automatically):
huge ids and page numbers as admin, then, on the demo world, every route with
real ids, huge query numbers, non-object JSON, huge JSON numbers and NUL in text.
Targeted tests follow for the cases found by fuzzing.
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from werkzeug.routing import IntegerConverter

from lms.auth.models import Role, User
from lms.errors import ValidationFailed
from lms.extensions import db
from lms.inputs import MAX_INT, clean_filename
from lms.security import safe_next_url
from lms.spreadsheets import read_table, workbook_text, xlsx_bytes

HUGE = 2**64
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
# Walking these would end the walker's own session.
SKIPPED_ENDPOINTS = {"auth.logout", "static"}
QUERY_NUMBERS = ("page", "year", "branch", "branch_id", "bank", "difficulty", "quarter", "ids", "period", "target")
DEMO_DAY = datetime(2026, 9, 15, 2, 0, tzinfo=UTC)
# URL argument -> the model whose first row stands in for it on the demo world.
ARGUMENT_MODELS = {
    "announcement_id": "lms.notices.models:Announcement",
    "asset_id": "lms.media.models:MediaAsset",
    "attempt_id": "lms.exams.quizzes.models:QuizAttempt",
    "bank_id": "lms.exams.questions.models:QuestionBank",
    "branch_id": "lms.auth.models:Branch",
    "challenge_id": "lms.exams.contests.models:Challenge",
    "contest_id": "lms.exams.contests.models:Contest",
    "course_id": "lms.courses.models:Course",
    "lesson_id": "lms.courses.models:Lesson",
    "meeting_id": "lms.meetings.models:Meeting",
    "file_id": "lms.meetings.models:MeetingFile",
    "kind_id": "lms.meetings.models:MeetingKind",
    "notification_id": "lms.notices.models:Notification",
    "override_id": "lms.exams.quizzes.models:QuizOverride",
    "question_id": "lms.exams.questions.models:Question",
    "quiz_id": "lms.exams.quizzes.models:Quiz",
    "record_id": "lms.courses.models:OfflineStudyRecord",
    "report_id": "lms.exams.quizzes.models:QuestionReport",
    "requirement_id": "lms.courses.models:CourseRequirement",
    "rule_id": "lms.exams.quizzes.models:QuizDrawRule",
    "target_id": "lms.assessment.models:LearningTarget",
    "user_id": "lms.auth.models:User",
}


def assert_clear_refusal(response, what: str) -> None:
    """Below 500, and a refusal carries a message (a JSON error or a page with text)."""
    assert response.status_code < 500, f"{what} answered {response.status_code}"
    if response.status_code >= 400:
        if response.is_json:
            body = response.get_json()
            assert isinstance(body, dict) and (body.get("error") or body.get("message")), f"{what}: {body}"
        else:
            assert "<h1" in response.get_data(as_text=True), f"{what}: a refusal without a page"


def rule_urls(app, values_for):
    """(method, url) of every rule, its arguments from ``values_for(rule, name, converter)``."""
    result = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint in SKIPPED_ENDPOINTS:
                continue
            values = {name: values_for(rule, name, rule._converters[name]) for name in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            result += [(method, url) for method in sorted(rule.methods - SKIPPED_METHODS)]
    return result


@pytest.fixture
def admin_client(app, make_user, login):
    return login(make_user(username="root", role=Role.ADMIN), on=app.test_client())


# --- every route -----------------------------------------------------------------------


def test_every_route_with_huge_ids_and_page_numbers_is_a_clear_4xx(app, admin_client):
    def huge(rule, name, converter):
        return HUGE if isinstance(converter, IntegerConverter) else "x" * 300

    walked = 0
    for method, url in rule_urls(app, huge):
        if "/" + str(HUGE) not in url:
            continue
        walked += 1
        response = admin_client.open(url, method=method)
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        assert_clear_refusal(response, f"{method} {url}")
        # An id of thousands of digits is no number at all (Python refuses to convert it).
        response = admin_client.open(url.replace(str(HUGE), "9" * 5000), method=method)
        assert response.status_code == 404
    assert walked > 100
    # The largest id that fits is a plain "not found".
    assert admin_client.get(f"/admin/users/{MAX_INT}").status_code == 404


def test_every_list_with_a_huge_page_or_query_number_answers(app, admin_client):
    query = "&".join(f"{name}={HUGE}" for name in QUERY_NUMBERS)
    for method, url in rule_urls(
        app, lambda rule, name, converter: 1 if isinstance(converter, IntegerConverter) else "x"
    ):
        if method == "GET":
            response = admin_client.get(f"{url}?{query}", buffered=True)
            assert_clear_refusal(response, f"GET {url}?{query}")


@pytest.mark.slow
def test_the_demo_world_survives_a_walk_with_bad_input_on_every_route(app, login, frozen_clock):
    from lms.cli import DEMO_MODULES, INIT_MODULES

    frozen_clock.set(DEMO_DAY)
    for module in INIT_MODULES:
        importlib.import_module(module).seed_defaults()
    for module in DEMO_MODULES:
        if module == "lms.media.demo":  # it runs ffmpeg
            continue
        importlib.import_module(module).seed_demo()
        db.session.commit()
    first_ids = {}
    for argument, path in ARGUMENT_MODELS.items():
        module, name = path.split(":")
        model = getattr(importlib.import_module(module), name)
        first_ids[argument] = db.session.scalar(sa.select(sa.func.min(model.id))) or 1

    def real(rule, name, converter):
        return first_ids.get(name, 1) if isinstance(converter, IntegerConverter) else "x"

    admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
    client = login(admin, on=app.test_client())
    query = "&".join(f"{name}={HUGE}" for name in QUERY_NUMBERS)
    bodies = [
        ("application/json", "[1, 2]"),
        ("application/json", '"text"'),
        ("application/json", "7"),
        ("application/json", f'{{"position": {10**400}, "size": {10**30}, "lesson_ids": [{10**30}]}}'),
        ("application/json", '{"text": "a\\u0000b", "title": "\\ud800"}'),
        ("application/json", "[" * 5000),
        ("text/plain", "[]"),
    ]
    for method, url in rule_urls(app, real):
        if method == "GET":
            assert_clear_refusal(client.get(f"{url}?{query}", buffered=True), f"GET {url}?{query}")
            continue
        for content_type, body in bodies:
            response = client.open(url, method=method, data=body, headers={"Content-Type": content_type}, buffered=True)
            assert_clear_refusal(response, f"{method} {url} {body[:40]}")
        response = client.open(url, method=method, data={"name": "a\x00b", "title": "x"}, buffered=True)
        assert response.status_code in (400, 404, 405), f"{method} {url} took NUL: {response.status_code}"


# --- JSON bodies -------------------------------------------------------------------------

JSON_ENDPOINTS = [
    "/quizzes/attempts/1/answers",
    "/quizzes/attempts/1/questions/1/report",
    "/admin/media/uploads",
    "/admin/media/uploads/abc/complete",
]


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", ["[]", '"x"', "3", "null", '{"position": 100000000000000000000}', '{"a": 1e999}'])
def test_json_endpoints_refuse_what_is_not_a_plain_object(admin_client, url, body):
    response = admin_client.post(url, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "无法读取请求内容，请刷新页面后重试。"


def test_a_heartbeat_with_huge_numbers_is_malformed_not_a_crash(client, make_user, login):
    login(make_user())
    for body in ('{"session_id": "abcdefghijkl", "from": 0, "to": 1%s}' % ("0" * 400), '{"to": Infinity}', "[]"):
        response = client.post("/courses/heartbeat", data=body, headers={"Content-Type": "text/plain"})
        assert response.status_code == 400
        assert response.get_json()["reason"] == "malformed"


# --- numbers and dates in forms ------------------------------------------------------------


def test_query_numbers_out_of_range_are_ignored(app, admin_client):
    from flask import request

    with app.test_request_context(f"/?page={HUGE}&year=-{HUGE}&b=12"):
        assert request.args.get("page", 1, type=int) == 1
        assert request.args.get("year", type=int) is None
        assert request.args.get("b", type=int) == 12
        from lms.inputs import page_arg

        assert page_arg() == 1
    with app.test_request_context("/?page=99999999"):
        assert page_arg() == 100_000


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/quizzes/new", {"title": "测验", "open_at": "0001-01-01T00:00", "close_at": "9999-12-31T23:59"}),
        ("/admin/contests/new", {"title": "竞赛", "open_at": "0001-01-01T00:00", "close_at": "0001-01-02T00:00"}),
        ("/admin/targets/new", {"name": "目标", "starts_on": "0001-01-01", "ends_on": "0001-12-31"}),
        ("/admin/users/new", {"username": "zhang", "name": "张", "admitted_on": "0001-01-01"}),
    ],
)
def test_dates_of_year_one_are_refused_on_the_form(admin_client, url, data):
    response = admin_client.post(url, data=data)
    assert response.status_code in (200, 422), response.status_code
    assert "请填写 1900 年至 2200 年之间的日期。" in response.get_data(as_text=True)


def test_an_empty_choice_on_the_target_form_is_a_form_error(admin_client):
    data = {"name": "目标", "period_kind": "", "leader_rule": "", "weight_hours": "0.5", "weight_courses": "0.3"}
    response = admin_client.post("/admin/targets/new", data=data)
    assert response.status_code == 200
    assert "is-invalid" in response.get_data(as_text=True)


def test_overflow_anywhere_is_a_400_with_a_message(tmp_path):
    from tests.conftest import make_test_app

    fresh = make_test_app(tmp_path)  # its own app: the shared one may not gain routes once it served requests

    @fresh.get("/_overflow")
    def overflow():
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    with fresh.app_context():
        response = fresh.test_client().get("/_overflow")
        db.session.remove()
    assert response.status_code == 400
    assert "请求中的数字或日期超出了允许的范围。" in response.get_data(as_text=True)


# --- names, text and file names --------------------------------------------------------------


def test_bank_names_differing_only_in_unicode_case_are_one_name(admin_client):
    from lms.exams.questions import banks

    banks.create_bank("Ärzte-题库", creator=None)
    db.session.commit()
    for twin in ("ärzte-题库", "ÄRZTE-题库", "Ａrzte-题库".replace("Ａ", "Ä")):
        with pytest.raises(Exception, match="已有名为"):
            banks.create_bank(twin, creator=None)
    assert banks.find_bank("ärzte-题库") is not None
    response = admin_client.post("/admin/banks/", data={"name": "ärzte-题库"})
    assert response.status_code < 500
    assert "已有名为“Ärzte-题库”的题库。" in response.get_data(as_text=True)


def test_nul_in_form_or_query_text_is_a_400_with_a_message(admin_client):
    response = admin_client.post("/admin/banks/", data={"name": "题库\x00"})
    assert response.status_code == 400
    assert "文本中不能包含空字符（NUL）。" in response.get_data(as_text=True)
    assert admin_client.get("/admin/users/?q=%00").status_code == 400


@pytest.mark.parametrize(
    "target",
    ["/\t/evil.example", "/\n/evil.example", "/ok\r\nSet-Cookie: x=1", "/\x00", "/\x7f", " /home", "/a b"],
)
def test_next_urls_with_whitespace_or_control_characters_are_not_followed(target):
    assert safe_next_url(target) is None


def test_login_with_a_control_character_in_next_goes_home(client, make_user):
    from tests.conftest import TEST_PASSWORD

    make_user(username="liming")
    response = client.post("/auth/login", data={"login": "liming", "password": TEST_PASSWORD, "next": "/\n/evil"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert safe_next_url("/courses/?page=2") == "/courses/?page=2"


def test_file_names_are_cleaned_once_at_upload(admin_client):
    assert clean_filename("C:\\Users\\李\\党课\x00\r\n.mp4") == "党课.mp4"
    assert clean_filename("evil\u202egpj.exe") == "evilgpj.exe"
    assert clean_filename("\x00") == ""
    response = admin_client.post("/admin/media/uploads", json={"filename": "党课\r\n第一讲\x01.mp4", "size": 10})
    assert response.status_code == 201
    from lms.media.models import MediaAsset

    assert db.session.scalar(sa.select(MediaAsset.original_filename)) == "党课第一讲.mp4"
    # NUL in any JSON text is refused outright (PostgreSQL cannot store it).
    response = admin_client.post("/admin/media/uploads", json={"filename": "a\x00.mp4", "size": 10})
    assert response.status_code == 400


# --- spreadsheets ------------------------------------------------------------------------------


def _workbook(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rezip(payload: bytes, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(payload))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info)))
    return buffer.getvalue()


ALIASES = {"name": ("姓名",), "phone": ("手机号",)}


def test_broken_workbooks_are_refused_with_a_message():
    good = _workbook([["姓名", "手机号"], ["张三", "13800000000"]])
    assert read_table("m.xlsx", good, ALIASES)[0].values["name"] == "张三"

    def entities(name, data):
        if name == "xl/worksheets/sheet1.xml":
            head = data.split(b"?>", 1)[0] + b"?>" if data.startswith(b"<?xml") else b""
            doctype = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            return head + doctype + data[len(head) :]
        return data

    def broken_xml(name, data):
        return data[: len(data) // 2] if name == "xl/worksheets/sheet1.xml" else data

    cases = {
        "truncated": good[: len(good) * 2 // 3],
        "entity-laden": _rezip(good, entities),
        "utf-16 entities": _rezip(
            good, lambda n, d: d.decode().encode("utf-16") if n == "xl/worksheets/sheet1.xml" else d
        ),
        "broken sheet xml": _rezip(good, broken_xml),
        "corrupt deflate": good.replace(b"sheet1.xml", b"sheet1.xml", 1)[:200] + b"\x00" * 50 + good[250:],
    }
    cases["utf-16 entities"] = _rezip(
        good,
        lambda n, d: entities(n, d).decode().encode("utf-16") if n == "xl/worksheets/sheet1.xml" else d,
    )
    for label, payload in cases.items():
        with pytest.raises(ValidationFailed, match="not a valid Excel workbook|XML declarations"):
            read_table("m.xlsx", payload, ALIASES)
            pytest.fail(f"{label} was read")
    with pytest.raises(Exception, match="DOCTYPE"):
        read_table("m.xlsx", cases["entity-laden"], ALIASES)


def test_member_import_of_a_truncated_workbook_is_a_message(admin_client):
    good = _workbook([["姓名", "手机号"], ["张三", "13800000000"]])
    response = admin_client.post(
        "/admin/import",
        data={"file": (io.BytesIO(good[: len(good) // 2]), "m.xlsx"), "default_password": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "不是有效的 Excel 工作簿" in response.get_data(as_text=True)


def test_control_characters_never_break_an_export():
    assert workbook_text("会议\x01主题\x0b\x00\ufffe") == "会议主题"
    assert workbook_text("第一行\n第二行\t") == "第一行\n第二行\t"
    payload = xlsx_bytes(
        [("三会\x01一课/2026[1]", ["姓名\x02", "主题"], [["张\x03三", "=1+1\x04"], [1, date(2026, 1, 2)]])]
    )
    sheet = load_workbook(io.BytesIO(payload)).worksheets[0]
    assert sheet.title == "三会一课 2026 1"
    assert [c.value for c in sheet[1]] == ["姓名", "主题"]
    assert [c.value for c in sheet[2]] == ["张三", "=1+1"]
    assert sheet["A2"].data_type == "s" and sheet["B2"].data_type == "s"


def test_the_streaming_writer_drops_them_too():
    from lms.assessment.export import stream_xlsx

    payload = b"".join(stream_xlsx([("报表\x05", ["姓名\x06"], [["李\x07四", "\ud800x"]])]))
    sheet = load_workbook(io.BytesIO(payload)).worksheets[0]
    assert sheet.title == "报表"
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["姓名", None], ["李四", "x"]]


def test_a_member_named_with_a_control_character_does_not_break_the_archive_export(make_user, login, client):
    member = make_user(name="王\x01五")
    login(member)
    response = client.get(f"/courses/archive/{member.id}/export.xlsx")
    assert response.status_code == 200
    load_workbook(io.BytesIO(response.data))  # opens: no illegal character inside


def test_json_strings_with_a_lone_surrogate_are_refused(admin_client):
    response = admin_client.post(
        "/admin/media/uploads",
        data=json.dumps({"filename": "a.mp4", "size": 1, "title": "\ud800"}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
