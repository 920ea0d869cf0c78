"""Every registered route, tried anonymously, as a learner, as another branch's secretary and subtree admin.

New routes fall under this automatically: a route is public only if listed in
PUBLIC_ENDPOINTS; every `/admin/` route refuses learners; every route about one
member (`<user_id>`) refuses a secretary of another branch; a subtree admin
(党总支, 二级党委) is refused every member, branch, quiz and target outside their
subtree, organisation-wide content, the organisation's own pages (settings,
videos, banks, courses, bulk import) and the audit rows of other branches.
"""

import pytest
import sqlalchemy as sa
from werkzeug.routing.converters import NumberConverter

from lms import audit, clock
from lms.assessment.models import LearningTarget
from lms.auth.models import BranchKind, Role, User
from lms.exams.quizzes import setup
from lms.exams.quizzes.models import Quiz
from lms.extensions import db

PUBLIC_ENDPOINTS = {
    "auth.login", "auth.set_language", "home.healthz", "home.favicon", "static",
    # Forgotten password (the e-mailed link is the proof) and the installable app's manifest, worker and offline page.
    "password_reset.forgot", "password_reset.reset", "webapp.manifest", "webapp.service_worker", "webapp.offline",
}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def concrete_requests(app, user_id: int, ids: dict[str, int] | None = None):
    """(endpoint, method, url) for every rule, with placeholder values for its arguments (``ids`` by name)."""
    requests = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            values = {}
            for name in rule.arguments:
                converter = rule._converters[name]
                if name in ("user_id", "member_id"):
                    values[name] = user_id
                elif ids and name in ids:
                    values[name] = ids[name]
                elif isinstance(converter, NumberConverter):
                    values[name] = 1
                else:
                    values[name] = "x"
            url = rule.build(values, append_unknown=False)[1]
            for method in sorted(rule.methods - SKIPPED_METHODS):
                requests.append((rule.endpoint, method, url))
    return requests


@pytest.fixture
def two_branches(make_branch, make_user):
    first, second = make_branch("第一党支部"), make_branch("第二党支部")
    return {
        "learner": make_user(username="learner", branch=first),
        "secretary": make_user(username="secretary", role=Role.SECRETARY, branch=first),
        "stranger": make_user(username="stranger", branch=second),
    }


def test_every_non_public_route_needs_login(app):
    for endpoint, method, url in concrete_requests(app, user_id=1):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = app.test_client().open(url, method=method)
        assert response.status_code in (302, 401), f"{method} {url} answered {response.status_code} anonymously"
        if response.status_code == 302:
            assert "/auth/login" in response.headers["Location"], f"{method} {url} redirects elsewhere"


def test_learners_are_refused_on_admin_routes_and_other_members_records(app, two_branches, login):
    client = login(two_branches["learner"], on=app.test_client())
    for endpoint, method, url in concrete_requests(app, user_id=two_branches["stranger"].id):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        about_other_member = "user_id" in url or str(two_branches["stranger"].id) in url.split("/")
        if url.startswith("/admin/") or about_other_member:
            response = client.open(url, method=method)
            assert response.status_code in (403, 404), f"learner got {response.status_code} on {method} {url}"


def test_secretaries_are_refused_on_members_outside_their_branch(app, two_branches, login):
    client = login(two_branches["secretary"], on=app.test_client())
    stranger = two_branches["stranger"]
    checked = 0
    for endpoint, method, url in concrete_requests(app, user_id=stranger.id):
        rule_has_member = any(
            "user_id" in rule.arguments or "member_id" in rule.arguments for rule in app.url_map.iter_rules(endpoint)
        )
        if not rule_has_member:
            continue
        response = client.open(url, method=method)
        checked += 1
        assert response.status_code in (403, 404), f"secretary got {response.status_code} on {method} {url}"
    assert checked > 0


# --- Subtree administrators -------------------------------------------------------------------------

