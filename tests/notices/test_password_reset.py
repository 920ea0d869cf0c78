"""Forgotten password: an e-mailed, expiring, single-use, rate-limited link; or whom to ask without SMTP."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from lms.auth.models import User
from lms.extensions import db
from lms.notices.models import OutgoingMail
from tests.conftest import make_test_app, password_hash


def no_smtp(*args, **kwargs):
    raise AssertionError("a request talked to the SMTP server")


@pytest.fixture
def outbox(app, monkeypatch):
    app.config["SMTP_HOST"] = "smtp.example.org"
    monkeypatch.setattr("smtplib.SMTP", no_smtp)

    def queued() -> list[tuple[list[str], str]]:
        """The mails in the outbox, as ``[(recipients, body)]``."""
        db.session.expire_all()
        return [([m.recipient], m.body) for m in db.session.scalars(sa.select(OutgoingMail).order_by(OutgoingMail.id))]

    return queued


def link_in(body: str) -> str:
    return re.search(r"http://localhost(/auth/forgot/\S+)", body).group(1)


def fresh(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_without_smtp_the_login_page_says_whom_to_ask(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "请联系所在党支部书记或平台管理员重置密码" in page or "书记" in page
    assert 'href="/auth/forgot/"' not in page
    assert 'data-testid="ask-for-reset"' in client.get("/auth/forgot/").get_data(as_text=True)


def test_a_reset_link_sets_a_new_password_once(client, make_user, outbox):
    member = make_user(username="zhang", email="zhang@example.org")
    old_version = member.session_version
    assert 'href="/auth/forgot/"' in client.get("/auth/login").get_data(as_text=True)
    response = client.post("/auth/forgot/", data={"login": "ZHANG "})
    assert response.status_code == 302
    [(recipients, body)] = outbox()
    assert recipients == ["zhang@example.org"]
    link = link_in(body)
    assert client.get(link).status_code == 200
    # The same rules as a password change.
    weak = client.post(link, data={"new_password": "12345678", "confirm": "12345678"})
    assert weak.status_code == 200  # the form again, with the strength rule's message
    assert check_password_hash(fresh(member).password_hash, "12345678") is False
    done = client.post(link, data={"new_password": "NewPass2026", "confirm": "NewPass2026"})
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"
    user = fresh(member)
    assert check_password_hash(user.password_hash, "NewPass2026")
    assert user.session_version > old_version  # other sessions end
    again = client.post(link, data={"new_password": "Other2026x", "confirm": "Other2026x"})
    assert again.status_code == 400
    assert check_password_hash(fresh(member).password_hash, "NewPass2026")


def test_unknown_accounts_get_the_same_answer_and_no_mail(client, make_user, outbox):
    make_user(username="li")  # no e-mail address
    for login in ("nobody", "li"):
        response = client.post("/auth/forgot/", data={"login": login})
        assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert outbox() == []


def test_links_expire_and_forged_links_fail(app, client, make_user, outbox, frozen_clock, monkeypatch):
    member = make_user(username="wang", email="wang@example.org")
    client.post("/auth/forgot/", data={"login": "wang"})
    link = link_in(outbox()[0][1])
    assert client.get(link + "x").status_code == 400
    app.config["PASSWORD_RESET_MINUTES"] = 0
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 10**10)
    assert client.get(link).status_code == 400
    assert fresh(member).password_hash == member.password_hash


def test_requests_are_rate_limited_per_account(tmp_path, monkeypatch):
    app = make_test_app(tmp_path, RATELIMIT_ENABLED=True, SMTP_HOST="smtp.example.org")
    monkeypatch.setattr("smtplib.SMTP", no_smtp)
    with app.app_context():
        db.session.add(User(username="zhao", name="赵", email="zhao@example.org", password_hash=password_hash()))
        db.session.commit()
        client = app.test_client()
        statuses = [client.post("/auth/forgot/", data={"login": "zhao"}).status_code for _ in range(4)]
        assert statuses == [302, 302, 302, 429]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail)) == 3
        db.session.remove()
