"""The contest's attempt page: the attempt and its questions in one read (2,000 contestants open it in a minute)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.exams.quizzes.models import AttemptState, QuizAttempt
from lms.extensions import db
from tests.exams.contest_factories import create_contest, key_response
from tests.exams.factories import EXPLANATION_TEXT

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=2)


@pytest.fixture
def contest(app, four_questions):
    return create_contest(four_questions, open_at=OPEN, close_at=CLOSE, time_limit_seconds=600, title="党史知识竞赛")


def _selects(run):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        return run(), seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def test_the_attempt_page_reads_the_attempt_and_its_questions_once(client, login, make_user, contest, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(OPEN)
    client.post(f"/contests/{contest.id}/start")
    attempt = db.session.scalar(sa.select(QuizAttempt))
    first = min(attempt.questions, key=lambda q: q.position)
    saved = client.post(
        f"/quizzes/attempts/{attempt.id}/answers",
        json={"position": first.position, "response": key_response(first), "seq": 3},
    )
    assert saved.status_code == 200
    db.session.expunge_all()
    response, seen = _selects(lambda: client.get(f"/contests/{contest.id}/take"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    # The member's login, the contest with its quiz, the attempt with its questions and snapshots,
    # the bell: one statement (lms.exams.contests.attempt_page).
    assert len(seen) == 1, seen
    assert "attempt_questions" in seen[0] and "notifications" in seen[0], seen
    assert f'data-attempt="{attempt.id}"' in page
    assert page.count('class="card quiz-question') == 4
    assert f'data-position="{first.position}" data-type="{first.snapshot.type}" data-seq="3"' in page
    assert 'class="quiz-nav-item answered"' in page  # the saved answer shows as answered
    assert f"/quizzes/attempts/{attempt.id}/questions/4/report" in page
    assert EXPLANATION_TEXT not in page and '"answer"' not in page


def test_an_overdue_attempt_is_closed_and_the_page_goes_to_the_result(client, login, make_user, contest, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(OPEN)
    client.post(f"/contests/{contest.id}/start")
    attempt_id = db.session.scalar(sa.select(QuizAttempt.id))
    frozen_clock.set(OPEN + timedelta(minutes=30))
    response = client.get(f"/contests/{contest.id}/take")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contests/{contest.id}/result")
    db.session.expunge_all()
    assert db.session.get(QuizAttempt, attempt_id).state != AttemptState.IN_PROGRESS
