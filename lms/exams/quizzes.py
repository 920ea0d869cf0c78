"""Quizzes: setup, draw rules, overrides, attempts with server-owned timing, finalizing, kept grades.

Timing (DESIGN.md §4): an attempt's ``deadline = min(started_at + time limit,
close)`` (the member's override replaces either), computed when it starts and
again whenever the quiz or the member's override changes. A save is accepted
until ``deadline + QUIZ_GRACE_SECONDS`` (for answers in flight at the deadline);
after that it is refused. What happens to an attempt still open then depends on
the quiz's ``overdue_handling``: ``auto_submit`` grades it with what was saved;
``grace_period`` lets the member submit (not change) it until ``deadline +
grace_period_seconds`` and otherwise abandons it; ``not_counted`` abandons it.
Abandoned attempts use up an attempt but are never graded or counted.
``finalize_after`` on the attempt is the moment it is overdue; the scheduler job
(``finalize_overdue``) or the next request that touches the attempt closes it.

Every function takes ``now``, flushes and never commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from lms.auth.audience import audience_includes
from lms.auth.models import User
from lms.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from lms.exams import grading
from lms.exams.models import (
    AttemptQuestion,
    AttemptState,
    FinishReason,
    KeptGrade,
    OverdueHandling,
    Question,
    QuestionBank,
    QuestionSnapshot,
    QuestionType,
    Quiz,
    QuizAttempt,
    QuizDrawRule,
    QuizKind,
    QuizOverride,
    QuizQuestion,
    ReviewPolicy,
)
from lms.extensions import db

log = logging.getLogger(__name__)

# Time between two saves longer than this is not counted as time spent on a question
# (the member left the page, or the phone slept).
MAX_SECONDS_PER_SAVE = 600
MAX_BLANK_CHARS = 500
MAX_SEQ = 2**53


# --- Settings ---------------------------------------------------------------------------


@dataclass
class QuizSettings:
    """Everything an admin sets on a quiz's settings page (times are aware UTC)."""

    title: str
    description: str = ""
    is_practice: bool = False
    time_limit_seconds: int | None = None
    open_at: datetime | None = None
    close_at: datetime | None = None
    attempts_allowed: int = 1
    pass_percent: float = 60.0
    kept_grade: KeptGrade = KeptGrade.HIGHEST
    shuffle_questions: bool = False
    shuffle_options: bool = False
    partial_credit: bool = False
    review_policy: ReviewPolicy = ReviewPolicy.AFTER_SUBMIT
    wait_seconds: int = 0
    overdue_handling: OverdueHandling = OverdueHandling.AUTO_SUBMIT
    grace_period_seconds: int = 0
    audience_statuses: Sequence[str] = ()
    audience_roles: Sequence[str] = ()
    audience_branch_ids: Sequence[int] = ()


def clean_settings(settings: QuizSettings) -> QuizSettings:
    """Check the settings' rules; raise ValidationFailed naming the field at fault."""
    settings.title = (settings.title or "").strip()
    settings.description = (settings.description or "").strip()
    if not settings.title:
        raise ValidationFailed(_l("A quiz needs a title."), "title")
    if len(settings.title) > 200:
        raise ValidationFailed(_l("The title is longer than 200 characters."), "title")
    if settings.open_at and settings.close_at and settings.close_at <= settings.open_at:
        raise ValidationFailed(_l("The quiz must close after it opens."), "close_at")
    if settings.time_limit_seconds is not None and settings.time_limit_seconds <= 0:
        raise ValidationFailed(_l("The time limit must be at least one minute."), "time_limit_minutes")
    if settings.attempts_allowed < 0:
        raise ValidationFailed(_l("Attempts allowed cannot be negative."), "attempts_allowed")
    if not 0 <= settings.pass_percent <= 100:
        raise ValidationFailed(_l("The pass score is a percentage between 0 and 100."), "pass_percent")
    if settings.wait_seconds < 0:
        raise ValidationFailed(_l("The wait between attempts cannot be negative."), "wait_minutes")
    if settings.overdue_handling == OverdueHandling.GRACE_PERIOD and settings.grace_period_seconds <= 0:
        raise ValidationFailed(_l("Set how long the grace period lasts."), "grace_period_minutes")
    if settings.review_policy == ReviewPolicy.AFTER_CLOSE and settings.close_at is None:
        raise ValidationFailed(_l("Showing answers after the quiz closes needs a close date."), "close_at")
    if settings.is_practice:
        settings.time_limit_seconds = None
        settings.attempts_allowed = 0
        settings.wait_seconds = 0
    return settings


def _apply_settings(quiz: Quiz, settings: QuizSettings) -> None:
    for name in (
        "title",
        "description",
        "is_practice",
        "time_limit_seconds",
        "open_at",
        "close_at",
        "attempts_allowed",
        "pass_percent",
        "kept_grade",
        "shuffle_questions",
        "shuffle_options",
        "partial_credit",
        "review_policy",
        "wait_seconds",
        "overdue_handling",
        "grace_period_seconds",
    ):
        setattr(quiz, name, getattr(settings, name))
    quiz.set_audience(settings.audience_statuses, settings.audience_roles, settings.audience_branch_ids)


def create_quiz(settings: QuizSettings, *, created_by: User | None, now: datetime) -> Quiz:
    """Create an unpublished quiz; raises ValidationFailed for broken settings."""
    quiz = Quiz(created_by_id=created_by.id if created_by else None, created_at=now, updated_at=now)
    _apply_settings(quiz, clean_settings(settings))
    db.session.add(quiz)
    db.session.flush()
    log.info("quiz %s created", quiz.id)
    return quiz


def update_quiz(quiz: Quiz, settings: QuizSettings, *, now: datetime) -> Quiz:
    """Change a quiz's settings; open attempts get their deadlines recomputed (a closing
    quiz cuts them, a longer limit extends them)."""
    _apply_settings(quiz, clean_settings(settings))
    db.session.flush()
    refresh_open_deadlines(quiz, now=now)
    return quiz


def settings_of(quiz: Quiz) -> QuizSettings:
    """The quiz's current settings, to prefill a form or copy a quiz."""
    return QuizSettings(
        title=quiz.title,
        description=quiz.description,
        is_practice=quiz.is_practice,
        time_limit_seconds=quiz.time_limit_seconds,
        open_at=quiz.open_at,
        close_at=quiz.close_at,
        attempts_allowed=quiz.attempts_allowed,
        pass_percent=quiz.pass_percent,
        kept_grade=quiz.kept_grade,
        shuffle_questions=quiz.shuffle_questions,
        shuffle_options=quiz.shuffle_options,
        partial_credit=quiz.partial_credit,
        review_policy=quiz.review_policy,
        wait_seconds=quiz.wait_seconds,
        overdue_handling=quiz.overdue_handling,
        grace_period_seconds=quiz.grace_period_seconds,
        audience_statuses=list(quiz.audience_statuses or []),
        audience_roles=list(quiz.audience_roles or []),
        audience_branch_ids=list(quiz.audience_branch_ids or []),
    )


