"""Courses and lessons: editing, publishing, visibility, the catalogue and required study.

Visibility rule: a learner sees a course when it is published and its audience
includes them, and a lesson when, in addition, the lesson is published. Admins
see everything in the editor. Audiences are tested in Python against the
member's branch ancestry (no query per course), since a catalogue holds
hundreds of courses, not millions.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.auth.audience import audience_includes, branch_ancestor_ids
from lms.auth.models import User
from lms.courses import images
from lms.courses.models import (
    MICRO_MAX_SECONDS,
    Course,
    CourseRequirement,
    CourseStatus,
    DueRule,
    Lesson,
    LessonKind,
    LessonProgress,
    StudyLedgerEntry,
)
from lms.errors import InvalidState, NotFound, ValidationFailed
from lms.extensions import db
from lms.media import services as media_services
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from lms.richtext import plain_text, sanitize_html

MAX_TAGS = 12
MAX_READING_MINUTES = 600


# --- audiences -------------------------------------------------------------


def course_visible_to(course: Course, user: User) -> bool:
    """True when ``user`` may see ``course`` as a learner (admins see every course)."""
    if user.is_admin:
        return True
    return course.is_published and audience_includes(course, user)


def lesson_visible_to(lesson: Lesson, user: User) -> bool:
    """True when ``user`` may open ``lesson`` (published in a course they may see)."""
    if user.is_admin:
        return True
    return lesson.is_published and course_visible_to(lesson.course, user)


def get_visible_course(user: User, course_id: int) -> Course:
    """The course if ``user`` may see it; NotFound otherwise (a hidden course looks missing)."""
    course = db.session.get(Course, course_id)
    if course is None or not course_visible_to(course, user):
        raise NotFound(_l("This course does not exist or is not open to you."))
    return course


def get_visible_lesson(user: User, lesson_id: int) -> Lesson:
    """The lesson if ``user`` may open it; NotFound otherwise."""
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or not lesson_visible_to(lesson, user):
        raise NotFound(_l("This lesson does not exist or is not open to you."))
    return lesson


def visible_courses(user: User) -> list[Course]:
    """Published courses whose audience includes ``user``, newest first."""
    ancestors = branch_ancestor_ids(user)
    courses = db.session.scalars(
        sa.select(Course)
        .where(Course.status == CourseStatus.PUBLISHED)
        .order_by(Course.published_at.desc(), Course.id.desc())
    )
    return [course for course in courses if audience_includes(course, user, ancestors)]


def asset_usage(asset_id: int) -> list[str]:
    """Media usage hook: the lessons using an asset ("course · lesson"), so it is not deleted under them."""
    rows = db.session.execute(
        sa.select(Course.title, Lesson.title)
        .join(Lesson, Lesson.course_id == Course.id)
        .where(Lesson.media_asset_id == asset_id)
        .order_by(Course.title, Lesson.position)
    )
    return [f"{course_title} · {lesson_title}" for course_title, lesson_title in rows]


def asset_access_check(user: User, asset_id: int) -> bool | None:
    """Media access hook: grant an asset used by a published lesson of a course open to ``user``.

    Returns None (no opinion) otherwise, so media refuses unless another domain grants.
    """
    courses = db.session.scalars(
        sa.select(Course)
        .join(Lesson, Lesson.course_id == Course.id)
        .where(
            Lesson.media_asset_id == asset_id,
            Lesson.is_published.is_(True),
            Course.status == CourseStatus.PUBLISHED,
        )
    ).all()
    if not courses:
        return None
    ancestors = branch_ancestor_ids(user)
    return True if any(audience_includes(course, user, ancestors) for course in courses) else None


# --- catalogue -------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueFilter:
    query: str = ""
    category: str = ""
    tag: str = ""


def catalogue(user: User, wanted: CatalogueFilter) -> list[Course]:
    """Visible courses matching a search text (title, summary, tags) and category/tag filters."""
    needle = wanted.query.strip().casefold()
    result = []
    for course in visible_courses(user):
        if wanted.category and course.category != wanted.category:
            continue
        if wanted.tag and wanted.tag not in (course.tags or []):
            continue
        if needle:
            haystack = " ".join([course.title, html.unescape(plain_text(course.summary_html)), *(course.tags or [])])
            haystack = haystack.casefold()
            if needle not in haystack:
                continue
        result.append(course)
    return result


def catalogue_facets(courses: Iterable[Course]) -> tuple[list[str], list[str]]:
    """The categories and tags present among ``courses`` (for the filter menus)."""
    categories: set[str] = set()
    tags: set[str] = set()
    for course in courses:
        if course.category:
            categories.add(course.category)
        tags.update(course.tags or [])
    return sorted(categories), sorted(tags)


def micro_course_feed(user: User, limit: int = 60) -> list[Lesson]:
    """Published micro-courses of the courses open to ``user``, newest first (the card feed)."""
    course_ids = [course.id for course in visible_courses(user)]
    if not course_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Lesson)
            .where(
                Lesson.course_id.in_(course_ids),
                Lesson.kind == LessonKind.MICRO,
                Lesson.is_published.is_(True),
                Lesson.media_asset_id.is_not(None),
            )
            .order_by(Lesson.created_at.desc(), Lesson.id.desc())
            .limit(limit)
        )
    )


# --- editing courses -------------------------------------------------------


@dataclass
class CourseFields:
    title: str
    summary_html: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    credit_note: str = ""
    presence_checks: bool = False
    audience_statuses: list[str] = field(default_factory=list)
    audience_roles: list[str] = field(default_factory=list)
    audience_branch_ids: list[int] = field(default_factory=list)


def parse_tags(text: str | None) -> list[str]:
    """Tags from "a, b；c" (ASCII or full-width commas/semicolons), trimmed, unique, in order."""
    raw = (text or "").replace("，", ",").replace("；", ",").replace(";", ",").replace("、", ",")
    tags: list[str] = []
    for part in raw.split(","):
        tag = part.strip()[:30]
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _apply_course_fields(course: Course, fields: CourseFields) -> None:
    title = (fields.title or "").strip()
    if not title:
        raise ValidationFailed(_l("A course needs a title."), "title")
    if len(fields.tags) > MAX_TAGS:
        raise ValidationFailed(_l("At most %(n)d tags.", n=MAX_TAGS), "tags")
    course.title = title[:200]
    course.summary_html = sanitize_html(fields.summary_html)
    course.category = (fields.category or "").strip()[:80]
    course.tags = list(fields.tags)
    course.credit_note = (fields.credit_note or "").strip()[:200]
    course.presence_checks = bool(fields.presence_checks)
    course.set_audience(fields.audience_statuses, fields.audience_roles, fields.audience_branch_ids)


def create_course(fields: CourseFields, *, actor: User, now: datetime) -> Course:
    """Create a draft course (its summary sanitised); raises ValidationFailed for bad fields."""
    course = Course(status=CourseStatus.DRAFT, created_by_id=actor.id, created_at=now, updated_at=now)
    _apply_course_fields(course, fields)
    db.session.add(course)
    db.session.flush()
    return course


def update_course(course: Course, fields: CourseFields, *, now: datetime) -> Course:
    """Change a course's catalogue fields and audience."""
    _apply_course_fields(course, fields)
    course.updated_at = now
    return course


