"""Study-time tracking (DESIGN.md §3): playback sessions and heartbeats.

``start_session`` issues a new session id for (member, lesson) and so
supersedes the member's previous session. ``record_heartbeat`` is the hottest
write path of the platform (about 330 beats/s for 5,000 viewers), so it is a
fixed handful of statements: one SELECT ... FOR UPDATE of the member's session
and progress rows (joined to the lesson, course and member, so that a lesson
that stopped being visible stops crediting with no extra round trip), their
UPDATEs, and one upsert of the ledger row when something was credited. A beat
refused for a suspicious reason, or credited at night, adds one upsert of the
member's day counters (``signals``). The rules are in ``progress``: the segment
checks and the credit budget (``progress.credit_room``), which bounds credit by
the wall time that passed however many beats arrive, in parallel or not.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms import clock, raw_sql
from lms.auth.audience import audience_includes
from lms.auth.models import Branch, Role, User
from lms.courses import presence, signals
from lms.courses import progress as rules
from lms.courses.ledger import add_study_seconds_many, insert_ignoring_conflict, upsert
from lms.courses.models import (
    Course,
    CourseStatus,
    Lesson,
    LessonKind,
    LessonProgress,
    PlaybackSession,
    StudySource,
)
from lms.courses.services import get_visible_lesson
from lms.errors import InvalidState
from lms.extensions import db

# Resume from the start when the member stopped this close to the end.
RESUME_END_MARGIN_SECONDS = 5.0
# A player checks for idleness about once a second, so the beat that closes at the
# idle moment may report a little more than IDLE_MINUTES.
IDLE_GRACE_SECONDS = 5.0

REASON_MESSAGES = {
    "session_not_active": _l("Study time is counted in your other window now; press play here to continue here."),
    "lesson_mismatch": _l("This beat does not belong to the lesson being studied."),
    "lesson_unavailable": _l("This lesson is no longer open to you, so study time is not counted."),
    "invalid_segment": _l("The played part could not be understood and was not counted."),
    "invalid_rate": _l("The playback speed could not be understood."),
    "beyond_duration": _l("The position is past the end of the lesson."),
    "page_hidden": _l("Time while the page was hidden is not counted."),
    "idle": _l("No activity for a while: study time stopped counting. Confirm you are still studying to continue."),
    "presence_check": _l("Study time stopped counting until you answer the check."),
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
    ``idle_seconds`` is how long ago the member last interacted with the page (when the
    segment closed); ``idle`` is set while the player's "are you still studying?"
    dialog is unanswered. ``parse_heartbeat`` leaves ``idle_seconds`` None when a
    player did not report it, and such a beat is treated as idle.
    """

    session_id: str
    lesson_id: int | None = None
    start: float | None = None
    end: float | None = None
    rate: float = 1.0
    visible: bool = True
    reading_seconds: float | None = None
    idle_seconds: float | None = 0.0
    idle: bool = False


@dataclass(frozen=True)
class BeatResult:
    credited: float
    reason: str | None
    watched_seconds: float = 0.0
    duration_seconds: float = 0.0
    completed: bool = False
    position_seconds: float = 0.0
    # An unanswered presence check: {"token", "seconds_left"}; the player shows it.
    presence: dict | None = field(default=None)

    def as_json(self) -> dict:
        body = {"ok": True, "credited": round(self.credited, 3), "reason": self.reason,  # not asdict: every beat
                "watched_seconds": self.watched_seconds, "duration_seconds": self.duration_seconds,
                "completed": self.completed, "position_seconds": self.position_seconds,
                "presence": dict(self.presence) if self.presence else None}  # fmt: skip
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
    presence: dict | None = None

    def as_json(self) -> dict:
        body = asdict(self)
        body["ok"] = True
        body["watched_ratio"] = round(self.watched_seconds / self.duration_seconds, 4) if self.duration_seconds else 0
        body["heartbeat_seconds"] = current_app.config["HEARTBEAT_SECONDS"]
        body["idle_minutes"] = current_app.config["IDLE_MINUTES"]
        return body


def new_session_id() -> str:
    """A server-issued, unguessable session id."""
    return secrets.token_urlsafe(16)


