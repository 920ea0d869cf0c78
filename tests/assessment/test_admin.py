"""Target pages (admin), reports, exports and probation checklists (admins and secretaries, in scope)."""

import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms.assessment import services
from lms.assessment.models import AssessmentRun, LearningTarget, PeriodKind
from lms.auth.models import BranchKind, MemberStatus, Role
from lms.extensions import db

NOW = datetime(2026, 7, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def org(make_branch, make_user, make_target, study, frozen_clock):
    """A committee with two branches, their secretaries and members, and a computed 2026 target."""
    frozen_clock.set(NOW)
    committee = make_branch("集团党委", kind=BranchKind.COMMITTEE)
    first = make_branch("第一党支部", parent=committee)
    second = make_branch("第二党支部", parent=committee)
    people = {
        "admin": make_user(role=Role.ADMIN, branch=committee, name="管理员"),
        "secretary1": make_user(role=Role.SECRETARY, branch=first, name="王书记"),
        "secretary2": make_user(role=Role.SECRETARY, branch=second, name="陈书记"),
        "excellent": make_user(branch=first, name="优秀党员"),
        "behind": make_user(branch=first, name="落后党员"),
        "other": make_user(branch=second, name="二支部党员"),
    }
    target = make_target("2026年度学习", required_hours=32, statuses=["full"], roles=["learner"])
    study.study(people["excellent"], date(2026, 3, 1), 30)
    study.study(people["behind"], date(2026, 3, 1), 2)
    study.study(people["other"], date(2026, 4, 1), 20)
    db.session.commit()
    services.recompute_target(target, NOW)
    db.session.commit()
    return {"target": target, "committee": committee, "first": first, "second": second, **people}


def test_admin_creates_a_target_and_its_results_are_computed(client, login, make_user, study, frozen_clock):
    frozen_clock.set(NOW)
    admin = make_user(role=Role.ADMIN)
    course = study.course("党的二十大精神")
    quiz = study.quiz("党章知识测验")
    db.session.commit()
    login(admin)
    form = client.get("/admin/targets/new").get_data(as_text=True)
    assert "党的二十大精神" in form and "党章知识测验" in form
    response = client.post(
        "/admin/targets/new",
        data={
            "name": "2026年度学习",
            "period_kind": "year",
            "year": "2026",
            "quarter": "0",
            "leader_rule": "any",
            "audience_statuses": ["full"],
            "required_hours": "32",
            "offline_cap_hours": "16",
            "weight_hours": "0.5",
            "weight_courses": "0.3",
            "weight_quizzes": "0.2",
            "excellent_min": "90",
            "good_min": "80",
            "pass_min": "60",
            "is_active": "y",
            "courses-0-item_id": str(course.id),
            "courses-0-due_days": "90",
            "courses-1-item_id": "0",
            "quizzes-0-item_id": str(quiz.id),
            "quizzes-0-pass_percent": "80",
        },
    )
    assert response.status_code == 302
    target = db.session.scalar(sa.select(LearningTarget))
    assert target.required_hours == 32 and target.offline_cap_hours == 16
    assert [(c.course_id, c.due_days) for c in target.courses] == [(course.id, 90)]
    assert [(q.quiz_id, q.pass_percent) for q in target.quizzes] == [(quiz.id, 80)]
    assert db.session.scalar(sa.select(AssessmentRun.member_count)) == 1  # the admin is a full member


def test_bad_target_input_is_refused_next_to_the_field_and_kept(client, login, make_user):
    login(make_user(role=Role.ADMIN))
    data = {
        "name": "区间目标",
        "period_kind": "dates",
        "starts_on": "2026-06-30",
        "ends_on": "2026-03-01",
        "quarter": "0",
        "leader_rule": "any",
        "required_hours": "10",
        "weight_hours": "0.5",
        "weight_courses": "0.3",
        "weight_quizzes": "0.2",
        "excellent_min": "90",
        "good_min": "80",
        "pass_min": "60",
    }
    page = client.post("/admin/targets/new", data=data).get_data(as_text=True)
    assert "结束日期不能早于开始日期" in page and 'value="区间目标"' in page
    page = client.post("/admin/targets/new", data={**data, "ends_on": "2026-09-30", "good_min": "95"}).get_data(
        as_text=True
    )
    assert "分数线须满足" in page
    page = client.post("/admin/targets/new", data={**data, "ends_on": "2026-09-30", "required_hours": ""}).get_data(
        as_text=True
    )
    assert "至少要设置" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LearningTarget)) == 0


