"""Login, sessions, passwords and the forced first-login change."""

import pytest

from lms.auth import services
from lms.auth.models import Role
from lms.extensions import db
from tests.conftest import TEST_PASSWORD


def post_login(client, login, password=TEST_PASSWORD):
    return client.post("/auth/login", data={"login": login, "password": password})


@pytest.mark.parametrize("typed", ["LiMing", "  liming ", "ｌｉｍｉｎｇ"])
def test_login_name_is_normalised_case_width_and_spaces(client, make_user, typed):
    make_user(username="liming")
    response = post_login(client, typed)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_by_phone_or_id_number(app, make_user):
    make_user(username="zhang", phone="13800000011", id_number="11010119900101123x")
    for login in ("13800000011", "11010119900101123X"):
        client = app.test_client()
        assert post_login(client, login).status_code == 302


def test_wrong_password_shows_a_clear_message_and_stays_on_the_form(client, make_user):
    make_user(username="liming")
    response = post_login(client, "liming", "not-the-password1")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message_as_a_wrong_password(client):
    response = post_login(client, "nobody", "whatever123")
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_deactivated_account_cannot_log_in(client, make_user):
    make_user(username="gone", is_active=False)
    response = post_login(client, "gone")
    assert response.status_code == 200
    assert "账号已停用" in response.get_data(as_text=True)


def test_deactivation_ends_existing_sessions(app, client, make_user, login):
    admin = make_user(role=Role.ADMIN, username="boss")
    member = make_user(username="member")
    login(member)
    assert client.get("/").status_code == 200
    services.set_active(member, False, actor=admin)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_logout_ends_the_users_sessions_on_every_device(app, make_user, login):
    member = make_user(username="member")
    phone, laptop = app.test_client(), app.test_client()
    login(member, on=phone)
    login(member, on=laptop)
    assert laptop.get("/").status_code == 200
    assert phone.post("/auth/logout").status_code == 302
    assert laptop.get("/").status_code == 302


def test_password_change_keeps_this_session_and_ends_others(app, make_user, login):
    member = make_user(username="member")
    here, elsewhere = app.test_client(), app.test_client()
    login(member, on=here)
    login(member, on=elsewhere)
    response = here.post(
        "/auth/password",
        data={"current_password": TEST_PASSWORD, "new_password": "NewPass2026", "confirm": "NewPass2026"},
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert post_login(app.test_client(), "member", "NewPass2026").status_code == 302


def test_password_change_refuses_a_wrong_current_password_and_weak_new_ones(client, make_user, login):
    login(make_user(username="member"))
    wrong = client.post(
        "/auth/password",
        data={"current_password": "nope12345", "new_password": "NewPass2026", "confirm": "NewPass2026"},
    )
    assert "当前密码不正确" in wrong.get_data(as_text=True)
    weak = client.post(
        "/auth/password", data={"current_password": TEST_PASSWORD, "new_password": "12345678", "confirm": "12345678"}
    )
    assert "密码须同时包含字母和数字" in weak.get_data(as_text=True)


def test_imported_account_must_change_password_before_anything_else(client, make_user, login):
    login(make_user(username="new", must_change_password=True))
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/password")
    client.post(
        "/auth/password",
        data={"current_password": TEST_PASSWORD, "new_password": "MyOwn2026x", "confirm": "MyOwn2026x"},
    )
    assert client.get("/").status_code == 200


def test_open_redirect_after_login_is_refused(client, make_user):
    make_user(username="liming")
    response = client.post(
        "/auth/login", data={"login": "liming", "password": TEST_PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/"


def test_language_is_stored_on_the_account(client, make_user, login):
    member = make_user(username="member")
    login(member)
    assert "我的学习" in client.get("/").get_data(as_text=True)
    client.post("/auth/language", data={"locale": "en"})
    assert "My learning" in client.get("/").get_data(as_text=True)
    db.session.refresh(member)
    assert member.locale == "en"


def test_passwords_are_hashed_with_a_current_kdf(make_user):
    user = services.create_user(services.UserFields(username="kdf", name="K"), "Secret2026")
    assert user.password_hash.startswith("scrypt:")
    assert "Secret2026" not in user.password_hash