def set_course_cover(course: Course, payload: bytes) -> str:
    """Store a new cover (checked to be a real image, re-encoded) and drop the old one."""
    old = course.cover_filename
    course.cover_filename = images.store_image("cover", course.id, payload)
    if old and old != course.cover_filename:
        images.delete_image("cover", course.id, old)
    return course.cover_filename


def remove_course_cover(course: Course) -> None:
    """Drop the course's cover image."""
    images.delete_image("cover", course.id, course.cover_filename)
    course.cover_filename = None


def add_article_image(course: Course, payload: bytes) -> str:
    """Store an image for an article of ``course``; return its generated file name."""
    return images.store_image("article", course.id, payload)


def _playable_lessons(course: Course) -> list[Lesson]:
    return [
        lesson
        for lesson in course.published_lessons
        if (lesson.kind == LessonKind.ARTICLE and lesson.reading_minutes) or lesson.media_asset_id
    ]


def publish_course(course: Course, *, now: datetime) -> None:
    """Publish a course; it needs at least one published lesson that can be studied."""
    if not _playable_lessons(course):
        raise InvalidState(_l("Add and publish at least one lesson before publishing the course."))
    course.status = CourseStatus.PUBLISHED
    course.published_at = course.published_at or now


def unpublish_course(course: Course) -> None:
    """Hide a course from learners again (their progress and study time are kept)."""
    course.status = CourseStatus.DRAFT


