"""Knowledge contests (知识竞赛, DESIGN.md §5): settings, questions, banner, publishing.

A contest is a quiz of kind CONTEST: its questions, window (``open_at`` / ``close_at``),
audience, time limit and attempts are the quiz's, and members take it with the quizzes'
attempt engine. Every function takes ``now``, flushes and never commits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import InvalidState, NotFound, ValidationFailed
from lms.exams.contests.board import invalidate_board
from lms.exams.contests.models import (
    BoardVisibility,
    Contest,
    DrawMode,
)
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import setup as quiz_setup
from lms.exams.quizzes.models import (
    QuizKind,
    ReviewPolicy,
)
from lms.extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10

MAX_BOARD_SIZE = 200


# --- Settings ---------------------------------------------------------------------------


@dataclass
class ContestSettings:
    """Everything an admin sets on a contest (times are aware UTC)."""

    title: str
    open_at: datetime | None
    close_at: datetime | None
    description: str = ""
    time_limit_seconds: int | None = None  # None: the whole window
    attempts_allowed: int = 1  # 0: unlimited (the best attempt counts)
    draw_mode: DrawMode = DrawMode.SAME
    board_visibility: BoardVisibility = BoardVisibility.LIVE
    freeze_minutes: int = 0
    board_size: int = 20
    certificate_top_n: int = 3
    prizes: str = ""
    shuffle_questions: bool = True
    shuffle_options: bool = True
    partial_credit: bool = False
    answers_after_close: bool = True  # else members only ever see their score
    audience_statuses: Sequence[str] = ()
    audience_roles: Sequence[str] = ()
    audience_branch_ids: Sequence[int] = ()


def clean_settings(settings: ContestSettings) -> ContestSettings:
    """Check a contest's settings; raise ValidationFailed naming the field at fault."""
    settings.title = (settings.title or "").strip()
    settings.description = (settings.description or "").strip()
    settings.prizes = (settings.prizes or "").strip()
    if not settings.title:
        raise ValidationFailed(_l("A contest needs a title."), "title")
    if len(settings.title) > 200:
        raise ValidationFailed(_l("The title is longer than 200 characters."), "title")
    if settings.open_at is None:
        raise ValidationFailed(_l("Set when the contest opens."), "open_at")
    if settings.close_at is None:
        raise ValidationFailed(_l("Set when the contest closes."), "close_at")
    if settings.close_at <= settings.open_at:
        raise ValidationFailed(_l("The contest must close after it opens."), "close_at")
    if settings.time_limit_seconds is not None and settings.time_limit_seconds <= 0:
        raise ValidationFailed(_l("The time limit must be at least one minute."), "time_limit_minutes")
    if not 0 <= settings.attempts_allowed <= MAX_ATTEMPTS:
        raise ValidationFailed(
            _l("Attempts allowed is between 0 (unlimited) and %(n)d.", n=MAX_ATTEMPTS), "attempts_allowed"
        )
    window_minutes = (settings.close_at - settings.open_at).total_seconds() / 60
    if settings.board_visibility == BoardVisibility.FROZEN:
        if settings.freeze_minutes <= 0:
            raise ValidationFailed(
                _l("Set for how many minutes before the close the board is frozen."), "freeze_minutes"
            )
        if settings.freeze_minutes >= window_minutes:
            raise ValidationFailed(
                _l("The board cannot be frozen for longer than the contest lasts."), "freeze_minutes"
            )
    else:
        settings.freeze_minutes = 0
    if not 1 <= settings.board_size <= MAX_BOARD_SIZE:
        raise ValidationFailed(_l("The board shows between 1 and %(n)d rows.", n=MAX_BOARD_SIZE), "board_size")
    if settings.certificate_top_n < 0:
        raise ValidationFailed(_l("The number of prize certificates cannot be negative."), "certificate_top_n")
    if len(settings.prizes) > 5000:
        raise ValidationFailed(_l("The prizes text is longer than 5000 characters."), "prizes")
    return settings


