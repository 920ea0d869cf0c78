"""Member pages: the dashboard at the top of My learning, the targets page and the yearly record."""

from datetime import UTC, date, datetime

import pytest

from lms.auth.models import MemberStatus, Role
from lms.extensions import db

NOW = datetime(2026, 7, 2, 4, 0, tzinfo=UTC)


def test_dashboard_shows_hours_pace_items_score_and_chart(client, login, make_user, make_target, study, frozen_clock):
    frozen_clock.set(NOW)
    member = make_user()
    course = study.course("学习党章")
    quiz = study.quiz("党章测验")
    make_target("2026年度学习", required_hours=32, courses=[course], quizzes=[(quiz, 80)])
    study.study(member, date(2026, 3, 1), 12.5)
    study.attempt(member, quiz, 85)
    db.session.commit()
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="targets-panel"' in page
    assert "2026年度学习" in page and "12.5" in page and "32.0" in page
    assert "学习党章" in page and "党章测验" in page
    assert 'data-chart="bar"' in page and "js/charts.js" in page
    assert "<script>" not in page.replace('<script type="application/json"', "")


def test_members_without_targets_see_no_panel(client, login, make_user, make_target):
    member = make_user(status=MemberStatus.ACTIVIST)
    make_target("正式党员", required_hours=32, statuses=["full"])
    login(member)
    assert 'data-testid="targets-panel"' not in client.get("/").get_data(as_text=True)


def test_probationary_member_sees_checklist_with_due_dates_from_admission(
    client, login, make_user, make_target, study, frozen_clock
):
    from lms.assessment.models import PeriodKind

    frozen_clock.set(NOW)
    member = make_user(status=MemberStatus.PROBATIONARY, admitted_on=date(2025, 9, 1), probation_end=date(2026, 8, 31))
    course = study.course("入党誓词")
    make_target("预备党员学习", period_kind=PeriodKind.PROBATION, statuses=["probationary"], courses=[(course, 300)])
    db.session.commit()
    login(member)
    page = client.get("/assessment/").get_data(as_text=True)
    assert "入党誓词" in page and "2026-06-28" in page  # admission + 300 days
    assert "逾期" in page


def test_secretary_sees_probationary_members_of_the_branch_on_home(client, login, make_user, make_target, study):
    from lms.assessment.models import PeriodKind

    secretary = make_user(role=Role.SECRETARY)
    make_user(name="预备党员甲", status=MemberStatus.PROBATIONARY, admitted_on=date(2025, 9, 1))
    make_target("预备党员学习", period_kind=PeriodKind.PROBATION, courses=[study.course()])
    login(secretary)
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="probation-panel"' in page and "预备党员甲" in page


def _record_data(member, study):
    from lms.courses.models import OfflineActivity, OfflineStudyRecord, StudyLedgerEntry, StudySource

    course = study.course("学习贯彻党的二十大精神")
    quiz = study.quiz("党规党纪测验")
    study.study(member, date(2026, 3, 1), 3, lesson=course.lessons[0])
    study.complete(member, course, at=datetime(2026, 3, 1, 4, tzinfo=UTC))
    study.attempt(member, quiz, 92, at=datetime(2026, 4, 1, 4, tzinfo=UTC))
    record = OfflineStudyRecord(
        branch_id=member.branch_id,
        activity=OfflineActivity.PARTY_LECTURE,
        held_on=date(2026, 5, 4),
        study_hours=2,
        topic="五四专题党课",
    )
    db.session.add(record)
    db.session.flush()
    db.session.add(
        StudyLedgerEntry(
            user_id=member.id,
            day=date(2026, 5, 4),
            source=StudySource.OFFLINE,
            offline_record_id=record.id,
            seconds=2 * 45 * 60,
        )
    )
    db.session.commit()


def test_yearly_record_lists_hours_by_source_courses_quizzes_and_offline_activities(
    client, login, make_user, study, frozen_clock
):
    frozen_clock.set(NOW)
    member = make_user(name="李明")
    _record_data(member, study)
    login(member)
    response = client.get("/assessment/record?year=2026")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2026年度学习记录" in page
    assert "学习贯彻党的二十大精神" in page and "2026-03-01" in page
    assert "党规党纪测验" in page and "92.0%" in page
    assert "五四专题党课" in page
    assert ">3.0<" in page and ">2.0<" in page and ">5.0<" in page  # video, offline, total


def test_a_member_cannot_open_someone_elses_record(client, login, make_user):
    member, other = make_user(), make_user()
    login(member)
    assert client.get(f"/assessment/record/{other.id}").status_code == 404
    assert client.get(f"/assessment/record/{other.id}/pdf").status_code == 404


