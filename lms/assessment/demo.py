"""Demo assessment: targets wired to the demo courses and quizzes, a year of study with realistic spreads.

Runs after the other domains' demos (it uses their courses, quizzes and
members). Some members are excellent, some behind; the probationary member
has finished the required course and has the probation exam due within two
weeks; twenty more members fill the branches so reports and charts have
something to show. Then every active target is scored and this week's
reminders are sent. Idempotent: members and study are made once (study only
for members with no study older than six weeks), targets gain each item once.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from lms import clock
from lms.assessment import reminders, services
from lms.assessment.models import LearningTarget, TargetCourse, TargetQuiz
from lms.auth.models import Branch, MemberStatus, Role, User
from lms.courses import offline
from lms.courses import services as services_courses
from lms.courses.ledger import add_study_seconds
from lms.courses.models import (
    Course,
    CourseStatus,
    Lesson,
    LessonKind,
    LessonProgress,
    OfflineActivity,
    OfflineStudyRecord,
    StudySource,
)
from lms.exams.quizzes.models import AttemptState, Quiz, QuizAttempt
from lms.extensions import db

DEMO_PASSWORD = "Vanguard2026"
YEARLY_COURSE = "新时代党的创新理论学习"
YEARLY_QUIZ = "党章党规知识测验"
PROBATION_COURSE = "预备党员必修：学习党章"
PROBATION_QUIZ = "预备党员转正前党章考试"

# Pace of each demo account: study hours as a share of the hours expected by today.
PACES = {"member": 1.35, "secretary": 1.05, "secretary2": 0.9, "member3": 0.85, "member2": 0.35, "probationary": 0.6}
EXTRA_MEMBERS = [
    ("demo01", "张伟", "branch1", 1.4), ("demo02", "刘芳", "branch1", 1.15), ("demo03", "杨洋", "branch1", 0.95),
    ("demo04", "黄磊", "branch1", 0.7), ("demo05", "赵敏", "branch1", 0.25), ("demo06", "周杰", "branch1", 1.05),
    ("demo07", "吴静", "branch2", 1.3), ("demo08", "徐涛", "branch2", 0.9), ("demo09", "孙丽", "branch2", 0.8),
    ("demo10", "胡军", "branch2", 0.5), ("demo11", "朱红", "branch2", 1.1), ("demo12", "高峰", "branch2", 0.0),
    ("demo13", "林霞", "branch3", 1.25), ("demo14", "何平", "branch3", 1.0), ("demo15", "郭强", "branch3", 0.9),
    ("demo16", "马琳", "branch3", 0.6), ("demo17", "罗斌", "branch3", 1.2), ("demo18", "梁燕", "branch3", 0.75),
    ("demo19", "宋涛", "branch1", 1.0), ("demo20", "郑洁", "branch2", 0.95),
]  # fmt: skip
# Members who joined the organisation a few days ago (username, name, branch, pace, days since joining):
# their targets are pro-rated to the days they have been members, so nothing is overdue on day one.
NEWCOMERS = [("demo21", "钱新", "branch2", 1.0, 10)]
BRANCH_NAMES = {"branch1": "第一党支部", "branch2": "第二党支部", "branch3": "机关党支部"}


def _extra_members(now: datetime) -> list[str]:
    from lms.auth.services import hash_password

    branches = {b.name: b for b in db.session.scalars(sa.select(Branch).where(Branch.name.in_(BRANCH_NAMES.values())))}
    existing = set(db.session.scalars(sa.select(User.username).where(User.username.like("demo%"))))
    password_hash = None
    made = 0
    # The accounts have been on the platform since the start of last year; newcomers joined days ago.
    since = clock.local_midnight(date(clock.local_day(now).year - 1, 1, 1))
    members = [(*member, since) for member in EXTRA_MEMBERS]
    members += [(u, name, b, pace, now - timedelta(days=days)) for u, name, b, pace, days in NEWCOMERS]
    for username, name, branch_key, _pace, joined in members:
        branch = branches.get(BRANCH_NAMES[branch_key])
        if username in existing or branch is None:
            continue
        password_hash = password_hash or hash_password(DEMO_PASSWORD)
        db.session.add(
            User(username=username, name=name, role=Role.LEARNER, status=MemberStatus.FULL, branch_id=branch.id,
                 admitted_on=date(2015, 7, 1), password_hash=password_hash, created_at=joined, updated_at=joined)
        )  # fmt: skip
        made += 1
    db.session.flush()
    return [f"  {made} more members in the demo branches (demo01..demo21; demo21 joined 10 days ago)"] if made else []


def _by_title(model, title: str):
    return db.session.scalar(sa.select(model).where(model.title == title))


def _wire_targets(today: date) -> list[str]:
    """Give the default targets the demo's required course and quiz; activate the probation target."""
    lines = []
    course = _by_title(Course, YEARLY_COURSE)
    quiz = _by_title(Quiz, YEARLY_QUIZ)
    probation_course = _by_title(Course, PROBATION_COURSE)
    probation_quiz = _by_title(Quiz, PROBATION_QUIZ)
    for key in ("full-members-yearly", "leaders-yearly"):
        target = db.session.scalar(sa.select(LearningTarget).where(LearningTarget.system_key == key))
        if target is None:
            continue
        if course is not None and not target.courses:
            target.courses.append(TargetCourse(course_id=course.id, title=course.title, due_days=300))
            lines.append(f"  {target.name}: requires {course.title}")
        if quiz is not None and not target.quizzes:
            target.quizzes.append(TargetQuiz(quiz_id=quiz.id, title=quiz.title, pass_percent=None))
            lines.append(f"  {target.name}: requires {quiz.title}")
    probation = db.session.scalar(sa.select(LearningTarget).where(LearningTarget.system_key == "probation"))
    probationary = db.session.scalar(sa.select(User).where(User.username == "probationary"))
    if probation is not None and probation_course is not None and not probation.courses:
        probation.courses.append(TargetCourse(course_id=probation_course.id, title=probation_course.title, due_days=90))
    if probation is not None and probation_quiz is not None and not probation.quizzes:
        # Due twelve days from today for the demo member: the exam shows as due soon.
        due_days = (today - probationary.admitted_on).days + 12 if probationary and probationary.admitted_on else None
        probation.quizzes.append(
            TargetQuiz(quiz_id=probation_quiz.id, title=probation_quiz.title, pass_percent=None, due_days=due_days)
        )
    if probation is not None and (probation.courses or probation.quizzes) and not probation.is_active:
        probation.is_active = True
        lines.append(f"  {probation.name}: requires {PROBATION_COURSE} and {PROBATION_QUIZ}; activated")
    db.session.flush()
    return lines