def _quiz_settings(settings: ContestSettings) -> quiz_setup.QuizSettings:
    return quiz_setup.QuizSettings(
        title=settings.title,
        description=settings.description,
        time_limit_seconds=settings.time_limit_seconds,
        open_at=settings.open_at,
        close_at=settings.close_at,
        attempts_allowed=settings.attempts_allowed,
        shuffle_questions=settings.shuffle_questions,
        shuffle_options=settings.shuffle_options,
        partial_credit=settings.partial_credit,
        # A contest's key stays hidden until everyone has finished: a member who
        # submitted early must not be able to pass answers to those still at it.
        review_policy=ReviewPolicy.AFTER_CLOSE if settings.answers_after_close else ReviewPolicy.SCORE_ONLY,
        audience_statuses=settings.audience_statuses,
        audience_roles=settings.audience_roles,
        audience_branch_ids=settings.audience_branch_ids,
    )


def _apply(contest: Contest, settings: ContestSettings) -> None:
    for name in ("draw_mode", "board_visibility", "freeze_minutes", "board_size", "certificate_top_n", "prizes"):
        setattr(contest, name, getattr(settings, name))


def create_contest(settings: ContestSettings, *, created_by: User | None, now: datetime) -> Contest:
    """Create an unpublished contest (and its quiz); raises ValidationFailed for broken settings."""
    settings = clean_settings(settings)
    quiz = quiz_setup.create_quiz(_quiz_settings(settings), created_by=created_by, now=now)
    quiz.kind = QuizKind.CONTEST
    contest = Contest(quiz=quiz, created_at=now, updated_at=now)
    _apply(contest, settings)
    db.session.add(contest)
    db.session.flush()
    log.info("contest %s created (quiz %s)", contest.id, quiz.id)
    return contest


def update_contest(contest: Contest, settings: ContestSettings, *, now: datetime) -> Contest:
    """Change a contest's settings. Open attempts follow a changed window at once.

    Refused once the standings are frozen; the draw mode cannot change once
    anyone has started.
    """
    if contest.finalized_at is not None:
        raise InvalidState(_l("This contest is over and its standings are final; it can no longer be changed."))
    settings = clean_settings(settings)
    if settings.draw_mode != contest.draw_mode and quiz_setup.attempt_count(contest.quiz):
        raise ValidationFailed(
            _l("Members have started already: the way questions are drawn cannot change."), "draw_mode"
        )
    if contest.quiz.is_published and settings.draw_mode != contest.draw_mode:
        raise ValidationFailed(_l("Unpublish the contest to change how its questions are drawn."), "draw_mode")
    quiz_setup.update_quiz(contest.quiz, _quiz_settings(settings), now=now)
    _apply(contest, settings)
    contest.updated_at = now
    db.session.flush()
    invalidate_board(contest)
    return contest


def settings_of(contest: Contest) -> ContestSettings:
    """The contest's current settings (to prefill the form)."""
    quiz = contest.quiz
    return ContestSettings(
        title=quiz.title,
        description=quiz.description,
        open_at=quiz.open_at,
        close_at=quiz.close_at,
        time_limit_seconds=quiz.time_limit_seconds,
        attempts_allowed=quiz.attempts_allowed,
        draw_mode=contest.draw_mode,
        board_visibility=contest.board_visibility,
        freeze_minutes=contest.freeze_minutes,
        board_size=contest.board_size,
        certificate_top_n=contest.certificate_top_n,
        prizes=contest.prizes,
        shuffle_questions=quiz.shuffle_questions,
        shuffle_options=quiz.shuffle_options,
        partial_credit=quiz.partial_credit,
        answers_after_close=quiz.review_policy == ReviewPolicy.AFTER_CLOSE,
        audience_statuses=list(quiz.audience_statuses or []),
        audience_roles=list(quiz.audience_roles or []),
        audience_branch_ids=list(quiz.audience_branch_ids or []),
    )


def delete_contest(contest: Contest) -> None:
    """Delete a contest nobody has taken part in (with its quiz and banner)."""
    if quiz_setup.attempt_count(contest.quiz):
        raise InvalidState(_l("Members have taken part in this contest, so it cannot be deleted."))
    from lms.exams.contests import banner as contest_banner

    contest_banner.delete_banner(contest.id, contest.banner_name)
    quiz = contest.quiz
    db.session.delete(contest)
    db.session.delete(quiz)
    db.session.flush()


