"""Every courses route: anonymous users are sent to log in, learners never reach /admin/courses,
secretaries never reach another branch's records or admin-only pages."""

from datetime import timedelta

import pytest

from lms import clock
from lms.auth.models import Role
from lms.courses import offline
from lms.courses.models import CourseRequirement, DueRule, LessonKind, OfflineActivity
from lms.extensions import db

ADMIN_ONLY = {
    "courses_admin.courses", "courses_admin.course_new", "courses_admin.course_edit", "courses_admin.course_detail",
    "courses_admin.course_publish", "courses_admin.course_delete", "courses_admin.article_image_upload",
    "courses_admin.course_stats", "courses_admin.lesson_new", "courses_admin.lesson_edit", "courses_admin.lesson_move",
    "courses_admin.lesson_order", "courses_admin.lesson_delete", "courses_admin.requirement_delete",
}  # fmt: skip


@pytest.fixture
def world(make_branch, make_user, make_course, admin):
    branch, other = make_branch("一支部"), make_branch("二支部")
    member = make_user(branch=branch)
    secretary = make_user(role=Role.SECRETARY, branch=branch)
    other_secretary = make_user(role=Role.SECRETARY, branch=other)
    course = make_course((LessonKind.VIDEO, 100.0), (LessonKind.ARTICLE, 5))
    record = offline.record_offline_study(
        secretary,
        offline.OfflineRecordFields(branch_id=branch.id, activity=OfflineActivity.THEME_PARTY_DAY,
                                    held_on=clock.local_day(clock.utcnow()) - timedelta(days=1), study_hours=2,
                                    topic="主题党日", attendee_ids=[member.id]),
        now=clock.utcnow(),
    )  # fmt: skip
    requirement = CourseRequirement(course_id=course.id, due_rule=DueRule.FIXED_DATE, due_on=clock.utcnow().date())
    db.session.add(requirement)
    db.session.commit()
    values = {
        "course_id": course.id,
        "lesson_id": course.lessons[0].id,
        "user_id": member.id,
        "record_id": record.id,
        "requirement_id": requirement.id,
        "name": "abcdefghijklmnopqrstuv.jpg",
    }
    return {"member": member, "secretary": secretary, "other_secretary": other_secretary, "values": values}


def routes(app, world):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("courses.", "courses_admin.")):
            continue
        path = rule.rule
        for key, value in world["values"].items():
            path = path.replace(f"<int:{key}>", str(value)).replace(f"<{key}>", str(value))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def call(client, method, path):
    return client.open(path, method=method, data={} if method == "POST" else None)


def test_anonymous_users_are_sent_to_log_in(app, client, world):
    for endpoint, method, path in routes(app, world):
        response = call(client, method, path)
        assert response.status_code in (302, 401), (endpoint, response.status_code)
        if response.status_code == 302:
            assert "/auth/login" in response.headers["Location"], endpoint


def test_learners_never_reach_admin_pages(app, login, world):
    client = login(world["member"], on=app.test_client())
    for endpoint, method, path in routes(app, world):
        if path.startswith("/admin/"):
            assert call(client, method, path).status_code in (403, 404), endpoint


def test_secretaries_reach_neither_admin_only_pages_nor_another_branchs_records(app, login, world):
    client = login(world["other_secretary"], on=app.test_client())
    record_id, member_id = world["values"]["record_id"], world["values"]["user_id"]
    for endpoint, method, path in routes(app, world):
        status = call(client, method, path).status_code
        if endpoint in ADMIN_ONLY:
            assert status == 403, endpoint
        elif f"/offline/{record_id}" in path or path.startswith(f"/courses/archive/{member_id}"):
            assert status == 404, endpoint


def test_own_secretary_reaches_the_records(app, login, world):
    client = login(world["secretary"], on=app.test_client())
    record_id = world["values"]["record_id"]
    # Offline records became meetings: the old pages lead there.
    detail = client.get(f"/admin/courses/offline/{record_id}")
    assert detail.status_code == 301 and detail.location.endswith(f"/meetings/from-offline/{record_id}")
    assert client.get(f"/admin/courses/offline/{record_id}/edit").status_code == 301
    assert client.get("/admin/courses/offline/new").location.endswith("/meetings/new")
    assert client.get("/admin/courses/offline/audit").status_code == 200
    assert client.get("/admin/courses/archives").status_code == 200
    assert client.get("/admin/courses/required").status_code == 200
