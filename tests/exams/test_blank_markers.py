"""Fill-in blank markers ({{n}}) are shown as labelled gaps on every page, never raw."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from lms.auth.models import Role
from lms.exams.questions import stems
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts as quiz_attempts
from lms.extensions import db
from tests.exams.contest_factories import clear_cache, create_contest

FILL_STEM = "党的根本宗旨是{{1}}，党的最高理想是{{2}}。"


def test_stem_html_turns_markers_into_labelled_gaps_and_escapes_the_rest(app):
    with app.test_request_context():
        html = str(stems.stem_html("<b>一</b>{{1}}二{{ 2 }}"))
    assert "{{" not in html and "&lt;b&gt;" in html
    assert html.count('class="quiz-gap"') == 2 and "（____）" in html
    assert 'aria-label="第 1 空"' in html


def test_stem_html_shortens_without_cutting_a_marker(app):
    with app.test_request_context():
        html = str(stems.stem_html("一二三{{1}}四五六七八九十", 5))
        whole = str(stems.stem_html("一二{{1}}", 100))
    assert html == "一二三…"  # the gap would not fit: cut before it
    assert "{{" not in html and whole.endswith("</span>") and "…" not in whole


def test_stem_text_for_scripts_has_no_markers():
    assert stems.stem_text(FILL_STEM) == "党的根本宗旨是（____），党的最高理想是（____）。"


@pytest.fixture
def fill_question(make_question):
    return make_question(QuestionType.FILL, stem=FILL_STEM)


def _finish_wrong(quiz, member, now):
    attempt = quiz_attempts.start_attempt(quiz, member, now)
    quiz_attempts.save_answer(attempt.id, member, 1, {"blanks": ["错", "错"]}, 1, now)
    quiz_attempts.submit_attempt(attempt.id, member, now)
    db.session.commit()
    return attempt


def test_review_notebook_and_admin_pages_show_gaps_not_markers(
    client, login, make_user, make_quiz, fill_question, frozen_clock
):
    member = make_user()
    quiz = make_quiz([fill_question])
    attempt = _finish_wrong(quiz, member, frozen_clock.now)
    login(member)
    member_pages = [f"/quizzes/attempts/{attempt.id}", "/quizzes/notebook"]
    for url in member_pages:
        page = client.get(url).get_data(as_text=True)
        assert "quiz-gap" in page, url
        assert "{{1}}" not in page and "{{2}}" not in page, url
    login(make_user(role=Role.ADMIN))
    admin_pages = [
        f"/admin/quizzes/{quiz.id}",
        f"/admin/quizzes/{quiz.id}/questions",
        f"/admin/quizzes/{quiz.id}/attempts/{attempt.id}",
        f"/admin/quizzes/{quiz.id}/statistics",
        f"/admin/banks/{fill_question.bank_id}",
    ]
    for url in admin_pages:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert "{{1}}" not in page and "{{2}}" not in page, url
        assert "quiz-gap" in page, url
    # The results workbook's item sheet: the stem as text with its gaps, never the markers.
    book = load_workbook(io.BytesIO(client.get(f"/admin/quizzes/{quiz.id}/results.xlsx").data))
    stems_in_sheet = [row[2] for sheet in book.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)
                      if len(row) > 2 and isinstance(row[2], str) and stems.GAP in row[2]]  # fmt: skip
    assert stems_in_sheet and not any("{{" in text for text in stems_in_sheet)


def test_contest_admin_detail_and_picker_show_gaps(client, login, make_user, fill_question):
    clear_cache()
    open_at = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
    contest = create_contest([fill_question], open_at=open_at, publish=False)
    login(make_user(role=Role.ADMIN))
    for url in (f"/admin/contests/{contest.id}", f"/admin/contests/{contest.id}/questions"):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert "{{1}}" not in page and "quiz-gap" in page, url
    clear_cache()


def test_a_contest_attempt_from_my_attempts_opens_the_contests_result(
    client, login, make_user, four_questions, frozen_clock
):
    from tests.exams.contest_factories import take

    clear_cache()
    open_at = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
    contest = create_contest(four_questions, open_at=open_at, time_limit_seconds=600)
    member = make_user()
    frozen_clock.set(open_at + timedelta(minutes=5))
    attempt = take(contest, member, frozen_clock.now, correct=2, seconds=60)
    login(member)
    mine = client.get("/quizzes/mine").get_data(as_text=True)
    result_url = f"/contests/{contest.id}/result?attempt={attempt.id}"
    assert f'href="{result_url}"' in mine
    assert f'href="/quizzes/attempts/{attempt.id}"' not in mine
    # An old link to the quizzes' attempt page lands on the contest's result too.
    response = client.get(f"/quizzes/attempts/{attempt.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(result_url)
    result = client.get(result_url)
    assert result.status_code == 200 and 'data-testid="contest-result"' in result.get_data(as_text=True)
    clear_cache()