# Organisation-level pages: the blueprints and endpoints a subtree admin never reaches.
ORG_ONLY_BLUEPRINTS = ("media_admin.", "banks.")
ORG_ONLY_ENDPOINTS = {
    "org_admin.settings",
    "admin.import_members",
    "admin.import_members_confirm",
    "admin.import_members_template",
    "exams_admin.reports",
    "exams_admin.resolve_report",
    "courses_admin.courses",
    "courses_admin.course_new",
    "courses_admin.course_edit",
    "courses_admin.course_detail",
    "courses_admin.course_publish",
    "courses_admin.course_delete",
    "courses_admin.lesson_new",
    "courses_admin.lesson_edit",
    "courses_admin.lesson_delete",
    "contest_admin.new",
    "contest_admin.edit",
}


@pytest.fixture
def subtree(make_branch, make_user):
    committee = make_branch("先锋党委", kind=BranchKind.COMMITTEE)
    general = make_branch("机关党总支", parent=committee, kind=BranchKind.GENERAL_BRANCH)
    inside = make_branch("机关第一党支部", parent=general)
    outside = make_branch("生产党支部", parent=committee)
    return {
        "committee": committee,
        "general": general,
        "inside": inside,
        "outside": outside,
        "admin": make_user(username="subadmin", role=Role.SUBTREE_ADMIN, branch=general),
        "member": make_user(username="insider", branch=inside, name="内部党员"),
        "stranger": make_user(username="outsider", branch=outside, name="外部党员"),
    }


def _new_quiz(title: str, branch_ids: list[int]) -> Quiz:
    quiz = setup.create_quiz(
        setup.QuizSettings(title=title, audience_branch_ids=branch_ids), created_by=None, now=clock.utcnow()
    )
    db.session.commit()
    return quiz


def test_subtree_admins_are_refused_on_members_and_branches_outside_their_subtree(app, subtree, login):
    client = login(subtree["admin"], on=app.test_client())
    stranger, outside = subtree["stranger"], subtree["outside"]
    org_quiz = _new_quiz("全体测验", [])
    ids = {"branch_id": outside.id, "quiz_id": org_quiz.id}
    checked = 0
    for endpoint, method, url in concrete_requests(app, user_id=stranger.id, ids=ids):
        rule_args = set().union(*(rule.arguments for rule in app.url_map.iter_rules(endpoint)))
        if not rule_args & {"user_id", "member_id", "branch_id"}:
            continue
        if endpoint.startswith("exams_admin.") and "quiz_id" in rule_args and method == "GET":
            continue  # results pages of an organisation quiz: scoped to the admin's own members
        response = client.open(url, method=method)
        checked += 1
        assert response.status_code in (403, 404), f"subtree admin got {response.status_code} on {method} {url}"
    assert checked > 5
    # Branch filters of reports and boards also stop at the subtree.
    assert client.get(f"/admin/branches/{subtree['committee'].id}").status_code == 404
    assert client.get(f"/admin/branches/{subtree['general'].id}").status_code == 403  # its own root


def test_subtree_admins_are_refused_on_organisation_pages(app, subtree, login):
    client = login(subtree["admin"], on=app.test_client())
    checked = 0
    for endpoint, method, url in concrete_requests(app, user_id=subtree["member"].id):
        if endpoint in ORG_ONLY_ENDPOINTS or endpoint.startswith(ORG_ONLY_BLUEPRINTS):
            response = client.open(url, method=method)
            checked += 1
            assert response.status_code == 403, f"subtree admin got {response.status_code} on {method} {url}"
    assert checked >= len(ORG_ONLY_ENDPOINTS)


def test_subtree_admins_manage_members_inside_and_no_further(client, subtree, login):
    login(subtree["admin"])
    member, inside, outside = subtree["member"], subtree["inside"], subtree["outside"]
    page = client.get("/admin/users").get_data(as_text=True)
    assert "内部党员" in page and "外部党员" not in page
    branches = client.get("/admin/branches").get_data(as_text=True)
    assert "机关第一党支部" in branches and "生产党支部" not in branches
    account = {"name": "新党员", "username": "newbie", "status": "full", "role": "learner", "password": "Start2026x"}
    assert client.post("/admin/users/new", data={**account, "branch_id": inside.id}).status_code == 302
    refused = client.post("/admin/users/new", data={**account, "username": "far", "branch_id": outside.id})
    assert refused.status_code == 200 and db.session.scalar(sa.select(User).where(User.username == "far")) is None
    admin_role = client.post("/admin/users/new", data={**account, "username": "boss", "branch_id": inside.id,
                                                      "role": "admin"})  # fmt: skip
    assert admin_role.status_code == 200 and db.session.scalar(sa.select(User).where(User.username == "boss")) is None
    moved = client.post(f"/admin/users/{member.id}/edit", data={**account, "username": "insider",
                                                                "branch_id": outside.id})  # fmt: skip
    assert moved.status_code == 200
    db.session.refresh(member)
    assert member.branch_id == inside.id
    assert client.post("/admin/branches", data={"name": "外部新支部", "kind": "branch",
                                                "parent_id": subtree["committee"].id}).status_code == 200  # fmt: skip
    assert client.post("/admin/branches", data={"name": "机关第二党支部", "kind": "branch",
                                                "parent_id": subtree["general"].id}).status_code == 302  # fmt: skip


