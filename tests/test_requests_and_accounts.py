"""Issue #11: bounded request bodies, the login limit per account, password rules,
secure cookies over HTTPS and rich text without layout classes."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from lms.auth import services
from lms.auth.models import BranchKind, Role, User
from lms.errors import ValidationFailed
from lms.extensions import db
from lms.richtext import sanitize_html
from tests.conftest import TEST_PASSWORD, make_test_app, password_hash

# --- request bodies -------------------------------------------------------------------


def test_small_json_endpoints_refuse_large_bodies_before_reading_them(client, make_user, login):
    login(make_user())
    response = client.post("/quizzes/attempts/1/answers", json={"position": 1, "response": {"text": "x" * 20_000}})
    assert response.status_code == 413
    assert response.get_json()["error"] == "请求过大：此处最多可发送 16 KB。"
    big_report = client.post("/quizzes/attempts/1/questions/1/report", json={"text": "错" * 10_000})
    assert big_report.status_code == 413
    heartbeat = client.post("/courses/heartbeat", data="x" * 5000, headers={"Content-Type": "text/plain"})
    assert heartbeat.status_code == 413
    assert "请求过大：此处最多可发送 4 KB。" in heartbeat.get_data(as_text=True)


def test_a_declared_300_mb_body_is_refused_without_reading_it(app):
    class Watched(io.BytesIO):
        reads = 0

        def read(self, *args):
            Watched.reads += 1
            return super().read(*args)

        readline = read1 = read

    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    for url in ("/quizzes/attempts/1/answers", "/courses/heartbeat", "/auth/password", "/admin/media/uploads/x"):
        environ = EnvironBuilder(path=url, method="POST", headers={"Content-Type": "application/json"}).get_environ()
        environ["wsgi.input"] = Watched(b'{"a": 1}')
        environ["CONTENT_LENGTH"] = str(300 * 1024 * 1024)
        body = b"".join(app.wsgi_app(environ, start_response))
        assert statuses.pop() == "413 REQUEST ENTITY TOO LARGE", url
        assert "请求过大" in (json.loads(body)["error"] if body.startswith(b"{") else body.decode())
    assert Watched.reads == 0


def test_a_streamed_body_without_length_is_cut_at_the_bound(app, make_user, login):
    client = login(make_user(), on=app.test_client())
    builder = EnvironBuilder(
        path="/quizzes/attempts/1/answers",
        method="POST",
        headers={"Content-Type": "application/json"},
        input_stream=io.BytesIO(b'{"position": 1, "pad": "' + b"x" * 100_000 + b'"}'),
    )
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True  # how gunicorn passes a chunked body
    response = client.open(environ, buffered=True)
    assert response.status_code == 413


def test_the_whole_app_has_a_bound_and_upload_chunks_their_own(app, client, make_user, login):
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    login(make_user(role=Role.ADMIN))
    too_big = client.post("/auth/password", data=b"a" * (17 * 1024 * 1024), content_type="text/plain")
    assert too_big.status_code == 413
    assert "最多可发送 16 MB" in too_big.get_data(as_text=True)
    # A chunk of the configured size (8 MB) gets through to the upload (unknown here: 404) ...
    chunk = client.put(
        "/admin/media/uploads/nope", data=b"a" * (8 * 1024 * 1024), content_type="application/octet-stream"
    )
    assert chunk.status_code == 404
    # ... a larger one does not.
    larger = client.put(
        "/admin/media/uploads/nope", data=b"a" * (9 * 1024 * 1024), content_type="application/octet-stream"
    )
    assert larger.status_code == 413


def test_the_app_bound_is_a_setting(tmp_path):
    app = make_test_app(tmp_path, MAX_REQUEST_MB=1)
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


# --- login limit per account ------------------------------------------------------------


@pytest.fixture
def strict_app(tmp_path):
    app = make_test_app(tmp_path, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


def _login(client, login, password):
    page = client.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return client.post("/auth/login", data={"login": login, "password": password, "csrf_token": token})


def test_the_account_limit_counts_every_name_of_the_account(strict_app):
    branch = services.create_branch("第一党支部", BranchKind.BRANCH, None)
    db.session.add(
        User(
            username="liming",
            name="李明",
            phone="13800000001",
            id_number="11010519491231002x",
            branch=branch,
            password_hash=password_hash(),
        )
    )
    db.session.commit()
    client = strict_app.test_client()
    for name in ("liming", "13800000001", "11010519491231002X", "LIMING", "１３８０００００００１"):
        assert _login(client, name, "wrong-pass1").status_code == 200
    # Five failures under five names of one account: the account is locked for all of them.
    for name in ("liming", "13800000001", "11010519491231002x"):
        blocked = _login(client, name, TEST_PASSWORD)
        assert blocked.status_code == 429, name
        assert "尝试次数过多" in blocked.get_data(as_text=True)


def test_unknown_names_are_limited_too_and_the_ip_limit_stays(strict_app):
    client = strict_app.test_client()
    for _ in range(5):
        assert _login(client, "nobody", "wrong-pass1").status_code == 200
    assert _login(client, "nobody", "wrong-pass1").status_code == 429
    assert strict_app.config["LOGIN_LIMIT_PER_IP"] == "30 per 5 minutes"


# --- passwords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["Password1", "Qwerty123", "Abcd1234", "Vanguard2026", "vanguard2026", "Xianfeng2026", "a1b2c3d4", "Zhang1990"],
)
def test_common_and_easily_guessed_passwords_are_refused(password):
    with pytest.raises(ValidationFailed):
        services.check_password_strength(password)


def test_the_account_own_names_and_numbers_are_easy_guesses():
    services.check_password_strength("Liu-2026-Yang")  # fine for someone else
    with pytest.raises(ValidationFailed):
        services.check_password_strength("liuyang2026", ["liuyang", "刘洋", "13900000002"])
    with pytest.raises(ValidationFailed):
        services.check_password_strength("a13900000002", ["liuyang", "刘洋", "13900000002"])


@pytest.mark.parametrize("password", [TEST_PASSWORD, "Welcome2026", "Temp2026xx", "Dangyuan-学习-2026", "hx83kd9aa"])
def test_reasonable_passwords_pass(password):
    services.check_password_strength(password)


def test_password_change_refuses_the_demo_password(client, make_user, login):
    login(make_user(username="wangfang"))
    response = client.post(
        "/auth/password",
        data={"current_password": TEST_PASSWORD, "new_password": "Vanguard2026", "confirm": "Vanguard2026"},
    )
    assert response.status_code == 200
    assert "这是人人都知道的演示密码，请换一个密码。" in response.get_data(as_text=True)


def test_admin_reset_and_create_refuse_guessable_passwords(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    target = make_user(username="zhaolei")
    before = target.password_hash
    response = client.post(
        f"/admin/users/{target.id}/password", data={"new_password": "Password1"}, follow_redirects=True
    )
    assert "该密码太容易被猜到" in response.get_data(as_text=True)
    db.session.refresh(target)
    assert target.password_hash == before
    response = client.post(
        "/admin/users/new",
        data={
            "name": "新党员",
            "username": "xinren",
            "branch_id": 0,
            "status": "full",
            "role": "learner",
            "password": "Qwerty123",
        },
    )
    assert response.status_code == 200
    assert "该密码太容易被猜到" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.username == "xinren")) is None


def test_the_import_refuses_a_guessable_default_password(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    csv = "姓名,用户名,所在支部\n张三,zhangsan,默认党支部\n".encode()
    page = client.post(
        "/admin/import",
        data={"file": (io.BytesIO(csv), "m.csv"), "default_password": "Abcd1234"},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "该密码太容易被猜到" in page


# --- secure cookies ---------------------------------------------------------------------


def _session_cookie(response) -> str:
    return next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))


def test_cookies_are_secure_when_served_over_https(app, make_user):
    make_user(username="liming")
    data = {"login": "liming", "password": TEST_PASSWORD, "remember": "y"}
    secure = app.test_client().post("/auth/login", data=data, base_url="https://lms.example")
    assert secure.status_code == 302
    cookies = secure.headers.getlist("Set-Cookie")
    assert cookies and all("; Secure" in value for value in cookies)
    assert any(value.startswith("remember_token=") for value in cookies)
    plain = app.test_client().post("/auth/login", data=data, base_url="http://127.0.0.1")
    assert "Secure" not in _session_cookie(plain)


def test_behind_a_trusted_proxy_the_forwarded_scheme_counts(tmp_path):
    app = make_test_app(tmp_path, TRUSTED_PROXIES=1)
    response = app.test_client().post("/auth/language", data={"locale": "en"}, headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in _session_cookie(response)


def test_secure_cookies_can_be_forced_or_refused(tmp_path):
    forced = make_test_app(tmp_path, SECURE_COOKIES=True)
    assert forced.config["SESSION_COOKIE_SECURE"] and forced.config["REMEMBER_COOKIE_SECURE"]
    off = make_test_app(tmp_path, SECURE_COOKIES="false")
    response = off.test_client().post("/auth/language", data={"locale": "en"}, base_url="https://lms.example")
    assert "Secure" not in _session_cookie(response)
    with pytest.raises(RuntimeError, match="LMS_SECURE_COOKIES"):
        make_test_app(tmp_path, SECURE_COOKIES="sometimes")


# --- rich text --------------------------------------------------------------------------


def test_rich_text_keeps_only_typographic_classes():
    overlay = '<div class="position-fixed top-0 start-0 w-100 h-100 bg-danger" style="z-index:9999">中奖了</div>'
    assert sanitize_html(overlay) == "<div>中奖了</div>"
    assert sanitize_html('<p class="text-center lead d-none">标题</p>') == '<p class="text-center lead">标题</p>'
    assert sanitize_html('<img class="img-fluid modal" src="/a.png">') == '<img class="img-fluid" src="/a.png">'
    assert sanitize_html('<table class="table table-bordered fixed-top"><tr><td>1</td></tr></table>') == (
        '<table class="table table-bordered"><tbody><tr><td>1</td></tr></tbody></table>'
    )
