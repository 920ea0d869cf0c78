"""Member pages: the dashboard at the top of My learning, the targets page and the yearly record."""

from datetime import UTC, date, datetime

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
