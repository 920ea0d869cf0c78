"""Demo content: courses on the demo videos, a required course, articles, micro-courses and study history.

Idempotent: each course is found by title before it is made, and the study
history is written only for members who have none yet. Video lessons use the
demo videos of the media domain (READY assets found by title); when none are
ready yet the video lessons are skipped and the rest is still made.
"""

from __future__ import annotations

import contextlib
import math
from datetime import timedelta

import sqlalchemy as sa

from lms import clock
from lms.auth.models import MemberStatus, Role, User
from lms.courses import offline, services
from lms.courses.ledger import add_study_seconds
from lms.courses.models import (
    MICRO_MAX_SECONDS,
    Course,
    CourseRequirement,
    DueRule,
    Lesson,
    LessonKind,
    LessonProgress,
    OfflineActivity,
    OfflineStudyRecord,
    StudyLedgerEntry,
    StudySource,
)
from lms.errors import DomainError
from lms.extensions import db
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from lms.richtext import plain_text

CONSTITUTION_TEXT = """
<p>《中国共产党章程》是党的根本大法，是全党必须共同遵守的根本行为规范。学习党章、遵守党章、贯彻党章、维护党章，是每一名党员的基本义务。</p>
<h3>一、党的性质和宗旨</h3>
<p>中国共产党是中国工人阶级的先锋队，同时是中国人民和中华民族的先锋队，是中国特色社会主义事业的领导核心。党的宗旨是全心全意为人民服务。</p>
<h3>二、党员的义务</h3>
<ul>
  <li>认真学习党的理论和路线方针政策，学习党的基本知识；</li>
  <li>贯彻执行党的基本路线和各项方针政策，带头参加改革开放和社会主义现代化建设；</li>
  <li>坚持党和人民的利益高于一切，吃苦在前，享受在后，克己奉公，多做贡献；</li>
  <li>自觉遵守党的纪律，严格保守党和国家的秘密；</li>
  <li>密切联系群众，向群众宣传党的主张，遇事同群众商量。</li>
</ul>
<h3>三、预备党员</h3>
<p>预备党员的预备期为一年。预备党员的义务同正式党员一样。预备期满，党的支部应当及时讨论能否转为正式党员。</p>
<blockquote>党员必须自觉接受党的组织、党员和群众的监督。</blockquote>
"""

THREE_MEETINGS_TEXT = """
<p>“三会一课”是党的组织生活的基本制度：定期召开支部党员大会、支部委员会、党小组会，按时上好党课。</p>
<ul>
  <li><strong>支部党员大会</strong>：一般每季度召开一次；</li>
  <li><strong>支部委员会</strong>：一般每月召开一次；</li>
  <li><strong>党小组会</strong>：一般每月召开一次；</li>
  <li><strong>党课</strong>：党员每年至少参加一次。</li>
</ul>
<p>支部书记应当做好会议记录，按时将参加人员和学时录入平台，作为党员学习档案的一部分。</p>
"""

SPIRIT_TEXT = """
<p>伟大建党精神是中国共产党的精神之源：坚持真理、坚守理想，践行初心、担当使命，不怕牺牲、英勇斗争，对党忠诚、不负人民。</p>
<p>学习伟大建党精神，要把学习成效转化为做好本职工作的实际行动，在岗位上发挥先锋模范作用。</p>
"""


# Careful study reading of Chinese text, in characters per minute: an article's reading time
# follows from its length (a three-sentence article is one minute, not five).
READING_CHARS_PER_MINUTE = 200


def reading_minutes_for(body_html: str) -> int:
    """The reading time a demo article is credited: its text length at careful reading speed."""
    return max(1, math.ceil(len(plain_text(body_html)) / READING_CHARS_PER_MINUTE))


def _ready_videos() -> list[MediaAsset]:
    return list(
        db.session.scalars(
            sa.select(MediaAsset)
            .where(MediaAsset.status == AssetStatus.READY, MediaAsset.kind == AssetKind.VIDEO)
            .order_by(MediaAsset.id)
        )
    )


