"""Visibility, the catalogue, required study, the home panel and the media access hook."""

from datetime import date, timedelta

import pytest

from lms import clock
from lms.auth.models import BranchKind, MemberStatus, Role
from lms.courses import services
from lms.courses.models import DueRule, LessonKind
from lms.extensions import db
from lms.media.access import may_stream


@pytest.fixture
def tree(make_branch):
    committee = make_branch("党委", kind=BranchKind.COMMITTEE)
    general = make_branch("总支", parent=committee, kind=BranchKind.GENERAL_BRANCH)
    return {"committee": committee, "general": general, "branch": make_branch("一支部", parent=general),
            "other": make_branch("机关支部", parent=committee)}  # fmt: skip


def test_learners_see_only_published_courses_of_their_audience(make_user, make_course, tree):
    member = make_user(branch=tree["branch"])
    open_course = make_course(title="公开课")
    make_course(title="草稿课", published=False)
    make_course(title="预备党员课", audience={"audience_statuses": ["probationary"]})
    subtree = make_course(title="总支课", audience={"audience_branch_ids": [tree["general"].id]})
    make_course(title="机关课", audience={"audience_branch_ids": [tree["other"].id]})
    make_course(title="书记课", audience={"audience_roles": ["secretary"]})
    assert {c.title for c in services.visible_courses(member)} == {open_course.title, subtree.title}


def test_admin_sees_drafts_but_learners_get_404(app, client, login, make_user, make_course):
    draft = make_course(title="草稿课", published=False)
    login(make_user())
    assert client.get(f"/courses/{draft.id}").status_code == 404
    admin_client = login(make_user(role=Role.ADMIN), on=app.test_client())
    assert admin_client.get(f"/courses/{draft.id}").status_code == 200


def test_unpublished_lesson_is_hidden_from_learners(client, login, make_user, make_course, lesson_of):
    course = make_course(LessonKind.ARTICLE, LessonKind.ARTICLE)
    hidden = course.lessons[1]
    hidden.is_published = False
    db.session.commit()
    login(make_user())
    assert client.get(f"/courses/lessons/{hidden.id}").status_code == 404
    assert client.get(f"/courses/lessons/{course.lessons[0].id}").status_code == 200


def test_catalogue_search_and_filters(client, login, make_user, make_course):
    make_course(title="党史学习教育", category="党史", tags=["百年党史"])
    make_course(title="廉政教育", category="纪律", tags=["廉洁"])
    login(make_user())
    page = client.get("/courses/?q=党史").get_data(as_text=True)
    assert "党史学习教育" in page and "廉政教育" not in page
    page = client.get("/courses/?category=纪律").get_data(as_text=True)
    assert "廉政教育" in page and "党史学习教育" not in page
    page = client.get("/courses/?tag=百年党史").get_data(as_text=True)
    assert "党史学习教育" in page and "廉政教育" not in page
    assert "没有符合条件的课程" in client.get("/courses/?q=不存在的词").get_data(as_text=True)


def test_required_course_by_probation_end_uses_each_members_date(make_user, make_course, admin):
    course = make_course(title="党章必修")
    services.create_requirement(
        services.RequirementFields(course_id=course.id, due_rule=DueRule.PROBATION_END, due_on=date(2026, 12, 31),
                                   audience_statuses=["probationary"]),
        actor=admin, now=clock.utcnow(),
    )  # fmt: skip
    db.session.commit()
    early = make_user(status=MemberStatus.PROBATIONARY, probation_end=date(2026, 6, 30))
    unknown = make_user(status=MemberStatus.PROBATIONARY, probation_end=None)
    full = make_user()
    assert [(r.course.id, r.due_on) for r in services.required_courses_for(early)] == [(course.id, date(2026, 6, 30))]
    assert services.required_courses_for(unknown)[0].due_on == date(2026, 12, 31)
    assert services.required_courses_for(full) == []


def test_fixed_date_requirement_needs_a_date(make_course, admin):
    from lms.errors import ValidationFailed

    course = make_course()
    with pytest.raises(ValidationFailed):
        services.create_requirement(
            services.RequirementFields(course_id=course.id, due_rule=DueRule.FIXED_DATE, due_on=None),
            actor=admin, now=clock.utcnow(),
        )  # fmt: skip


