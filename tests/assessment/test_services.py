"""Scoring members from the real tables, storing runs, and their stability."""

from datetime import UTC, date, datetime, timedelta

import pytest

from lms.assessment import services
from lms.assessment.models import AssessmentResult, AssessmentRun, LeaderRule, PeriodKind
from lms.assessment.periods import year_period
from lms.assessment.scoring import Grade, Pace
from lms.auth.models import MemberStatus, Role
from lms.courses.models import StudySource
from lms.extensions import db

pytestmark = pytest.mark.postgres  # scores aggregated in SQL and stored in bulk

NOW = datetime(2026, 7, 2, 4, 0, tzinfo=UTC)  # 12:00 on 2 July in Shanghai: 182 of 365 days done
TODAY = date(2026, 7, 2)


def test_scores_combine_hours_courses_and_quizzes_per_member(make_user, make_target, study):
    member = make_user()
    course_a, course_b = study.course(), study.course()
    quiz = study.quiz(pass_percent=60)
    target = make_target(required_hours=32, courses=[course_a, course_b], quizzes=[(quiz, 80)])
    study.study(member, date(2026, 3, 1), 16)
    study.complete(member, course_a)
    study.attempt(member, quiz, 75)  # passes the quiz's own 60 but not the target's 80
    db.session.commit()
    [row] = services.compute_scores(target, year_period(2026), TODAY)
    assert row.score.hours == pytest.approx(16)
    assert (row.score.courses_done, row.score.quizzes_passed) == (1, 0)
    assert row.score.score == 40.0  # 0.5 * 0.5 + 0.3 * 0.5 + 0.2 * 0
    assert row.score.grade == Grade.UNQUALIFIED
    assert row.participated


def test_offline_study_counts_up_to_the_targets_cap(make_user, make_target, study):
    member = make_user()
    target = make_target(required_hours=32, offline_cap_hours=8)
    study.study(member, date(2026, 3, 1), 4)
    study.study(member, date(2026, 3, 2), 20, source=StudySource.OFFLINE)
    db.session.commit()
    [row] = services.compute_scores(target, year_period(2026), TODAY)
    assert row.score.online_hours == pytest.approx(4) and row.score.offline_hours == pytest.approx(20)
    assert row.score.hours == pytest.approx(12)


def test_period_boundaries_are_local_days_in_shanghai(make_user, make_target, study):
    member = make_user()
    target = make_target(required_hours=10)
    study.study(member, date(2025, 12, 31), 1)  # the last local day of 2025: not in 2026
    study.study(member, date(2026, 1, 1), 2)  # 00:30 on New Year's Day in Shanghai is still 2025 in UTC
    study.study(member, date(2026, 12, 31), 3)
    study.study(member, date(2027, 1, 1), 4)
    db.session.commit()
    [row] = services.compute_scores(target, year_period(2026), TODAY)
    assert row.score.hours == pytest.approx(5)


def test_a_member_under_two_targets_is_scored_against_each(make_user, make_target, study, frozen_clock):
    frozen_clock.set(NOW)
    secretary = make_user(role=Role.SECRETARY, is_committee_member=True)
    member = make_user()
    everyone = make_target("全体党员", required_hours=32, statuses=["full"])
    leaders = make_target("支部书记和支委", required_hours=56, leader_rule=LeaderRule.ONLY)
    study.study(secretary, date(2026, 5, 1), 28)
    db.session.commit()
    progress = services.member_progress(secretary, NOW)
    by_target = {p.target.id: p.score for p in progress}
    assert set(by_target) == {everyone.id, leaders.id}
    assert by_target[everyone.id].score == 87.5 and by_target[leaders.id].score == 50.0
    assert [p.target.id for p in services.member_progress(member, NOW)] == [everyone.id]


def test_members_outside_the_audience_or_inactive_are_not_scored(make_user, make_target, make_branch):
    branch, other = make_branch("甲支部"), make_branch("乙支部")
    inside = make_user(branch=branch)
    make_user(branch=other)
    make_user(branch=branch, is_active=False)
    make_user(branch=branch, status=MemberStatus.ACTIVIST)
    target = make_target(required_hours=32, statuses=["full"], branch_ids=[branch.id])
    rows = services.compute_scores(target, year_period(2026), TODAY)
    assert [row.user_id for row in rows] == [inside.id]


def test_probation_targets_use_each_members_own_period_and_due_dates(make_user, make_target, study):
    member = make_user(status=MemberStatus.PROBATIONARY, admitted_on=date(2025, 9, 1), probation_end=date(2026, 8, 31))
    course = study.course()
    quiz = study.quiz()
    target = make_target(
        "预备党员", period_kind=PeriodKind.PROBATION, required_hours=12, courses=[(course, 90)], quizzes=[quiz]
    )
    study.study(member, date(2025, 8, 31), 5)  # before admission: not counted
    study.study(member, date(2025, 10, 1), 6)
    db.session.commit()
    [row] = services.compute_scores(target, services.current_period(target, TODAY), TODAY)
    assert (row.score.period_start, row.score.period_end) == (date(2025, 9, 1), date(2026, 8, 31))
    assert row.score.hours == pytest.approx(6)
    course_item, quiz_item = row.score.items
    assert course_item.due == date(2025, 11, 30) and quiz_item.due == date(2026, 8, 31)
    assert row.score.overdue == 1