def _lessons() -> list[Lesson]:
    return list(
        db.session.scalars(
            sa.select(Lesson)
            .join(Course, Course.id == Lesson.course_id)
            .where(Course.status == CourseStatus.PUBLISHED, Lesson.is_published.is_(True))
            .order_by(Lesson.id)
        )
    )


def _study_lesson(user: User, lesson: Lesson, share: float, at: datetime) -> None:
    """Study ``share`` of ``lesson`` as the player would: progress from the start, and the ledger
    credited with only the new content seconds (never more than the lesson's length)."""
    length = lesson.study_seconds
    if length <= 0 or not services_courses.lesson_visible_to(lesson, user):
        return
    progress = db.session.get(LessonProgress, (user.id, lesson.id))
    watched = round(length * min(max(share, 0.0), 1.0), 3)
    before = progress.watched_seconds if progress is not None else 0.0
    if watched <= before:
        return
    complete = watched >= length * float(current_app.config["COMPLETION_RATIO"])
    if progress is None:
        progress = LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=at)
        db.session.add(progress)
    progress.intervals, progress.watched_seconds = [0.0, watched], watched
    progress.last_position_seconds, progress.last_studied_at = watched, at
    if complete and progress.completed_at is None:
        progress.completed_at = at
    source = StudySource.READING if lesson.kind == LessonKind.ARTICLE else StudySource.VIDEO
    add_study_seconds(user.id, lesson.id, clock.local_day(at), source, watched - before)


def _complete(user: User, course: Course | None, at: datetime) -> None:
    if course is None:
        return
    for lesson in course.lessons:
        if lesson.is_published:
            _study_lesson(user, lesson, 1.0, at)