def attempt_count(quiz: Quiz) -> int:
    """How many attempts (of anyone) the quiz has."""
    return db.session.scalar(sa.select(sa.func.count(QuizAttempt.id)).where(QuizAttempt.quiz_id == quiz.id)) or 0


def delete_quiz(quiz: Quiz) -> None:
    """Delete a quiz nobody has attempted; a quiz with attempts is unpublished instead."""
    if attempt_count(quiz):
        raise InvalidState(_l("This quiz has attempts and cannot be deleted; unpublish it instead."))
    db.session.delete(quiz)
    db.session.flush()


def publish_quiz(quiz: Quiz, *, now: datetime) -> None:
    """Make the quiz visible to its audience; it must be able to build an attempt."""
    problems = setup_problems(quiz)
    if problems:
        raise InvalidState(problems[0])
    quiz.is_published = True
    db.session.flush()


def unpublish_quiz(quiz: Quiz) -> None:
    """Hide the quiz from members; attempts in progress may still be finished."""
    quiz.is_published = False
    db.session.flush()


# --- Questions: fixed picks and draw rules ------------------------------------------------


def _next_position(items: Iterable) -> int:
    return max((item.position for item in items), default=0) + 1


def add_fixed_questions(quiz: Quiz, question_ids: Iterable[int]) -> int:
    """Add questions to every attempt of the quiz (already added ones are skipped); returns how many."""
    wanted = {int(i) for i in question_ids}
    present = {qq.question_id for qq in quiz.fixed_questions}
    found = db.session.scalars(sa.select(Question.id).where(Question.id.in_(wanted - present)).order_by(Question.id))
    position = _next_position(quiz.fixed_questions)
    added = 0
    for question_id in found:
        quiz.fixed_questions.append(QuizQuestion(question_id=question_id, position=position))
        position += 1
        added += 1
    db.session.flush()
    return added


def remove_fixed_question(quiz: Quiz, quiz_question_id: int) -> None:
    """Take a fixed question out of the quiz (taken attempts keep it)."""
    item = next((qq for qq in quiz.fixed_questions if qq.id == quiz_question_id), None)
    if item is None:
        raise NotFound(_l("That question is not part of this quiz."))
    quiz.fixed_questions.remove(item)
    db.session.flush()


def set_fixed_points(quiz: Quiz, quiz_question_id: int, points: float | None) -> None:
    """Give a fixed question its own points in this quiz (None: the question's points)."""
    item = next((qq for qq in quiz.fixed_questions if qq.id == quiz_question_id), None)
    if item is None:
        raise NotFound(_l("That question is not part of this quiz."))
    if points is not None and not 0 < points <= 1000:
        raise ValidationFailed(_l("Points must be more than 0 and at most 1000."), "points")
    item.points = points
    db.session.flush()


def move_fixed_question(quiz: Quiz, quiz_question_id: int, step: int) -> None:
    """Move a fixed question one place up (-1) or down (+1)."""
    items = list(quiz.fixed_questions)
    index = next((i for i, qq in enumerate(items) if qq.id == quiz_question_id), None)
    if index is None:
        raise NotFound(_l("That question is not part of this quiz."))
    other = index + (1 if step > 0 else -1)
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
        for position, item in enumerate(items, start=1):
            item.position = position
    db.session.flush()


def _rule_candidates(
    bank_id: int | None, question_type: QuestionType | None, tag: str, difficulty: int | None = None
) -> list[int]:
    """Enabled question ids a rule may draw from (one indexed query)."""
    from lms.exams.banks import tag_clause

    query = sa.select(Question.id).where(Question.is_disabled.is_(False))
    if bank_id:
        query = query.where(Question.bank_id == bank_id)
    if question_type:
        query = query.where(Question.type == question_type)
    if tag:
        query = query.where(tag_clause(tag))
    if difficulty:
        query = query.where(Question.difficulty == difficulty)
    return list(db.session.scalars(query.order_by(Question.id)))


def available_for_rule(rule: QuizDrawRule) -> int:
    """How many enabled questions match the rule now."""
    return len(_rule_candidates(rule.bank_id, rule.question_type, rule.tag, rule.difficulty))


def add_draw_rule(
    quiz: Quiz,
    *,
    bank_id: int | None,
    question_type: QuestionType | None,
    tag: str,
    count: int,
    points: float,
    difficulty: int | None = None,
) -> QuizDrawRule:
    """Add "draw ``count`` questions of ``question_type`` (and ``difficulty``, 1-5) from bank/tag
    at ``points`` each".

    A rule needs a bank or a tag, and at least ``count`` matching enabled questions.
    """
    tag = (tag or "").strip()
    if not bank_id and not tag:
        raise ValidationFailed(_l("Choose a question bank or a knowledge point to draw from."), "bank_id")
    if bank_id and db.session.get(QuestionBank, bank_id) is None:
        raise ValidationFailed(_l("That question bank does not exist."), "bank_id")
    if not 1 <= count <= 500:
        raise ValidationFailed(_l("Draw between 1 and 500 questions."), "count")
    if not 0 < points <= 1000:
        raise ValidationFailed(_l("Points must be more than 0 and at most 1000."), "points")
    if difficulty is not None and not 1 <= difficulty <= 5:
        raise ValidationFailed(_l("Difficulty is a level from 1 to 5."), "difficulty")
    available = len(_rule_candidates(bank_id, question_type, tag, difficulty))
    if available < count:
        raise ValidationFailed(
            _l(
                "Only %(available)d enabled questions match this rule; it cannot draw %(count)d.",
                available=available,
                count=count,
            ),
            "count",
        )
    rule = QuizDrawRule(
        bank_id=bank_id or None,
        question_type=question_type or None,
        tag=tag,
        difficulty=difficulty or None,
        count=count,
        points=points,
        position=_next_position(quiz.draw_rules),
    )
    quiz.draw_rules.append(rule)
    db.session.flush()
    return rule


def remove_draw_rule(quiz: Quiz, rule_id: int) -> None:
    """Delete a draw rule of the quiz."""
    rule = next((r for r in quiz.draw_rules if r.id == rule_id), None)
    if rule is None:
        raise NotFound(_l("That draw rule is not part of this quiz."))
    quiz.draw_rules.remove(rule)
    db.session.flush()


