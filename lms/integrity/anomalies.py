"""Anomalies in study records (反刷课), per member and day, with the reason and its figures.

Each signal is one aggregate query over the viewer's scope
(``member_scope_clause``) and a date range of local days:

- more online study in a day than plausible (``ANOMALY_MAX_DAILY_HOURS`` clock hours),
- study credited in the night hours (``ANOMALY_NIGHT_HOURS``, at least ``ANOMALY_NIGHT_MINUTES``),
- a high share of refused heartbeats (``ANOMALY_REFUSED_SHARE``, from ``ANOMALY_MIN_REFUSED_BEATS``),
- beats from several sessions at once (``ANOMALY_PARALLEL_BEATS``),
- quizzes finished faster than their questions can be read
  (less than ``ANOMALY_SECONDS_PER_QUESTION`` per question).

A signal is a reason to look, not a verdict: the page says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.models import Branch, User
from lms.auth.permissions import member_scope_clause
from lms.courses.models import StudyDaySignal, StudyLedgerEntry, StudySource
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, Quiz, QuizAttempt
from lms.extensions import db

ONLINE_SOURCES = (StudySource.VIDEO, StudySource.READING)
MAX_ROWS = 2000


class AnomalyKind(enum.StrEnum):
    DAILY_HOURS = "daily_hours"
    NIGHT = "night"
    REFUSED_SHARE = "refused_share"
    PARALLEL = "parallel"
    FAST_QUIZ = "fast_quiz"

    @property
    def label(self) -> str:
        return str(ANOMALY_KIND_LABELS[self])


ANOMALY_KIND_LABELS = {
    AnomalyKind.DAILY_HOURS: _l("Too many hours in a day"),
    AnomalyKind.NIGHT: _l("Study at night"),
    AnomalyKind.REFUSED_SHARE: _l("Many refused progress reports"),
    AnomalyKind.PARALLEL: _l("Several sessions at once"),
    AnomalyKind.FAST_QUIZ: _l("Quiz answered too fast"),
}


@dataclass(frozen=True)
class Anomaly:
    user_id: int
    member_name: str
    branch_id: int | None
    branch_name: str
    day: date
    kind: AnomalyKind
    reason: str


@dataclass(frozen=True)
class Thresholds:
    max_daily_hours: float
    night_minutes: float
    refused_share: float
    min_refused_beats: int
    parallel_beats: int
    seconds_per_question: float
    heartbeat_seconds: float

    @classmethod
    def from_config(cls) -> Thresholds:
        config = current_app.config
        return cls(
            max_daily_hours=float(config["ANOMALY_MAX_DAILY_HOURS"]),
            night_minutes=float(config["ANOMALY_NIGHT_MINUTES"]),
            refused_share=float(config["ANOMALY_REFUSED_SHARE"]),
            min_refused_beats=int(config["ANOMALY_MIN_REFUSED_BEATS"]),
            parallel_beats=int(config["ANOMALY_PARALLEL_BEATS"]),
            seconds_per_question=float(config["ANOMALY_SECONDS_PER_QUESTION"]),
            heartbeat_seconds=float(config["HEARTBEAT_SECONDS"]),
        )


def _online_by_day(viewer: User, start_day: date, end_day: date):
    """Online seconds per (member, day) in the viewer's scope: a subquery."""
    return (
        sa.select(
            StudyLedgerEntry.user_id,
            StudyLedgerEntry.day,
            sa.func.sum(StudyLedgerEntry.seconds).label("seconds"),
        )
        .where(
            member_scope_clause(viewer, StudyLedgerEntry.user_id),
            StudyLedgerEntry.day.between(start_day, end_day),
            StudyLedgerEntry.source.in_(ONLINE_SOURCES),
        )
        .group_by(StudyLedgerEntry.user_id, StudyLedgerEntry.day)
        .subquery()
    )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}"


def daily_hours_findings(viewer, start_day, end_day, limits: Thresholds) -> list[tuple[int, date, AnomalyKind, str]]:
    """Days with more online study than ``max_daily_hours`` clock hours."""
    online = _online_by_day(viewer, start_day, end_day)
    rows = db.session.execute(
        sa.select(online.c.user_id, online.c.day, online.c.seconds)
        .where(online.c.seconds > limits.max_daily_hours * 3600)
        .limit(MAX_ROWS)
    )
    return [
        (user_id, day, AnomalyKind.DAILY_HOURS,
         str(_l("%(hours)s hours of online study in one day (more than %(limit)s is implausible).",
                hours=_hours(seconds), limit=format(limits.max_daily_hours, "g"))))
        for user_id, day, seconds in rows
    ]  # fmt: skip