def start_session(user: User, lesson_id: int, *, now: datetime) -> StartedSession:
    """Open a study session on a lesson the member may see, superseding their previous session.

    The member's credit clock carries over (it only moves forward to now), so
    restarting sessions earns no fresh slack. Raises NotFound for a lesson outside
    the member's courses, InvalidState for a lesson that has nothing to study yet
    (no video length, no reading time).
    """
    lesson = get_visible_lesson(user, lesson_id)
    duration = lesson.study_seconds
    if duration <= 0:
        raise InvalidState(_l("This lesson cannot be studied yet."))
    previous_clock = db.session.scalar(
        sa.select(PlaybackSession.credit_clock).where(PlaybackSession.user_id == user.id).with_for_update()
    )
    session_id = new_session_id()
    values = {
        "user_id": user.id,
        "id": session_id,
        "lesson_id": lesson.id,
        "kind": lesson.kind,
        "duration_seconds": duration,
        "started_at": now,
        "last_beat_at": now,
        "credit_clock": max(previous_clock, now) if previous_clock is not None else now,
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
        presence=presence.pending_check(row.presence_token, row.presence_issued_at, row.presence_passed_at, now),
    )


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# Compiled once, run on the DBAPI cursor (``raw_sql``): the hot path only binds values.
_SELECT_FOR_BEATS = raw_sql.RawStatement(
    sa.select(
        PlaybackSession.user_id,
        PlaybackSession.id,
        PlaybackSession.lesson_id,
        PlaybackSession.kind,
        PlaybackSession.duration_seconds,
        PlaybackSession.started_at,
        PlaybackSession.last_beat_at,
        PlaybackSession.credit_clock,
        PlaybackSession.window_started_at,
        PlaybackSession.window_beats,
        LessonProgress.intervals,
        LessonProgress.watched_seconds,
        LessonProgress.last_position_seconds,
        LessonProgress.last_studied_at,
        LessonProgress.completed_at,
        LessonProgress.presence_token,
        LessonProgress.presence_issued_at,
        LessonProgress.presence_passed_at,
        # Whether the lesson is still open to the member, read in the same statement.
        Lesson.is_published.label("lesson_published"),
        Course.status.label("course_status"),
        Course.presence_checks,
        Course.audience_statuses,
        Course.audience_roles,
        Course.audience_branch_ids,
        User.status.label("user_status"),
        User.role.label("user_role"),
        # The login check of beat_commit's fast path, read in the same statement.
        User.is_active.label("user_is_active"),
        User.session_version.label("user_session_version"),
        User.must_change_password.label("user_must_change_password"),
        User.locale.label("user_locale"),  # the language of the beat's message, without loading the user
        Branch.path.label("branch_path"),
    )
    .join(
        LessonProgress,
        sa.and_(
            LessonProgress.user_id == PlaybackSession.user_id,
            LessonProgress.lesson_id == PlaybackSession.lesson_id,
        ),
    )
    .join(Lesson, Lesson.id == PlaybackSession.lesson_id)
    .join(Course, Course.id == Lesson.course_id)
    .join(User, User.id == PlaybackSession.user_id)
    .outerjoin(Branch, Branch.id == User.branch_id)
    .where(PlaybackSession.user_id.in_(sa.bindparam("p_user_ids", expanding=True)))
    # Rows are locked in member order, so two processes' batches never wait for each other in a cycle.
    .order_by(PlaybackSession.user_id)
    .with_for_update(of=[PlaybackSession, LessonProgress])
)
_TOUCH_SESSION = raw_sql.RawStatement(
    sa.update(PlaybackSession)
    .where(PlaybackSession.user_id == sa.bindparam("p_user_id"))
    .values(
        last_beat_at=sa.bindparam("p_beat_at"),
        credit_clock=sa.bindparam("p_clock"),
        window_started_at=sa.bindparam("p_window_at"),
        window_beats=sa.bindparam("p_window_beats"),
    )
)
_SAVE_PROGRESS = raw_sql.RawStatement(
    sa.update(LessonProgress)
    .where(LessonProgress.user_id == sa.bindparam("p_user_id"), LessonProgress.lesson_id == sa.bindparam("p_lesson_id"))
    .values(
        intervals=sa.bindparam("p_intervals"),
        watched_seconds=sa.bindparam("p_watched"),
        last_position_seconds=sa.bindparam("p_position"),
        last_studied_at=sa.bindparam("p_studied_at"),
        completed_at=sa.bindparam("p_completed_at"),
        presence_token=sa.bindparam("p_presence_token"),
        presence_issued_at=sa.bindparam("p_presence_issued_at"),
    )
)