def setup_problems(quiz: Quiz) -> list[str]:
    """What keeps the quiz from building an attempt now (empty when it can)."""
    problems: list[str] = []
    enabled_fixed = [qq for qq in quiz.fixed_questions if not qq.question.is_disabled]
    if not enabled_fixed and not quiz.draw_rules:
        problems.append(str(_l("Add questions or a draw rule before publishing.")))
    for rule in quiz.draw_rules:
        available = available_for_rule(rule)
        if available < rule.count:
            problems.append(
                str(
                    _l(
                        "A draw rule needs %(count)d questions but only %(available)d match.",
                        count=rule.count,
                        available=available,
                    )
                )
            )
    return problems


def total_points(quiz: Quiz) -> float:
    """The points an attempt is out of (fixed enabled questions plus each rule's draws)."""
    fixed = sum(
        qq.points if qq.points is not None else qq.question.points
        for qq in quiz.fixed_questions
        if not qq.question.is_disabled
    )
    return round(fixed + sum(rule.count * rule.points for rule in quiz.draw_rules), 4)


def question_count(quiz: Quiz) -> int:
    """How many questions an attempt has."""
    fixed = sum(1 for qq in quiz.fixed_questions if not qq.question.is_disabled)
    return fixed + sum(rule.count for rule in quiz.draw_rules)


# --- Overrides ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveSettings:
    """A quiz's timing and attempt rules for one member, overrides applied."""

    time_limit_seconds: int | None
    attempts_allowed: int  # 0: unlimited
    open_at: datetime | None
    close_at: datetime | None
    has_override: bool = False


def effective_settings(quiz: Quiz, user_id: int, override: QuizOverride | None = None) -> EffectiveSettings:
    """The quiz's rules for ``user_id``: the override's values where it sets them."""
    if override is None:
        override = db.session.scalar(
            sa.select(QuizOverride).where(QuizOverride.quiz_id == quiz.id, QuizOverride.user_id == user_id)
        )
    time_limit = quiz.time_limit_seconds
    attempts = quiz.attempts_allowed
    open_at, close_at = quiz.open_at, quiz.close_at
    if override is not None:
        time_limit = override.time_limit_seconds or time_limit
        attempts = override.attempts_allowed if override.attempts_allowed is not None else attempts
        open_at = override.open_at or open_at
        close_at = override.close_at or close_at
    if quiz.is_practice:
        time_limit, attempts = None, 0
    return EffectiveSettings(time_limit or None, attempts, open_at, close_at, override is not None)


def set_override(
    quiz: Quiz,
    member: User,
    *,
    time_limit_seconds: int | None,
    attempts_allowed: int | None,
    open_at: datetime | None,
    close_at: datetime | None,
    note: str = "",
    now: datetime,
) -> QuizOverride:
    """Give ``member`` their own time limit, attempts or dates (accommodations); the open
    attempt's deadline follows at once."""
    if time_limit_seconds is None and attempts_allowed is None and open_at is None and close_at is None:
        raise ValidationFailed(_l("An override must change at least one setting."), "time_limit_minutes")
    if time_limit_seconds is not None and time_limit_seconds <= 0:
        raise ValidationFailed(_l("The time limit must be at least one minute."), "time_limit_minutes")
    if attempts_allowed is not None and attempts_allowed < 0:
        raise ValidationFailed(_l("Attempts allowed cannot be negative."), "attempts_allowed")
    effective_open = open_at or quiz.open_at
    effective_close = close_at or quiz.close_at
    if effective_open and effective_close and effective_close <= effective_open:
        raise ValidationFailed(_l("The quiz must close after it opens."), "close_at")
    override = db.session.scalar(
        sa.select(QuizOverride).where(QuizOverride.quiz_id == quiz.id, QuizOverride.user_id == member.id)
    )
    if override is None:
        override = QuizOverride(quiz_id=quiz.id, user_id=member.id)
        db.session.add(override)
    override.time_limit_seconds = time_limit_seconds
    override.attempts_allowed = attempts_allowed
    override.open_at = open_at
    override.close_at = close_at
    override.note = (note or "").strip()[:200]
    db.session.flush()
    refresh_open_deadlines(quiz, now=now, user_id=member.id)
    return override


def delete_override(quiz: Quiz, override_id: int, *, now: datetime) -> None:
    """Remove a member's override; their open attempt falls back to the quiz's timing."""
    override = db.session.scalar(
        sa.select(QuizOverride).where(QuizOverride.id == override_id, QuizOverride.quiz_id == quiz.id)
    )
    if override is None:
        raise NotFound(_l("That override does not exist."))
    user_id = override.user_id
    db.session.delete(override)
    db.session.flush()
    refresh_open_deadlines(quiz, now=now, user_id=user_id)


# --- Timing ---------------------------------------------------------------------------------


def network_grace() -> timedelta:
    """How long after the deadline a save in flight is still accepted (LMS_QUIZ_GRACE_SECONDS)."""
    return timedelta(seconds=current_app.config["QUIZ_GRACE_SECONDS"])


def compute_deadline(started_at: datetime, settings: EffectiveSettings) -> datetime | None:
    """``min(started_at + time limit, close)``; None when neither is set."""
    candidates = []
    if settings.time_limit_seconds:
        candidates.append(started_at + timedelta(seconds=settings.time_limit_seconds))
    if settings.close_at:
        candidates.append(settings.close_at)
    return min(candidates) if candidates else None


def compute_finalize_after(quiz: Quiz, deadline: datetime | None) -> datetime | None:
    """When an attempt with ``deadline`` becomes overdue (see the module docstring)."""
    if deadline is None:
        return None
    grace = network_grace()
    if quiz.overdue_handling == OverdueHandling.GRACE_PERIOD:
        grace = max(grace, timedelta(seconds=quiz.grace_period_seconds))
    return deadline + grace


def refresh_open_deadlines(quiz: Quiz, *, now: datetime, user_id: int | None = None) -> int:
    """Recompute the deadline of the quiz's open attempts (of one member, or all); returns how many."""
    query = sa.select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.state == AttemptState.IN_PROGRESS)
    if user_id is not None:
        query = query.where(QuizAttempt.user_id == user_id)
    attempts = list(db.session.scalars(query))
    if not attempts:
        return 0
    overrides = {
        o.user_id: o
        for o in db.session.scalars(
            sa.select(QuizOverride).where(
                QuizOverride.quiz_id == quiz.id, QuizOverride.user_id.in_({a.user_id for a in attempts})
            )
        )
    }
    for attempt in attempts:
        settings = effective_settings(quiz, attempt.user_id, overrides.get(attempt.user_id))
        if attempt.is_practice and not quiz.is_practice:
            settings = EffectiveSettings(None, 0, settings.open_at, settings.close_at)
        attempt.deadline = compute_deadline(attempt.started_at, settings)
        attempt.finalize_after = compute_finalize_after(quiz, attempt.deadline)
    db.session.flush()
    log.info("quiz %s: deadlines of %d open attempts recomputed", quiz.id, len(attempts))
    return len(attempts)