def test_learners_and_secretaries_cannot_edit_targets(client, login, make_user, make_target):
    target = make_target(required_hours=10)
    for role in (Role.LEARNER, Role.SECRETARY):
        login(make_user(role=role))
        assert client.get("/admin/targets").status_code == 403
        assert client.post(f"/admin/targets/{target.id}/delete").status_code == 403


def test_a_target_with_final_results_is_deactivated_not_deleted(client, login, make_user, make_target, frozen_clock):
    frozen_clock.set(NOW)
    login(make_user(role=Role.ADMIN))
    target = make_target(required_hours=10, created_at=datetime(2025, 1, 1, tzinfo=UTC))
    services.recompute_target(target, NOW, period_key="2025")
    db.session.commit()
    client.post(f"/admin/targets/{target.id}/delete")
    assert db.session.get(LearningTarget, target.id) is not None


def test_secretary_report_shows_only_their_branch(client, login, org):
    login(org["secretary1"])
    page = client.get(f"/admin/reports/{org['target'].id}").get_data(as_text=True)
    assert "优秀党员" in page and "落后党员" in page
    assert "二支部党员" not in page
    # Another branch, or the whole committee, is out of scope.
    assert client.get(f"/admin/reports/{org['target'].id}?branch={org['second'].id}").status_code == 404
    assert client.get(f"/admin/reports/{org['target'].id}?branch={org['committee'].id}").status_code == 404


def test_admin_drills_from_committee_to_branch_to_member(client, login, org):
    login(org["admin"])
    target = org["target"]
    top = client.get(f"/admin/reports/{target.id}?branch={org['committee'].id}").get_data(as_text=True)
    assert "第一党支部" in top and "第二党支部" in top
    branch = client.get(f"/admin/reports/{target.id}?branch={org['first'].id}").get_data(as_text=True)
    assert "优秀党员" in branch and "二支部党员" not in branch
    member = client.get(f"/admin/reports/{target.id}/members/{org['behind'].id}?period=2026").get_data(as_text=True)
    assert "落后党员" in member and "2.0" in member
    assert f'href="/courses/archive/{org["behind"].id}"' in member


def test_report_filters_and_sorts_members(client, login, org):
    login(org["admin"])
    target = org["target"]
    behind = client.get(f"/admin/reports/{target.id}?flag=behind").get_data(as_text=True)
    assert "落后党员" in behind and "优秀党员" not in behind.split('data-testid="member-table"')[1]
    by_score = client.get(f"/admin/reports/{target.id}?sort=score&desc=1").get_data(as_text=True)
    table = by_score.split('data-testid="member-table"')[1]
    assert table.index("优秀党员") < table.index("二支部党员") < table.index("落后党员")


def test_secretary_cannot_see_members_of_another_branch(client, login, org):
    login(org["secretary1"])
    assert client.get(f"/admin/reports/{org['target'].id}/members/{org['other'].id}").status_code == 404


