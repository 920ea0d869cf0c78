"""Contest pages: lobby, taking part, result with rank, board JSON, fair play, admin setup, export, certificates."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms.auth.models import Role
from lms.exams.contests import board as contest_board
from lms.exams.contests.models import BoardVisibility, Contest, ContestEntry
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes.models import AttemptState, QuizAttempt
from lms.extensions import db
from tests.exams.contest_factories import create_contest, key_response, take
from tests.exams.factories import EXPLANATION_TEXT

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=2)
GRACE = timedelta(seconds=20)
FILL_KEY = "全心全意为人民服务"


@pytest.fixture
def contest(app, four_questions):
    return create_contest(four_questions, open_at=OPEN, close_at=CLOSE, time_limit_seconds=1200, title="党史知识竞赛")


def _png(width=320, height=120) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 16, 46)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Member pages ----------------------------------------------------------------------------------


def test_lobby_counts_down_to_the_opening_and_the_home_panel_lists_the_contest(
    client, login, make_user, contest, frozen_clock
):
    login(make_user())
    frozen_clock.set(OPEN - timedelta(minutes=10))
    lobby = client.get(f"/contests/{contest.id}").get_data(as_text=True)
    assert 'data-seconds-to-open="600"' in lobby
    assert 'data-testid="start-contest"' not in lobby
    home = client.get("/").get_data(as_text=True)
    assert "党史知识竞赛" in home and 'data-testid="home-contests"' in home
    frozen_clock.set(OPEN)
    assert 'data-testid="start-contest"' in client.get(f"/contests/{contest.id}").get_data(as_text=True)


def test_a_contest_outside_the_audience_is_not_found(client, login, make_user, four_questions):
    from lms.auth.models import MemberStatus

    contest = create_contest(four_questions, open_at=OPEN, audience_statuses=[str(MemberStatus.FULL)])
    login(make_user(status=MemberStatus.ACTIVIST))
    assert client.get(f"/contests/{contest.id}").status_code == 404
    assert client.post(f"/contests/{contest.id}/start").status_code == 404
    assert client.get(f"/contests/{contest.id}/board.json").status_code == 404


def test_member_takes_the_contest_and_sees_score_time_and_rank(client, login, make_user, contest, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(OPEN + timedelta(minutes=1))
    response = client.post(f"/contests/{contest.id}/start")
    assert response.headers["Location"].endswith(f"/contests/{contest.id}/take")
    page = client.get(f"/contests/{contest.id}/take").get_data(as_text=True)
    attempt = db.session.scalar(sa.select(QuizAttempt))
    assert f'action="/contests/{contest.id}/attempts/{attempt.id}/submit"' in page
    assert f'data-result-url="/contests/{contest.id}/result"' in page
    assert "contest_attempt.js" in page
    for question in attempt.questions:
        saved = client.post(
            f"/quizzes/attempts/{attempt.id}/answers",
            json={"position": question.position, "response": key_response(question), "seq": 1},
        )
        assert saved.status_code == 200
    frozen_clock.advance(95)
    result = client.post(f"/contests/{contest.id}/attempts/{attempt.id}/submit")
    assert result.headers["Location"].endswith(f"/contests/{contest.id}/result")
    page = client.get(f"/contests/{contest.id}/result").get_data(as_text=True)
    score = re.search(r'data-testid="score">([^<]+)<', page).group(1)
    assert score == "4"
    assert "1:35" in page  # time used
    assert "第 1 名 / 共 1 人" in page
    assert EXPLANATION_TEXT not in page  # answers only after the close


def test_no_answer_key_reaches_the_browser_before_the_attempt_is_final(client, login, make_user, contest, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(OPEN)
    client.post(f"/contests/{contest.id}/start")
    attempt = db.session.scalar(sa.select(QuizAttempt))
    page = client.get(f"/contests/{contest.id}/take").get_data(as_text=True)
    state = client.get(f"/quizzes/attempts/{attempt.id}/state").get_data(as_text=True)
    for text in (page, state):
        assert FILL_KEY not in text
        assert EXPLANATION_TEXT not in text
        assert '"answer"' not in text
    # After submitting but before the close, still nothing: others are still answering.
    client.post(f"/contests/{contest.id}/attempts/{attempt.id}/submit")
    result = client.get(f"/contests/{contest.id}/result").get_data(as_text=True)
    assert FILL_KEY not in result and EXPLANATION_TEXT not in result
    frozen_clock.set(CLOSE + GRACE)
    result = client.get(f"/contests/{contest.id}/result").get_data(as_text=True)
    assert EXPLANATION_TEXT in result and FILL_KEY in result


def test_a_second_tab_continues_the_same_attempt(client, login, make_user, contest, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(OPEN)
    client.post(f"/contests/{contest.id}/start")
    second_tab = login(member, on=client.application.test_client())
    assert second_tab.post(f"/contests/{contest.id}/start").status_code == 302
    first = client.get(f"/contests/{contest.id}/take").get_data(as_text=True)
    second = second_tab.get(f"/contests/{contest.id}/take").get_data(as_text=True)
    attempt_ids = {re.search(r'data-attempt="(\d+)"', page).group(1) for page in (first, second)}
    assert len(attempt_ids) == 1
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def test_starting_after_the_close_is_refused_with_a_message(client, login, make_user, contest, frozen_clock):
    login(make_user())
    frozen_clock.set(CLOSE)
    response = client.post(f"/contests/{contest.id}/start", follow_redirects=True)
    assert "竞赛已结束" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 0


def test_page_hidden_events_are_counted_and_shown_to_the_admin(client, login, make_user, contest, frozen_clock, app):
    member = make_user(name="王五")
    login(member)
    frozen_clock.set(OPEN)
    client.post(f"/contests/{contest.id}/start")
    attempt = db.session.scalar(sa.select(QuizAttempt))
    url = f"/contests/{contest.id}/attempts/{attempt.id}/hidden"
    for _ in range(3):
        assert client.post(url, json={}).get_json() == {"ok": True, "counted": True}
    client.post(f"/contests/{contest.id}/attempts/{attempt.id}/submit")
    assert client.post(url, json={}).get_json()["counted"] is False
    assert db.session.scalar(sa.select(ContestEntry.hidden_count)) == 3
    admin = login(make_user(role=Role.ADMIN), on=app.test_client())
    page = admin.get(f"/admin/contests/{contest.id}/results").get_data(as_text=True)
    assert re.search(r'data-testid="hidden-count">3<', page)


def test_board_json_shows_the_top_and_the_viewers_own_row(client, login, make_user, four_questions, frozen_clock):
    contest = create_contest(four_questions, open_at=OPEN, board_size=1)
    leader, me = make_user(name="第一名"), make_user(name="我自己")
    take(contest, leader, OPEN, correct=4, seconds=60)
    take(contest, me, OPEN, correct=1, seconds=60)
    login(me)
    frozen_clock.set(OPEN + timedelta(minutes=5))
    body = client.get(f"/contests/{contest.id}/board.json").get_json()
    assert body["mode"] == "live"
    assert [row[2] for row in body["rows"]] == ["第一名"]
    assert body["mine"][:3] == [2, me.id, "我自己"]
    assert body["branches"][0][5:] == [2, 2]  # participants and eligible members of the one branch
    page = client.get(f"/contests/{contest.id}/board").get_data(as_text=True)
    assert "我自己" in page and "contest.js" in page


def test_a_hidden_board_shows_no_rows_before_the_close(client, login, make_user, four_questions, frozen_clock):
    contest = create_contest(four_questions, open_at=OPEN, close_at=CLOSE, board_visibility=BoardVisibility.HIDDEN)
    member = make_user(name="隐藏者")
    take(contest, member, OPEN, correct=2, seconds=60)
    login(member)
    frozen_clock.set(OPEN + timedelta(minutes=5))
    body = client.get(f"/contests/{contest.id}/board.json").get_json()
    assert body["mode"] == "hidden" and body["rows"] == [] and body["mine"] is None
    frozen_clock.set(CLOSE + GRACE)
    client.get(f"/contests/{contest.id}")  # the first page after the close freezes the standings
    assert client.get(f"/contests/{contest.id}/board.json").get_json()["mine"][2] == "隐藏者"


# --- Admin ---------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(app, login, make_user):
    return login(make_user(role=Role.ADMIN), on=app.test_client())


def _form(**overrides):
    data = {
        "title": "学习党章知识竞赛",
        "description": "每人限答一次",
        "open_at": "2026-05-04T09:00",
        "close_at": "2026-05-04T11:00",
        "time_limit_minutes": "20",
        "attempts_allowed": "1",
        "draw_mode": "same",
        "board_visibility": "live",
        "freeze_minutes": "0",
        "board_size": "20",
        "certificate_top_n": "3",
        "prizes": "一等奖 1 名",
        "shuffle_questions": "y",
        "shuffle_options": "y",
        "answers_after_close": "y",
    }
    data.update(overrides)
    return data


def test_admin_creates_a_contest_with_a_banner(admin_client, app, client, login, make_user):
    data = _form(banner=(io.BytesIO(_png()), "banner.png"))
    response = admin_client.post("/admin/contests/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    contest = db.session.scalar(sa.select(Contest))
    assert contest.quiz.title == "学习党章知识竞赛"
    assert contest.quiz.open_at == datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert contest.quiz.time_limit_seconds == 1200 and contest.quiz.kind == "contest"
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,40}\.jpg", contest.banner_name)
    stored = os.path.join(app.config["MEDIA_ROOT"], "contest-banners", str(contest.id), contest.banner_name)
    assert os.path.isfile(stored)
    contest.quiz.is_published = True
    db.session.commit()
    login(make_user())
    banner = client.get(f"/contests/{contest.id}/banner")
    assert banner.status_code == 200 and banner.mimetype == "image/jpeg"


def test_a_banner_that_is_not_an_image_is_refused_and_the_form_keeps_its_values(admin_client):
    data = _form(banner=(io.BytesIO(b"<svg onload=alert(1)></svg>"), "banner.png"))
    response = admin_client.post("/admin/contests/new", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "该文件不是图片" in page
    assert "学习党章知识竞赛" in page and "一等奖 1 名" in page
    assert db.session.scalar(sa.select(sa.func.count(Contest.id))) == 0


def test_a_window_that_closes_before_it_opens_is_refused_next_to_the_field(admin_client):
    response = admin_client.post("/admin/contests/new", data=_form(close_at="2026-05-04T08:00"))
    assert response.status_code == 422
    assert "结束时间必须晚于开始时间" in response.get_data(as_text=True)


def test_admin_adds_a_difficulty_rule_and_publishes(admin_client, make_question, frozen_clock):
    frozen_clock.set(OPEN - timedelta(days=1))
    questions = [make_question(QuestionType.SINGLE, difficulty=4) for _ in range(3)]
    contest = create_contest(publish=False, open_at=OPEN, close_at=CLOSE)
    rule = {"rule-count": "2", "rule-question_type": "single", "rule-difficulty": "4", "rule-points": "5"}
    rule["rule-bank_id"] = str(questions[0].bank_id)
    assert admin_client.post(f"/admin/contests/{contest.id}/rules", data=rule).status_code == 302
    assert contest.quiz.draw_rules[0].difficulty == 4
    too_many = dict(rule, **{"rule-count": "9"})
    response = admin_client.post(f"/admin/contests/{contest.id}/rules", data=too_many)
    assert response.status_code == 422
    assert "只有 3 道可用题目" in response.get_data(as_text=True)
    admin_client.post(f"/admin/contests/{contest.id}/publish")
    db.session.expire_all()
    contest = db.session.get(Contest, contest.id)
    assert contest.quiz.is_published and len(contest.frozen_draw) == 2


def test_secretaries_see_results_of_their_branch_only(app, login, make_user, make_branch, contest):
    mine, other = make_branch("本支部"), make_branch("外支部")
    take(contest, make_user(name="本支部党员", branch=mine), OPEN, correct=2, seconds=60)
    take(contest, make_user(name="外支部党员", branch=other), OPEN, correct=3, seconds=60)
    secretary = login(make_user(role=Role.SECRETARY, branch=mine), on=app.test_client())
    page = secretary.get(f"/admin/contests/{contest.id}/results").get_data(as_text=True)
    assert "本支部党员" in page and "外支部党员" not in page
    assert secretary.get(f"/admin/contests/{contest.id}").status_code == 403  # building is for admins


def test_final_standings_export_to_excel(admin_client, make_user, make_branch, contest, frozen_clock):
    branch = make_branch("第三党支部")
    take(contest, make_user(name="赵六", branch=branch), OPEN, correct=4, seconds=75)
    take(contest, make_user(name="钱七", branch=branch), OPEN, correct=2, seconds=50)
    frozen_clock.set(CLOSE - timedelta(minutes=1))
    assert admin_client.get(f"/admin/contests/{contest.id}/standings.xlsx").status_code == 302  # not final yet
    frozen_clock.set(CLOSE + GRACE)
    admin_client.get(f"/admin/contests/{contest.id}/results")
    response = admin_client.get(f"/admin/contests/{contest.id}/standings.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("名次", "姓名", "用户名", "所在支部")
    assert [(r[0], r[1], r[3], r[4]) for r in rows[1:]] == [
        (1, "赵六", "第三党支部", 4),
        (2, "钱七", "第三党支部", 2),
    ]
    branches = list(book.worksheets[1].iter_rows(values_only=True))
    assert branches[1][1] == "第三党支部"


def test_certificates_for_the_top_and_for_every_participant(
    admin_client, client, login, make_user, four_questions, frozen_clock
):
    contest = create_contest(four_questions, open_at=OPEN, close_at=CLOSE, certificate_top_n=1, title="党史竞赛")
    winner, runner_up = make_user(name="冠军"), make_user(name="参与者")
    take(contest, winner, OPEN, correct=4, seconds=60)
    take(contest, runner_up, OPEN, correct=1, seconds=60)
    frozen_clock.set(CLOSE + GRACE)
    top = admin_client.get(f"/admin/contests/{contest.id}/certificates?scope=top").get_data(as_text=True)
    assert top.count('data-testid="certificate"') == 1 and "冠军" in top and "荣誉证书" in top
    everyone = admin_client.get(f"/admin/contests/{contest.id}/certificates?scope=all").get_data(as_text=True)
    assert everyone.count('data-testid="certificate"') == 2 and "参赛证书" in everyone
    login(runner_up)
    own = client.get(f"/contests/{contest.id}/certificate").get_data(as_text=True)
    assert "参与者" in own and "冠军" not in own


def _weasyprint_or_skip():
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"WeasyPrint or its system libraries are missing ({error}); PDF certificates are tested in CI")


def test_certificate_pdf_is_a_pdf_with_the_members_name(client, login, make_user, contest, frozen_clock):
    _weasyprint_or_skip()
    member = make_user(name="孙八")
    take(contest, member, OPEN, correct=3, seconds=60)
    frozen_clock.set(CLOSE + GRACE)
    login(member)
    response = client.get(f"/contests/{contest.id}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    if shutil.which("pdftotext"):  # poppler-utils: read the text back
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=response.data, capture_output=True, check=True, timeout=30
        ).stdout.decode()
        assert "孙八" in text and "荣誉证书" in text and "党史知识竞赛" in text


def test_certificate_pdf_without_weasyprint_says_so_and_keeps_the_printable_page(
    client, login, make_user, contest, frozen_clock, monkeypatch
):
    import builtins

    member = make_user()
    take(contest, member, OPEN, correct=3, seconds=60)
    frozen_clock.set(CLOSE + GRACE)
    login(member)
    real_import = builtins.__import__

    def no_weasyprint(name, *args, **kwargs):
        if name == "weasyprint":
            raise ImportError("no weasyprint")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    response = client.get(f"/contests/{contest.id}/certificate.pdf", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "无法生成 PDF 证书" in page
    assert 'data-testid="certificate"' in page


def test_closing_is_done_by_the_first_page_after_the_close(client, login, make_user, contest, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(CLOSE - timedelta(minutes=3))
    client.post(f"/contests/{contest.id}/start")
    frozen_clock.set(CLOSE + GRACE)
    client.get(f"/contests/{contest.id}")
    attempt = db.session.scalar(sa.select(QuizAttempt))
    db.session.refresh(attempt)
    assert attempt.state == AttemptState.FINISHED and attempt.time_used_seconds == 180
    assert contest_board.own_standing(contest, member) is not None