def remaining_seconds(attempt: QuizAttempt, now: datetime) -> int | None:
    """Whole seconds until the deadline (never negative); None when untimed."""
    if attempt.deadline is None:
        return None
    return max(int((attempt.deadline - now).total_seconds()), 0)


def accepts_saves(attempt: QuizAttempt, now: datetime) -> bool:
    """True while answers may still change: in progress and not past deadline + network grace."""
    if attempt.state != AttemptState.IN_PROGRESS:
        return False
    return attempt.deadline is None or now <= attempt.deadline + network_grace()


def is_overdue(attempt: QuizAttempt, now: datetime) -> bool:
    """True when an open attempt is past the moment it must be closed."""
    return (
        attempt.state == AttemptState.IN_PROGRESS
        and attempt.finalize_after is not None
        and (now > attempt.finalize_after)
    )


# --- Who may take what ----------------------------------------------------------------------


def may_see(quiz: Quiz, user: User) -> bool:
    """Published quizzes of the member's audience (or with an override for them)."""
    if quiz.kind != QuizKind.QUIZ or not quiz.is_published:
        return False
    if audience_includes(quiz, user):
        return True
    return (
        db.session.scalar(
            sa.select(QuizOverride.id).where(QuizOverride.quiz_id == quiz.id, QuizOverride.user_id == user.id)
        )
        is not None
    )


def visible_quizzes(user: User) -> list[Quiz]:
    """The published quizzes ``user`` may see, newest window first."""
    quizzes = db.session.scalars(
        sa.select(Quiz)
        .where(Quiz.kind == QuizKind.QUIZ, Quiz.is_published.is_(True))
        .order_by(Quiz.close_at.is_(None), Quiz.close_at, Quiz.id.desc())
    ).all()
    with_override = set(db.session.scalars(sa.select(QuizOverride.quiz_id).where(QuizOverride.user_id == user.id)))
    return [quiz for quiz in quizzes if quiz.id in with_override or audience_includes(quiz, user)]


class Availability:
    """Why a member can or cannot start an attempt now (values are used in templates)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"
    NO_ATTEMPTS_LEFT = "no_attempts_left"
    WAIT = "wait"


@dataclass
class QuizStatus:
    """One member's standing on one quiz: can they start, what did they score."""

    quiz: Quiz
    settings: EffectiveSettings
    availability: str
    open_attempt: QuizAttempt | None = None
    attempts_used: int = 0
    next_start_at: datetime | None = None
    kept_percent: float | None = None
    passed: bool | None = None
    attempts: list[QuizAttempt] = field(default_factory=list)

    @property
    def attempts_left(self) -> int | None:
        if self.settings.attempts_allowed == 0:
            return None
        return max(self.settings.attempts_allowed - self.attempts_used, 0)

    @property
    def deadline(self) -> datetime | None:
        if self.open_attempt is not None:
            return self.open_attempt.deadline
        return self.settings.close_at


def _availability(
    quiz: Quiz, settings: EffectiveSettings, attempts: list[QuizAttempt], now: datetime
) -> tuple[str, QuizAttempt | None, int, datetime | None]:
    open_attempt = next((a for a in attempts if a.state == AttemptState.IN_PROGRESS), None)
    used = len(attempts)
    if open_attempt is not None:
        return Availability.IN_PROGRESS, open_attempt, used, None
    if settings.open_at and now < settings.open_at:
        return Availability.NOT_YET_OPEN, None, used, settings.open_at
    if settings.close_at and now >= settings.close_at:
        return Availability.CLOSED, None, used, None
    if settings.attempts_allowed and used >= settings.attempts_allowed:
        return Availability.NO_ATTEMPTS_LEFT, None, used, None
    if quiz.wait_seconds and attempts:
        last_end = max((a.finished_at for a in attempts if a.finished_at), default=None)
        if last_end is not None and now < last_end + timedelta(seconds=quiz.wait_seconds):
            return Availability.WAIT, None, used, last_end + timedelta(seconds=quiz.wait_seconds)
    return Availability.OPEN, None, used, None


def quiz_statuses(user: User, quizzes: Sequence[Quiz], now: datetime, *, finalize: bool = True) -> list[QuizStatus]:
    """Each quiz's status for ``user`` in a fixed number of queries.

    With ``finalize`` (pages that commit) the member's overdue attempts are closed
    first; without it (the home panel, which only reads) they show as in progress.
    """
    if not quizzes:
        return []
    ids = [quiz.id for quiz in quizzes]
    attempts = list(
        db.session.scalars(
            sa.select(QuizAttempt)
            .where(QuizAttempt.user_id == user.id, QuizAttempt.quiz_id.in_(ids))
            .order_by(QuizAttempt.number)
        )
    )
    for attempt in attempts:
        if finalize and is_overdue(attempt, now):
            finalize_if_overdue(attempt, now)
    overrides = {
        o.quiz_id: o
        for o in db.session.scalars(
            sa.select(QuizOverride).where(QuizOverride.user_id == user.id, QuizOverride.quiz_id.in_(ids))
        )
    }
    kept = quiz_results(ids, User.id == user.id)
    statuses = []
    for quiz in quizzes:
        settings = effective_settings(quiz, user.id, overrides.get(quiz.id))
        own = [a for a in attempts if a.quiz_id == quiz.id]
        availability, open_attempt, used, next_start = _availability(quiz, settings, own, now)
        percent, passed = kept.get((user.id, quiz.id), (None, None))
        statuses.append(QuizStatus(quiz, settings, availability, open_attempt, used, next_start, percent, passed, own))
    return statuses


def quiz_status(quiz: Quiz, user: User, now: datetime) -> QuizStatus:
    """The status of one quiz for ``user``."""
    return quiz_statuses(user, [quiz], now)[0]


# --- Starting an attempt ----------------------------------------------------------------------


