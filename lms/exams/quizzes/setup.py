"""Quiz setup (DESIGN.md §4): settings, fixed picks and draw rules, per-member overrides, publishing.

Every function takes ``now`` where time matters, flushes and never commits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import InvalidState, NotFound, ValidationFailed
from lms.exams.questions.models import Question, QuestionBank, QuestionType
from lms.exams.quizzes.models import (
    KeptGrade,
    OverdueHandling,
    Quiz,
    QuizAttempt,
    QuizDrawRule,
    QuizOverride,
    QuizQuestion,
    ReviewPolicy,
)
from lms.exams.quizzes.timing import refresh_open_deadlines
from lms.extensions import db

log = logging.getLogger(__name__)


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
    from lms.exams.questions.banks import tag_clause

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