def test_yearly_record_pdf_is_a_pdf_with_the_members_name(client, login, make_user, study, frozen_clock):
    import os

    import pytest

    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"WeasyPrint is not usable here: {error}")
    frozen_clock.set(NOW)
    member = make_user(name="李明")
    _record_data(member, study)
    login(member)
    response = client.get(f"/assessment/record/{member.id}/pdf?year=2026")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


def test_without_weasyprint_the_pdf_link_explains_and_offers_the_print_page(client, login, make_user, monkeypatch):
    from lms.assessment import record

    def unavailable(html, base_url):
        raise record.PdfUnavailable("no pango")

    monkeypatch.setattr(record, "render_pdf", unavailable)
    member = make_user()
    login(member)
    response = client.get(f"/assessment/record/{member.id}/pdf", follow_redirects=True)
    assert "无法导出 PDF" in response.get_data(as_text=True)


def test_my_targets_page_renders_the_dashboard_not_its_source_in_both_languages(
    client, login, make_user, make_target, study, frozen_clock
):
    frozen_clock.set(NOW)
    member = make_user()
    make_target("2026年度学习", required_hours=32)
    study.study(member, date(2026, 3, 1), 12.5)
    db.session.commit()
    login(member)
    for locale in ("zh_Hans", "en"):
        member.locale = locale
        db.session.commit()
        page = client.get("/assessment/").get_data(as_text=True)
        assert "&lt;section" not in page and "&lt;div" not in page and "&lt;h" not in page
        assert '<section class="mb-4" data-testid="targets-panel">' in page
        assert 'data-testid="target-card"' in page and '<strong data-testid="hours-done">12.5</strong>' in page


def test_a_member_who_joined_mid_year_owes_the_share_since_and_nothing_is_overdue_on_day_one(
    client, login, make_user, make_target, study, frozen_clock, app
):
    frozen_clock.set(NOW)  # 2 July 2026: 182 of 365 days have passed
    course = study.course("学习党章")
    make_target("2026年度学习", required_hours=36.5, courses=[(course, 30)])
    newcomer = make_user(created_at=NOW)
    veteran = make_user()
    login(newcomer)
    page = client.get("/assessment/").get_data(as_text=True)
    # 36.5 x 183 days left of 365 = 18.3; the course is due 30 days after joining, not 30 days after 1 January.
    assert "/ 18.3" in page and "逾期" not in page and "不合格" not in page
    assert 'data-testid="prorated"' in page
    from lms.assessment import services
    from lms.assessment.models import LearningTarget
    from lms.assessment.periods import year_period

    target = db.session.scalar(db.select(LearningTarget))
    rows = {row.user_id: row.score for row in services.compute_scores(target, year_period(2026), NOW.date())}
    assert rows[newcomer.id].required_hours == pytest.approx(36.5 * 183 / 365)
    assert rows[newcomer.id].overdue == 0 and rows[newcomer.id].grade is None
    assert rows[veteran.id].required_hours == 36.5 and rows[veteran.id].overdue == 1
    app.config["ASSESSMENT_PRORATE"] = False
    rows = {row.user_id: row.score for row in services.compute_scores(target, year_period(2026), NOW.date())}
    assert rows[newcomer.id].required_hours == 36.5 and rows[newcomer.id].overdue == 1


def test_record_recomputes_a_result_older_than_the_members_study_and_says_when(
    client, login, make_user, make_target, study, frozen_clock
):
    from datetime import timedelta

    from lms.assessment import services
    from lms.assessment.models import AssessmentResult

    frozen_clock.set(NOW)
    member = make_user()
    target = make_target("2026年度学习", required_hours=32)
    study.study(member, date(2026, 3, 1), 8)
    services.recompute_target(target, NOW)
    db.session.commit()
    login(member)
    page = client.get(f"/assessment/record/{member.id}").get_data(as_text=True)
    assert "8.0 / 32.0" in page and "计算于" in page
    # Later the same day the member studies more: home is live, and the record must agree.
    later = frozen_clock.set(NOW + timedelta(hours=3))
    study.study(member, date(2026, 7, 2), 16)
    db.session.commit()
    assert "24.0" in client.get("/").get_data(as_text=True)
    page = client.get(f"/assessment/record/{member.id}").get_data(as_text=True)
    assert "24.0 / 32.0" in page and "8.0 / 32.0" not in page
    db.session.expire_all()
    result = db.session.scalar(db.select(AssessmentResult).where(AssessmentResult.user_id == member.id))
    assert result.hours == 24 and result.computed_at == later
    # Nothing new since: the next visit recomputes nothing.
    frozen_clock.set(later + timedelta(hours=1))
    client.get(f"/assessment/record/{member.id}")
    db.session.expire_all()
    assert db.session.get(AssessmentResult, result.id).computed_at == later