def set_banner(contest: Contest, payload: bytes) -> str:
    """Store a new banner image (validated and re-encoded) and drop the old one."""
    from lms.exams.contests import banner as contest_banner

    name = contest_banner.store_banner(contest.id, payload)
    old = contest.banner_name
    contest.banner_name = name
    db.session.flush()
    if old:
        contest_banner.delete_banner(contest.id, old)
    return name


def remove_banner(contest: Contest) -> None:
    """Take the banner off the contest."""
    from lms.exams.contests import banner as contest_banner

    old, contest.banner_name = contest.banner_name, None
    db.session.flush()
    contest_banner.delete_banner(contest.id, old)


def get_contest(contest_id: int) -> Contest:
    """The contest with this id (NotFound otherwise)."""
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        raise NotFound(_l("This contest does not exist."))
    return contest


# --- Questions ------------------------------------------------------------------------------


def _check_questions_editable(contest: Contest) -> None:
    if contest.quiz.is_published:
        raise InvalidState(_l("Unpublish the contest before changing its questions."))
    if quiz_setup.attempt_count(contest.quiz):
        raise InvalidState(_l("Members have taken part in this contest, so its questions cannot change."))


def add_draw_rule(
    contest: Contest,
    *,
    bank_id: int | None,
    question_type: QuestionType | None,
    tag: str,
    difficulty: int | None,
    count: int,
    points: float,
):
    """Add a draw rule ("N questions of type T and difficulty D from bank/tag at P points")."""
    _check_questions_editable(contest)
    return quiz_setup.add_draw_rule(
        contest.quiz,
        bank_id=bank_id,
        question_type=question_type,
        tag=tag,
        count=count,
        points=points,
        difficulty=difficulty,
    )


def remove_draw_rule(contest: Contest, rule_id: int) -> None:
    """Delete one of the contest's draw rules."""
    _check_questions_editable(contest)
    quiz_setup.remove_draw_rule(contest.quiz, rule_id)


def add_fixed_questions(contest: Contest, question_ids: Sequence[int]) -> int:
    """Add chosen questions that every member gets; returns how many were added."""
    _check_questions_editable(contest)
    return quiz_setup.add_fixed_questions(contest.quiz, question_ids)


def remove_fixed_question(contest: Contest, item_id: int) -> None:
    """Take a chosen question out of the contest."""
    _check_questions_editable(contest)
    quiz_setup.remove_fixed_question(contest.quiz, item_id)


def setup_problems(contest: Contest, now: datetime) -> list[str]:
    """What keeps the contest from being published now (empty when it can be)."""
    problems = quiz_setup.setup_problems(contest.quiz)
    if contest.quiz.close_at is not None and contest.quiz.close_at <= now:
        problems.append(str(_l("The contest's window has already ended; move the close date.")))
    return problems


def publish_contest(contest: Contest, *, now: datetime, rng: random.Random | None = None) -> None:
    """Make the contest visible to its audience.

    With one set for everyone, the set is drawn now (fixed questions, then each
    rule's draws) and frozen on the contest: every member gets the same
    questions whatever happens to the banks later.
    """
    problems = setup_problems(contest, now)
    if problems:
        raise InvalidState(problems[0])
    if contest.draw_mode == DrawMode.SAME:
        draws = quiz_setup.draw_questions(contest.quiz, rng or random.SystemRandom())
        contest.frozen_draw = [[draw.question_id, draw.points] for draw in draws]
    else:
        contest.frozen_draw = []
    contest.quiz.is_published = True
    db.session.flush()
    invalidate_board(contest)
    log.info("contest %s published", contest.id)


def unpublish_contest(contest: Contest) -> None:
    """Hide a contest nobody has started yet (its questions can then be changed)."""
    if quiz_setup.attempt_count(contest.quiz):
        raise InvalidState(_l("Members have taken part in this contest, so it cannot be unpublished."))
    contest.quiz.is_published = False
    contest.frozen_draw = []
    db.session.flush()


def frozen_question_ids(contest: Contest) -> list[int]:
    """The question ids of the one set for everyone, in order (empty when drawn per member)."""
    return [int(question_id) for question_id, _points in contest.frozen_draw or []]