def test_a_stored_run_does_not_change_when_a_course_is_later_deleted(make_user, make_target, study, frozen_clock):
    frozen_clock.set(NOW)
    member = make_user()
    course = study.course("党章学习")
    target = make_target(required_hours=10, courses=[course])
    study.study(member, date(2026, 3, 1), 10)
    study.complete(member, course)
    db.session.commit()
    run = services.recompute_target(target, NOW)
    db.session.commit()
    result = db.session.get(AssessmentResult, db.session.scalar(db.select(AssessmentResult.id)))
    assert result.score == 100.0 and result.items[0]["title"] == "党章学习"
    # The course goes (with its progress); the stored result of the run is unchanged.
    from lms.courses.models import LessonProgress

    db.session.execute(db.delete(LessonProgress))
    db.session.delete(course)
    db.session.commit()
    again = db.session.get(AssessmentResult, result.id)
    assert again.score == 100.0 and again.items[0]["done"] is True
    assert db.session.get(AssessmentRun, run.id).parameters["courses"][0]["title"] == "党章学习"


def test_a_new_run_replaces_the_open_periods_previous_one_and_final_runs_stay(make_user, make_target, frozen_clock):
    frozen_clock.set(NOW)
    make_user()
    target = make_target(required_hours=10)
    first = services.recompute_target(target, NOW)
    second = services.recompute_target(target, NOW)
    db.session.commit()
    assert db.session.get(AssessmentRun, first.id) is None and db.session.get(AssessmentRun, second.id)
    # 2025 closed more than the late-entry window ago: its run is final and never recomputed.
    final = services.recompute_target(target, NOW, period_key="2025")
    db.session.commit()
    assert final.is_final
    with pytest.raises(services.InvalidState):
        services.recompute_target(target, NOW, period_key="2025")


def test_nightly_job_runs_once_per_local_day_after_two_oclock(make_user, make_target, frozen_clock):
    make_user()
    make_target(required_hours=10)  # created this year: only 2026 is scored
    make_target(required_hours=10, created_at=datetime(2025, 5, 1, tzinfo=UTC))
    early = datetime(2026, 7, 1, 17, 30, tzinfo=UTC)  # 01:30 on 2 July in Shanghai
    assert services.nightly_snapshots(early) == 0
    night = datetime(2026, 7, 1, 18, 30, tzinfo=UTC)  # 02:30
    assert services.nightly_snapshots(night) == 3  # 2026 of both, and 2025 of the older one, made final
    db.session.commit()
    assert services.nightly_snapshots(NOW) == 0
    assert services.nightly_snapshots(datetime(2026, 7, 2, 18, 30, tzinfo=UTC)) == 2


def test_pace_is_stored_with_each_result(make_user, make_target, study, frozen_clock):
    behind, on_track = make_user(), make_user()
    target = make_target(required_hours=32)
    study.study(behind, date(2026, 2, 1), 5)
    study.study(on_track, date(2026, 2, 1), 17)
    db.session.commit()
    services.recompute_target(target, NOW)
    db.session.commit()
    paces = dict(db.session.execute(db.select(AssessmentResult.user_id, AssessmentResult.pace)).all())
    assert paces == {behind.id: Pace.BEHIND, on_track.id: Pace.ON_TRACK}


def test_new_year_begins_at_midnight_in_shanghai_not_utc(make_user, make_target, study):
    from lms.assessment.periods import current_period

    target = make_target(required_hours=32)
    before = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 on 31 December in Shanghai
    after = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 January 2027 in Shanghai (still 2026 in UTC)
    assert current_period(target, services.clock.local_day(before)).key == "2026"
    assert current_period(target, services.clock.local_day(after)).key == "2027"
    assert services.recompute_target(target, after).period_key == "2027"


def test_probation_results_stay_after_the_member_becomes_a_full_member(make_user, make_target, study, frozen_clock):
    frozen_clock.set(NOW)
    member = make_user(status=MemberStatus.PROBATIONARY, admitted_on=date(2025, 6, 1), probation_end=date(2026, 5, 31))
    course = study.course("入党教育")
    target = make_target("预备期", period_kind=PeriodKind.PROBATION, statuses=["probationary"], courses=[course])
    study.complete(member, course)
    db.session.commit()
    services.recompute_target(target, NOW)
    db.session.commit()
    member.status = MemberStatus.FULL  # 转正 after the probation end
    db.session.commit()
    run = services.recompute_target(target, NOW + timedelta(days=1))
    db.session.commit()
    [row] = db.session.scalars(db.select(AssessmentResult).where(AssessmentResult.run_id == run.id)).all()
    assert row.user_id == member.id and row.score == 100.0 and row.member_status == "probationary"


def test_the_dashboards_months_add_up_to_its_hours_when_the_conversion_changed(
    make_user, make_target, study, frozen_clock
):
    from lms import org_settings

    frozen_clock.set(NOW)
    admin = make_user(role=Role.ADMIN)
    member = make_user()
    target = make_target(required_hours=32, statuses=["full"])
    study.study(member, date(2026, 3, 1), 1)  # 45 minutes: one 学时 at March's rate
    study.study(member, date(2026, 6, 20), 1)
    org_settings.set_value("MINUTES_PER_STUDY_HOUR", 90, date(2026, 6, 1), actor=admin, now=NOW)
    db.session.commit()
    [progress] = [p for p in services.member_progress(member, NOW) if p.target.id == target.id]
    months = dict(progress.monthly_hours)
    # June's 45 minutes are half a 学时 at June's rate (90 minutes), not one at today's.
    assert (months["2026-03"], months["2026-06"]) == (1.0, 0.5)
    assert sum(months.values()) == pytest.approx(progress.score.hours) == pytest.approx(1.5)
