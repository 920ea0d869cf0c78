"""The English interface: plurals by count, certificates without doubled quotes or stray numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts
from lms.extensions import db
from tests.exams.contest_factories import clear_cache, create_contest, take

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)


def _english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"


def test_counts_of_one_are_singular(client, login, make_user, make_quiz, make_question, frozen_clock):
    member = make_user()
    quiz = make_quiz([make_question(QuestionType.TRUE_FALSE, answer={"value": True})], time_limit_seconds=60)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    attempts.save_answer(attempt.id, member, 1, {"value": False}, 1, frozen_clock.now)
    attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    db.session.commit()
    login(member)
    _english(client)
    notebook = client.get("/quizzes/notebook").get_data(as_text=True)
    assert "wrong 1 time " in notebook and "wrong 1 times" not in notebook
    listing = client.get("/quizzes/").get_data(as_text=True)
    assert "1 minute" in listing and "1 minutes" not in listing


def test_a_certificate_quotes_the_title_once_and_shows_no_stray_count(
    client, login, make_user, four_questions, frozen_clock
):
    clear_cache()
    title = "“学党史、悟思想”党史知识竞赛"
    contest = create_contest(four_questions, open_at=OPEN, title=title)
    member = make_user(name="参与者")
    take(contest, member, OPEN, correct=3, seconds=60)
    frozen_clock.set(OPEN + timedelta(hours=3))
    login(member)
    _english(client)
    page = client.get(f"/contests/{contest.id}/certificate").get_data(as_text=True)
    assert 'data-testid="certificate"' in page
    assert "““" not in page and "”“" not in page and "””" not in page
    assert f'<span class="certificate-contest">{title}</span>' in page
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
    assert not re.search(r">\s*\d+\s*<", heading)  # no bare count beside a member's one certificate
    clear_cache()
