"""CSRF, rate limits and security headers (with the protections switched on)."""

import pytest

from lms.auth.models import BranchKind, User
from lms.auth.services import create_branch
from lms.extensions import db
from tests.conftest import TEST_PASSWORD, make_test_app, password_hash


@pytest.fixture
def strict_app(tmp_path):
    # Its own app (not the `app` fixture): Flask-Limiter's settings live on the
    # extension object, so the last app initialised decides whether limits apply.
    app = make_test_app(tmp_path, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def add_user(strict_app):
    def factory(username: str) -> User:
        branch = create_branch(f"支部-{username}", BranchKind.BRANCH, None)
        user = User(username=username, name=username, branch=branch, password_hash=password_hash())
        db.session.add(user)
        db.session.commit()
        return user

    return factory


def test_forms_without_or_with_a_forged_csrf_token_are_refused(strict_app, add_user):
    add_user("liming")
    client = strict_app.test_client()
    missing = client.post("/auth/login", data={"login": "liming", "password": TEST_PASSWORD})
    assert missing.status_code in (200, 400)
    assert client.get("/").status_code == 302  # not logged in
    client.get("/auth/login")
    forged = client.post("/auth/login", data={"login": "liming", "password": TEST_PASSWORD, "csrf_token": "forged"})
    assert client.get("/").status_code == 302
    assert "表单已过期或无效" in forged.get_data(as_text=True)


def test_json_posts_need_the_csrf_header(strict_app, add_user):
    member = add_user("liming")
    client = strict_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = member.get_id()
    response = client.post("/auth/logout", json={}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["ok"] is False
    assert client.get("/").status_code == 200  # still logged in: the forged logout did nothing


def _login_with_token(client, login, password):
    page = client.get("/auth/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return client.post("/auth/login", data={"login": login, "password": password, "csrf_token": token})


def test_repeated_wrong_passwords_for_one_account_are_rate_limited(strict_app, add_user):
    add_user("liming")
    client = strict_app.test_client()
    for _ in range(5):
        assert _login_with_token(client, "liming", "wrong-pass1").status_code == 200
    blocked = _login_with_token(client, "liming", TEST_PASSWORD)
    assert blocked.status_code == 429
    assert "尝试次数过多" in blocked.get_data(as_text=True)
    # Another account from the same address is not locked by this one's failures.
    add_user("other")
    assert _login_with_token(client, "other", TEST_PASSWORD).status_code == 302


def test_security_headers_and_content_security_policy(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_speak_the_ui_language(client, make_user, login):
    login(make_user())
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_many_failures_from_one_address_are_rate_limited_across_accounts(tmp_path):
    app = make_test_app(tmp_path, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True, LOGIN_LIMIT_PER_IP="3 per minute")
    with app.app_context():
        client = app.test_client()
        for name in ("a1", "a2", "a3"):
            assert _login_with_token(client, name, "wrong-pass1").status_code == 200
        assert _login_with_token(client, "a4", "wrong-pass1").status_code == 429
        db.session.remove()


def test_a_concurrent_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit(strict_app, add_user):
    """Each attempt is counted before its password is checked, so twelve at once still get five checks."""
    import threading

    add_user("burst")
    clients = [strict_app.test_client() for _ in range(12)]
    tokens = []
    for client in clients:
        page = client.get("/auth/login").get_data(as_text=True)
        tokens.append(page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0])
    barrier = threading.Barrier(len(clients))
    statuses = []

    def attempt(client, token):
        with strict_app.app_context():
            barrier.wait(10)
            form = {"login": "burst", "password": "wrong-pass1", "csrf_token": token}
            response = client.post("/auth/login", data=form)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] * 5 + [429] * 7


def test_a_successful_login_does_not_count_against_the_limit(strict_app, add_user):
    add_user("liming")
    client = strict_app.test_client()
    for _ in range(4):
        assert _login_with_token(client, "liming", "wrong-pass1").status_code == 200
    assert _login_with_token(client, "liming", TEST_PASSWORD).status_code == 302
    client.post("/auth/logout", data={"csrf_token": client.get("/").get_data(as_text=True)
                                      .split('name="csrf_token" value="')[1].split('"')[0]})  # fmt: skip
    assert _login_with_token(client, "liming", "wrong-pass1").status_code == 200  # the fifth failure
    assert _login_with_token(client, "liming", TEST_PASSWORD).status_code == 429