def _still_visible(found) -> bool:
    """The lesson is still open to the member (``services.lesson_visible_to`` on the beat's row)."""
    if found.user_role == Role.ADMIN:
        return True
    if not found.lesson_published or found.course_status != CourseStatus.PUBLISHED:
        return False
    path = found.branch_path or ""
    ancestors = frozenset(int(part) for part in path.strip("/").split("/") if part)
    audience = SimpleNamespace(
        audience_statuses=found.audience_statuses or [],
        audience_roles=found.audience_roles or [],
        audience_branch_ids=found.audience_branch_ids or [],
    )
    return audience_includes(audience, SimpleNamespace(status=found.user_status, role=found.user_role), ancestors)


def _is_idle(beat: Heartbeat) -> bool:
    limit = float(current_app.config["IDLE_MINUTES"]) * 60 + IDLE_GRACE_SECONDS
    return beat.idle or not _finite(beat.idle_seconds) or not 0 <= beat.idle_seconds <= limit


def record_heartbeat(user_id: int, beat: Heartbeat, *, now: datetime) -> BeatResult:
    """Credit the new unique seconds of a heartbeat, or refuse it with a reason (crediting 0).

    Refused: a session id that is not the member's active session (superseded,
    unknown or someone else's), a beat for another lesson, a lesson no longer open
    to the member, an idle member, an overdue presence check, and every refusal of
    ``progress.judge_segment``. Credit is clipped to the member's credit budget
    (``progress.credit_room``); the credit clock moves on by the time the accepted
    segment took to play, and to now after a refusal, so time already used by one
    beat cannot be claimed again. Credit goes to the ledger row of today's local day.

    Core statements on the session's connection (no ORM unit of work: this is
    the hottest path): SELECT ... FOR UPDATE of the member's session and
    progress rows, an UPDATE of each, and the ledger upsert when something was
    credited; the day counters' upsert for suspicious refusals and night credit.
    """
    return record_heartbeats([(user_id, beat, now)])[0]


def record_heartbeats(beats: Sequence[tuple[int, Heartbeat, datetime]]) -> list[BeatResult]:
    """``record_heartbeat`` for many beats at once (``beat_commit``'s batches), set-based.

    Each beat is judged by the same rules, in the order given, against its
    member's rows as the earlier beats of the batch left them (a member may have
    several beats in one batch). The statements are the same as for one beat,
    each run once for the whole batch: one SELECT ... WHERE user_id IN (...) FOR
    UPDATE (in member order), then each UPDATE and upsert as one executemany with
    a member's last session and progress values, and the ledger and day
    counters summed per row.
    """
    connection = db.session.connection()
    rows = lock_beat_rows(connection, {user_id for user_id, _, _ in beats})
    return apply_heartbeats(connection, rows, beats)


def lock_beat_rows(connection: sa.Connection, user_ids) -> dict[int, SimpleNamespace]:
    """The members' session and progress rows (and what judging a beat needs), locked, by member id.

    One SELECT ... IN ... FOR UPDATE in member order; members without a playback session are
    missing. Rows carry the login state (``user_is_active``, ``user_session_version``,
    ``user_must_change_password``) for ``beat_commit``'s login check, and ``user_locale``."""
    raw_sql.lock_for_writes(connection)  # the cursor below fires no hook: SQLite's write lock is taken here
    return {row.user_id: row for row in _SELECT_FOR_BEATS.rows(connection, {"p_user_ids": sorted(user_ids)})}


def apply_heartbeats(connection: sa.Connection, rows: dict[int, SimpleNamespace],
                     beats: Sequence[tuple[int, Heartbeat, datetime]]) -> list[BeatResult]:  # fmt: skip
    """Judge ``beats`` in order against ``rows`` (from ``lock_beat_rows``, updated in place) and write them."""
    writes = _BeatWrites()
    results = [_judge_beat(rows.get(user_id), user_id, beat, now, writes) for user_id, beat, now in beats]
    writes.apply(connection)
    return results


