"""Browser journeys of assessment: a member's dashboard shows progress after studying; a secretary drills down."""

from datetime import timedelta

from playwright.sync_api import expect

from lms import clock
from lms.assessment import services
from lms.assessment.models import LearningTarget, TargetCourse
from lms.auth.models import BranchKind, Role
from lms.courses import tracking
from lms.extensions import db
from tests.assessment.conftest import StudyData


def test_member_dashboard_shows_progress_after_watching_a_lesson(page, live_server, make_user, browser_login):
    member = make_user(username="liming", name="李明")
    study = StudyData()
    course = study.course("学习党章", lessons=1)
    target = LearningTarget(name="年度学习目标", required_hours=32)
    target.set_audience(["full"], [], [])
    target.courses = [TargetCourse(course_id=course.id, title=course.title)]
    db.session.add(target)
    db.session.commit()

    browser_login(page, member)
    card = page.get_by_test_id("target-card")
    expect(card).to_contain_text("年度学习目标")
    expect(card.get_by_test_id("hours-done")).to_have_text("0.0")
    expect(card.get_by_test_id("required-items")).to_contain_text("学习党章")

    # The member watches the whole ten-minute lesson: the courses domain's own tracking credits each heartbeat.
    now = clock.utcnow()
    session = tracking.start_session(member, course.lessons[0].id, now=now)
    for minute in range(10):
        beat = tracking.Heartbeat(session.session_id, course.lessons[0].id, start=minute * 60.0, end=minute * 60.0 + 60)
        assert tracking.record_heartbeat(member.id, beat, now=now + timedelta(seconds=60 * (minute + 1))).credited > 0
    db.session.commit()

    page.reload()
    card = page.get_by_test_id("target-card")
    expect(card.get_by_test_id("hours-done")).to_have_text("0.2")  # 10 minutes of 45-minute study hours
    expect(card.get_by_test_id("required-items")).to_contain_text("已完成")
    expect(card.get_by_test_id("target-score")).not_to_have_text("0.0")
    expect(card.locator("canvas[data-drawn='1']")).to_have_count(1)  # Chart.js drew the hours by month


def test_secretary_drills_from_branch_to_member(page, live_server, make_branch, make_user, browser_login):
    general = make_branch("生产党总支", kind=BranchKind.GENERAL_BRANCH)
    first = make_branch("第一党支部", parent=general)
    second = make_branch("第二党支部", parent=general)
    secretary = make_user(username="wangshuji", name="王书记", role=Role.SECRETARY, branch=general)
    behind = make_user(name="落后党员", branch=first)
    make_user(name="二支部党员", branch=second)
    study = StudyData()
    study.study(behind, clock.local_day(clock.utcnow()) - timedelta(days=1), 1.5)
    target = LearningTarget(name="年度学习目标", required_hours=32)
    target.set_audience(["full"], ["learner"], [])
    db.session.add(target)
    db.session.commit()
    services.recompute_target(target, clock.utcnow())
    db.session.commit()

    browser_login(page, secretary)
    page.goto(live_server("/admin/reports"))
    page.get_by_test_id("report-card").first.locator("a").click()
    expect(page.get_by_test_id("report-title")).to_contain_text("生产党总支")
    page.get_by_test_id("branch-table").get_by_role("link", name="第一党支部").click()
    expect(page.get_by_test_id("report-title")).to_contain_text("第一党支部")
    expect(page.get_by_test_id("member-table")).not_to_contain_text("二支部党员")
    page.get_by_test_id("member-table").get_by_role("link", name="落后党员").click()
    expect(page.get_by_test_id("member-name")).to_have_text("落后党员")
    expect(page.locator("main")).to_contain_text("1.5")
    page.get_by_test_id("archive-link").click()  # on to the member's learning archive (courses domain)
    expect(page).to_have_url(live_server(f"/courses/archive/{behind.id}"))
    expect(page.locator("main")).to_contain_text("落后党员")