def test_home_panel_lists_required_first_with_due_dates_then_in_progress(
    client, login, make_user, make_course, lesson_of, admin, start, beat, frozen_clock
):
    member = make_user(status=MemberStatus.PROBATIONARY, probation_end=date(2026, 9, 1))
    required = make_course(title="必修党章", tags=["党章"])
    started = make_course((LessonKind.VIDEO, 100.0), title="进行中的课")
    make_course(title="未开始的课")
    services.create_requirement(
        services.RequirementFields(course_id=required.id, due_rule=DueRule.PROBATION_END, due_on=None,
                                   audience_statuses=["probationary"]),
        actor=admin, now=clock.utcnow(),
    )  # fmt: skip
    db.session.commit()
    session = start(member, lesson_of(started))
    beat(member, session, 0, 15)
    login(member)
    page = client.get("/").get_data(as_text=True)
    # 继续学习 leads with the unfinished lesson; then the required courses, then those in progress.
    lists = page[page.index('data-testid="required-courses"'):]
    assert lists.index("必修党章") < lists.index("进行中的课")
    assert page.index('data-testid="continue-learning"') < page.index('data-testid="required-courses"')
    assert "截止 2026年9月1日" in page
    assert "未开始的课" not in page
    assert "15%" in page


def test_overdue_required_course_is_marked(client, login, make_user, make_course, admin, frozen_clock):
    member = make_user()
    course = make_course(title="过期必修")
    services.create_requirement(
        services.RequirementFields(course_id=course.id, due_rule=DueRule.FIXED_DATE,
                                   due_on=clock.local_day(clock.utcnow()) - timedelta(days=1)),
        actor=admin, now=clock.utcnow(),
    )  # fmt: skip
    db.session.commit()
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert "text-danger fw-semibold" in page


def test_media_access_hook_grants_only_the_courses_audience(make_user, make_course, lesson_of, make_asset, tree):
    course = make_course(audience={"audience_branch_ids": [tree["general"].id]})
    asset_id = lesson_of(course).media_asset_id
    inside = make_user(branch=tree["branch"])
    outside = make_user(branch=tree["other"])
    assert may_stream(inside, asset_id) is True
    assert may_stream(outside, asset_id) is False
    stray = make_asset()
    assert may_stream(inside, stray.id) is False


def test_media_access_hook_refuses_drafts_and_unpublished_lessons(make_user, make_course, lesson_of):
    member = make_user()
    draft = make_course(published=False)
    assert may_stream(member, lesson_of(draft).media_asset_id) is False
    course = make_course(LessonKind.VIDEO, LessonKind.VIDEO)
    hidden = course.lessons[1]
    hidden.is_published = False
    db.session.commit()
    assert may_stream(member, hidden.media_asset_id) is False
    assert may_stream(member, course.lessons[0].media_asset_id) is True


def test_micro_feed_shows_micro_courses_of_visible_courses(client, login, make_user, make_course):
    make_course((LessonKind.MICRO, 120.0), title="微党课")
    make_course((LessonKind.MICRO, 120.0), title="别人的微课", audience={"audience_statuses": ["activist"]})
    login(make_user())
    page = client.get("/courses/micro").get_data(as_text=True)
    assert "微党课" in page and "别人的微课" not in page


def test_course_page_shows_progress_and_lessons(client, login, make_user, make_course, start, beat):
    member = make_user()
    course = make_course((LessonKind.VIDEO, 100.0), LessonKind.ARTICLE, title="两节课")
    session = start(member, course.lessons[0])
    for second in range(0, 90, 15):
        beat(member, session, second, second + 15)
    login(member)
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "已完成 1 / 2 节" in page or "1 / 2" in page
    assert "继续学习" in page


def test_an_asset_used_by_a_lesson_is_reported_to_media_as_in_use(make_course, lesson_of, make_asset):
    from lms.media.access import usages

    course = make_course(title="党史学习")
    lesson = lesson_of(course)
    assert usages(lesson.media_asset_id) == [f"党史学习 · {lesson.title}"]
    assert usages(make_asset().id) == []


def test_video_lesson_page_shows_the_player_resume_point_and_other_lessons(
    client, login, make_user, make_course, start, beat
):
    member = make_user()
    course = make_course((LessonKind.VIDEO, 100.0), LessonKind.ARTICLE, title="两节课")
    video = course.lessons[0]
    session = start(member, video)
    beat(member, session, 0, 15)
    beat(member, session, 15, 30)
    login(member)
    page = client.get(f"/courses/lessons/{video.id}").get_data(as_text=True)
    assert "data-vanguard-player" in page and 'data-start-at="30.000"' in page
    assert 'data-heartbeat-url="/courses/heartbeat"' in page and "js/studytracker.js" in page
    assert "文章" in page  # the course's other lesson
    assert "data-tracker-watched>30.0%" in page