class _BeatWrites:
    """A batch's writes: the last values of each session and progress row, ledger and counters summed per row."""

    def __init__(self) -> None:
        self.sessions: dict[int, dict] = {}
        self.progress: dict[tuple[int, int], dict] = {}
        self.ledger: dict[tuple, float] = {}
        self.signals: dict[tuple, list] = {}

    def touch(self, found: SimpleNamespace, values: dict) -> None:
        self.sessions[values["p_user_id"]] = values
        found.last_beat_at, found.credit_clock = values["p_beat_at"], values["p_clock"]
        found.window_started_at, found.window_beats = values["p_window_at"], values["p_window_beats"]

    def save_progress(self, found: SimpleNamespace, values: dict) -> None:
        self.progress[(values["p_user_id"], values["p_lesson_id"])] = values
        found.intervals, found.watched_seconds = values["p_intervals"], values["p_watched"]
        found.last_position_seconds, found.last_studied_at = values["p_position"], values["p_studied_at"]
        found.completed_at = values["p_completed_at"]
        found.presence_token, found.presence_issued_at = values["p_presence_token"], values["p_presence_issued_at"]

    def add_seconds(self, user_id: int, lesson_id: int, day, source: StudySource, seconds: float) -> None:
        key = (user_id, lesson_id, day, source)
        self.ledger[key] = self.ledger.get(key, 0.0) + seconds

    def add_signals(self, user_id: int, day, now: datetime, *, refused: int = 0, parallel: int = 0,
                    night: float = 0.0) -> None:  # fmt: skip
        counts = self.signals.setdefault((user_id, day), [0, 0, 0.0, now])
        counts[0] += refused
        counts[1] += parallel
        counts[2] += night
        counts[3] = max(counts[3], now)

    def apply(self, connection) -> None:
        if self.sessions:
            _TOUCH_SESSION.execute_many(connection, list(self.sessions.values()))
        if self.progress:
            _SAVE_PROGRESS.execute_many(connection, list(self.progress.values()))
        if self.ledger:
            add_study_seconds_many(
                [(user_id, lesson_id, day, source, seconds) for (user_id, lesson_id, day, source), seconds
                 in self.ledger.items()],
                connection=connection,
            )  # fmt: skip
        if self.signals:
            signals.add_signals_many(connection, [(user_id, day, *counts) for (user_id, day), counts
                                                  in self.signals.items()])  # fmt: skip