def signal_findings(viewer, start_day, end_day, limits: Thresholds) -> list[tuple[int, date, AnomalyKind, str]]:
    """Night study, refused beats and parallel sessions, from the per-day counters (one query)."""
    online = _online_by_day(viewer, start_day, end_day)
    rows = db.session.execute(
        sa.select(
            StudyDaySignal.user_id,
            StudyDaySignal.day,
            StudyDaySignal.refused_beats,
            StudyDaySignal.parallel_beats,
            StudyDaySignal.night_seconds,
            sa.func.coalesce(online.c.seconds, 0.0),
        )
        .outerjoin(online, sa.and_(online.c.user_id == StudyDaySignal.user_id, online.c.day == StudyDaySignal.day))
        .where(
            member_scope_clause(viewer, StudyDaySignal.user_id),
            StudyDaySignal.day.between(start_day, end_day),
            sa.or_(
                StudyDaySignal.night_seconds >= limits.night_minutes * 60,
                StudyDaySignal.parallel_beats >= limits.parallel_beats,
                StudyDaySignal.refused_beats >= limits.min_refused_beats,
            ),
        )
        .limit(MAX_ROWS)
    )
    start_hour, end_hour = current_app.config["ANOMALY_NIGHT_HOURS"]
    findings = []
    for user_id, day, refused, parallel, night, online_seconds in rows:
        if night >= limits.night_minutes * 60:
            findings.append((user_id, day, AnomalyKind.NIGHT, str(_l(
                "%(minutes)d minutes of study credited between %(start)02d:00 and %(end)02d:00.",
                minutes=round(night / 60), start=int(start_hour), end=int(end_hour)))))  # fmt: skip
        if parallel >= limits.parallel_beats:
            findings.append((user_id, day, AnomalyKind.PARALLEL, str(_l(
                "%(n)d progress reports from another window or device while one was already playing.",
                n=parallel))))  # fmt: skip
        # Accepted beats are estimated from the credited time (one beat per heartbeat interval),
        # so ordinary daytime beats need no counter of their own.
        accepted = online_seconds / limits.heartbeat_seconds
        share = refused / (refused + accepted) if refused else 0.0
        if refused >= limits.min_refused_beats and share >= limits.refused_share:
            findings.append((user_id, day, AnomalyKind.REFUSED_SHARE, str(_l(
                "%(n)d progress reports refused (about %(percent)d%% of all), e.g. faster than real time or idle.",
                n=refused, percent=round(share * 100)))))  # fmt: skip
    return findings


def fast_quiz_findings(viewer, start_day, end_day, limits: Thresholds) -> list[tuple[int, date, AnomalyKind, str]]:
    """Finished quiz attempts that took less than ``seconds_per_question`` per question (read-only)."""
    questions = (
        sa.select(AttemptQuestion.attempt_id, sa.func.count().label("n"))
        .group_by(AttemptQuestion.attempt_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(QuizAttempt.user_id, QuizAttempt.finished_at, QuizAttempt.time_used_seconds, questions.c.n,
                  Quiz.title)  # fmt: skip
        .join(questions, questions.c.attempt_id == QuizAttempt.id)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(
            member_scope_clause(viewer, QuizAttempt.user_id),
            QuizAttempt.state == AttemptState.FINISHED,
            QuizAttempt.is_practice.is_(False),
            QuizAttempt.time_used_seconds.is_not(None),
            QuizAttempt.finished_at >= clock.local_midnight(start_day),
            QuizAttempt.finished_at < clock.local_midnight(end_day + timedelta(days=1)),
            QuizAttempt.time_used_seconds < questions.c.n * limits.seconds_per_question,
        )
        .limit(MAX_ROWS)
    )  # fmt: skip
    return [
        (user_id, clock.local_day(finished_at), AnomalyKind.FAST_QUIZ,
         str(_l("“%(quiz)s”: %(n)d questions answered in %(seconds)d seconds.", quiz=title, n=count,
                seconds=used)))
        for user_id, finished_at, used, count, title in rows
    ]  # fmt: skip


def find_anomalies(viewer: User, start_day: date, end_day: date, *, branch: Branch | None = None) -> list[Anomaly]:
    """Every anomaly of the members in the viewer's scope (and ``branch``'s subtree) in the period.

    Sorted by branch, member and day. The caller checks that ``branch`` is in scope.
    """
    limits = Thresholds.from_config()
    findings = (
        daily_hours_findings(viewer, start_day, end_day, limits)
        + signal_findings(viewer, start_day, end_day, limits)
        + fast_quiz_findings(viewer, start_day, end_day, limits)
    )
    if not findings:
        return []
    members = sa.select(User.id, User.name, User.branch_id, Branch.name, Branch.path).outerjoin(
        Branch, Branch.id == User.branch_id
    ).where(User.id.in_({user_id for user_id, *_ in findings}))  # fmt: skip
    people = {row[0]: row[1:] for row in db.session.execute(members)}
    anomalies = []
    for user_id, day, kind, reason in findings:
        name, branch_id, branch_name, path = people.get(user_id, ("?", None, None, None))
        if branch is not None and not (path or "").startswith(branch.path):
            continue
        anomalies.append(Anomaly(user_id, name, branch_id, branch_name or "—", day, kind, reason))
    anomalies.sort(key=lambda a: (a.branch_name, a.member_name, a.user_id, a.day, a.kind))
    return anomalies
