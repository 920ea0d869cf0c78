"""Study-time tracking (DESIGN.md §3): playback sessions and heartbeats.

``start_session`` issues a new session id for (member, lesson) and so
supersedes the member's previous session. ``record_heartbeat`` is the hottest
write path of the platform (about 330 beats/s for 5,000 viewers), so it is a
fixed handful of statements: one SELECT ... FOR UPDATE of the member's session
and progress rows, their UPDATEs, and one upsert of the ledger row when
something was credited. Every rule is in ``progress.judge_segment``.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.models import User
from lms.courses import progress as rules
from lms.courses.ledger import add_study_seconds, insert_ignoring_conflict, upsert
from lms.courses.models import LessonKind, LessonProgress, PlaybackSession, StudySource
from lms.courses.services import get_visible_lesson
from lms.errors import InvalidState
from lms.extensions import db

# Resume from the start when the member stopped this close to the end.
RESUME_END_MARGIN_SECONDS = 5.0

REASON_MESSAGES = {
    "session_not_active": _l("Study time is counted in your other window now; press play here to continue here."),
    "lesson_mismatch": _l("This beat does not belong to the lesson being studied."),
    "invalid_segment": _l("The played part could not be understood and was not counted."),
    "invalid_rate": _l("The playback speed could not be understood."),
    "beyond_duration": _l("The position is past the end of the lesson."),
    "page_hidden": _l("Time while the page was hidden is not counted."),
    "faster_than_plausible": _l("Only the part that could really have been played was counted."),
    "already_watched": _l("This part was watched before; replays earn no extra time."),
    "reading_complete": _l("The reading time of this article has been fully credited."),
    "malformed": _l("The heartbeat could not be read."),
    "too_many_beats": _l("Too many progress reports in a minute; they will be sent again shortly."),
    "csrf": _l("The page has expired. Reload it to continue counting study time."),
    "login": _l("You are logged out: log in again to continue counting study time."),
}


@dataclass(frozen=True)
class Heartbeat:
    """What a player reports: the content segment played since its last beat, rate and visibility.

    For an article, ``reading_seconds`` is the visible reading time since the last beat.
    """

    session_id: str
    lesson_id: int | None = None
    start: float | None = None
    end: float | None = None
    rate: float = 1.0
    visible: bool = True
    reading_seconds: float | None = None


@dataclass(frozen=True)
class BeatResult:
    credited: float
    reason: str | None
    watched_seconds: float = 0.0
    duration_seconds: float = 0.0
    completed: bool = False
    position_seconds: float = 0.0

    def as_json(self) -> dict:
        body = asdict(self)
        body["ok"] = True
        body["credited"] = round(self.credited, 3)
        body["watched_ratio"] = round(self.watched_seconds / self.duration_seconds, 4) if self.duration_seconds else 0
        if self.reason:
            body["message"] = str(REASON_MESSAGES.get(self.reason, self.reason))
        return body


@dataclass(frozen=True)
class StartedSession:
    session_id: str
    lesson_id: int
    duration_seconds: float
    resume_at: float
    watched_seconds: float
    completed: bool

    def as_json(self) -> dict:
        body = asdict(self)
        body["ok"] = True
        body["watched_ratio"] = round(self.watched_seconds / self.duration_seconds, 4) if self.duration_seconds else 0
        body["heartbeat_seconds"] = current_app.config["HEARTBEAT_SECONDS"]
        return body


def new_session_id() -> str:
    """A server-issued, unguessable session id."""
    return secrets.token_urlsafe(16)


def start_session(user: User, lesson_id: int, *, now: datetime) -> StartedSession:
    """Open a study session on a lesson the member may see, superseding their previous session.

    Raises NotFound for a lesson outside the member's courses, InvalidState for a
    lesson that has nothing to study yet (no video length, no reading time).
    """
    lesson = get_visible_lesson(user, lesson_id)
    duration = lesson.study_seconds
    if duration <= 0:
        raise InvalidState(_l("This lesson cannot be studied yet."))
    session_id = new_session_id()
    values = {
        "user_id": user.id,
        "id": session_id,
        "lesson_id": lesson.id,
        "kind": lesson.kind,
        "duration_seconds": duration,
        "started_at": now,
        "last_beat_at": now,
        "window_started_at": now,
        "window_beats": 0,
    }
    # A new session keeps the member's beat counter: restarting does not reset the rate limit.
    kept = ("user_id", "window_started_at", "window_beats")
    upsert(PlaybackSession, values, ["user_id"], {k: v for k, v in values.items() if k not in kept})
    insert_ignoring_conflict(
        LessonProgress,
        {
            "user_id": user.id,
            "lesson_id": lesson.id,
            "intervals": [],
            "watched_seconds": 0.0,
            "last_position_seconds": 0.0,
            "started_at": now,
        },
        ["user_id", "lesson_id"],
    )
    row = db.session.scalar(
        sa.select(LessonProgress)
        .where(LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id)
        .execution_options(populate_existing=True)
    )
    resume = row.last_position_seconds if lesson.kind.is_video else 0.0
    if resume >= duration - RESUME_END_MARGIN_SECONDS:
        resume = 0.0
    return StartedSession(
        session_id=session_id,
        lesson_id=lesson.id,
        duration_seconds=duration,
        resume_at=round(resume, 3),
        watched_seconds=row.watched_seconds,
        completed=row.completed_at is not None,
    )


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# Built once: the hot path only binds values (no statement construction per beat).
_SELECT_FOR_BEAT = (
    sa.select(
        PlaybackSession.id,
        PlaybackSession.lesson_id,
        PlaybackSession.kind,
        PlaybackSession.duration_seconds,
        PlaybackSession.last_beat_at,
        PlaybackSession.window_started_at,
        PlaybackSession.window_beats,
        LessonProgress.intervals,
        LessonProgress.watched_seconds,
        LessonProgress.last_position_seconds,
        LessonProgress.last_studied_at,
        LessonProgress.completed_at,
    )
    .join(
        LessonProgress,
        sa.and_(
            LessonProgress.user_id == PlaybackSession.user_id,
            LessonProgress.lesson_id == PlaybackSession.lesson_id,
        ),
    )
    .where(PlaybackSession.user_id == sa.bindparam("p_user_id"))
    .with_for_update()
)
_TOUCH_SESSION = (
    sa.update(PlaybackSession)
    .where(PlaybackSession.user_id == sa.bindparam("p_user_id"))
    .values(
        last_beat_at=sa.bindparam("p_beat_at"),
        window_started_at=sa.bindparam("p_window_at"),
        window_beats=sa.bindparam("p_window_beats"),
    )
)
_SAVE_PROGRESS = (
    sa.update(LessonProgress)
    .where(LessonProgress.user_id == sa.bindparam("p_user_id"), LessonProgress.lesson_id == sa.bindparam("p_lesson_id"))
    .values(
        intervals=sa.bindparam("p_intervals"),
        watched_seconds=sa.bindparam("p_watched"),
        last_position_seconds=sa.bindparam("p_position"),
        last_studied_at=sa.bindparam("p_studied_at"),
        completed_at=sa.bindparam("p_completed_at"),
    )
)


def record_heartbeat(user_id: int, beat: Heartbeat, *, now: datetime) -> BeatResult:
    """Credit the new unique seconds of a heartbeat, or refuse it with a reason (crediting 0).

    Refused: a session id that is not the member's active session (superseded,
    unknown or someone else's), a beat for another lesson, and every refusal of
    ``progress.judge_segment``. Any beat of the active session moves
    ``last_beat_at`` on, so time already used by one beat cannot be claimed again.
    Credit goes to the ledger row of today's local day.

    Core statements on the session's connection (no ORM unit of work: this is
    the hottest path): SELECT ... FOR UPDATE of the member's session and
    progress rows, an UPDATE of each, and the ledger upsert when something was credited.
    """
    connection = db.session.connection()
    found = connection.execute(_SELECT_FOR_BEAT, {"p_user_id": user_id}).first()
    if found is None:
        return BeatResult(0.0, "session_not_active")
    # Every beat on the member's row counts towards the per-minute limit, even a forged one.
    if (now - found.window_started_at).total_seconds() >= 60:
        window_at, window_beats = now, 1
    else:
        window_at, window_beats = found.window_started_at, found.window_beats + 1
    touch = {"p_user_id": user_id, "p_beat_at": found.last_beat_at, "p_window_at": window_at,
             "p_window_beats": window_beats}  # fmt: skip
    duration = found.duration_seconds
    watched = found.watched_seconds
    completed_at = found.completed_at
    refusal = None
    if window_beats > int(current_app.config.get("HEARTBEAT_MAX_PER_MINUTE", 60)):
        refusal = "too_many_beats"
    elif not secrets.compare_digest(found.id, str(beat.session_id)):
        refusal = "session_not_active"
    elif beat.lesson_id is not None and beat.lesson_id != found.lesson_id:
        refusal = "lesson_mismatch"
    if refusal is not None:
        connection.execute(_TOUCH_SESSION, touch)
        if refusal == "lesson_mismatch":
            return BeatResult(0.0, refusal, watched, duration, completed_at is not None)
        return BeatResult(0.0, refusal)
    elapsed = (now - found.last_beat_at).total_seconds()
    connection.execute(_TOUCH_SESSION, touch | {"p_beat_at": now})
    position = found.last_position_seconds
    if found.kind == LessonKind.ARTICLE:
        verdict = _judge_reading(beat, watched, duration, elapsed)
        source = StudySource.READING
    else:
        verdict = rules.judge_segment(
            beat.start,
            beat.end,
            rate=beat.rate,
            visible=beat.visible,
            duration=duration,
            elapsed_seconds=elapsed,
            max_rate=float(current_app.config["MAX_PLAYBACK_RATE"]),
        )
        source = StudySource.VIDEO
        if _finite(beat.end) and 0 <= beat.end <= duration + rules.DURATION_SLACK_SECONDS:
            position = round(min(beat.end, duration), 3)
    credited = 0.0
    reason = verdict.reason
    intervals = found.intervals or []
    studied_at = found.last_studied_at
    if not verdict.refused:
        intervals, credited = rules.add_interval(intervals, verdict.start, verdict.end)
        if credited > 0:
            watched = rules.covered_seconds(intervals)
            studied_at = now
            if completed_at is None and rules.is_complete(
                watched, duration, float(current_app.config["COMPLETION_RATIO"])
            ):
                completed_at = now
        elif reason is None:
            reason = "already_watched"
    if credited > 0 or position != found.last_position_seconds:
        connection.execute(
            _SAVE_PROGRESS,
            {
                "p_user_id": user_id,
                "p_lesson_id": found.lesson_id,
                "p_intervals": intervals,
                "p_watched": watched,
                "p_position": position,
                "p_studied_at": studied_at,
                "p_completed_at": completed_at,
            },
        )
    if credited > 0:
        add_study_seconds(user_id, found.lesson_id, clock.local_day(now), source, credited, connection=connection)
    return BeatResult(
        credited=credited,
        reason=reason,
        watched_seconds=watched,
        duration_seconds=duration,
        completed=completed_at is not None,
        position_seconds=position,
    )


def _judge_reading(beat: Heartbeat, watched: float, duration: float, elapsed: float) -> rules.SegmentVerdict:
    """An article's beat as a segment of its reading clock, which runs from what was credited so far.

    At most the wall-clock time since the last beat (plus slack) is credited, and
    never beyond the article's set reading minutes.
    """
    seconds = beat.reading_seconds
    if not _finite(seconds) or seconds <= 0:
        return rules.SegmentVerdict(0.0, 0.0, "invalid_segment", True)
    if not beat.visible:
        return rules.SegmentVerdict(0.0, 0.0, "page_hidden", True)
    start = float(watched or 0)
    if start >= duration:
        return rules.SegmentVerdict(0.0, 0.0, "reading_complete", True)
    allowed = max(elapsed, 0.0) + rules.SEGMENT_SLACK_SECONDS
    reason = "faster_than_plausible" if seconds > allowed else None
    return rules.SegmentVerdict(start, min(start + min(seconds, allowed), duration), reason, False)


def parse_heartbeat(body: object) -> Heartbeat | None:
    """A Heartbeat from a decoded JSON body, or None when its shape is wrong.

    Numbers must be JSON numbers (not strings or booleans); the §3 checks on
    their values are made by ``record_heartbeat``.
    """
    if not isinstance(body, dict):
        return None
    session_id = body.get("session_id")
    if not isinstance(session_id, str) or not 10 <= len(session_id) <= 64:
        return None

    def number(key: str, default=None):
        value = body.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(key)
        return float(value)

    lesson_id = body.get("lesson_id")
    if lesson_id is not None and (isinstance(lesson_id, bool) or not isinstance(lesson_id, int)):
        return None
    visible = body.get("visible", True)
    if not isinstance(visible, bool):
        return None
    try:
        return Heartbeat(
            session_id=session_id,
            lesson_id=lesson_id,
            start=number("from"),
            end=number("to"),
            rate=number("rate", 1.0),
            visible=visible,
            reading_seconds=number("reading_seconds"),
        )
    except ValueError:
        return None