def _content_hash(question: Question) -> str:
    content = {
        "type": str(question.type),
        "stem": question.stem,
        "options": question.options or [],
        "answer": question.answer,
        "explanation": question.explanation or "",
        "tags": question.tags or [],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _existing_snapshots(
    questions: Sequence[Question],
) -> tuple[dict[int, str], dict[tuple[int, str], QuestionSnapshot]]:
    """Each question's content hash, and the snapshots of those contents that exist already."""
    hashes = {question.id: _content_hash(question) for question in questions}
    existing = {
        (snapshot.question_id, snapshot.content_hash): snapshot
        for snapshot in db.session.scalars(
            sa.select(QuestionSnapshot).where(
                QuestionSnapshot.question_id.in_(hashes), QuestionSnapshot.content_hash.in_(set(hashes.values()))
            )
        )
    }
    return hashes, existing


def _snapshots_for(
    questions: Sequence[Question], hashes: dict[int, str], existing: dict[tuple[int, str], QuestionSnapshot]
) -> dict[int, QuestionSnapshot]:
    """The snapshot of each question's current content, created where missing."""
    result = {}
    for question in questions:
        snapshot = existing.get((question.id, hashes[question.id]))
        if snapshot is None:
            snapshot = QuestionSnapshot(
                question_id=question.id,
                question_version=question.version or 1,
                content_hash=hashes[question.id],
                type=question.type,
                stem=question.stem,
                options=list(question.options or []),
                answer=dict(question.answer or {}),
                explanation=question.explanation or "",
                tags=list(question.tags or []),
            )
            db.session.add(snapshot)
        result[question.id] = snapshot
    return result


@dataclass(frozen=True)
class Draw:
    question_id: int
    points: float


def draw_questions(quiz: Quiz, rng: random.Random) -> list[Draw]:
    """Pick an attempt's questions: the enabled fixed ones, then each rule's random draws.

    A question is never drawn twice in one attempt. Raises InvalidState when a
    rule cannot draw enough questions or the quiz has none.
    """
    draws: list[Draw] = []
    used: set[int] = set()
    fixed = db.session.execute(
        sa.select(QuizQuestion.question_id, QuizQuestion.points, Question.points)
        .join(Question, Question.id == QuizQuestion.question_id)
        .where(QuizQuestion.quiz_id == quiz.id, Question.is_disabled.is_(False))
        .order_by(QuizQuestion.position, QuizQuestion.id)
    ).all()
    for question_id, own_points, bank_points in fixed:
        draws.append(Draw(question_id, own_points if own_points is not None else bank_points))
        used.add(question_id)
    for rule in quiz.draw_rules:
        candidates = [
            i for i in _rule_candidates(rule.bank_id, rule.question_type, rule.tag, rule.difficulty) if i not in used
        ]
        if len(candidates) < rule.count:
            log.warning("quiz %s: rule %s cannot draw %d questions", quiz.id, rule.id, rule.count)
            raise InvalidState(
                _l(
                    "This quiz cannot be started now: its question bank has too few questions. "
                    "Please tell the administrator."
                )
            )
        for question_id in rng.sample(candidates, rule.count):
            draws.append(Draw(question_id, rule.points))
            used.add(question_id)
    if not draws:
        raise InvalidState(_l("This quiz has no questions yet."))
    if quiz.shuffle_questions:
        rng.shuffle(draws)
    return draws


def _find_open_attempt(quiz_id: int, user_id: int) -> QuizAttempt | None:
    return db.session.scalar(
        sa.select(QuizAttempt)
        .where(
            QuizAttempt.quiz_id == quiz_id,
            QuizAttempt.user_id == user_id,
            QuizAttempt.state == AttemptState.IN_PROGRESS,
        )
        .execution_options(populate_existing=True)
    )


def _check_may_start(quiz: Quiz, user: User, now: datetime, settings: EffectiveSettings) -> int:
    """Raise why ``user`` may not start a new attempt; return the next attempt number."""
    if quiz.kind == QuizKind.QUIZ and not may_see(quiz, user):
        raise Forbidden(_l("This quiz is not open to you."))
    attempts = list(
        db.session.scalars(sa.select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user.id))
    )
    availability, _, used, next_start = _availability(quiz, settings, attempts, now)
    if availability == Availability.NOT_YET_OPEN:
        raise InvalidState(_l("This quiz opens at %(when)s.", when=format_datetime(settings.open_at, "short")))
    if availability == Availability.CLOSED:
        raise InvalidState(_l("This quiz has closed."))
    if availability == Availability.NO_ATTEMPTS_LEFT:
        raise InvalidState(_l("You have used all %(n)d attempts allowed.", n=settings.attempts_allowed))
    if availability == Availability.WAIT:
        raise InvalidState(
            _l("You can start your next attempt at %(when)s.", when=format_datetime(next_start, "short"))
        )
    return max((a.number for a in attempts), default=0) + 1


def start_attempt(
    quiz: Quiz,
    user: User,
    now: datetime,
    *,
    rng: random.Random | None = None,
    question_ids: Sequence[int] | None = None,
    draws: Sequence[Draw] | None = None,
) -> QuizAttempt:
    """Start an attempt, or return the member's attempt already in progress.

    The attempt freezes its questions (snapshots), their order and each choice
    question's option order. One open attempt per (member, quiz) is enforced by
    the database: when two requests start at once, the loser finds and returns
    the winner's attempt. ``question_ids`` replaces the draw (the wrong-answer
    practice, at the questions' own points); ``draws`` replaces it with questions
    and points chosen by the caller (a contest's one set for everyone). Raises
    Forbidden (not in the audience), InvalidState (closed, not yet open, no
    attempts left, waiting, too few questions).
    """
    existing = _find_open_attempt(quiz.id, user.id)
    if existing is not None:
        if not is_overdue(existing, now):
            return existing
        finalize_if_overdue(existing, now)
    settings = effective_settings(quiz, user.id)
    number = _check_may_start(quiz, user, now, settings)
    rng = rng or random.SystemRandom()
    if draws is not None:
        draws = list(draws)
        if not draws:
            raise InvalidState(_l("This quiz has no questions yet."))
    elif question_ids is None:
        draws = draw_questions(quiz, rng)
    else:
        points = dict(
            db.session.execute(sa.select(Question.id, Question.points).where(Question.id.in_(question_ids))).all()
        )
        draws = [Draw(i, points[i]) for i in question_ids if i in points]
        if not draws:
            raise InvalidState(_l("There are no questions to practise."))
    questions = {
        q.id: q for q in db.session.scalars(sa.select(Question).where(Question.id.in_([d.question_id for d in draws])))
    }
    for retry in range(2):
        # Reads first; the savepoint takes the write lock (on SQLite, the database's) for the inserts only.
        hashes, existing = _existing_snapshots(list(questions.values()))
        try:
            with db.session.begin_nested():
                attempt = _create_attempt(quiz, user, now, number, settings, draws, rng, questions, hashes, existing)
            return attempt
        except sa.exc.IntegrityError:
            # Another request of the same member won the race (open slot or number taken),
            # or another member's start wrote the same snapshot first.
            winner = _find_open_attempt(quiz.id, user.id)
            if winner is not None:
                return winner
            if retry:
                raise
            number = _check_may_start(quiz, user, now, settings)
    raise Conflict(_l("The attempt could not be started; please try again."))  # pragma: no cover


