"""继续学习 on home (the last unfinished lesson, at its position) and 下一课 at the end of a lesson."""

from __future__ import annotations

from lms.courses import resume
from lms.courses.models import LessonKind
from lms.extensions import db


def test_continue_learning_is_the_last_unfinished_lesson_at_its_position(
    client, login, make_user, make_course, start, beat
):
    member = make_user()
    course = make_course((LessonKind.VIDEO, 100.0), (LessonKind.VIDEO, 200.0), title="党史")
    first, second = course.lessons
    assert resume.continue_lesson(member) is None
    beat(member, start(member, first), 0, 15)
    beat(member, start(member, second), 0, 15, after=60)
    found = resume.continue_lesson(member)
    assert found.lesson.id == second.id and found.position_seconds == 15 and found.percent == 7
    login(member)
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="continue-learning"' in page
    assert f'href="/courses/lessons/{second.id}" data-testid="continue-button"' in page
    assert "从 0:15 继续" in page or "从 00:15 继续" in page
    # The lesson page starts the player where the member stopped.
    assert 'data-start-at="15.000"' in client.get(f"/courses/lessons/{second.id}").get_data(as_text=True)


def test_a_lesson_the_member_may_no_longer_open_is_not_offered(make_user, make_course, start, beat):
    member = make_user()
    course = make_course((LessonKind.VIDEO, 100.0))
    beat(member, start(member, course.lessons[0]), 0, 15)
    course.lessons[0].is_published = False
    db.session.commit()
    assert resume.continue_lesson(member) is None


def test_next_lesson_skips_drafts_and_ends_at_the_last(client, login, make_user, make_course):
    member = make_user()
    course = make_course(LessonKind.VIDEO, LessonKind.VIDEO, LessonKind.ARTICLE)
    first, draft, article = course.lessons
    draft.is_published = False
    db.session.commit()
    assert resume.next_lesson(first, member).id == article.id
    assert resume.next_lesson(article, member) is None
    login(member)
    page = client.get(f"/courses/lessons/{first.id}").get_data(as_text=True)
    assert f'href="/courses/lessons/{article.id}" data-testid="next-lesson"' in page
    last = client.get(f"/courses/lessons/{article.id}").get_data(as_text=True)
    assert 'data-testid="back-to-course"' in last and 'data-testid="next-lesson"' not in last
    assert 'data-testid="read-aloud"' in last


def test_a_completed_course_has_a_certificate(client, login, make_user, make_course, start, beat):
    member = make_user(name="李明")
    course = make_course((LessonKind.VIDEO, 30.0), title="党章学习")
    login(member)
    assert client.get(f"/courses/{course.id}/certificate").status_code == 404
    assert 'data-testid="course-certificate-link"' not in client.get(f"/courses/{course.id}").get_data(as_text=True)
    session = start(member, course.lessons[0])
    for second in range(0, 30, 10):
        beat(member, session, second, second + 10, after=10)
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert 'data-testid="course-certificate-link"' in page
    certificate = client.get(f"/courses/{course.id}/certificate").get_data(as_text=True)
    assert "李明" in certificate and "党章学习" in certificate and "结业证书" in certificate
    other = make_user()
    login(other)
    assert client.get(f"/courses/{course.id}/certificate").status_code == 404