def _judge_beat(found, user_id: int, beat: Heartbeat, now: datetime, writes: _BeatWrites) -> BeatResult:
    """One beat of ``record_heartbeats`` against its member's rows ``found`` (updated in place)."""

    config = current_app.config
    if found is None:
        return BeatResult(0.0, "session_not_active")
    day = clock.local_day(now)
    # Every beat on the member's row counts towards the per-minute limit, even a forged one.
    if (now - found.window_started_at).total_seconds() >= 60:
        window_at, window_beats = now, 1
    else:
        window_at, window_beats = found.window_started_at, found.window_beats + 1
    touch = {"p_user_id": user_id, "p_beat_at": found.last_beat_at, "p_clock": found.credit_clock,
             "p_window_at": window_at, "p_window_beats": window_beats}  # fmt: skip
    duration = found.duration_seconds
    watched = found.watched_seconds
    completed_at = found.completed_at
    limit = int(config.get("HEARTBEAT_MAX_PER_MINUTE", 60))
    refusal = None
    if window_beats > limit:
        refusal = "too_many_beats"
    elif not secrets.compare_digest(found.id, str(beat.session_id)):
        refusal = "session_not_active"
    elif beat.lesson_id is not None and beat.lesson_id != found.lesson_id:
        refusal = "lesson_mismatch"
    if refusal is not None:
        writes.touch(found, touch)
        if refusal == "session_not_active":
            writes.add_signals(user_id, day, now, parallel=1)
        elif refusal == "lesson_mismatch" or window_beats == limit + 1:  # a flood is counted once a minute
            writes.add_signals(user_id, day, now, refused=1)
        if refusal == "lesson_mismatch":
            return BeatResult(0.0, refusal, watched, duration, completed_at is not None)
        return BeatResult(0.0, refusal)

    # The active session's own beat: its time is spent whatever the verdict.
    touch["p_beat_at"] = now
    touch["p_clock"] = max(found.credit_clock, now)
    check = presence.pending_check(found.presence_token, found.presence_issued_at, found.presence_passed_at, now)
    if not _still_visible(found):
        refusal = "lesson_unavailable"
    elif _is_idle(beat):
        refusal = "idle"
    elif presence.is_overdue(found.presence_issued_at, found.presence_passed_at, now):
        refusal = "presence_check"
    if refusal is not None:
        writes.touch(found, touch)
        if refusal in signals.SUSPICIOUS_REASONS:
            writes.add_signals(user_id, day, now, refused=1)
        return BeatResult(0.0, refusal, watched, duration, completed_at is not None, found.last_position_seconds,
                          check)  # fmt: skip

    position = found.last_position_seconds
    clock_lag = (now - found.credit_clock).total_seconds()
    session_seconds = (now - found.started_at).total_seconds()
    max_rate = float(config["MAX_PLAYBACK_RATE"])
    if found.kind == LessonKind.ARTICLE:
        room = rules.credit_room(clock_lag, session_seconds, 1.0, max_rate)
        verdict = _judge_reading(beat, watched, duration, room.content_seconds)
        source = StudySource.READING
    else:
        rate = beat.rate if _finite(beat.rate) else 0.0
        room = rules.credit_room(clock_lag, session_seconds, rate, max_rate)
        verdict = rules.judge_segment(
            beat.start,
            beat.end,
            rate=beat.rate,
            visible=beat.visible,
            duration=duration,
            allowed_seconds=room.content_seconds,
        )
        source = StudySource.VIDEO
        if _finite(beat.end) and 0 <= beat.end <= duration + rules.DURATION_SLACK_SECONDS:
            position = round(min(beat.end, duration), 3)
    credited = 0.0
    reason = verdict.reason
    intervals = found.intervals or []
    studied_at = found.last_studied_at
    token, issued_at = found.presence_token, found.presence_issued_at
    if not verdict.refused:
        touch["p_clock"] = now - timedelta(seconds=room.lag_after(verdict.end - verdict.start))
        intervals, credited = rules.add_interval(intervals, verdict.start, verdict.end)
        if credited > 0:
            watched = rules.covered_seconds(intervals)
            studied_at = now
            if completed_at is None and rules.is_complete(watched, duration, float(config["COMPLETION_RATIO"])):
                completed_at = now
            if (found.presence_checks and token is None and found.presence_passed_at is None
                    and watched >= presence.check_point(user_id, found.lesson_id, duration)):  # fmt: skip
                token, issued_at = presence.new_token(), now
                check = presence.pending_check(token, issued_at, None, now)
        elif reason is None:
            reason = "already_watched"
    previous_position = found.last_position_seconds
    writes.touch(found, touch)
    if credited > 0 or position != previous_position:
        writes.save_progress(
            found,
            {
                "p_user_id": user_id,
                "p_lesson_id": found.lesson_id,
                "p_intervals": intervals,
                "p_watched": watched,
                "p_position": position,
                "p_studied_at": studied_at,
                "p_completed_at": completed_at,
                "p_presence_token": token,
                "p_presence_issued_at": issued_at,
            },
        )
    if credited > 0:
        writes.add_seconds(user_id, found.lesson_id, day, source, credited)
        if signals.is_night(now):
            writes.add_signals(user_id, day, now, night=credited)
    elif verdict.refused and reason in signals.SUSPICIOUS_REASONS:
        writes.add_signals(user_id, day, now, refused=1)
    return BeatResult(
        credited=credited,
        reason=reason,
        watched_seconds=watched,
        duration_seconds=duration,
        completed=completed_at is not None,
        position_seconds=position,
        presence=check,
    )


def _judge_reading(beat: Heartbeat, watched: float, duration: float, allowed: float) -> rules.SegmentVerdict:
    """An article's beat as a segment of its reading clock, which runs from what was credited so far.

    At most what the credit budget allows (the wall-clock time that passed, plus
    the session's slack) is credited, and never beyond the article's set reading minutes.
    """
    seconds = beat.reading_seconds
    if not _finite(seconds) or seconds <= 0:
        return rules.SegmentVerdict(0.0, 0.0, "invalid_segment", True)
    if not beat.visible:
        return rules.SegmentVerdict(0.0, 0.0, "page_hidden", True)
    start = float(watched or 0)
    if start >= duration:
        return rules.SegmentVerdict(0.0, 0.0, "reading_complete", True)
    allowed = round(max(allowed, 0.0), 3)
    if allowed <= 0:
        return rules.SegmentVerdict(0.0, 0.0, "faster_than_plausible", True)
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
    idle = body.get("idle", False)
    if not isinstance(visible, bool) or not isinstance(idle, bool):
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
            idle_seconds=number("idle_seconds"),
            idle=idle,
        )
    except ValueError:
        return None