def _create_attempt(
    quiz: Quiz,
    user: User,
    now: datetime,
    number: int,
    settings: EffectiveSettings,
    draws: list[Draw],
    rng: random.Random,
    questions: dict[int, Question],
    hashes: dict[int, str],
    existing: dict[tuple[int, str], QuestionSnapshot],
) -> QuizAttempt:
    snapshots = _snapshots_for(list(questions.values()), hashes, existing)
    deadline = compute_deadline(now, settings)
    attempt = QuizAttempt(
        quiz_id=quiz.id,
        user_id=user.id,
        number=number,
        state=AttemptState.IN_PROGRESS,
        open_slot=1,
        is_practice=quiz.is_practice or quiz.kind == QuizKind.NOTEBOOK,
        started_at=now,
        last_activity_at=now,
        deadline=deadline,
        finalize_after=compute_finalize_after(quiz, deadline),
    )
    max_score = 0.0
    for position, draw in enumerate((d for d in draws if d.question_id in questions), start=1):
        question = questions[draw.question_id]
        order = (
            list(range(len(question.options or [])))
            if question.type in (QuestionType.SINGLE, QuestionType.MULTIPLE)
            else []
        )
        if quiz.shuffle_options:
            rng.shuffle(order)
        attempt.questions.append(
            AttemptQuestion(
                position=position,
                snapshot=snapshots[question.id],
                question_id=question.id,
                points=draw.points,
                option_order=order,
            )
        )
        max_score += draw.points
    attempt.max_score = round(max_score, 4)
    db.session.add(attempt)
    db.session.flush()
    log.info("attempt %s started (quiz %s, user %s, deadline %s)", attempt.id, quiz.id, user.id, deadline)
    return attempt


# --- Saving answers ----------------------------------------------------------------------------


