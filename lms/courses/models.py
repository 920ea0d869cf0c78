"""Courses, lessons, playback sessions, watched intervals, the study ledger and offline study.

The study ledger (``study_ledger``) is the single source of study time: one
row per (user, lesson, local day, source) for online study, one row per
(offline record, attendee) for offline study. Every period sum is one indexed
aggregate over it. The ledger keeps seconds; 学时 are a view applied when
hours are shown or scored (``MINUTES_PER_STUDY_HOUR``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as pgettext  # named so that message extraction finds it
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.auth.audience import AudienceMixin
from lms.db import TimestampMixin, str_enum, utcnow_default
from lms.extensions import db


class CourseStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return str(COURSE_STATUS_LABELS[self])


# A context: "Published" alone is a time ("published at") in other catalogues.
COURSE_STATUS_LABELS = {
    CourseStatus.DRAFT: _l("Draft"),
    CourseStatus.PUBLISHED: pgettext("course status", "Published"),
}


class LessonKind(enum.StrEnum):
    VIDEO = "video"
    MICRO = "micro"  # 微课: a short video (at most MICRO_MAX_SECONDS), shown as a card feed
    ARTICLE = "article"

    @property
    def label(self) -> str:
        return str(LESSON_KIND_LABELS[self])

    @property
    def is_video(self) -> bool:
        return self in (LessonKind.VIDEO, LessonKind.MICRO)


LESSON_KIND_LABELS = {
    LessonKind.VIDEO: _l("Video lesson"),
    LessonKind.MICRO: _l("Micro-course"),
    LessonKind.ARTICLE: _l("Article"),
}

MICRO_MAX_SECONDS = 600


class StudySource(enum.StrEnum):
    VIDEO = "video"  # video lessons and micro-courses, credited by heartbeats
    READING = "reading"  # articles, credited by visible reading time
    OFFLINE = "offline"  # entered by a secretary
    MEETING = "meeting"  # attendance of a closed meeting (lms.meetings), one row per (meeting, member)

    @property
    def label(self) -> str:
        return str(STUDY_SOURCE_LABELS[self])


STUDY_SOURCE_LABELS = {
    StudySource.VIDEO: _l("Video"),
    StudySource.READING: _l("Reading"),
    StudySource.OFFLINE: _l("Offline"),
    StudySource.MEETING: _l("Meeting"),
}


class DueRule(enum.StrEnum):
    FIXED_DATE = "fixed_date"
    PROBATION_END = "probation_end"  # each member's own probation end date (预备期满)

    @property
    def label(self) -> str:
        return str(DUE_RULE_LABELS[self])


DUE_RULE_LABELS = {
    DueRule.FIXED_DATE: _l("By a date"),
    DueRule.PROBATION_END: _l("By the member's probation end"),
}


class OfflineActivity(enum.StrEnum):
    # 三会一课
    BRANCH_GENERAL_MEETING = "branch_general_meeting"  # 支部党员大会
    BRANCH_COMMITTEE_MEETING = "branch_committee_meeting"  # 支部委员会
    PARTY_GROUP_MEETING = "party_group_meeting"  # 党小组会
    PARTY_LECTURE = "party_lecture"  # 党课
    THEME_PARTY_DAY = "theme_party_day"  # 主题党日
    TRAINING = "training"  # 集中培训
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(OFFLINE_ACTIVITY_LABELS[self])

    @property
    def is_three_meetings_one_lecture(self) -> bool:
        return self in THREE_MEETINGS_ONE_LECTURE


OFFLINE_ACTIVITY_LABELS = {
    OfflineActivity.BRANCH_GENERAL_MEETING: _l("Branch general meeting"),
    OfflineActivity.BRANCH_COMMITTEE_MEETING: _l("Branch committee meeting"),
    OfflineActivity.PARTY_GROUP_MEETING: _l("Party group meeting"),
    OfflineActivity.PARTY_LECTURE: _l("Party lecture"),
    OfflineActivity.THEME_PARTY_DAY: _l("Theme Party day"),
    OfflineActivity.TRAINING: _l("Training"),
    OfflineActivity.OTHER: _l("Other"),
}

THREE_MEETINGS_ONE_LECTURE = frozenset(
    {
        OfflineActivity.BRANCH_GENERAL_MEETING,
        OfflineActivity.BRANCH_COMMITTEE_MEETING,
        OfflineActivity.PARTY_GROUP_MEETING,
        OfflineActivity.PARTY_LECTURE,
    }
)


class Course(AudienceMixin, TimestampMixin, db.Model):
    """A course in the catalogue; learners see it when published and in its audience."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary_html: Mapped[str] = mapped_column(sa.Text, default="")  # sanitised with nh3 on save
    category: Mapped[str] = mapped_column(sa.String(80), default="", index=True)
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    credit_note: Mapped[str] = mapped_column(sa.String(200), default="")
    # A generated file name under MEDIA_ROOT/covers/<course id>/; never a name from the upload.
    cover_filename: Mapped[str | None] = mapped_column(sa.String(80))
    status: Mapped[CourseStatus] = mapped_column(str_enum(CourseStatus), default=CourseStatus.DRAFT, index=True)
    published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Presence checks: once in each lesson, at a moment the member cannot predict, the
    # player asks "are you there?"; unanswered after PRESENCE_ANSWER_SECONDS, credit stops.
    presence_checks: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", order_by="Lesson.position, Lesson.id", cascade="all, delete-orphan"
    )

    @property
    def is_published(self) -> bool:
        return self.status == CourseStatus.PUBLISHED

    @property
    def published_lessons(self) -> list[Lesson]:
        return [lesson for lesson in self.lessons if lesson.is_published]

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.title}>"


