"""The answer save's and the submit's login fast path: the member's row is checked in their own
first SELECT, without Flask-Login loading the user (lms.exams.quizzes.views.save and submit,
saves.prepare_save, attempts.submit_attempt)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import url_for

from lms.auth.models import User
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuizAttempt
from lms.extensions import db, login_manager
from tests.logins import remember_me_only

pytestmark = pytest.mark.postgres  # the login read in the save's own SELECT


def _start(client, quiz) -> int:
    response = client.post(f"/quizzes/{quiz.id}/start")
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def _stored(attempt_id: int, position: int):
    query = sa.select(AttemptQuestion.client_seq, AttemptQuestion.response).where(
        AttemptQuestion.attempt_id == attempt_id, AttemptQuestion.position == position
    )
    with db.engine.connect() as connection:
        return tuple(connection.execute(query).one())


def _save(client, attempt_id: int, body: dict):
    return client.post(f"/quizzes/attempts/{attempt_id}/answers", json=body, headers={"Accept": "application/json"})


def _no_loading(monkeypatch):
    def no_loading(user_id):
        raise AssertionError("the save loaded the user")

    monkeypatch.setattr(login_manager, "_user_callback", no_loading)


@pytest.fixture
def taking(client, login, make_user, make_quiz, four_questions, frozen_clock):
    """A logged-in member with an attempt in progress: (member, attempt id)."""
    member = make_user()
    login(member)
    return member, _start(client, make_quiz(four_questions, time_limit_seconds=600))


def test_a_save_does_not_load_the_user(client, taking, monkeypatch):
    _, attempt_id = taking
    _no_loading(monkeypatch)
    response = _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 1})
    assert response.status_code == 200 and response.get_json()["applied"]
    assert _stored(attempt_id, 3) == (1, {"value": True})


@pytest.mark.parametrize(("saved", "expected"), [("en", "The save carries no valid sequence number"),
                                                  (None, "保存请求缺少有效的序号")])  # fmt: skip
def test_a_refusal_is_in_the_members_language_without_loading_the_user(client, taking, monkeypatch, saved, expected):
    member, attempt_id = taking
    db.session.get(User, member.id).locale = saved
    db.session.commit()
    _no_loading(monkeypatch)
    response = _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 0})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith(expected)


@pytest.mark.parametrize("change", ["deactivated", "revoked"])
@pytest.mark.parametrize("position", [3, "3"])  # a malformed position is checked after the login
def test_a_deactivated_member_or_a_revoked_session_is_refused(client, taking, change, position):
    member, attempt_id = taking
    user = db.session.get(User, member.id)
    if change == "deactivated":
        user.is_active = False
    else:
        user.session_version += 1  # logout elsewhere, password change
    db.session.commit()
    response = _save(client, attempt_id, {"position": position, "response": {"value": True}, "seq": 1})
    assert response.status_code == 401
    assert response.get_json()["ok"] is False
    assert _stored(attempt_id, 3) == (0, None)


def test_a_forced_password_change_is_enforced(app, client, taking):
    member, attempt_id = taking
    db.session.get(User, member.id).must_change_password = True
    db.session.commit()
    response = _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 1})
    assert response.status_code == 302
    with app.test_request_context():
        assert response.headers["Location"].endswith(url_for("auth.change_password"))
    assert _stored(attempt_id, 3) == (0, None)


def test_another_members_attempt_looks_missing(client, login, make_user, taking):
    _, attempt_id = taking
    login(make_user())
    response = _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 1})
    assert response.status_code == 404
    assert _stored(attempt_id, 3) == (0, None)


def test_an_anonymous_save_is_refused(client, taking):
    _, attempt_id = taking
    with client.session_transaction() as session:
        session.clear()
    response = _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 1})
    assert response.status_code == 401
    assert _stored(attempt_id, 3) == (0, None)


@pytest.mark.parametrize("session_login", ["none", "stale"])
def test_a_remember_me_cookie_still_logs_the_save_in(app, client, taking, session_login):
    """Without a login in the session, or with a stale one, Flask-Login's remember-me cookie decides."""
    member, attempt_id = taking
    remember_me_only(app, client, member, session_login)
    response = _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 1})
    assert response.status_code == 200 and response.get_json()["applied"]
    assert _stored(attempt_id, 3) == (1, {"value": True})


def _state(attempt_id: int) -> AttemptState:
    with db.engine.connect() as connection:
        return connection.execute(sa.select(QuizAttempt.state).where(QuizAttempt.id == attempt_id)).scalar_one()


def _submit(client, attempt_id: int):
    return client.post(f"/quizzes/attempts/{attempt_id}/submit", json={}, headers={"Accept": "application/json"})


def test_a_submit_does_not_load_the_user(client, taking, monkeypatch):
    _, attempt_id = taking
    assert _save(client, attempt_id, {"position": 3, "response": {"value": True}, "seq": 1}).status_code == 200
    _no_loading(monkeypatch)
    response = _submit(client, attempt_id)
    assert response.status_code == 200 and response.get_json()["state"] == "finished"
    assert _state(attempt_id) == AttemptState.FINISHED
    again = _submit(client, attempt_id)  # idempotent
    assert again.status_code == 200 and again.get_json()["state"] == "finished"


def test_a_form_submit_redirects_to_the_result(client, taking):
    _, attempt_id = taking
    response = client.post(f"/quizzes/attempts/{attempt_id}/submit")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/quizzes/attempts/{attempt_id}")
    assert _state(attempt_id) == AttemptState.FINISHED


@pytest.mark.parametrize("change", ["deactivated", "revoked"])
def test_a_submit_of_a_deactivated_member_or_a_revoked_session_is_refused(client, taking, change):
    member, attempt_id = taking
    user = db.session.get(User, member.id)
    if change == "deactivated":
        user.is_active = False
    else:
        user.session_version += 1
    db.session.commit()
    assert _submit(client, attempt_id).status_code == 401
    assert _state(attempt_id) == AttemptState.IN_PROGRESS


def test_a_submit_waits_for_a_forced_password_change(app, client, taking):
    member, attempt_id = taking
    db.session.get(User, member.id).must_change_password = True
    db.session.commit()
    response = _submit(client, attempt_id)
    assert response.status_code == 302
    with app.test_request_context():
        assert response.headers["Location"].endswith(url_for("auth.change_password"))
    assert _state(attempt_id) == AttemptState.IN_PROGRESS


def test_a_submit_of_another_members_attempt_looks_missing(client, login, make_user, taking):
    _, attempt_id = taking
    login(make_user())
    assert _submit(client, attempt_id).status_code == 404
    assert _state(attempt_id) == AttemptState.IN_PROGRESS


def test_an_anonymous_submit_is_refused(client, taking):
    _, attempt_id = taking
    with client.session_transaction() as session:
        session.clear()
    assert _submit(client, attempt_id).status_code == 401
    assert _state(attempt_id) == AttemptState.IN_PROGRESS
