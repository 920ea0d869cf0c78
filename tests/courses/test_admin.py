"""The admin course editor: covers, sanitised text, lessons, order, publishing, statistics, required study."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from lms.auth.models import MemberStatus, Role
from lms.courses.models import Course, CourseRequirement, CourseStatus, Lesson, LessonKind
from lms.extensions import db
from lms.media.models import AssetStatus


@pytest.fixture
def admin_client(client, login, admin):
    return login(admin)


def png_bytes(size=(64, 36), color=(200, 16, 46)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def course_form(**changes):
    data = {"title": "党章学习", "summary_html": "<p>简介</p>", "category": "党章党规", "tags": "党章，纪律; 必学",
            "credit_note": "计入年度学时"}  # fmt: skip
    data.update(changes)
    return data


def test_admin_creates_a_course_with_sanitised_summary_tags_and_audience(admin_client, make_branch):
    branch = make_branch("一支部")
    response = admin_client.post(
        "/admin/courses/new",
        data=course_form(
            summary_html='<p onclick="steal()">好<script>alert(1)</script><a href="javascript:x">链接</a></p>',
            audience_statuses=["probationary"],
            audience_branch_ids=[str(branch.id)],
        ),
    )
    assert response.status_code == 302
    course = db.session.scalar(sa.select(Course))
    assert course.status == CourseStatus.DRAFT
    assert "script" not in course.summary_html and "onclick" not in course.summary_html
    assert "javascript" not in course.summary_html and "好" in course.summary_html
    assert course.tags == ["党章", "纪律", "必学"]
    assert course.audience_statuses == ["probationary"] and course.audience_branch_ids == [branch.id]


def test_cover_upload_is_checked_reencoded_and_served_by_generated_name(app, admin_client, tmp_path):
    data = course_form()
    data["cover"] = (io.BytesIO(png_bytes((2000, 1000))), "../../etc/passwd.png")
    response = admin_client.post("/admin/courses/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    course = db.session.scalar(sa.select(Course))
    assert course.cover_filename and "passwd" not in course.cover_filename
    stored = tmp_path / "media" / "covers" / str(course.id) / course.cover_filename
    assert stored.is_file()
    with Image.open(stored) as image:
        assert image.width <= 1280
    served = admin_client.get(f"/courses/{course.id}/cover/{course.cover_filename}")
    assert served.status_code == 200 and served.mimetype.startswith("image/")
    assert admin_client.get(f"/courses/{course.id}/cover/..%2F..%2Fsecret_key").status_code == 404


def test_a_file_that_is_not_an_image_is_refused_as_cover_and_nothing_is_lost(admin_client):
    data = course_form(title="保留我")
    data["cover"] = (io.BytesIO(b"<?php evil(); ?>" + b"\x00" * 100), "cover.png")
    response = admin_client.post("/admin/courses/new", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "该文件不是图片" in page
    assert 'value="保留我"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 0


def test_replacing_a_cover_deletes_the_old_file(admin_client, make_course, tmp_path):
    course = make_course()
    for color in ((1, 2, 3), (4, 5, 6)):
        data = course_form(title=course.title)
        data["cover"] = (io.BytesIO(png_bytes(color=color)), "c.png")
        admin_client.post(f"/admin/courses/{course.id}/edit", data=data, content_type="multipart/form-data")
    files = list((tmp_path / "media" / "covers" / str(course.id)).iterdir())
    db.session.expire_all()
    assert len(files) == 1 and files[0].name == db.session.get(Course, course.id).cover_filename


def test_video_lesson_needs_a_ready_asset(admin_client, make_course, make_asset):
    course = make_course(LessonKind.ARTICLE, published=False)
    processing = make_asset(status=AssetStatus.PROCESSING)
    response = admin_client.post(
        f"/admin/courses/{course.id}/lessons/new",
        data={"kind": "video", "title": "第一讲", "media_asset_id": str(processing.id), "is_published": "y"},
    )
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lesson)) == 1
    ready = make_asset(duration=1234.5)
    response = admin_client.post(
        f"/admin/courses/{course.id}/lessons/new",
        data={"kind": "video", "title": "第一讲", "media_asset_id": str(ready.id), "is_published": "y"},
    )
    assert response.status_code == 302
    lesson = db.session.scalar(sa.select(Lesson).where(Lesson.title == "第一讲"))
    assert lesson.duration_seconds == 1234.5 and lesson.position == 2


def test_micro_course_longer_than_ten_minutes_is_refused(admin_client, make_course, make_asset):
    course = make_course(published=False)
    long_video = make_asset(duration=601)
    response = admin_client.post(
        f"/admin/courses/{course.id}/lessons/new",
        data={"kind": "micro", "title": "微课", "media_asset_id": str(long_video.id)},
    )
    assert "微课最长 10 分钟" in response.get_data(as_text=True)


def test_article_lesson_is_sanitised_and_needs_reading_minutes(admin_client, make_course):
    course = make_course(published=False)
    data = {"kind": "article", "title": "导读", "body_html": '<p>正文<img src="x" onerror="alert(1)"></p>'}
    response = admin_client.post(f"/admin/courses/{course.id}/lessons/new", data=data)
    assert "阅读时长须在 1 到 600 分钟之间" in response.get_data(as_text=True)
    data["reading_minutes"] = "8"
    assert admin_client.post(f"/admin/courses/{course.id}/lessons/new", data=data).status_code == 302
    lesson = db.session.scalar(sa.select(Lesson).where(Lesson.title == "导读"))
    assert "onerror" not in lesson.body_html and "<img" in lesson.body_html


def test_article_image_upload_returns_a_url_inside_the_course(admin_client, make_course):
    course = make_course()
    response = admin_client.post(
        f"/admin/courses/{course.id}/images",
        data={"image": (io.BytesIO(png_bytes()), "pic.png")},
        content_type="multipart/form-data",
    )
    url = response.get_json()["url"]
    assert url.startswith(f"/courses/{course.id}/images/")
    assert admin_client.get(url).status_code == 200
    bad = admin_client.post(
        f"/admin/courses/{course.id}/images",
        data={"image": (io.BytesIO(b"GIF89a not really"), "pic.gif")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.get_json()["ok"] is False


def test_lessons_are_reordered_by_buttons_and_by_a_saved_order(admin_client, make_course):
    course = make_course(LessonKind.VIDEO, LessonKind.ARTICLE, LessonKind.MICRO)
    first, second, third = (lesson.id for lesson in course.lessons)
    admin_client.post(f"/admin/courses/lessons/{third}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [lesson.id for lesson in db.session.get(Course, course.id).lessons] == [first, third, second]
    response = admin_client.post(f"/admin/courses/{course.id}/order", json={"lesson_ids": [second, first, third]})
    assert response.get_json() == {"ok": True}
    db.session.expire_all()
    assert [lesson.id for lesson in db.session.get(Course, course.id).lessons] == [second, first, third]
    assert admin_client.post(f"/admin/courses/{course.id}/order", json={"lesson_ids": [first]}).status_code == 422


def test_publishing_needs_a_lesson_and_hides_again_on_unpublish(admin_client, admin):
    from lms import clock
    from lms.courses import services

    course = services.create_course(services.CourseFields(title="空课"), actor=admin, now=clock.utcnow())
    db.session.commit()
    admin_client.post(f"/admin/courses/{course.id}/publish", data={"publish": "1"})
    db.session.expire_all()
    assert db.session.get(Course, course.id).status == CourseStatus.DRAFT
    page = admin_client.get(f"/admin/courses/{course.id}").get_data(as_text=True)
    assert "发布课程前，请至少添加并发布一个课时" in page


def test_studied_lesson_cannot_be_deleted(admin_client, make_user, make_course, lesson_of, start, beat):
    course = make_course()
    member = make_user()
    beat(member, start(member, lesson_of(course)), 0, 15)
    admin_client.post(f"/admin/courses/lessons/{lesson_of(course).id}/delete")
    assert db.session.get(Lesson, lesson_of(course).id) is not None
    admin_client.post(f"/admin/courses/{course.id}/delete")
    db.session.expire_all()
    assert db.session.get(Course, course.id) is not None


def test_unstudied_course_can_be_deleted(admin_client, make_course):
    course_id = make_course().id
    assert admin_client.post(f"/admin/courses/{course_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course_id) is None


def test_statistics_are_aggregates_over_learners(admin_client, make_user, make_course, start, beat):
    course = make_course((LessonKind.VIDEO, 100.0), (LessonKind.VIDEO, 100.0))
    lesson_a, lesson_b = course.lessons
    finisher, halfway, _idle = make_user(), make_user(), make_user()
    for lesson in (lesson_a, lesson_b):
        session = start(finisher, lesson)
        for second in range(0, 90, 15):
            beat(finisher, session, second, second + 15)
    session = start(halfway, lesson_a)
    for second in range(0, 45, 15):
        beat(halfway, session, second, second + 15)
    from lms.courses.stats import course_statistics

    stats = course_statistics(db.session.get(Course, course.id))
    assert stats.learners == 2 and stats.completers == 1
    assert stats.completion_rate == 0.5
    assert stats.total_seconds == 90 + 90 + 45
    assert [round(s.average_watched_share, 3) for s in stats.lessons] == [0.675, 0.9]
    assert stats.audience_size >= 3
    page = admin_client.get(f"/admin/courses/{course.id}/stats").get_data(as_text=True)
    assert "50.0%" in page


def test_admin_assigns_required_study_and_secretary_sees_progress_in_scope(
    app, admin_client, login, make_user, make_branch, make_course
):
    course = make_course(title="必修课")
    mine, theirs = make_branch("甲支部"), make_branch("乙支部")
    response = admin_client.post(
        "/admin/courses/required",
        data={"course_id": str(course.id), "due_rule": "probation_end", "audience_statuses": ["probationary"]},
    )
    assert response.status_code == 302
    requirement = db.session.scalar(sa.select(CourseRequirement))
    make_user(status=MemberStatus.PROBATIONARY, branch=mine, name="甲预备")
    make_user(status=MemberStatus.PROBATIONARY, branch=theirs, name="乙预备")
    secretary = make_user(role=Role.SECRETARY, branch=mine)
    secretary_client = login(secretary, on=app.test_client())
    page = secretary_client.get(f"/admin/courses/required/{requirement.id}").get_data(as_text=True)
    assert "甲预备" in page and "乙预备" not in page
    assert secretary_client.post("/admin/courses/required", data={"course_id": str(course.id)}).status_code == 403
