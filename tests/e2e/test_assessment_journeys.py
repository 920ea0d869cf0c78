"""Browser journeys of assessment: a member's dashboard shows progress after studying; a secretary drills down."""

from datetime import timedelta

from playwright.sync_api import expect

from lms import clock
from lms.assessment import services
from lms.assessment.models import LearningTarget, TargetCourse
from lms.auth.models import BranchKind, Role
from lms.courses.ledger import add_study_seconds
from lms.courses.models import LessonProgress, StudySource
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

    # The member watches the whole lesson: the courses domain credits the ledger and completes the lesson.
    now = clock.utcnow()
    lesson = course.lessons[0]
    add_study_seconds(member.id, lesson.id, clock.local_day(now), StudySource.VIDEO, 2 * 45 * 60)
    db.session.add(
        LessonProgress(user_id=member.id, lesson_id=lesson.id, intervals=[0, 600], watched_seconds=600,
                       started_at=now, last_studied_at=now, completed_at=now)
    )  # fmt: skip
    db.session.commit()

    page.reload()
    card = page.get_by_test_id("target-card")
    expect(card.get_by_test_id("hours-done")).to_have_text("2.0")
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