def _course(title: str, admin: User, now, **fields) -> Course:
    existing = db.session.scalar(sa.select(Course).where(Course.title == title))
    if existing is not None:
        return existing
    return services.create_course(services.CourseFields(title=title, **fields), actor=admin, now=now)


def _lesson(course: Course, now, **fields) -> Lesson | None:
    """Add the lesson unless the course has one of that title; a video that does not fit is skipped."""
    existing = db.session.scalar(
        sa.select(Lesson).where(Lesson.course_id == course.id, Lesson.title == fields["title"])
    )
    if existing is not None:
        return existing
    try:
        return services.add_lesson(course, services.LessonFields(**fields), now=now)
    except DomainError:  # e.g. a demo video too long for a micro-course
        return None


def _publish(course: Course, now) -> bool:
    db.session.flush()
    db.session.refresh(course)
    if course.is_published:
        return False
    with contextlib.suppress(DomainError):  # nothing playable yet: stays a draft until videos are ready
        services.publish_course(course, now=now)
    return course.is_published


def seed_demo() -> list[str]:
    """Make the demo courses, required study and study history; idempotent, and completes
    the video lessons on a later run once the demo videos are ready."""
    now = clock.utcnow()
    today = clock.local_day(now)
    admin = db.session.scalar(sa.select(User).where(User.role == Role.ADMIN).order_by(User.id))
    if admin is None:
        return ["Demo courses skipped: no admin account."]
    videos = _ready_videos()
    short_videos = [v for v in videos if (v.duration_seconds or 0) <= MICRO_MAX_SECONDS]
    made = []

    theory = _course(
        "新时代党的创新理论学习",
        admin,
        now,
        summary_html="<p>系统学习党的创新理论，读原著、学原文、悟原理。包含视频讲解与配套阅读。</p>",
        category="理论学习",
        tags=["理论武装", "年度必学"],
        credit_note="计入年度学习学时",
    )
    for index, video in enumerate(videos[:3], start=1):
        _lesson(theory, now, kind=LessonKind.VIDEO, title=f"专题讲解（{index}）", media_asset_id=video.id,
                summary=video.title)  # fmt: skip
    _lesson(theory, now, kind=LessonKind.ARTICLE, title="伟大建党精神", body_html=SPIRIT_TEXT,
            reading_minutes=reading_minutes_for(SPIRIT_TEXT))  # fmt: skip

    constitution = _course(
        "预备党员必修：学习党章",
        admin,
        now,
        summary_html="<p>预备党员在预备期内必须完成的党章学习，请在预备期满前学完。</p>",
        category="党章党规",
        tags=["党章", "预备党员"],
        credit_note="预备期考察内容",
        audience_statuses=[str(MemberStatus.PROBATIONARY), str(MemberStatus.ACTIVIST)],
    )
    _lesson(constitution, now, kind=LessonKind.ARTICLE, title="党章导读", body_html=CONSTITUTION_TEXT,
            reading_minutes=reading_minutes_for(CONSTITUTION_TEXT), summary="党的性质、宗旨和党员的义务")  # fmt: skip
    if videos:
        _lesson(constitution, now, kind=LessonKind.VIDEO, title="党章专题辅导", media_asset_id=videos[0].id)
    if db.session.scalar(sa.select(CourseRequirement.id).where(CourseRequirement.course_id == constitution.id)) is None:
        services.create_requirement(
            services.RequirementFields(
                course_id=constitution.id,
                due_rule=DueRule.PROBATION_END,
                due_on=today + timedelta(days=90),
                note="预备期满前完成",
                audience_statuses=[str(MemberStatus.PROBATIONARY)],
            ),
            actor=admin,
            now=now,
        )
        made.append(f"required for probationary members: {constitution.title}")

    branch_life = _course(
        "组织生活规范",
        admin,
        now,
        summary_html="<p>“三会一课”、主题党日等组织生活制度要点，供支部书记和党员学习。</p>",
        category="党章党规",
        tags=["三会一课", "组织生活"],
    )
    _lesson(branch_life, now, kind=LessonKind.ARTICLE, title="“三会一课”制度要点", body_html=THREE_MEETINGS_TEXT,
            reading_minutes=reading_minutes_for(THREE_MEETINGS_TEXT))  # fmt: skip

    micro = _course(
        "微党课",
        admin,
        now,
        summary_html="<p>每节不超过十分钟的微党课，利用碎片时间学习。</p>",
        category="微党课",
        tags=["微课"],
    )
    for index, video in enumerate(short_videos[:4], start=1):
        _lesson(micro, now, kind=LessonKind.MICRO, title=f"微党课第{index}讲：{video.title}", media_asset_id=video.id)

    for course in (theory, constitution, branch_life, micro):
        if _publish(course, now):
            made.append(f"published: {course.title}")
    db.session.flush()
    made += _seed_history(now, admin)
    lines = ["Demo courses:"] + [f"  {line}" for line in made] if made else ["Demo courses: already present."]
    if not videos:
        lines.append("  (no demo video is ready yet: video lessons were skipped; run `flask lms demo` again later)")
    return lines


