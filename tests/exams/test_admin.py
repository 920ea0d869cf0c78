"""Admin pages: building a quiz, overrides, results, export, item statistics, error reports, permissions."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask import g
from openpyxl import load_workbook

from lms.auth.models import MemberStatus, Role
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import corrections, setup
from lms.exams.quizzes.models import QuestionReport, Quiz, QuizOverride, ReportStatus
from lms.extensions import db


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


def _finish(quiz, member, now, value=True):
    attempt = quiz_attempts.start_attempt(quiz, member, now)
    for question in attempt.questions:
        if question.snapshot.type == QuestionType.TRUE_FALSE:
            quiz_attempts.save_answer(attempt.id, member, question.position, {"value": value}, 1, now)
    quiz_attempts.submit_attempt(attempt.id, member, now)
    db.session.commit()
    return attempt


def test_admin_builds_and_publishes_a_quiz(client, login, admin, make_question, make_bank, make_branch):
    login(admin)
    branch = make_branch("第三党支部")
    bank = make_bank("党章题库")
    fixed = make_question(QuestionType.SINGLE, bank=bank, stem="唯一的固定题")
    for _ in range(3):
        make_question(QuestionType.TRUE_FALSE, bank=bank, tags=["党章"])
    response = client.post(
        "/admin/quizzes/new",
        data={
            "title": "2026年第一季度党章测试",
            "time_limit_minutes": "30",
            "attempts_allowed": "2",
            "pass_percent": "80",
            "kept_grade": "highest",
            "review_policy": "after_submit",
            "overdue_handling": "auto_submit",
            "wait_minutes": "0",
            "grace_period_minutes": "0",
            "open_at": "2026-03-01T08:00",
            "close_at": "2026-03-31T20:00",
            "audience_statuses": ["full", "probationary"],
            "audience_branch_ids": [str(branch.id)],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    quiz = db.session.scalar(sa.select(Quiz).where(Quiz.title == "2026年第一季度党章测试"))
    assert quiz.time_limit_seconds == 1800
    assert quiz.open_at.isoformat() == "2026-03-01T00:00:00+00:00"  # 08:00 in Shanghai
    assert quiz.audience_statuses == ["full", "probationary"] and quiz.audience_branch_ids == [branch.id]
    assert not quiz.is_published
    client.post(f"/admin/quizzes/{quiz.id}/publish")
    db.session.refresh(quiz)
    assert not quiz.is_published  # no questions yet
    picker = client.get(f"/admin/quizzes/{quiz.id}/questions?q=固定").get_data(as_text=True)
    assert "唯一的固定题" in picker
    client.post(f"/admin/quizzes/{quiz.id}/questions/add", data={"question_id": [str(fixed.id)]})
    refused = client.post(
        f"/admin/quizzes/{quiz.id}/rules",
        data={
            "rule-bank_id": str(bank.id),
            "rule-question_type": "true_false",
            "rule-tag": "党章",
            "rule-count": "4",
            "rule-points": "2",
        },
    )
    assert refused.status_code == 422
    assert "3" in refused.get_data(as_text=True)
    client.post(
        f"/admin/quizzes/{quiz.id}/rules",
        data={
            "rule-bank_id": str(bank.id),
            "rule-question_type": "true_false",
            "rule-tag": "党章",
            "rule-count": "2",
            "rule-points": "2",
        },
    )
    client.post(f"/admin/quizzes/{quiz.id}/publish")
    db.session.refresh(quiz)
    assert quiz.is_published
    assert setup.question_count(quiz) == 3
    assert setup.total_points(quiz) == 5
    page = client.get(f"/admin/quizzes/{quiz.id}").get_data(as_text=True)
    assert "唯一的固定题" in page


def test_quiz_form_errors_are_shown_next_to_the_field_and_nothing_is_saved(client, login, admin):
    login(admin)
    response = client.post(
        "/admin/quizzes/new",
        data={
            "title": "窗口错误",
            "attempts_allowed": "1",
            "pass_percent": "60",
            "kept_grade": "highest",
            "review_policy": "after_close",
            "overdue_handling": "auto_submit",
            "open_at": "2026-03-10T08:00",
            "close_at": "2026-03-01T08:00",
        },
    )
    assert response.status_code == 200
    assert "invalid-feedback" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Quiz.id))) == 0


def test_admin_adds_an_override_by_login_name(client, login, admin, make_user, make_quiz, four_questions, frozen_clock):
    login(admin)
    member = make_user(username="laowang")
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    unknown = client.post(f"/admin/quizzes/{quiz.id}/overrides", data={"login": "nobody", "time_limit_minutes": "20"})
    assert unknown.status_code == 200
    ok = client.post(
        f"/admin/quizzes/{quiz.id}/overrides",
        data={"login": "LaoWang ", "time_limit_minutes": "20", "note": "年长党员"},
    )
    assert ok.status_code == 302
    override = db.session.scalar(sa.select(QuizOverride))
    assert override.user_id == member.id and override.time_limit_seconds == 1200
    assert "年长党员" in client.get(f"/admin/quizzes/{quiz.id}/overrides").get_data(as_text=True)
    client.post(f"/admin/quizzes/{quiz.id}/overrides/{override.id}/delete")
    assert db.session.scalar(sa.select(sa.func.count(QuizOverride.id))) == 0


def test_results_table_and_excel_export(client, login, admin, make_user, make_quiz, make_question, frozen_clock):
    quiz = make_quiz([make_question(QuestionType.TRUE_FALSE)], title="导出测验")
    right, wrong = make_user(name="张三"), make_user(name="李四")
    _finish(quiz, right, frozen_clock.now, True)
    _finish(quiz, wrong, frozen_clock.now, False)
    login(admin)
    page = client.get(f"/admin/quizzes/{quiz.id}/results").get_data(as_text=True)
    assert "张三" in page and "李四" in page
    export = client.get(f"/admin/quizzes/{quiz.id}/results.xlsx")
    assert export.status_code == 200
    workbook = load_workbook(io.BytesIO(export.data))
    results = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert [row[0] for row in results[1:]] == ["张三", "李四"]
    assert results[1][4] == 100 and results[2][4] == 0
    assert len(list(workbook.worksheets[1].iter_rows())) == 3  # header + 2 attempts
    questions = list(workbook.worksheets[2].iter_rows(values_only=True))
    assert questions[1][3] == 2 and questions[1][4] == 0.5  # shown twice, half right
    statistics = client.get(f"/admin/quizzes/{quiz.id}/statistics")
    assert statistics.status_code == 200
    assert "27%" in statistics.get_data(as_text=True)


def test_secretary_sees_only_their_branch_in_results(
    client, login, make_user, make_branch, make_quiz, make_question, frozen_clock
):
    mine, theirs = make_branch("我的支部"), make_branch("别的支部")
    quiz = make_quiz([make_question(QuestionType.TRUE_FALSE)])
    _finish(quiz, make_user(name="本支部党员", branch=mine), frozen_clock.now)
    other = make_user(name="外支部党员", branch=theirs)
    outside = _finish(quiz, other, frozen_clock.now)
    login(make_user(role=Role.SECRETARY, branch=mine))
    page = client.get(f"/admin/quizzes/{quiz.id}/results").get_data(as_text=True)
    assert "本支部党员" in page and "外支部党员" not in page
    assert client.get(f"/admin/quizzes/{quiz.id}/attempts/{outside.id}").status_code == 404
    assert client.get(f"/admin/quizzes/{quiz.id}/edit").status_code == 403


def test_learner_is_refused_every_admin_quiz_page(client, login, make_user, make_quiz, four_questions):
    quiz = make_quiz(four_questions)
    login(make_user())
    for url in [
        "/admin/quizzes/",
        "/admin/quizzes/new",
        f"/admin/quizzes/{quiz.id}",
        f"/admin/quizzes/{quiz.id}/results",
        f"/admin/quizzes/{quiz.id}/results.xlsx",
        f"/admin/quizzes/{quiz.id}/statistics",
        "/admin/quizzes/reports",
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/quizzes/{quiz.id}/unpublish").status_code == 403


def test_anonymous_is_sent_to_login(client, make_quiz, four_questions):
    quiz = make_quiz(four_questions)
    for url in ["/quizzes/", f"/quizzes/{quiz.id}", "/quizzes/notebook", "/admin/quizzes/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    saved = client.post("/quizzes/attempts/1/answers", json={"position": 1, "response": None, "seq": 1})
    assert saved.status_code == 401


def test_item_statistics_flag_a_question_with_a_broken_key(make_user, make_quiz, make_question, frozen_clock, admin):
    from lms.exams.quizzes.stats import item_statistics

    # A good question that strong members get right, and a question whose key is wrong:
    # only the weak members (who also miss the good questions) "get it right".
    good = [make_question(QuestionType.TRUE_FALSE, answer={"value": True}) for _ in range(3)]
    broken = make_question(QuestionType.TRUE_FALSE, answer={"value": False}, stem="答案配错的题")
    quiz = make_quiz([*good, broken], attempts_allowed=0)
    for n in range(20):
        member = make_user()
        strong = n < 10
        attempt = quiz_attempts.start_attempt(quiz, member, frozen_clock.now)
        for question in attempt.questions:
            # Strong members answer True everywhere: right on the good questions, "wrong" on the broken one.
            quiz_attempts.save_answer(attempt.id, member, question.position, {"value": strong}, 1, frozen_clock.now)
        quiz_attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    db.session.commit()
    stats = {s.question_id: s for s in item_statistics(quiz, admin)}
    assert stats[good[0].id].facility == 0.5
    assert stats[good[0].id].discrimination == 1.0
    assert stats[broken.id].discrimination == -1.0
    assert stats[broken.id].flags
    assert item_statistics(quiz, admin)[0].question_id == broken.id  # most suspicious first


def test_admin_resolves_an_error_report(client, login, admin, make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    attempt = quiz_attempts.start_attempt(make_quiz(four_questions), member, frozen_clock.now)
    report = corrections.report_question(member, attempt.id, 1, "选项有误", frozen_clock.now)
    db.session.commit()
    login(admin)
    page = client.get("/admin/quizzes/reports").get_data(as_text=True)
    assert "选项有误" in page
    client.post(f"/admin/quizzes/reports/{report.id}?status=open", data={"status": "resolved", "resolution": "已更正"})
    db.session.refresh(report)
    assert report.status == ReportStatus.RESOLVED and report.resolved_by_id == admin.id
    assert db.session.scalar(sa.select(sa.func.count(QuestionReport.id))) == 1
    # The test's app context outlives requests, and Flask-Login caches the user in ``g``.
    g.pop("_login_user", None)
    login(member)
    assert "已更正" in client.get("/quizzes/reports").get_data(as_text=True)


def test_admin_closes_an_open_attempt_and_it_is_graded(
    client, login, admin, make_user, make_quiz, four_questions, frozen_clock
):
    member = make_user()
    quiz = make_quiz(four_questions)
    attempt = quiz_attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    login(admin)
    assert "立即收卷评分" in client.get(f"/admin/quizzes/{quiz.id}/attempts/{attempt.id}").get_data(as_text=True)
    client.post(f"/admin/quizzes/{quiz.id}/attempts/{attempt.id}/finalize")
    db.session.refresh(attempt)
    assert attempt.state == "finished" and attempt.score == 0


def test_quiz_with_attempts_cannot_be_deleted(client, login, admin, make_user, make_quiz, four_questions, frozen_clock):
    quiz = make_quiz(four_questions)
    quiz_attempts.start_attempt(quiz, make_user(), frozen_clock.now)
    db.session.commit()
    login(admin)
    client.post(f"/admin/quizzes/{quiz.id}/delete")
    empty = make_quiz(four_questions)
    client.post(f"/admin/quizzes/{empty.id}/delete")
    assert db.session.scalars(sa.select(Quiz.id)).all() == [quiz.id]


def test_probationary_exam_is_invisible_to_full_members(client, login, make_user, make_quiz, four_questions):
    exam = make_quiz(four_questions, title="预备党员转正考试", audience_statuses=[MemberStatus.PROBATIONARY])
    login(make_user(status=MemberStatus.FULL))
    assert "预备党员转正考试" not in client.get("/quizzes/").get_data(as_text=True)
    assert client.get(f"/quizzes/{exam.id}").status_code == 404