def test_export_is_an_excel_file_limited_to_the_secretarys_branch(client, login, org):
    login(org["secretary2"])
    response = client.get(f"/admin/reports/{org['target'].id}/export.xlsx", buffered=True)
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    names = [row[0] for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert names == ["二支部党员"]
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


def test_at_risk_list_and_printable_page(client, login, org):
    login(org["admin"])
    page = client.get(f"/admin/reports/{org['target'].id}/at-risk").get_data(as_text=True)
    assert "落后党员" in page and "优秀党员" not in page
    printable = client.get(f"/admin/reports/{org['target'].id}/print").get_data(as_text=True)
    assert "优秀党员" in printable and "二支部党员" in printable


def test_recompute_on_demand_replaces_the_run(client, login, org, study, frozen_clock):
    login(org["secretary1"])
    study.study(org["behind"], date(2026, 6, 1), 20)
    db.session.commit()
    response = client.post(f"/admin/reports/{org['target'].id}/recompute", data={"period": "2026"})
    assert "less than a minute ago" not in response.get_data(as_text=True)
    assert "不到一分钟" in client.get(response.headers["Location"]).get_data(as_text=True)
    frozen_clock.advance(120)
    response = client.post(f"/admin/reports/{org['target'].id}/recompute", data={"period": "2026"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AssessmentRun)) == 1
    page = client.get(f"/admin/reports/{org['target'].id}/members/{org['behind'].id}").get_data(as_text=True)
    assert "22.0" in page


def test_a_past_period_report_uses_its_own_run(client, login, org, frozen_clock):
    login(org["admin"])
    assert "尚未计算" in client.get(f"/admin/reports/{org['target'].id}?period=2025").get_data(as_text=True)
    assert client.get(f"/admin/reports/{org['target'].id}?period=nonsense").status_code == 404


def test_probation_checklists_for_the_secretary_and_export(
    client, login, make_branch, make_user, make_target, study, frozen_clock
):
    frozen_clock.set(NOW)
    branch = make_branch("第三党支部")
    secretary = make_user(role=Role.SECRETARY, branch=branch)
    member = make_user(
        name="预备党员乙",
        branch=branch,
        status=MemberStatus.PROBATIONARY,
        admitted_on=date(2025, 9, 1),
        probation_end=date(2026, 8, 31),
    )
    make_user(name="别支部预备党员", status=MemberStatus.PROBATIONARY, admitted_on=date(2025, 9, 1))
    course = study.course("入党誓词")
    quiz = study.quiz("预备党员考试")
    make_target(
        "预备期学习",
        period_kind=PeriodKind.PROBATION,
        statuses=["probationary"],
        courses=[(course, 60)],
        quizzes=[quiz],
    )
    study.complete(member, course)
    db.session.commit()
    login(secretary)
    page = client.get("/admin/probation").get_data(as_text=True)
    assert "预备党员乙" in page and "别支部预备党员" not in page and "预备党员考试" in page
    detail = client.get(f"/admin/probation/{member.id}").get_data(as_text=True)
    assert "入党誓词" in detail and "2025-10-31" in detail  # admission + 60 days
    response = client.get(f"/admin/probation/{member.id}/export.xlsx", buffered=True)
    rows = list(load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[1][0] == "预备党员乙" and any("入党誓词" in str(cell) for row in rows for cell in row)
    assert client.get("/admin/probation/export.xlsx", buffered=True).status_code == 200


def test_hours_by_month_chart_comes_from_the_run_and_the_secretarys_branches(client, login, org):
    import json
    import re

    login(org["secretary1"])
    page = client.get(f"/admin/reports/{org['target'].id}").get_data(as_text=True)
    months = json.loads(re.search(r'id="chart-months">(.*?)</script>', page).group(1))
    values = dict(zip(months["labels"], months["datasets"][0]["data"], strict=True))
    assert values["2026-03"] == 32.0  # 30 + 2 hours in 第一党支部; 二支部's April hours are not shown
    assert values["2026-04"] == 0.0 and len(values) == 7  # January to July


def _chart(page: str, chart_id: str) -> dict | None:
    import json
    import re

    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', page, flags=re.S)
    return json.loads(found.group(1)) if found else None


def test_branch_comparison_is_one_level_below_the_viewers_scope(client, login, org, make_branch, make_user):
    # The admin's organisation is one 党委: its branches are compared, not the 党委 as one bar.
    login(org["admin"])
    page = client.get(f"/admin/reports/{org['target'].id}").get_data(as_text=True)
    assert _chart(page, "chart-branches")["labels"] == ["第一党支部", "第二党支部"]
    # A branch secretary has no sub-branches: a note, never an empty chart.
    login(org["secretary1"])
    page = client.get(f"/admin/reports/{org['target'].id}").get_data(as_text=True)
    assert _chart(page, "chart-branches") is None and 'data-testid="no-comparison"' in page
    # A 党总支 secretary compares the branches under it and the members directly in the 党总支.
    general = make_branch("生产党总支", parent=org["committee"])
    under = make_branch("三支部", parent=general)
    make_user(branch=under, name="三支部党员")
    make_user(branch=general, name="总支党员")
    leader = make_user(role=Role.SECRETARY, branch=general, name="总支书记")
    services.recompute_target(org["target"], NOW)
    db.session.commit()
    login(leader)
    page = client.get(f"/admin/reports/{org['target'].id}").get_data(as_text=True)
    assert _chart(page, "chart-branches")["labels"] == ["三支部", "直属生产党总支"]
