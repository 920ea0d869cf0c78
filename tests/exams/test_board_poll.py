"""Polling the live board (``board.json``): one query per poll, and every refusal of the ordinary path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.auth.models import BranchKind, MemberStatus
from lms.exams.contests import board_poll
from lms.extensions import db
from tests.exams.contest_factories import create_contest, take

pytestmark = pytest.mark.postgres  # the poll's one query (types, the joined contest) on PostgreSQL too

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)


@pytest.fixture
def contest(app, four_questions):
    return create_contest(four_questions, open_at=OPEN, board_size=1)


def _statements(app, run):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return result, seen


def test_a_poll_of_a_cached_board_is_one_query_and_shows_the_same_board(
    app, client, login, make_user, contest, frozen_clock, monkeypatch
):
    leader, me = make_user(name="第一名"), make_user(name="我自己")
    take(contest, leader, OPEN, correct=4, seconds=60)
    take(contest, me, OPEN, correct=1, seconds=60)
    login(me)
    frozen_clock.set(OPEN + timedelta(minutes=5))
    url = f"/contests/{contest.id}/board.json"
    first = client.get(url).get_json()  # computes and caches the board
    response, seen = _statements(app, lambda: client.get(url))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    assert len(seen) == 1, seen  # the viewer's login and the contest together; no user load, no ORM contest
    fast = response.get_json()
    assert fast["rows"][0][2] == "第一名" and fast["mine"][:3] == [2, me.id, "我自己"]
    monkeypatch.setattr(board_poll, "poll_view", lambda contest_id, identity: None)  # the ordinary path
    ordinary, seen = _statements(app, lambda: client.get(url))
    assert len(seen) >= 2
    assert ordinary.get_json() == fast == first


def test_a_poll_refuses_what_the_login_refuses(app, client, login, make_user, contest, frozen_clock):
    frozen_clock.set(OPEN + timedelta(minutes=5))
    url = f"/contests/{contest.id}/board.json"
    anonymous = client.get(url, headers={"Accept": "application/json"})
    assert anonymous.status_code == 401 and anonymous.get_json()["ok"] is False

    member = make_user()
    login(member)
    assert client.get(url).status_code == 200
    member.session_version += 1  # logged out everywhere (password changed elsewhere)
    db.session.commit()
    assert client.get(url, headers={"Accept": "application/json"}).status_code == 401

    deactivated = make_user()
    login(deactivated)
    assert client.get(url).status_code == 200
    deactivated.is_active = False
    db.session.commit()
    assert client.get(url, headers={"Accept": "application/json"}).status_code == 401

    forced = make_user(must_change_password=True)
    login(forced)
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/password")


def test_a_poll_answers_404_for_a_contest_the_viewer_may_not_see(
    app, client, login, make_user, make_branch, four_questions, frozen_clock
):
    frozen_clock.set(OPEN + timedelta(minutes=5))
    committee = make_branch("机关党委", kind=BranchKind.COMMITTEE)
    inside = make_branch("机关第一党支部", parent=committee)
    elsewhere = make_branch("社区党支部")
    contest = create_contest(four_questions, open_at=OPEN, audience_branch_ids=[committee.id])
    draft = create_contest(four_questions, open_at=OPEN, publish=False)
    full_only = create_contest(four_questions, open_at=OPEN, audience_statuses=[str(MemberStatus.FULL)])

    login(make_user(branch=inside))  # the committee's subtree: in the audience
    assert client.get(f"/contests/{contest.id}/board.json").get_json()["mode"] == "live"
    assert client.get(f"/contests/{draft.id}/board.json").status_code == 404
    assert client.get(f"/contests/{contest.id + 1000}/board.json").status_code == 404
    login(make_user(branch=elsewhere))
    assert client.get(f"/contests/{contest.id}/board.json").status_code == 404
    assert client.get(f"/contests/{full_only.id}/board.json").status_code == 200
    login(make_user(branch=elsewhere, status=MemberStatus.ACTIVIST))
    assert client.get(f"/contests/{full_only.id}/board.json").status_code == 404
    login(make_user(branch=None))  # no branch at all
    assert client.get(f"/contests/{contest.id}/board.json").status_code == 404