def get_own_attempt(attempt_id: int, user: User, *, lock: bool = False) -> QuizAttempt:
    """The member's own attempt (another member's id looks missing); ``lock`` selects it FOR UPDATE."""
    query = sa.select(QuizAttempt).where(QuizAttempt.id == attempt_id, QuizAttempt.user_id == user.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    attempt = db.session.scalar(query)
    if attempt is None:
        raise NotFound(_l("This attempt does not exist."))
    return attempt


def _lock(attempt: QuizAttempt) -> QuizAttempt:
    return db.session.scalar(
        sa.select(QuizAttempt)
        .where(QuizAttempt.id == attempt.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


_INVALID = _l("This answer does not fit the question.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_response(question_type: QuestionType, option_order: list[int], blanks: int, raw) -> dict | None:
    """Turn a posted answer (choices by shown position) into the stored form (the
    snapshot's own option indices). ``None`` or ``{}`` clears the answer.
    Raises ValidationFailed for anything that does not fit the question."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ValidationFailed(_INVALID)
    if question_type == QuestionType.SINGLE:
        choice = raw.get("choice")
        if not _is_int(choice) or not 0 <= choice < len(option_order):
            raise ValidationFailed(_INVALID)
        return {"choice": option_order[choice]}
    if question_type == QuestionType.MULTIPLE:
        choices = raw.get("choices")
        if not isinstance(choices, list) or len(choices) > len(option_order):
            raise ValidationFailed(_INVALID)
        if any(not _is_int(c) or not 0 <= c < len(option_order) for c in choices) or len(set(choices)) != len(choices):
            raise ValidationFailed(_INVALID)
        return {"choices": sorted(option_order[c] for c in choices)}
    if question_type == QuestionType.TRUE_FALSE:
        value = raw.get("value")
        if not isinstance(value, bool):
            raise ValidationFailed(_INVALID)
        return {"value": value}
    if question_type == QuestionType.FILL:
        texts = raw.get("blanks")
        if not isinstance(texts, list) or len(texts) != blanks or any(not isinstance(t, str) for t in texts):
            raise ValidationFailed(_INVALID)
        if any(len(t) > MAX_BLANK_CHARS for t in texts):
            raise ValidationFailed(_l("An answer is longer than %(n)d characters.", n=MAX_BLANK_CHARS))
        return {"blanks": texts}
    raise ValidationFailed(_INVALID)  # pragma: no cover


def to_shown_order(question_type: QuestionType, option_order: list[int], response: dict | None) -> dict | None:
    """A stored response with choices numbered as the member sees the options."""
    if not response:
        return None
    position = {original: shown for shown, original in enumerate(option_order or [])}
    if question_type == QuestionType.SINGLE and response.get("choice") in position:
        return {"choice": position[response["choice"]]}
    if question_type == QuestionType.MULTIPLE:
        return {"choices": sorted(position[c] for c in response.get("choices", []) if c in position)}
    return dict(response)


def shown_response(question: AttemptQuestion) -> dict | None:
    """The stored response in the order the member sees the options (for the page and JSON)."""
    return to_shown_order(QuestionType(question.snapshot.type), question.option_order or [], question.response)


@dataclass(frozen=True)
class SaveResult:
    applied: bool  # False: an older or replayed save; the newer answer stays
    position: int
    seq: int
    response: dict | None  # the answer now stored, in shown order
    saved_at: datetime | None
    remaining_seconds: int | None
    answered: bool


# The autosave is the hottest write of a quiz: its statements are built once (bound
# parameters), and it runs as Core statements, not ORM loads.
_SAVE_TARGET = (
    sa.select(AttemptQuestion.id, AttemptQuestion.option_order, QuestionSnapshot.type, QuestionSnapshot.answer)
    .join(QuizAttempt, QuizAttempt.id == AttemptQuestion.attempt_id)
    .join(QuestionSnapshot, QuestionSnapshot.id == AttemptQuestion.snapshot_id)
    .where(
        QuizAttempt.id == sa.bindparam("attempt_id"),
        QuizAttempt.user_id == sa.bindparam("user_id"),
        AttemptQuestion.position == sa.bindparam("position"),
    )
)
_SAVE_LOCK = (
    sa.select(QuizAttempt.state, QuizAttempt.deadline, QuizAttempt.last_activity_at)
    .where(QuizAttempt.id == sa.bindparam("attempt_id"))
    .with_for_update()
)
_SAVE_WRITE = (
    sa.update(AttemptQuestion)
    .where(AttemptQuestion.id == sa.bindparam("b_question"), AttemptQuestion.client_seq < sa.bindparam("b_seq"))
    .values(
        response=sa.bindparam("b_response", type_=sa.JSON),
        client_seq=sa.bindparam("b_seq"),
        saved_at=sa.bindparam("b_now", type_=AttemptQuestion.saved_at.type),
        time_spent_seconds=AttemptQuestion.time_spent_seconds + sa.bindparam("b_spent"),
    )
)
_SAVE_TOUCH = (
    sa.update(QuizAttempt)
    .where(QuizAttempt.id == sa.bindparam("b_attempt"))
    .values(last_activity_at=sa.bindparam("b_now", type_=QuizAttempt.last_activity_at.type))
)
_SAVE_STORED = sa.select(AttemptQuestion.client_seq, AttemptQuestion.response, AttemptQuestion.saved_at).where(
    AttemptQuestion.id == sa.bindparam("question_id")
)


def save_answer(attempt_id: int, user: User, position: int, raw, seq: int, now: datetime) -> SaveResult:
    """Store the member's answer to question ``position`` of their attempt.

    ``seq`` is the client's sequence number for that question: a save whose
    seq is not above the stored one changes nothing (replays and saves arriving
    out of order). The time since the attempt's previous save is added to the
    question's time spent (capped). Refused (InvalidState) once the attempt is
    final or after ``deadline + QUIZ_GRACE_SECONDS``; an overdue attempt is then
    closed on the spot. Raises ValidationFailed for an answer that does not fit.
    """
    if not _is_int(seq) or not 0 < seq < MAX_SEQ:
        raise ValidationFailed(_l("The save carries no valid sequence number; reload the page."))
    # What needs no lock comes first (the question's shape is frozen), so the write
    # lock below is held for three short statements only: on SQLite every writer waits for it.
    # Core statements on the session's connection: the ORM's handling of an UPDATE
    # (synchronizing the identity map) costs more than the statement itself here.
    connection = db.session.connection()
    row = connection.execute(_SAVE_TARGET, {"attempt_id": attempt_id, "user_id": user.id, "position": position}).first()
    if row is None:
        get_own_attempt(attempt_id, user)  # another member's attempt looks missing
        raise NotFound(_l("This question is not part of the attempt."))
    question_type = QuestionType(row.type)
    order = row.option_order or []
    response = parse_response(question_type, order, grading.blank_count(row.answer), raw)
    state, deadline, last_activity_at = connection.execute(_SAVE_LOCK, {"attempt_id": attempt_id}).one()
    if state != AttemptState.IN_PROGRESS:
        raise InvalidState(_l("This attempt has been submitted; its answers can no longer change."))
    if deadline is not None and now > deadline + network_grace():
        finalize_if_overdue(get_own_attempt(attempt_id, user), now)
        raise InvalidState(
            _l(
                "Time is up: answers sent after the deadline are not accepted. "
                "Your answers saved before the deadline are kept."
            )
        )
    spent = int(min(max((now - last_activity_at).total_seconds(), 0), MAX_SECONDS_PER_SAVE))
    written = connection.execute(
        _SAVE_WRITE, {"b_question": row.id, "b_seq": seq, "b_response": response, "b_now": now, "b_spent": spent}
    )
    applied = written.rowcount == 1
    if applied:
        connection.execute(_SAVE_TOUCH, {"b_attempt": attempt_id, "b_now": now})
        stored_seq, stored, saved_at = seq, response, now
    else:
        stored_seq, stored, saved_at = connection.execute(_SAVE_STORED, {"question_id": row.id}).one()
    return SaveResult(
        applied=applied,
        position=position,
        seq=stored_seq,
        response=to_shown_order(question_type, order, stored),
        saved_at=saved_at,
        remaining_seconds=None if deadline is None else max(int((deadline - now).total_seconds()), 0),
        answered=grading.is_answered(question_type, stored),
    )


# --- Submitting and finalizing -------------------------------------------------------------------


def submit_attempt(attempt_id: int, user: User, now: datetime) -> QuizAttempt:
    """The member submits their attempt: graded now. Idempotent: submitting a final
    attempt again changes nothing. Past the point where it is overdue, the quiz's
    overdue rule decides instead (graded at the deadline, or not counted)."""
    attempt = get_own_attempt(attempt_id, user)
    if attempt.state != AttemptState.IN_PROGRESS:
        return attempt
    # The quiz and the frozen snapshots are read before the lock, which then covers
    # only the responses and the writes.
    db.session.get(Quiz, attempt.quiz_id)
    snapshots = _attempt_snapshots(attempt.id)
    attempt = get_own_attempt(attempt_id, user, lock=True)
    if attempt.state != AttemptState.IN_PROGRESS:
        return attempt
    if is_overdue(attempt, now):
        return finalize_if_overdue(attempt, now)
    return _finalize_locked(attempt, now, FinishReason.SUBMITTED, snapshots)


def _attempt_snapshots(attempt_id: int) -> dict[int, QuestionSnapshot]:
    return {
        snapshot.id: snapshot
        for snapshot in db.session.scalars(
            sa.select(QuestionSnapshot)
            .join(AttemptQuestion, AttemptQuestion.snapshot_id == QuestionSnapshot.id)
            .where(AttemptQuestion.attempt_id == attempt_id)
        )
    }


def finalize_attempt(attempt: QuizAttempt, now: datetime, reason: FinishReason = FinishReason.TIME_UP) -> QuizAttempt:
    """Close an open attempt now with what was saved (idempotent: a final attempt is returned as is).

    ``reason`` SUBMITTED or TIME_UP grades it; ABANDONED closes it ungraded.
    Used by the overdue job, by contests closing, and by admins.
    """
    locked = _lock(attempt)
    if locked.state != AttemptState.IN_PROGRESS:
        return locked
    return _finalize_locked(locked, now, reason)


def finalize_if_overdue(attempt: QuizAttempt, now: datetime) -> QuizAttempt:
    """Close the attempt if it is overdue, the way its quiz's overdue rule says."""
    locked = _lock(attempt)
    if not is_overdue(locked, now):
        return locked
    quiz = db.session.get(Quiz, locked.quiz_id)
    reason = FinishReason.TIME_UP if quiz.overdue_handling == OverdueHandling.AUTO_SUBMIT else FinishReason.ABANDONED
    return _finalize_locked(locked, now, reason)


def finalize_overdue(now: datetime, limit: int = 500) -> int:
    """Close every overdue open attempt (the scheduler job, every 30 s); returns how many.

    Safe to run twice or in two processes at once: each attempt is locked and
    re-checked before it is closed.
    """
    ids = list(
        db.session.scalars(
            sa.select(QuizAttempt.id)
            .where(QuizAttempt.state == AttemptState.IN_PROGRESS, QuizAttempt.finalize_after < now)
            .order_by(QuizAttempt.finalize_after)
            .limit(limit)
        )
    )
    closed = 0
    for attempt_id in ids:
        attempt = db.session.get(QuizAttempt, attempt_id)
        if attempt is None or attempt.state != AttemptState.IN_PROGRESS:
            continue
        try:
            # One savepoint each: an attempt that cannot be closed must not hold back the others.
            with db.session.begin_nested():
                finalized = finalize_if_overdue(attempt, now)
        except Exception:
            log.exception("attempt %s could not be finalized", attempt_id)
            continue
        closed += finalized.state != AttemptState.IN_PROGRESS
    if closed:
        log.info("%d overdue attempts finalized", closed)
    return closed


_FINALIZE_QUESTIONS = (
    sa.select(
        AttemptQuestion.id,
        AttemptQuestion.snapshot_id,
        AttemptQuestion.question_id,
        AttemptQuestion.response,
        AttemptQuestion.points,
    )
    .where(AttemptQuestion.attempt_id == sa.bindparam("b_attempt"))
    .order_by(AttemptQuestion.position)
)
_FINALIZE_GRADE = (
    sa.update(AttemptQuestion)
    .where(AttemptQuestion.id == sa.bindparam("b_id"))
    .values(score=sa.bindparam("b_score"), outcome=sa.bindparam("b_outcome"))
)


def _expire_loaded(model, matches) -> None:
    """Expire the session's loaded ``model`` objects that ``matches``: a Core UPDATE changed their rows."""
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, model) and matches(loaded):
            db.session.expire(loaded)


def _finalize_locked(
    attempt: QuizAttempt, now: datetime, reason: FinishReason, snapshots: dict[int, QuestionSnapshot] | None = None
) -> QuizAttempt:
    quiz = db.session.get(Quiz, attempt.quiz_id)
    if snapshots is None:
        snapshots = _attempt_snapshots(attempt.id)
    # Core statements while the attempt is locked (on SQLite, while every writer waits):
    # the questions' responses as rows, their grades as one executemany.
    connection = db.session.connection()
    questions = [
        SimpleNamespace(**row._asdict()) for row in connection.execute(_FINALIZE_QUESTIONS, {"b_attempt": attempt.id})
    ]
    end = now
    if reason != FinishReason.SUBMITTED and attempt.deadline is not None:
        end = min(now, attempt.deadline)
    attempt.open_slot = None
    attempt.finished_at = end
    attempt.finish_reason = reason
    limit_end = min(end, attempt.deadline) if attempt.deadline else end
    attempt.time_used_seconds = max(int((limit_end - attempt.started_at).total_seconds()), 0)
    if reason == FinishReason.ABANDONED:
        attempt.state = AttemptState.ABANDONED
        db.session.flush()
        log.info("attempt %s abandoned (not submitted in time)", attempt.id)
        return attempt
    score = 0.0
    for question in questions:
        snapshot = snapshots[question.snapshot_id]
        result = grading.grade(
            snapshot.type,
            snapshot.answer,
            question.response,
            question.points,
            partial_credit=quiz.partial_credit,
        )
        question.score = result.points
        question.outcome = result.outcome
        score += result.points
    if questions:
        connection.execute(
            _FINALIZE_GRADE, [{"b_id": q.id, "b_score": q.score, "b_outcome": q.outcome} for q in questions]
        )
    _expire_loaded(AttemptQuestion, lambda question: question.attempt_id == attempt.id)
    attempt.state = AttemptState.FINISHED
    attempt.score = round(score, 4)
    attempt.score_percent = round(100.0 * score / attempt.max_score, 2) if attempt.max_score else 0.0
    db.session.flush()
    from lms.exams.notebook import record_attempt

    record_attempt(attempt, questions, quiz, now)
    log.info("attempt %s finalized (%s): %.2f%%", attempt.id, reason, attempt.score_percent)
    return attempt


def member_attempts(user: User, *, page: int = 1, per_page: int = 30):
    """The member's attempts, newest first (a Flask-SQLAlchemy pagination of (attempt, quiz))."""
    query = (
        sa.select(QuizAttempt)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(QuizAttempt.user_id == user.id)
        .options(sa.orm.contains_eager(QuizAttempt.quiz))
        .order_by(QuizAttempt.started_at.desc(), QuizAttempt.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


# --- Results ---------------------------------------------------------------------------------------


def passed(percent: float | None, pass_percent: float) -> bool | None:
    """Pass/fail of a score in percent (None when there is no score)."""
    if percent is None:
        return None
    return percent + 1e-9 >= pass_percent


def quiz_results(quiz_ids: Iterable[int], user_clause) -> dict[tuple[int, int], tuple[float, bool]]:
    """Kept score and pass/fail per (user_id, quiz_id), in ONE aggregate query.

    Only finished, non-practice attempts count. The kept score follows each
    quiz's setting: the highest attempt, or the last (highest number).
    ``user_clause`` is a WHERE clause on ``User`` (an audience, a scope, one id).
    Members without a counted attempt are absent from the result.
    """
    quiz_ids = list(quiz_ids)
    if not quiz_ids:
        return {}
    partition = (QuizAttempt.user_id, QuizAttempt.quiz_id)
    ranked = (
        sa.select(
            QuizAttempt.user_id,
            QuizAttempt.quiz_id,
            QuizAttempt.score_percent,
            sa.func.row_number().over(partition_by=partition, order_by=QuizAttempt.number.desc()).label("newest"),
            sa.func.max(QuizAttempt.score_percent).over(partition_by=partition).label("best"),
        )
        .join(User, User.id == QuizAttempt.user_id)
        .where(
            QuizAttempt.quiz_id.in_(quiz_ids),
            QuizAttempt.state == AttemptState.FINISHED,
            QuizAttempt.is_practice.is_(False),
            user_clause,
        )
        .subquery()
    )
    kept = sa.case((Quiz.kept_grade == KeptGrade.LAST, ranked.c.score_percent), else_=ranked.c.best)
    rows = db.session.execute(
        sa.select(ranked.c.user_id, ranked.c.quiz_id, kept, Quiz.pass_percent)
        .join(Quiz, Quiz.id == ranked.c.quiz_id)
        .where(ranked.c.newest == 1)
    )
    return {
        (user_id, quiz_id): (float(percent), bool(passed(float(percent), pass_percent)))
        for user_id, quiz_id, percent, pass_percent in rows
    }


def closed_for_everyone(quiz: Quiz, now: datetime) -> bool:
    """True once the quiz's close date and every member's later override close have passed."""
    if quiz.close_at is None:
        return False
    latest = db.session.scalar(sa.select(sa.func.max(QuizOverride.close_at)).where(QuizOverride.quiz_id == quiz.id))
    closes = [quiz.close_at] + ([latest] if latest else [])
    return now >= max(closes)


def review_shows_answers(attempt: QuizAttempt, quiz: Quiz, now: datetime) -> bool:
    """May the member see correct answers and explanations of this attempt now (review policy)?"""
    if attempt.state != AttemptState.FINISHED:
        return False
    if quiz.review_policy == ReviewPolicy.AFTER_SUBMIT:
        return True
    if quiz.review_policy == ReviewPolicy.AFTER_CLOSE:
        return closed_for_everyone(quiz, now)
    return False


def answers_open_at(quiz: Quiz) -> datetime | None:
    """When answers of an AFTER_CLOSE quiz become visible (for the message on the result page)."""
    if quiz.review_policy != ReviewPolicy.AFTER_CLOSE or quiz.close_at is None:
        return None
    latest = db.session.scalar(sa.select(sa.func.max(QuizOverride.close_at)).where(QuizOverride.quiz_id == quiz.id))
    return max([quiz.close_at] + ([latest] if latest else []))