def _has_study_records(lesson_ids: list[int]) -> bool:
    if not lesson_ids:
        return False
    return (
        db.session.scalar(sa.select(StudyLedgerEntry.id).where(StudyLedgerEntry.lesson_id.in_(lesson_ids)).limit(1))
        is not None
    )


def delete_course(course: Course) -> None:
    """Delete a course that nobody has studied yet; studied courses can only be unpublished."""
    if _has_study_records([lesson.id for lesson in course.lessons]):
        raise InvalidState(_l("Members have study time on this course; unpublish it instead of deleting it."))
    cover = course.cover_filename
    db.session.delete(course)
    db.session.flush()
    images.delete_image("cover", course.id, cover)


# --- editing lessons -------------------------------------------------------


@dataclass
class LessonFields:
    kind: LessonKind
    title: str
    summary: str = ""
    media_asset_id: int | None = None
    body_html: str = ""
    reading_minutes: int | None = None
    is_published: bool = True


def ready_video_assets() -> list[MediaAsset]:
    """Media assets that can be picked for a lesson: ready videos, newest first."""
    return [asset for asset in media_services.ready_assets() if asset.kind == AssetKind.VIDEO]


def asset_titles(asset_ids: Iterable[int]) -> dict[int, MediaAsset]:
    """The media assets with these ids (for the editor's lesson list), by id."""
    ids = [i for i in asset_ids if i]
    if not ids:
        return {}
    return {asset.id: asset for asset in db.session.scalars(sa.select(MediaAsset).where(MediaAsset.id.in_(ids)))}