class Lesson(TimestampMixin, db.Model):
    """One lesson of a course: a video, a micro-course (short video) or an article."""

    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[LessonKind] = mapped_column(str_enum(LessonKind))
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    media_asset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("media_assets.id", ondelete="SET NULL"), index=True
    )
    # Copied from the asset when it is picked, so the heartbeat path needs no join.
    duration_seconds: Mapped[float | None]
    body_html: Mapped[str] = mapped_column(sa.Text, default="")  # articles; sanitised with nh3 on save
    reading_minutes: Mapped[int | None]  # articles: the most reading time credited
    is_published: Mapped[bool] = mapped_column(default=False)

    course: Mapped[Course] = relationship(back_populates="lessons")

    @property
    def study_seconds(self) -> float:
        """What full study of this lesson is: the video's length or the set reading time."""
        if self.kind == LessonKind.ARTICLE:
            return float((self.reading_minutes or 0) * 60)
        return float(self.duration_seconds or 0)

    def __repr__(self) -> str:
        return f"<Lesson {self.id} {self.kind} {self.title}>"


class PlaybackSession(db.Model):
    """The one study session a member has open now (one row per member).

    Starting a session replaces the row's ``id`` with a new server-issued token,
    so a beat carrying an older token (another window, another device, or
    someone else's) no longer matches: one member earns time on one thing at a time.
    """

    __tablename__ = "playback_sessions"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    kind: Mapped[LessonKind] = mapped_column(str_enum(LessonKind))
    # The lesson's length when the session began: the bound for positions and credit.
    duration_seconds: Mapped[float]
    started_at: Mapped[datetime]
    last_beat_at: Mapped[datetime]
    # The member's credit budget (``progress.credit_room``): the wall time up to which
    # credited playback is accounted for. Credit moves it on by the seconds it took to
    # play; it never trails ``now`` by more than the backlog, and a new session keeps it,
    # so neither parallel, rapid or restarted beats earn more than the wall time passed.
    credit_clock: Mapped[datetime]
    # The member's beats in the current minute: the heartbeat's rate limit, kept on
    # the row every beat locks anyway (no extra statement, shared by all processes).
    window_started_at: Mapped[datetime]
    window_beats: Mapped[int] = mapped_column(default=0)


class LessonProgress(db.Model):
    """A member's progress on one lesson: the union of watched intervals, stored compactly.

    ``intervals`` is a flat sorted list ``[start0, end0, start1, end1, ...]`` of
    disjoint content intervals in seconds (for articles, the reading clock).
    """

    __tablename__ = "lesson_progress"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)
    intervals: Mapped[list] = mapped_column(sa.JSON, default=list)
    watched_seconds: Mapped[float] = mapped_column(default=0.0)
    last_position_seconds: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow_default)
    last_studied_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # The lesson's presence check (courses with ``presence_checks``): issued once the
    # member has studied past a point only the server knows, passed when answered.
    presence_token: Mapped[str | None] = mapped_column(sa.String(32))
    presence_issued_at: Mapped[datetime | None]
    presence_passed_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_lesson_progress_lesson_id_completed_at", "lesson_id", "completed_at"),)


class StudyDaySignal(db.Model):
    """Per member and local day, what the anti-farming list (反刷课) needs beyond the ledger.

    One row per (member, day), upserted with counters added: never a row per beat.
    Written only by beats that earn nothing for a suspicious reason, by beats of a
    superseded session and by credit earned at night, so ordinary daytime beats
    cost no extra statement.
    """

    __tablename__ = "study_day_signals"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True, index=True)
    refused_beats: Mapped[int] = mapped_column(default=0)
    # Beats from a window or device whose session another one had superseded.
    parallel_beats: Mapped[int] = mapped_column(default=0)
    night_seconds: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_default)


