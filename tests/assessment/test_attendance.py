"""Issue #14: the attendance rate at required meetings as a component of a learning target."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from lms.assessment import services
from lms.assessment.models import AssessmentResult, LearningTarget, PeriodKind
from lms.assessment.periods import year_period
from lms.assessment.scoring import TargetRules, Weights, score_member
from lms.auth.models import MemberStatus, Role
from lms.extensions import db

NOW = datetime(2026, 7, 2, 4, 0, tzinfo=UTC)
TODAY = date(2026, 7, 2)


def _score(rules: TargetRules, attendance=(0, 0), online_hours: float = 5.0) -> float | None:
    return score_member(
        rules, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31), today=TODAY,
        online_hours=online_hours, offline_hours=0.0, attendance=attendance,
    ).score  # fmt: skip


def test_the_attendance_rate_is_weighted_and_renormalised_like_the_other_components():
    weights = Weights(hours=0.5, courses=0.3, quizzes=0.2, attendance=0.5)
    with_attendance = TargetRules(required_hours=10, weights=weights, scores_attendance=True)
    # Hours 5/10 and attendance 3/4, each weighing 0.5 of the two present: 0.5 * 0.5 + 0.5 * 0.75.
    assert _score(with_attendance, (3, 4)) == 62.5
    # Expected at no meeting: the component is left out, as an unset one is.
    assert _score(with_attendance, (0, 0)) == 50.0
    # A target that does not score attendance ignores it.
    assert _score(TargetRules(required_hours=10, weights=weights), (3, 4)) == 50.0
    only_attendance = TargetRules(scores_attendance=True)
    assert _score(only_attendance, (4, 5), online_hours=0) == 80.0
    scored = score_member(only_attendance, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
                          today=TODAY, online_hours=0, offline_hours=0, attendance=(4, 5))  # fmt: skip
    assert (scored.meetings_attended, scored.meetings_expected, scored.attendance_rate) == (4, 5, 0.8)


def test_the_rate_counts_closed_meetings_of_the_period_leaving_out_approved_leave(
    make_user, make_target, make_branch, study, frozen_clock
):
    branch = make_branch("第一党支部")
    member, idle, secretary = make_user(branch=branch), make_user(branch=branch), make_user(branch=branch)
    at = datetime(2026, 3, 10, 6, tzinfo=UTC)
    for state in ("present", "late", "left_early", "absent", "leave"):
        study.meeting(branch.id, at, {member: state, secretary: "present"})
    study.meeting(branch.id, datetime(2025, 12, 31, 16, 30, tzinfo=UTC), {member: "present"})  # 00:30 on 1 Jan
    study.meeting(branch.id, datetime(2025, 12, 31, 15, 0, tzinfo=UTC), {member: "absent"})  # 23:00 on 31 Dec
    study.meeting(branch.id, at, {member: "expected"}, status="scheduled")
    study.meeting(branch.id, at, {member: "absent"}, status="cancelled")
    # The secretary closed this one: her own attendance waits for a second person and counts in neither.
    study.meeting(branch.id, at, {member: "present", secretary: "absent"}, waiting=[secretary])
    study.meeting(branch.id, at, {secretary: "present"}, waiting=[secretary])
    db.session.commit()
    target = make_target("出席率", score_attendance=True, statuses=["full"])
    rows = {row.user_id: row.score for row in services.compute_scores(target, year_period(2026), TODAY)}
    # Member: present, late, left early, the New Year's meeting and the secretary's meeting; absent once; leave out.
    assert (rows[member.id].meetings_attended, rows[member.id].meetings_expected) == (5, 6)
    assert rows[member.id].score == 83.3
    assert (rows[secretary.id].meetings_attended, rows[secretary.id].meetings_expected) == (5, 6)
    assert rows[idle.id].meetings_expected == 0 and rows[idle.id].score is None

    frozen_clock.set(NOW)
    run = services.recompute_target(target, NOW)
    db.session.commit()
    stored = db.session.scalar(
        sa.select(AssessmentResult).where(AssessmentResult.run_id == run.id, AssessmentResult.user_id == member.id)
    )
    assert (stored.meetings_attended, stored.meetings_expected, stored.score) == (5, 6, 83.3)
    assert run.parameters["score_attendance"] is True and len(run.parameters["weights"]) == 4


def test_probation_targets_count_meetings_within_each_members_own_period(make_user, make_target, make_branch, study):
    branch = make_branch("第一党支部")
    member = make_user(branch=branch, status=MemberStatus.PROBATIONARY, admitted_on=date(2025, 9, 1),
                       probation_end=date(2026, 8, 31))  # fmt: skip
    study.meeting(branch.id, datetime(2025, 8, 20, 6, tzinfo=UTC), {member: "absent"})  # before admission
    study.meeting(branch.id, datetime(2025, 10, 20, 6, tzinfo=UTC), {member: "present"})
    study.meeting(branch.id, datetime(2026, 5, 20, 6, tzinfo=UTC), {member: "absent"})
    study.meeting(branch.id, datetime(2026, 9, 20, 6, tzinfo=UTC), {member: "absent"})  # after the probation end
    db.session.commit()
    target = make_target("预备党员", period_kind=PeriodKind.PROBATION, score_attendance=True, required_hours=12,
                         weight_hours=0.0, weight_attendance=1.0)  # fmt: skip
    [row] = services.compute_scores(target, services.current_period(target, TODAY), TODAY)
    assert (row.score.meetings_attended, row.score.meetings_expected) == (1, 2)
    assert row.score.score == 50.0


def test_an_admin_sets_the_attendance_component_and_reports_show_it(
    client, login, make_user, make_branch, study, frozen_clock
):
    frozen_clock.set(NOW)
    branch = make_branch("第一党支部")
    admin = make_user(role=Role.ADMIN, branch=branch)
    member = make_user(branch=branch, name="李明")
    study.meeting(branch.id, datetime(2026, 3, 10, 6, tzinfo=UTC), {member: "present"})
    study.meeting(branch.id, datetime(2026, 4, 10, 6, tzinfo=UTC), {member: "absent"})
    db.session.commit()
    login(admin)
    form = {"name": "组织生活", "period_kind": "year", "year": "2026", "quarter": "0", "leader_rule": "any",
            "weight_hours": "0.5", "weight_courses": "0.3", "weight_quizzes": "0.2", "excellent_min": "90",
            "good_min": "80", "pass_min": "60", "is_active": "y", "audience_statuses": ["full"]}  # fmt: skip
    page = client.post("/admin/targets/new", data=form)
    assert page.status_code == 200 and "组织生活出席率之一" in page.text  # nothing to score yet
    response = client.post("/admin/targets/new", data={**form, "score_attendance": "y", "weight_attendance": "0.4"})
    assert response.status_code == 302
    target = db.session.scalar(sa.select(LearningTarget))
    assert target.score_attendance and target.weight_attendance == 0.4
    assert "计入组织生活出席率" in client.get(f"/admin/targets/{target.id}/edit").text

    client.post(f"/admin/reports/{target.id}/recompute", data={"period": "2026"})
    report = client.get(f"/admin/reports/{target.id}?period=2026").text
    assert 'data-testid="member-meetings">1/2<' in report
    result = client.get(f"/admin/reports/{target.id}/members/{member.id}?period=2026").text
    assert "2 次中出席 1 次" in result
    assert client.get(f"/admin/reports/{target.id}?period=2026&sort=attendance").status_code == 200

    login(member)
    dashboard = client.get("/assessment/").text
    assert 'data-testid="attendance-rate"' in dashboard and "50%" in dashboard


@pytest.mark.parametrize("weight", ["-0.1", "1.5"])
def test_a_weight_outside_zero_to_one_is_refused(client, login, make_user, weight):
    login(make_user(role=Role.ADMIN))
    form = {"name": "组织生活", "period_kind": "year", "year": "2026", "quarter": "0", "leader_rule": "any",
            "weight_hours": "0.5", "weight_courses": "0.3", "weight_quizzes": "0.2", "excellent_min": "90",
            "good_min": "80", "pass_min": "60", "score_attendance": "y", "weight_attendance": weight}  # fmt: skip
    page = client.post("/admin/targets/new", data=form)
    assert page.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LearningTarget)) == 0