def _apply_lesson_fields(lesson: Lesson, fields: LessonFields) -> None:
    title = (fields.title or "").strip()
    if not title:
        raise ValidationFailed(_l("A lesson needs a title."), "title")
    lesson.kind = LessonKind(fields.kind)
    lesson.title = title[:200]
    lesson.summary = (fields.summary or "").strip()[:500]
    lesson.is_published = bool(fields.is_published)
    if lesson.kind.is_video:
        asset = media_services.get_asset(fields.media_asset_id) if fields.media_asset_id else None
        if asset is None or asset.status != AssetStatus.READY or asset.kind != AssetKind.VIDEO:
            raise ValidationFailed(_l("Pick a video that has finished processing."), "media_asset_id")
        if not asset.duration_seconds or asset.duration_seconds <= 0:
            raise ValidationFailed(_l("This video has no known duration."), "media_asset_id")
        if lesson.kind == LessonKind.MICRO and asset.duration_seconds > MICRO_MAX_SECONDS:
            raise ValidationFailed(
                _l("A micro-course is at most %(n)d minutes long; pick a shorter video or make it a video lesson.",
                   n=MICRO_MAX_SECONDS // 60),
                "media_asset_id",
            )  # fmt: skip
        lesson.media_asset_id = asset.id
        lesson.duration_seconds = float(asset.duration_seconds)
        lesson.body_html = sanitize_html(fields.body_html) if fields.body_html else ""
        lesson.reading_minutes = None
    else:
        body = sanitize_html(fields.body_html)
        if not plain_text(body) and "<img" not in body:
            raise ValidationFailed(_l("An article needs some text."), "body_html")
        minutes = fields.reading_minutes
        if minutes is None or not 1 <= minutes <= MAX_READING_MINUTES:
            raise ValidationFailed(
                _l("Reading time must be between 1 and %(n)d minutes.", n=MAX_READING_MINUTES), "reading_minutes"
            )
        lesson.body_html = body
        lesson.reading_minutes = int(minutes)
        lesson.media_asset_id = None
        lesson.duration_seconds = None


def add_lesson(course: Course, fields: LessonFields, *, now: datetime) -> Lesson:
    """Append a lesson to ``course``; raises ValidationFailed for a bad video or article."""
    last = db.session.scalar(sa.select(sa.func.max(Lesson.position)).where(Lesson.course_id == course.id))
    lesson = Lesson(course_id=course.id, position=(last or 0) + 1, created_at=now, updated_at=now)
    _apply_lesson_fields(lesson, fields)
    db.session.add(lesson)
    db.session.flush()
    return lesson


def update_lesson(lesson: Lesson, fields: LessonFields, *, now: datetime) -> Lesson:
    """Change a lesson; a new video takes effect for new sessions (watched intervals are kept)."""
    _apply_lesson_fields(lesson, fields)
    lesson.updated_at = now
    return lesson


def move_lesson(lesson: Lesson, offset: int) -> None:
    """Move a lesson up (offset -1) or down (+1) in its course; positions are renumbered 1..n."""
    ordered = list(
        db.session.scalars(
            sa.select(Lesson).where(Lesson.course_id == lesson.course_id).order_by(Lesson.position, Lesson.id)
        )
    )
    index = ordered.index(lesson)
    target = min(max(index + offset, 0), len(ordered) - 1)
    ordered.insert(target, ordered.pop(index))
    for position, item in enumerate(ordered, start=1):
        item.position = position


def reorder_lessons(course: Course, lesson_ids: list[int]) -> None:
    """Put the course's lessons in the order of ``lesson_ids`` (which must be exactly its lessons)."""
    lessons = {lesson.id: lesson for lesson in course.lessons}
    if sorted(lesson_ids) != sorted(lessons):
        raise ValidationFailed(_l("The lesson order does not match the course's lessons; reload the page."))
    for position, lesson_id in enumerate(lesson_ids, start=1):
        lessons[lesson_id].position = position


def delete_lesson(lesson: Lesson) -> None:
    """Delete a lesson nobody has studied; studied lessons can only be unpublished."""
    if _has_study_records([lesson.id]):
        raise InvalidState(_l("Members have study time on this lesson; unpublish it instead of deleting it."))
    db.session.delete(lesson)


# --- required study --------------------------------------------------------


@dataclass
class RequirementFields:
    course_id: int
    due_rule: DueRule
    due_on: date | None
    note: str = ""
    audience_statuses: list[str] = field(default_factory=list)
    audience_roles: list[str] = field(default_factory=list)
    audience_branch_ids: list[int] = field(default_factory=list)


def create_requirement(fields: RequirementFields, *, actor: User, now: datetime) -> CourseRequirement:
    """Assign a course as required study for an audience by a date or by each member's probation end."""
    course = db.session.get(Course, fields.course_id)
    if course is None:
        raise ValidationFailed(_l("Pick a course."), "course_id")
    rule = DueRule(fields.due_rule)
    if rule == DueRule.FIXED_DATE and fields.due_on is None:
        raise ValidationFailed(_l("Give the due date."), "due_on")
    requirement = CourseRequirement(
        course_id=course.id,
        due_rule=rule,
        due_on=fields.due_on,
        note=(fields.note or "").strip()[:200],
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    requirement.set_audience(fields.audience_statuses, fields.audience_roles, fields.audience_branch_ids)
    db.session.add(requirement)
    db.session.flush()
    return requirement


def delete_requirement(requirement: CourseRequirement) -> None:
    """Withdraw a requirement (the members' progress stays)."""
    db.session.delete(requirement)


@dataclass(frozen=True)
class RequiredCourse:
    course: Course
    due_on: date | None
    requirement_ids: tuple[int, ...]


def required_courses_for(user: User) -> list[RequiredCourse]:
    """Published courses required of ``user``, earliest due first (several requirements: earliest date)."""
    ancestors = branch_ancestor_ids(user)
    requirements = db.session.scalars(
        sa.select(CourseRequirement)
        .join(Course, Course.id == CourseRequirement.course_id)
        .where(Course.status == CourseStatus.PUBLISHED)
    )
    by_course: dict[int, RequiredCourse] = {}
    for requirement in requirements:
        if not audience_includes(requirement, user, ancestors) or not audience_includes(
            requirement.course, user, ancestors
        ):
            continue
        due = requirement.due_for(user)
        known = by_course.get(requirement.course_id)
        if known is None:
            by_course[requirement.course_id] = RequiredCourse(requirement.course, due, (requirement.id,))
        else:
            dues = [d for d in (known.due_on, due) if d is not None]
            by_course[requirement.course_id] = RequiredCourse(
                known.course, min(dues) if dues else None, (*known.requirement_ids, requirement.id)
            )
    return sorted(by_course.values(), key=lambda item: (item.due_on or date.max, item.course.title))


# --- a member's progress ---------------------------------------------------


@dataclass(frozen=True)
class CourseProgress:
    lessons_total: int
    lessons_completed: int
    watched_share: float  # 0..1 over the published lessons' study length
    last_studied_at: datetime | None
    last_lesson_id: int | None

    @property
    def is_complete(self) -> bool:
        return self.lessons_total > 0 and self.lessons_completed >= self.lessons_total

    @property
    def is_started(self) -> bool:
        return self.last_studied_at is not None

    @property
    def percent(self) -> int:
        return int(round(self.watched_share * 100))


def course_progress(user_id: int, course_ids: Iterable[int]) -> dict[int, CourseProgress]:
    """Progress of one member on each course: two aggregate queries whatever the number of courses."""
    ids = list(course_ids)
    if not ids:
        return {}
    lessons = db.session.execute(
        sa.select(Lesson.id, Lesson.course_id, Lesson.kind, Lesson.duration_seconds, Lesson.reading_minutes).where(
            Lesson.course_id.in_(ids), Lesson.is_published.is_(True)
        )
    ).all()
    lesson_ids = [row.id for row in lessons]
    progress = {
        row.lesson_id: row
        for row in db.session.execute(
            sa.select(
                LessonProgress.lesson_id,
                LessonProgress.watched_seconds,
                LessonProgress.completed_at,
                LessonProgress.last_studied_at,
            ).where(LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(lesson_ids))
        )
    }
    totals: dict[int, list] = {course_id: [0, 0, 0.0, 0.0, None, None] for course_id in ids}
    for lesson in lessons:
        entry = totals[lesson.course_id]
        length = (
            float(lesson.reading_minutes or 0) * 60
            if lesson.kind == LessonKind.ARTICLE
            else float(lesson.duration_seconds or 0)
        )
        entry[0] += 1
        entry[3] += length
        row = progress.get(lesson.id)
        if row is None:
            continue
        entry[1] += 1 if row.completed_at else 0
        entry[2] += min(float(row.watched_seconds or 0), length)
        if row.last_studied_at and (entry[4] is None or row.last_studied_at > entry[4]):
            entry[4], entry[5] = row.last_studied_at, lesson.id
    return {
        course_id: CourseProgress(total, done, (watched / length) if length else 0.0, last_at, last_lesson)
        for course_id, (total, done, watched, length, last_at, last_lesson) in totals.items()
    }


def lesson_progress_map(user_id: int, lesson_ids: Iterable[int]) -> dict[int, LessonProgress]:
    """The member's progress rows for the given lessons, by lesson id."""
    ids = list(lesson_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(LessonProgress).where(LessonProgress.user_id == user_id, LessonProgress.lesson_id.in_(ids))
    )
    return {row.lesson_id: row for row in rows}


def courses_in_progress(user: User, exclude: Iterable[int] = (), limit: int = 6) -> list[tuple[Course, CourseProgress]]:
    """Visible courses the member has begun and not finished, most recently studied first."""
    started_ids = set(
        db.session.scalars(
            sa.select(Lesson.course_id)
            .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
            .where(LessonProgress.user_id == user.id, LessonProgress.last_studied_at.is_not(None))
            .distinct()
        )
    ) - set(exclude)
    if not started_ids:
        return []
    courses = [course for course in visible_courses(user) if course.id in started_ids]
    progress = course_progress(user.id, [course.id for course in courses])
    pending = [(course, progress[course.id]) for course in courses if not progress[course.id].is_complete]
    pending.sort(key=lambda item: item[1].last_studied_at.timestamp() if item[1].last_studied_at else 0, reverse=True)
    return pending[:limit]