def _attempt(user: User, quiz: Quiz | None, percent: float, at: datetime) -> None:
    if quiz is None:
        return
    number = (
        db.session.scalar(
            sa.select(sa.func.max(QuizAttempt.number)).where(
                QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user.id
            )
        )
        or 0
    )
    db.session.execute(
        sa.insert(QuizAttempt.__table__).values(
            quiz_id=quiz.id, user_id=user.id, number=number + 1, state=AttemptState.FINISHED, open_slot=None,
            is_practice=False, started_at=at - timedelta(minutes=15), last_activity_at=at, finished_at=at,
            score=percent, max_score=100.0, score_percent=percent, time_used_seconds=900,
        )
    )  # fmt: skip


# The branches' year of organisational life: (activity, 学时, topic, months, day of month, who).
# "all": every member of the branch may attend; "leaders": the secretary and committee members.
BRANCH_PROGRAMME = (
    (OfflineActivity.BRANCH_COMMITTEE_MEETING, 1, "支部委员会：研究部署当月工作", range(1, 13), 5, "leaders"),
    (OfflineActivity.THEME_PARTY_DAY, 2, "主题党日：重温入党誓词，学习党的创新理论", range(1, 13), 12, "all"),
    (OfflineActivity.PARTY_LECTURE, 2, "书记讲党课：弘扬伟大建党精神", (3, 6, 9, 12), 20, "all"),
    (OfflineActivity.BRANCH_GENERAL_MEETING, 2, "支部党员大会：学习传达上级精神", (1, 4, 7, 10), 25, "all"),
)
# Held by the 党委 for the whole organisation: (activity, 学时, topic, month, day, who).
COMMITTEE_PROGRAMME = (
    (OfflineActivity.TRAINING, 8, "全体党员集中培训（一天）", 5, 16, "all"),
    # A two-day course is two records of one day each (a record credits at most LMS_OFFLINE_MAX_HOURS).
    (OfflineActivity.TRAINING, 8, "支部书记和支部委员培训班（第一天）", 9, 8, "leaders"),
    (OfflineActivity.TRAINING, 8, "支部书记和支部委员培训班（第二天）", 9, 9, "leaders"),
)
NEWCOMER_TOPIC = "新转入党员入支部第一课"
FULL_PROGRAMME_HOURS = {"all": 12 * 2 + 4 * 2 + 4 * 2 + 8, "leaders": 12 * 2 + 4 * 2 + 4 * 2 + 8 + 12 + 16}


def _joined(user: User) -> date:
    return clock.local_day(user.created_at) if user.created_at else date.min


def _offline_programme(today: date, admin: User, attendance: dict[int, float], rng: random.Random) -> int:
    """Enter the year's offline activities up to yesterday, as a secretary would, through the offline
    records service: every offline ledger row has its record. Returns the number of records made."""
    branches = {b.name: b for b in db.session.scalars(sa.select(Branch))}
    committee = next((b for b in branches.values() if b.parent_id is None), None)
    events = []
    for branch_name in BRANCH_NAMES.values():
        branch = branches.get(branch_name)
        for activity, hours, topic, months, day, who in BRANCH_PROGRAMME:
            events += [(branch, activity, hours, topic, date(today.year, month, day), who) for month in months]
    for activity, hours, topic, month, day, who in COMMITTEE_PROGRAMME:
        events.append((committee, activity, hours, topic, date(today.year, month, day), who))
    # A newcomer's first lesson in the branch, the day after joining.
    newcomers = db.session.scalars(sa.select(User).where(User.username.in_([n[0] for n in NEWCOMERS]))).all()
    for user in newcomers:
        if user.branch is not None:
            events.append((user.branch, OfflineActivity.OTHER, 2, NEWCOMER_TOPIC, _joined(user) + timedelta(days=1),
                           user.username))  # fmt: skip
    made = 0
    for branch, activity, hours, topic, held_on, who in sorted(events, key=lambda e: (e[4], e[3])):
        if branch is None or held_on >= today:
            continue
        invited = [
            u for u in offline.eligible_attendees(branch)
            if _joined(u) <= held_on and u.role != Role.ADMIN
            and (who == "all" or (who == "leaders" and (u.role == Role.SECRETARY or u.is_committee_member))
                 or who == u.username)
        ]  # fmt: skip
        attendees = [u.id for u in invited if who == u.username or rng.random() < attendance.get(u.id, 0.0)]
        if not attendees:
            continue
        offline.record_offline_study(
            admin,
            offline.OfflineRecordFields(branch_id=branch.id, activity=activity, held_on=held_on, study_hours=hours,
                                        topic=topic, attendee_ids=attendees),
            now=clock.local_midnight(held_on) + timedelta(hours=18),
        )  # fmt: skip
        made += 1
    return made


