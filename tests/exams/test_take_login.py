"""The contest attempt page's fast path (lms.exams.contests.attempt_page): the member's login is checked
in the page's one read, without Flask-Login loading the user, and every refusal is the ordinary one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import url_for

from lms.auth.models import MemberStatus, Role, User
from lms.exams.contests import attempt_page
from lms.exams.quizzes.models import AttemptState, QuizAttempt
from lms.extensions import db, login_manager
from lms.notices import services as notices
from tests.exams.contest_factories import create_contest
from tests.logins import remember_me_only

pytestmark = pytest.mark.postgres  # the one read (types, the joined rows, the count) on PostgreSQL too

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)


@pytest.fixture
def contest(app, four_questions):
    return create_contest(four_questions, open_at=OPEN, time_limit_seconds=600, description="请独立作答")


@pytest.fixture
def taking(client, login, make_user, contest, frozen_clock):
    """A logged-in member with an attempt in progress at ``contest``: (member, contest url)."""
    member = make_user(name="张三")
    login(member)
    frozen_clock.set(OPEN + timedelta(minutes=1))
    assert client.post(f"/contests/{contest.id}/start").status_code == 302
    return member, f"/contests/{contest.id}/take"


def _no_loading(monkeypatch):
    def no_loading(user_id):
        raise AssertionError("the attempt page loaded the user")

    monkeypatch.setattr(login_manager, "_user_callback", no_loading)


def _ordinary(monkeypatch):
    monkeypatch.setattr(attempt_page, "read", lambda contest_id, identity: None)


def _without_tokens(page: str) -> str:
    return re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]*"', r"\1", page)


def _update(member: User, **fields) -> None:
    user = db.session.get(User, member.id)
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()


def _login_redirect(app, response, path: str) -> bool:
    with app.test_request_context():
        return response.status_code == 302 and response.headers["Location"] == url_for("auth.login", next=path)


@pytest.mark.parametrize(
    ("role", "locale", "large_text", "unread"),
    [(Role.LEARNER, None, False, 0), (Role.SECRETARY, "en", True, 3), (Role.ADMIN, "zh_Hans", False, 120)],
)
def test_the_fast_page_is_the_ordinary_page_without_loading_the_user(
    client, taking, monkeypatch, frozen_clock, role, locale, large_text, unread
):
    """Name, role's menu, language, large text and the bell's badge: as Flask-Login's user gives them."""
    member, url = taking
    _update(member, role=role, locale=locale, large_text=large_text)
    if unread:
        for _ in range(unread):
            notices.notify_users([member.id], kind="test", title="通知", now=OPEN)
        db.session.commit()
    with monkeypatch.context() as patched:
        _no_loading(patched)
        fast = client.get(url)
    with monkeypatch.context() as patched:
        _ordinary(patched)
        ordinary = client.get(url)
    assert fast.status_code == ordinary.status_code == 200
    page = fast.get_data(as_text=True)
    assert _without_tokens(page) == _without_tokens(ordinary.get_data(as_text=True))
    assert "张三" in page and "请独立作答" in page and page.count('class="card quiz-question') == 4
    assert ('data-testid="unread-count"' in page) == bool(unread)
    if unread:
        assert ("99+" if unread >= 100 else f">{unread}<") in page
    assert ('class="large-text"' in page) is large_text
    assert ('<html lang="en"' in page) is (locale == "en")


@pytest.mark.parametrize("change", ["deactivated", "revoked"])
def test_a_deactivated_member_or_a_revoked_session_goes_to_the_login(app, client, taking, change):
    member, url = taking
    if change == "deactivated":
        _update(member, is_active=False)
    else:
        _update(member, session_version=member.session_version + 1)  # logged out elsewhere, password changed
    response = client.get(url)
    assert _login_redirect(app, response, url)


def test_an_anonymous_visitor_goes_to_the_login(app, client, taking):
    _, url = taking
    with client.session_transaction() as session:
        session.clear()
    assert _login_redirect(app, client.get(url), url)


def test_a_forced_password_change_comes_first(app, client, taking):
    member, url = taking
    _update(member, must_change_password=True)
    response = client.get(url)
    assert response.status_code == 302
    with app.test_request_context():
        assert response.headers["Location"] == url_for("auth.change_password")


@pytest.mark.parametrize("session_login", ["none", "stale"])
def test_a_remember_me_cookie_still_opens_the_page(app, client, taking, session_login):
    """Without a login in the session, or with a stale one, Flask-Login's remember-me cookie decides."""
    member, url = taking
    remember_me_only(app, client, member, session_login)
    response = client.get(url)
    assert response.status_code == 200 and "张三" in response.get_data(as_text=True)


def test_a_contest_for_another_audience_or_a_missing_one_is_not_found(client, login, make_user, four_questions, taking):
    member, _ = taking
    theirs = create_contest(four_questions, open_at=OPEN, audience_roles=[str(Role.SECRETARY)])
    draft = create_contest(four_questions, open_at=OPEN, publish=False)
    probationary = create_contest(four_questions, open_at=OPEN, audience_statuses=[str(MemberStatus.PROBATIONARY)])
    for contest_id in (theirs.id, draft.id, probationary.id, 987654):
        assert client.get(f"/contests/{contest_id}/take").status_code == 404, contest_id


def test_someone_elses_attempt_is_not_shown(client, login, make_user, contest, taking):
    """Another member of the audience without an attempt of their own goes to the result, not to the attempt."""
    _, url = taking
    other = make_user(name="李四")
    login(other)
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contests/{contest.id}/result")


def test_an_overdue_attempt_is_closed_on_the_way(client, taking, frozen_clock):
    _, url = taking
    frozen_clock.set(OPEN + timedelta(minutes=30))
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/result")
    with db.engine.connect() as connection:
        assert connection.execute(sa.select(QuizAttempt.state)).scalar_one() != AttemptState.IN_PROGRESS


def test_session_protection_marks_a_moved_session_not_fresh(client, taking):
    """As Flask-Login's user load would: another address or browser makes the login not fresh."""
    _, url = taking
    with client.session_transaction() as session:
        session["_id"] = "another browser"
        session["_fresh"] = True
    assert client.get(url).status_code == 200
    with client.session_transaction() as session:
        assert session["_fresh"] is False


def test_the_fast_page_is_one_statement_and_one_round_trip(app, client, taking, monkeypatch):
    """One statement, no transaction around it (on PostgreSQL no BEGIN and no ROLLBACK: one round trip)."""
    _, url = taking
    _no_loading(monkeypatch)
    client.get(url)  # warm
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert len(seen) == 1 and "attempt_questions" in seen[0] and "notifications" in seen[0], seen
    if db.engine.dialect.name == "postgresql":
        assert _round_trips(client, url) == 1  # the SELECT: no BEGIN before it, no ROLLBACK after it


def _round_trips(client, url: str) -> int:
    """The messages of one request that wait for the server (simple queries and Syncs), from libpq's trace."""
    import tempfile

    connections = []

    def trace(dbapi_connection, record_, proxy):
        dbapi_connection.pgconn.trace(log.fileno())
        connections.append(dbapi_connection)

    with tempfile.TemporaryFile("w+") as log:
        sa.event.listen(db.engine.pool, "checkout", trace)
        try:
            assert client.get(url).status_code == 200
        finally:
            sa.event.remove(db.engine.pool, "checkout", trace)
            for connection in connections:
                connection.pgconn.untrace()
        log.seek(0)
        sent = [line.split("\t") for line in log if "\tF\t" in line]
    return sum(1 for fields in sent if len(fields) > 3 and fields[3].split()[0] in ("Query", "Sync"))
