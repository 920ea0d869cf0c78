"""The heartbeat endpoint: JSON in and out, CSRF from header or body, forged beats refused."""

import json
import re

import pytest
import sqlalchemy as sa

from lms.courses.models import LessonKind, StudyLedgerEntry
from lms.extensions import db


@pytest.fixture
def member(make_user):
    return make_user(username="zhaoting", name="赵婷")


@pytest.fixture
def video(make_course, lesson_of, frozen_clock):
    return lesson_of(make_course((LessonKind.VIDEO, 100.0)))


def credited(user=None) -> float:
    query = sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0))
    if user is not None:
        query = query.where(StudyLedgerEntry.user_id == user.id)
    return db.session.scalar(query)


def open_session(client, lesson, headers=None) -> str:
    response = client.post(f"/courses/lessons/{lesson.id}/session", json={}, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] and body["heartbeat_seconds"] == 15
    return body["session_id"]


def send(client, body, headers=None, raw=None):
    """POST a beat; a body without ``idle_seconds`` is sent as from a member active just now."""
    if isinstance(body, dict):
        body = {"idle_seconds": 0, **body}
    data = raw if raw is not None else json.dumps(body)
    return client.post("/courses/heartbeat", data=data, headers={"Content-Type": "text/plain", **(headers or {})})


def test_beat_credits_and_answers_progress(client, login, member, video, frozen_clock):
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    response = send(client, {"session_id": session_id, "lesson_id": video.id, "from": 0, "to": 15, "rate": 1,
                             "visible": True})  # fmt: skip
    body = response.get_json()
    assert response.status_code == 200
    assert body["ok"] is True and body["credited"] == 15
    assert body["watched_seconds"] == 15 and body["watched_ratio"] == 0.15
    assert body["completed"] is False
    assert credited(member) == 15


def test_refused_beat_answers_ok_with_zero_and_a_reason(client, login, member, video, frozen_clock):
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    response = send(client, {"session_id": session_id, "from": 0, "to": 15, "visible": False})
    assert response.status_code == 200
    body = response.get_json()
    assert body == body | {"ok": True, "credited": 0, "reason": "page_hidden"}
    assert body["message"]
    assert credited() == 0


def test_another_members_session_id_is_refused(client, login, member, make_user, video, frozen_clock, app):
    other = make_user(username="other")
    other_client = app.test_client()
    login(other, on=other_client)
    stolen = open_session(other_client, video)
    login(member)
    open_session(client, video)
    frozen_clock.advance(15)
    body = send(client, {"session_id": stolen, "from": 0, "to": 15}).get_json()
    assert body["credited"] == 0 and body["reason"] == "session_not_active"
    assert credited() == 0


def test_session_for_a_lesson_outside_the_audience_is_refused(client, login, member, make_course, lesson_of):
    hidden = lesson_of(make_course(title="仅积极分子", audience={"audience_statuses": ["activist"]}))
    login(member)
    response = client.post(f"/courses/lessons/{hidden.id}/session", json={})
    assert response.status_code == 404
    assert response.get_json()["ok"] is False


def test_beat_for_a_lesson_outside_the_audience_is_refused(client, login, member, video, make_course, lesson_of,
                                                           frozen_clock):  # fmt: skip
    hidden = lesson_of(make_course(title="仅积极分子", audience={"audience_statuses": ["activist"]}))
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    body = send(client, {"session_id": session_id, "lesson_id": hidden.id, "from": 0, "to": 15}).get_json()
    assert body["credited"] == 0 and body["reason"] == "lesson_mismatch"
    assert credited() == 0


@pytest.mark.parametrize(
    "segment",
    [
        {"from": -10, "to": 5},
        {"from": 50, "to": 10},
        {"from": 0, "to": 1e12},
        {"from": 0, "to": 15, "rate": 0},
        {"from": 0, "to": 15, "rate": -3},
    ],
)
def test_absurd_positions_are_refused(client, login, member, video, frozen_clock, segment):
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    body = send(client, {"session_id": session_id, **segment}).get_json()
    assert body["ok"] is True and body["credited"] == 0 and body["reason"]
    assert credited() == 0