def _seed_history(now, admin: User) -> list[str]:
    """A few weeks of study for the demo members, and an offline branch meeting."""
    members = {
        user.username: user
        for user in db.session.scalars(sa.select(User).where(User.username.in_(["member", "probationary", "member2"])))
    }
    lessons = list(
        db.session.scalars(
            sa.select(Lesson).join(Course).where(Course.status == "published", Lesson.is_published.is_(True))
            .order_by(Course.id, Lesson.position)
        )
    )  # fmt: skip
    lines = []
    for offset, (username, user) in enumerate(sorted(members.items())):
        if db.session.scalar(sa.select(StudyLedgerEntry.id).where(StudyLedgerEntry.user_id == user.id).limit(1)):
            continue
        visible = [lesson for lesson in lessons if services.lesson_visible_to(lesson, user)]
        for index, lesson in enumerate(visible[: 3 + offset]):
            length = lesson.study_seconds
            share = 1.0 if index % 2 == 0 else 0.45
            watched = round(length * share, 3)
            day = clock.local_day(now - timedelta(days=3 + index * 4 + offset))
            db.session.add(
                LessonProgress(
                    user_id=user.id,
                    lesson_id=lesson.id,
                    intervals=[0.0, watched],
                    watched_seconds=watched,
                    last_position_seconds=watched,
                    started_at=now - timedelta(days=3 + index * 4 + offset),
                    last_studied_at=now - timedelta(days=3 + index * 4 + offset),
                    completed_at=(now - timedelta(days=3 + index * 4 + offset)) if share >= 0.9 else None,
                )
            )
            source = StudySource.READING if lesson.kind == LessonKind.ARTICLE else StudySource.VIDEO
            add_study_seconds(user.id, lesson.id, day, source, watched)
        lines.append(f"study history for {username}")
    secretary = db.session.scalar(sa.select(User).where(User.username == "secretary"))
    if (
        secretary
        and secretary.branch
        and not db.session.scalar(
            sa.select(OfflineStudyRecord.id).where(OfflineStudyRecord.branch_id == secretary.branch_id).limit(1)
        )
    ):
        attendees = [user.id for user in offline.eligible_attendees(secretary.branch)]
        offline.record_offline_study(
            secretary,
            offline.OfflineRecordFields(
                branch_id=secretary.branch_id,
                activity=OfflineActivity.BRANCH_GENERAL_MEETING,
                held_on=clock.local_day(now) - timedelta(days=7),
                study_hours=2,
                topic="学习党章，重温入党誓词",
                notes="全体党员参加，书记领学党章总纲。",
                attendee_ids=attendees,
            ),
            now=now,
        )
        lines.append("offline study: a branch general meeting of 第一党支部")
    return lines