def _study_year(now: datetime, rng: random.Random) -> list[str]:
    """A year of study at each demo member's pace: the organisation's offline activities (entered as
    offline records), the lessons each member may open (credited no more than their length), the
    yearly course and quiz. Made once: skipped when this year's programme is already recorded."""
    today = clock.local_day(now)
    admin = db.session.scalar(sa.select(User).where(User.role == Role.ADMIN).order_by(User.id))
    topics = [event[2] for event in (*BRANCH_PROGRAMME, *COMMITTEE_PROGRAMME)] + [NEWCOMER_TOPIC]
    recorded = sa.select(OfflineStudyRecord.id).where(
        OfflineStudyRecord.topic.in_(topics), OfflineStudyRecord.held_on >= date(today.year, 1, 1)
    )
    if admin is None or db.session.scalar(recorded.limit(1)) is not None:
        return []
    paces = dict(PACES)
    paces.update({username: pace for username, _name, _branch, pace in EXTRA_MEMBERS})
    paces.update({username: pace for username, _name, _branch, pace, _days in NEWCOMERS})
    users = {u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(paces)))}
    # Attendance: the share of activities that gives each member their pace of the required hours.
    attendance = {}
    for username, user in users.items():
        leader = user.role == Role.SECRETARY or user.is_committee_member
        required = 56.0 if leader else 32.0
        programme = FULL_PROGRAMME_HOURS["leaders" if leader else "all"]
        attendance[user.id] = min(paces[username] * required / programme, 1.0)
    made = _offline_programme(today, admin, attendance, rng)

    lessons = _lessons()
    yearly_course, yearly_quiz = _by_title(Course, YEARLY_COURSE), _by_title(Quiz, YEARLY_QUIZ)
    probation_course = _by_title(Course, PROBATION_COURSE)
    year_start = clock.local_midnight(date(today.year, 1, 1))
    for username, pace in sorted(paces.items()):
        user = users.get(username)
        if user is None or pace <= 0:  # a member who has not studied at all this year
            continue
        since = max(year_start, user.created_at or year_start)
        days = max((now - since).days, 1)
        for lesson in lessons:
            if rng.random() < min(pace, 1.0) * 0.7:
                at = since + timedelta(days=rng.randrange(days), hours=rng.randrange(1, 12))
                _study_lesson(user, lesson, rng.choice((1.0, 1.0, 0.6, 0.3)), min(at, now))
        moment = now - timedelta(days=rng.randrange(1, min(days, 60) + 1))
        if pace >= 0.8:
            _complete(user, yearly_course, moment)
        if pace >= 0.9 and username not in ("member", "member2", "secretary", "member3"):
            _attempt(user, yearly_quiz, round(rng.uniform(70, 98), 1), moment)
        elif 0.5 <= pace < 0.9 and username.startswith("demo"):
            _attempt(user, yearly_quiz, round(rng.uniform(40, 75), 1), moment)
        if username == "probationary":
            _complete(user, probation_course, now - timedelta(days=20))
    db.session.flush()
    return [f"  {made} offline activities entered this year; online study of {len(users)} members, "
            "at paces from 0% to 140% of the expected hours"]  # fmt: skip


def seed_demo() -> list[str]:
    """Wire the targets, make the members and their study once, score everything; return the lines to print."""
    now = clock.utcnow()
    today = clock.local_day(now)
    lines = ["Demo assessment:"]
    lines += _extra_members(now)
    lines += _wire_targets(today)
    lines += _study_year(now, random.Random(2026))
    runs = 0
    for target in db.session.scalars(sa.select(LearningTarget).where(LearningTarget.is_active.is_(True))):
        services.recompute_target(target, now)
        runs += 1
    db.session.flush()
    batch = reminders.send_weekly_reminders(now, force=True)
    lines.append(f"  {runs} targets scored; reminders this week: {batch.reminders}, digests: {batch.digests}")
    return lines