@pytest.mark.parametrize(
    "raw",
    [
        "not json at all",
        "[1, 2, 3]",
        '{"session_id": 12345678901, "from": 0, "to": 15}',
        '{"session_id": "%s", "from": "0", "to": "15"}',
        '{"session_id": "%s", "from": 0, "to": NaN}',
        '{"session_id": "%s", "from": 0, "to": 15, "visible": "yes"}',
        '{"session_id": "%s", "from": true, "to": 15}',
        "\xff\xfe garbage",
    ],
)
def test_malformed_bodies_are_refused(client, login, member, video, frozen_clock, raw):
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    data = raw % session_id if "%s" in raw else raw
    response = send(client, None, raw=data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
    body = response.get_json()
    assert body["credited"] == 0
    assert response.status_code in (200, 400)
    assert credited() == 0


def test_oversized_body_is_refused(client, login, member, video):
    login(member)
    session_id = open_session(client, video)
    response = send(client, {"session_id": session_id, "from": 0, "to": 15, "padding": "x" * 5000})
    assert response.status_code == 413


def test_anonymous_beat_is_refused_with_401(client, video):
    response = send(client, {"session_id": "x" * 22, "from": 0, "to": 15})
    assert response.status_code == 401
    assert response.get_json()["message"] == "您已退出登录，请重新登录后继续记录学习时长。"
    assert credited() == 0


def _csrf_token(client) -> str:
    page = client.get("/courses/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_with_csrf_on_a_missing_token_is_refused(app, client, login, member, video, frozen_clock):
    app.config["WTF_CSRF_ENABLED"] = True
    login(member)
    token = _csrf_token(client)
    session_id = open_session(client, video, headers={"X-CSRFToken": token})
    frozen_clock.advance(15)
    response = send(client, {"session_id": session_id, "from": 0, "to": 15})
    assert response.status_code == 400
    assert response.get_json() == response.get_json() | {"ok": False, "credited": 0, "reason": "csrf"}
    forged = send(client, {"session_id": session_id, "from": 0, "to": 15, "csrf_token": "forged" + token[6:]})
    assert forged.status_code == 400
    assert credited() == 0


def test_with_csrf_on_the_token_is_accepted_in_the_body_as_sendbeacon_sends_it(app, client, login, member, video,
                                                                               frozen_clock):  # fmt: skip
    app.config["WTF_CSRF_ENABLED"] = True
    login(member)
    token = _csrf_token(client)
    session_id = open_session(client, video, headers={"X-CSRFToken": token})
    frozen_clock.advance(15)
    body = send(client, {"session_id": session_id, "from": 0, "to": 15, "csrf_token": token}).get_json()
    assert body["credited"] == 15
    frozen_clock.advance(15)
    header = send(client, {"session_id": session_id, "from": 15, "to": 30}, headers={"X-CSRFToken": token})
    assert header.get_json()["credited"] == 15


def test_with_csrf_on_session_start_without_the_header_is_refused(app, client, login, member, video):
    app.config["WTF_CSRF_ENABLED"] = True
    login(member)
    response = client.post(f"/courses/lessons/{video.id}/session", json={})
    assert response.status_code == 400


def test_heartbeats_are_rate_limited_per_member_even_with_forged_ids(app, client, login, member, video,
                                                                     frozen_clock):  # fmt: skip
    app.config["HEARTBEAT_MAX_PER_MINUTE"] = 3
    login(member)
    session_id = open_session(client, video)
    codes = []
    for n in range(5):
        frozen_clock.advance(5)
        forged = n % 2 == 1
        body = {"session_id": "z" * 22 if forged else session_id, "from": n * 5, "to": n * 5 + 5}
        codes.append(send(client, body).status_code)
    assert codes == [200, 200, 200, 429, 429]
    refused = send(client, {"session_id": session_id, "from": 25, "to": 30})
    assert refused.status_code == 429
    assert refused.get_json() == refused.get_json() | {"credited": 0, "reason": "too_many_beats"}
    frozen_clock.advance(60)  # a new minute
    assert send(client, {"session_id": session_id, "from": 25, "to": 30}).get_json()["credited"] == 5
    assert credited(member) == 5 + 5 + 5


def test_the_body_is_checked_once_by_the_view_not_by_the_request_hook(client, login, member, video, frozen_clock):
    """``checks_own_body``: the heartbeat skips ``check_request_text`` and ``json_object`` still refuses bad bodies."""
    from lms.courses.views import heartbeat

    assert heartbeat.checks_own_body is True
    anonymous = client.post("/courses/heartbeat", data="[1]", headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401  # the login is checked first; the hook did not read the body
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    for raw in ("[1]", json.dumps({"session_id": session_id, "from": 0, "to": 15, "x": "\x00"})):
        response = client.post("/courses/heartbeat", data=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.get_json()["reason"] == "malformed"
    assert credited() == 0