class StudyLedgerEntry(db.Model):
    """Credited study time: one row per (user, lesson, local day, source), or per offline or meeting attendance."""

    __tablename__ = "study_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date]  # the local day (LMS_TIMEZONE) the time was earned
    source: Mapped[StudySource] = mapped_column(str_enum(StudySource))
    lesson_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lessons.id", ondelete="RESTRICT"), index=True)
    offline_record_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("offline_study_records.id", ondelete="CASCADE"), index=True
    )
    # Meeting rows (source=meeting) point at the meeting that credited them; the
    # table is named, not imported: meetings sit above courses.
    meeting_id: Mapped[int | None] = mapped_column(sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    seconds: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_default, onupdate=utcnow_default)

    __table_args__ = (
        # Online rows: the upsert target (lesson_id is never NULL for them).
        sa.UniqueConstraint("user_id", "lesson_id", "day", "source"),
        # Offline rows: one attendance per member per record (NULL for online rows).
        sa.UniqueConstraint("offline_record_id", "user_id"),
        # Meeting rows: one credit per member per meeting.
        sa.UniqueConstraint("meeting_id", "user_id"),
        sa.Index("ix_study_ledger_user_id_day", "user_id", "day"),
        sa.Index("ix_study_ledger_day", "day"),
    )


class CourseRequirement(AudienceMixin, TimestampMixin, db.Model):
    """A course assigned as required study for an audience, with a due date or due rule."""

    __tablename__ = "course_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    due_rule: Mapped[DueRule] = mapped_column(str_enum(DueRule), default=DueRule.FIXED_DATE)
    due_on: Mapped[date | None]  # the date (fixed rule), or the fallback for members without a probation end
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    course: Mapped[Course] = relationship()

    def due_for(self, user) -> date | None:
        """The due date of this requirement for ``user``."""
        if self.due_rule == DueRule.PROBATION_END and user.probation_end is not None:
            return user.probation_end
        return self.due_on


class OfflineStudyRecord(TimestampMixin, db.Model):
    """An offline activity (三会一课, 主题党日, training) and its attendees' study time.

    The attendees are the ledger rows pointing at the record (source=offline),
    so the time is counted once, by the same query as online study.
    """

    __tablename__ = "offline_study_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(sa.ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    activity: Mapped[OfflineActivity] = mapped_column(str_enum(OfflineActivity, length=30))
    held_on: Mapped[date] = mapped_column(index=True)
    study_hours: Mapped[float]  # entered in 学时 (e.g. 8 for a training day)
    topic: Mapped[str] = mapped_column(sa.String(200))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    branch = relationship("Branch")
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])


class OfflinePendingAttendance(db.Model):
    """An attendee whose offline credit waits for a second person's confirmation.

    Whoever enters a record with themselves among the attendees does not credit
    themselves: their attendance waits here, earning nothing, until another
    committee member or an administrator confirms it; then it becomes a ledger row.
    """

    __tablename__ = "offline_pending_attendance"

    record_id: Mapped[int] = mapped_column(
        sa.ForeignKey("offline_study_records.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime]

    record = relationship("OfflineStudyRecord")
    user = relationship("User", foreign_keys=[user_id])


class OfflineRecordAudit(db.Model):
    """Who created, changed or deleted an offline record, when, and what it was before and after.

    ``record_id`` is not a foreign key: the trail outlives a deleted record.
    """

    __tablename__ = "offline_record_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(index=True)
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(sa.String(10))  # create, update, delete, confirm
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)

    actor = relationship("User")


__all__ = [
    "COURSE_STATUS_LABELS",
    "DUE_RULE_LABELS",
    "LESSON_KIND_LABELS",
    "MICRO_MAX_SECONDS",
    "OFFLINE_ACTIVITY_LABELS",
    "STUDY_SOURCE_LABELS",
    "THREE_MEETINGS_ONE_LECTURE",
    "Course",
    "CourseRequirement",
    "CourseStatus",
    "DueRule",
    "Lesson",
    "LessonKind",
    "LessonProgress",
    "OfflineActivity",
    "OfflinePendingAttendance",
    "OfflineRecordAudit",
    "OfflineStudyRecord",
    "PlaybackSession",
    "StudyDaySignal",
    "StudyLedgerEntry",
    "StudySource",
]