QUIZ_FORM = {
    "title": "总支测验", "attempts_allowed": "1", "pass_percent": "60", "kept_grade": "highest",
    "review_policy": "after_submit", "overdue_handling": "auto_submit", "wait_minutes": "0",
    "grace_period_minutes": "0",
}  # fmt: skip
TARGET_FORM = {
    "name": "总支年度学习", "period_kind": "year", "year": "2026", "quarter": "0", "leader_rule": "any",
    "required_hours": "32", "weight_hours": "0.5", "weight_courses": "0.3", "weight_quizzes": "0.2",
    "excellent_min": "90", "good_min": "80", "pass_min": "60", "is_active": "y",
}  # fmt: skip


def test_subtree_admins_cannot_create_organisation_wide_content(client, subtree, login):
    login(subtree["admin"])
    inside, outside = subtree["inside"], subtree["outside"]
    for data in ({}, {"audience_branch_ids": [str(outside.id)]}):
        page = client.post("/admin/quizzes/new", data={**QUIZ_FORM, **data})
        assert page.status_code == 200
        page = client.post("/admin/targets/new", data={**TARGET_FORM, **data})
        assert page.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Quiz.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(LearningTarget.id))) == 0
    refused = client.post("/admin/quizzes/new", data=QUIZ_FORM).get_data(as_text=True)
    assert "您不能面向全体组织发布" in refused

    own = client.post("/admin/quizzes/new", data={**QUIZ_FORM, "audience_branch_ids": [str(inside.id)]})
    assert own.status_code == 302
    quiz = db.session.scalar(sa.select(Quiz))
    assert client.get(f"/admin/quizzes/{quiz.id}").status_code == 200
    target = client.post("/admin/targets/new", data={**TARGET_FORM, "audience_branch_ids": [str(inside.id)]})
    assert target.status_code == 302
    own_target = db.session.scalar(sa.select(LearningTarget))
    assert client.get(f"/admin/targets/{own_target.id}/edit").status_code == 200

    org_quiz = _new_quiz("全体测验", [])
    far_quiz = _new_quiz("生产测验", [outside.id])
    for other in (org_quiz, far_quiz):
        assert client.get(f"/admin/quizzes/{other.id}").status_code == 404
        assert client.post(f"/admin/quizzes/{other.id}/publish").status_code == 404
        assert client.post(f"/admin/quizzes/{other.id}/delete").status_code == 404
    org_target = LearningTarget(name="全体目标", period_kind="year", year=2026)
    db.session.add(org_target)
    db.session.commit()
    assert client.get(f"/admin/targets/{org_target.id}/edit").status_code == 404
    assert client.post(f"/admin/targets/{org_target.id}/delete").status_code == 404
    assert "全体目标" not in client.get("/admin/targets").get_data(as_text=True)


def test_subtree_admins_read_only_their_subtrees_audit_rows(client, subtree, login):
    audit.record("user.update", "user", subtree["member"].id, label="内部党员", branch_path=subtree["inside"].path)
    audit.record("user.update", "user", subtree["stranger"].id, label="外部党员", branch_path=subtree["outside"].path)
    audit.record("settings.change", "setting", "MINUTES_PER_STUDY_HOUR", label="学时折算")
    db.session.commit()
    login(subtree["admin"])
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "内部党员" in page and "外部党员" not in page and "学时折算" not in page
    assert client.get("/admin/settings").status_code == 403
