"""`flask lms demo` adds courses, a required course, articles and study history, once."""

import sqlalchemy as sa

from lms.auth import demo as auth_demo
from lms.courses import demo
from lms.courses.models import Course, CourseRequirement, CourseStatus, Lesson, OfflineStudyRecord, StudyLedgerEntry
from lms.extensions import db


def counts():
    return [db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in
            (Course, Lesson, CourseRequirement, OfflineStudyRecord, StudyLedgerEntry)]  # fmt: skip


def test_demo_without_ready_videos_still_makes_articles_required_study_and_history(app, make_asset):
    auth_demo.seed_demo()
    lines = demo.seed_demo()
    db.session.commit()
    assert any("no demo video" in line for line in lines)
    published = db.session.scalars(sa.select(Course.title).where(Course.status == CourseStatus.PUBLISHED)).all()
    assert "预备党员必修：学习党章" in published
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CourseRequirement)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudyLedgerEntry)) > 0
    before = counts()
    demo.seed_demo()
    db.session.commit()
    assert counts() == before


def test_demo_uses_ready_videos_for_video_lessons_and_micro_courses(app, make_asset):
    make_asset(duration=95.0, title="演示视频一")
    make_asset(duration=1200.0, title="长视频")
    auth_demo.seed_demo()
    demo.seed_demo()
    db.session.commit()
    kinds = db.session.execute(sa.select(Lesson.kind, Lesson.duration_seconds)).all()
    assert ("micro", 95.0) in [(str(kind), seconds) for kind, seconds in kinds]
    assert all(seconds <= 600 for kind, seconds in kinds if str(kind) == "micro")


def test_a_later_demo_run_adds_the_video_lessons_once_videos_are_ready(app, make_asset):
    auth_demo.seed_demo()
    demo.seed_demo()
    db.session.commit()
    assert db.session.scalar(sa.select(Course.status).where(Course.title == "微党课")) == CourseStatus.DRAFT
    make_asset(duration=95.0, title="演示视频一")
    demo.seed_demo()
    db.session.commit()
    assert db.session.scalar(sa.select(Course.status).where(Course.title == "微党课")) == CourseStatus.PUBLISHED
    before = counts()
    demo.seed_demo()
    db.session.commit()
    assert counts() == before
