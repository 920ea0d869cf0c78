"""Knowledge contests (知识竞赛, DESIGN.md §5): setup, phases, taking part, the live board, closing.

A contest is a quiz of kind CONTEST: its questions, window (``open_at`` /
``close_at``), audience, time limit and attempts are the quiz's, and members
take it with the quizzes' attempt engine (``quizzes.start_attempt`` and friends),
so timing is the quizzes': ``deadline = min(started_at + time limit, close)``.

Phases are derived from the times, never stored, so they are right after a
restart whether or not a job ran: draft (unpublished), upcoming, open, closed
(no new attempts; open ones run to the close), final (standings frozen). The
scheduler job (``run_contest_schedule``, every 30 s) tells the audience when a
contest opens, and once ``close + QUIZ_GRACE_SECONDS`` has passed finalizes the
attempts still open with their saved answers and stores the standings
(``finalize_contest``; the next page that needs them does it too if the job did
not run). The stored rows are copies: later edits to questions, attempts or
members change nothing in them.

The live board (``board_payload``) is computed by one ranking query and kept in
``lms.cache`` for ``CONTEST_BOARD_SECONDS``: thousands of members polling cost
one query per refresh, and each viewer's own row is looked up in the cached
snapshot. Ranking: score desc, time used asc, submit time asc (``ranking``).

Every function takes ``now``, flushes and never commits.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_datetime, lazy_pgettext
from flask_babel import lazy_gettext as _l

from lms import cache
from lms.auth.audience import audience_clause, audience_includes
from lms.auth.models import Branch, BranchKind, User
from lms.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from lms.exams import quizzes
from lms.exams.models import (
    AttemptQuestion,
    AttemptState,
    BoardVisibility,
    Contest,
    ContestBranchStanding,
    ContestEntry,
    ContestStanding,
    DrawMode,
    FinishReason,
    QuestionType,
    Quiz,
    QuizAttempt,
    QuizKind,
    ReviewPolicy,
)
from lms.exams.ranking import Entry, rank_branches, rank_entries
from lms.extensions import db

log = logging.getLogger(__name__)
# Each computation of a board is logged here (benchmarks/contest.py counts the lines).
board_log = logging.getLogger("lms.exams.contests.board")

MAX_ATTEMPTS = 10
MAX_BOARD_SIZE = 200


class Phase:
    """Where a contest stands at a moment (values are used in templates and JSON)."""

    DRAFT = "draft"
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"  # past the close; open attempts are being finished, standings not frozen yet
    FINAL = "final"  # standings frozen


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


def _quiz_settings(settings: ContestSettings) -> quizzes.QuizSettings:
    return quizzes.QuizSettings(
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
    quiz = quizzes.create_quiz(_quiz_settings(settings), created_by=created_by, now=now)
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
    if settings.draw_mode != contest.draw_mode and quizzes.attempt_count(contest.quiz):
        raise ValidationFailed(
            _l("Members have started already: the way questions are drawn cannot change."), "draw_mode"
        )
    if contest.quiz.is_published and settings.draw_mode != contest.draw_mode:
        raise ValidationFailed(_l("Unpublish the contest to change how its questions are drawn."), "draw_mode")
    quizzes.update_quiz(contest.quiz, _quiz_settings(settings), now=now)
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
    if quizzes.attempt_count(contest.quiz):
        raise InvalidState(_l("Members have taken part in this contest, so it cannot be deleted."))
    from lms.exams import contest_banner

    contest_banner.delete_banner(contest.id, contest.banner_name)
    quiz = contest.quiz
    db.session.delete(contest)
    db.session.delete(quiz)
    db.session.flush()


def set_banner(contest: Contest, payload: bytes) -> str:
    """Store a new banner image (validated and re-encoded) and drop the old one."""
    from lms.exams import contest_banner

    name = contest_banner.store_banner(contest.id, payload)
    old = contest.banner_name
    contest.banner_name = name
    db.session.flush()
    if old:
        contest_banner.delete_banner(contest.id, old)
    return name


def remove_banner(contest: Contest) -> None:
    """Take the banner off the contest."""
    from lms.exams import contest_banner

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
    if quizzes.attempt_count(contest.quiz):
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
    return quizzes.add_draw_rule(
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
    quizzes.remove_draw_rule(contest.quiz, rule_id)


def add_fixed_questions(contest: Contest, question_ids: Sequence[int]) -> int:
    """Add chosen questions that every member gets; returns how many were added."""
    _check_questions_editable(contest)
    return quizzes.add_fixed_questions(contest.quiz, question_ids)


def remove_fixed_question(contest: Contest, item_id: int) -> None:
    """Take a chosen question out of the contest."""
    _check_questions_editable(contest)
    quizzes.remove_fixed_question(contest.quiz, item_id)


def setup_problems(contest: Contest, now: datetime) -> list[str]:
    """What keeps the contest from being published now (empty when it can be)."""
    problems = quizzes.setup_problems(contest.quiz)
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
        draws = quizzes.draw_questions(contest.quiz, rng or random.SystemRandom())
        contest.frozen_draw = [[draw.question_id, draw.points] for draw in draws]
    else:
        contest.frozen_draw = []
    contest.quiz.is_published = True
    db.session.flush()
    invalidate_board(contest)
    log.info("contest %s published", contest.id)


def unpublish_contest(contest: Contest) -> None:
    """Hide a contest nobody has started yet (its questions can then be changed)."""
    if quizzes.attempt_count(contest.quiz):
        raise InvalidState(_l("Members have taken part in this contest, so it cannot be unpublished."))
    contest.quiz.is_published = False
    contest.frozen_draw = []
    db.session.flush()


def frozen_question_ids(contest: Contest) -> list[int]:
    """The question ids of the one set for everyone, in order (empty when drawn per member)."""
    return [int(question_id) for question_id, _points in contest.frozen_draw or []]


# --- Phases and who may take part ---------------------------------------------------------


def phase(contest: Contest, now: datetime) -> str:
    """The contest's phase at ``now``, derived from its times (see the module docstring)."""
    quiz = contest.quiz
    if contest.finalized_at is not None:
        return Phase.FINAL
    if not quiz.is_published:
        return Phase.DRAFT
    if now < quiz.open_at:
        return Phase.UPCOMING
    if now < quiz.close_at:
        return Phase.OPEN
    return Phase.CLOSED


def finalizable_at(contest: Contest) -> datetime:
    """When the standings may be frozen: the close plus the grace for answers in flight."""
    return contest.quiz.close_at + quizzes.network_grace()


def freeze_at(contest: Contest) -> datetime | None:
    """When the public board stops moving (FROZEN visibility), else None."""
    if contest.board_visibility != BoardVisibility.FROZEN or not contest.freeze_minutes:
        return None
    return contest.quiz.close_at - timedelta(minutes=contest.freeze_minutes)


def may_see(contest: Contest, user: User) -> bool:
    """Published contests of the member's audience."""
    return contest.quiz.is_published and audience_includes(contest.quiz, user)


def visible_contests(user: User, now: datetime) -> list[Contest]:
    """Published contests ``user`` belongs to: open ones first, then upcoming, then past (newest first)."""
    contests = db.session.scalars(
        sa.select(Contest).join(Quiz, Quiz.id == Contest.quiz_id).where(Quiz.is_published.is_(True))
    ).all()
    mine = [contest for contest in contests if audience_includes(contest.quiz, user)]
    order = {Phase.OPEN: 0, Phase.UPCOMING: 1, Phase.CLOSED: 2, Phase.FINAL: 2}

    def key(contest: Contest):
        current = phase(contest, now)
        if current == Phase.UPCOMING:
            return (order[current], contest.quiz.open_at.timestamp())
        if current == Phase.OPEN:
            return (order[current], contest.quiz.close_at.timestamp())
        return (order[current], -contest.quiz.close_at.timestamp())

    return sorted(mine, key=key)


def eligible_clause(contest: Contest):
    """A WHERE clause on ``User``: the active members the contest is for."""
    return audience_clause(contest.quiz)


@dataclass
class MemberStatus:
    """One member's standing in one contest (for the lobby and the home panel)."""

    contest: Contest
    phase: str
    open_attempt: QuizAttempt | None = None
    finished: list[QuizAttempt] = field(default_factory=list)
    attempts_used: int = 0

    @property
    def attempts_left(self) -> int | None:
        allowed = self.contest.quiz.attempts_allowed
        if allowed == 0:
            return None
        return max(allowed - self.attempts_used, 0)

    @property
    def can_start(self) -> bool:
        return self.phase == Phase.OPEN and self.open_attempt is None and self.attempts_left != 0

    @property
    def best(self) -> QuizAttempt | None:
        counted = [a for a in self.finished if a.state == AttemptState.FINISHED]
        if not counted:
            return None
        return min(counted, key=lambda a: (-(a.score or 0), a.time_used_seconds or 0, a.finished_at, a.id))


def member_statuses(user: User, contests: Sequence[Contest], now: datetime) -> list[MemberStatus]:
    """Each contest's status for ``user`` in one query of attempts."""
    if not contests:
        return []
    attempts = db.session.scalars(
        sa.select(QuizAttempt)
        .where(QuizAttempt.user_id == user.id, QuizAttempt.quiz_id.in_([c.quiz_id for c in contests]))
        .order_by(QuizAttempt.number)
    ).all()
    statuses = []
    for contest in contests:
        own = [a for a in attempts if a.quiz_id == contest.quiz_id]
        open_attempt = next((a for a in own if a.state == AttemptState.IN_PROGRESS), None)
        finished = [a for a in own if a.state != AttemptState.IN_PROGRESS]
        statuses.append(MemberStatus(contest, phase(contest, now), open_attempt, finished, len(own)))
    return statuses


def member_status(contest: Contest, user: User, now: datetime) -> MemberStatus:
    """The status of one contest for ``user``."""
    return member_statuses(user, [contest], now)[0]


# --- Taking part -----------------------------------------------------------------------------


def start_contest_attempt(contest: Contest, user: User, now: datetime, *, rng: random.Random | None = None):
    """Start the member's attempt, or return the one already in progress (a second tab gets it too).

    Only during the window and for the contest's audience. In a one-attempt
    contest the database refuses a second attempt (``contest_entries.once_slot``).
    Raises Forbidden (not for this member) and InvalidState (not open, closed,
    no attempts left).
    """
    quiz = contest.quiz
    if not may_see(contest, user):
        raise Forbidden(_l("This contest is not open to you."))
    current = phase(contest, now)
    if current == Phase.UPCOMING:
        raise InvalidState(_l("The contest opens at %(when)s.", when=format_datetime(quiz.open_at, "short")))
    if current != Phase.OPEN:
        raise InvalidState(_l("The contest has closed."))
    status = member_status(contest, user, now)
    if status.open_attempt is None and status.attempts_left == 0:
        raise InvalidState(_l("You have already taken part in this contest."))
    rng = rng or random.SystemRandom()
    draws = None
    if contest.draw_mode == DrawMode.SAME:
        draws = [quizzes.Draw(int(question_id), float(points)) for question_id, points in contest.frozen_draw or []]
        if quiz.shuffle_questions:
            rng.shuffle(draws)
    try:
        with db.session.begin_nested():
            attempt = quizzes.start_attempt(quiz, user, now, rng=rng, draws=draws)
            _ensure_entry(contest, attempt)
    except sa.exc.IntegrityError:
        # The same member's other request recorded this attempt first (a second tab), or
        # the database refused a second attempt at a one-attempt contest.
        attempt = quizzes._find_open_attempt(quiz.id, user.id)
        if attempt is None:
            raise InvalidState(_l("You have already taken part in this contest.")) from None
    return attempt


def _ensure_entry(contest: Contest, attempt: QuizAttempt) -> ContestEntry:
    entry = db.session.scalar(sa.select(ContestEntry).where(ContestEntry.attempt_id == attempt.id))
    if entry is None:
        entry = ContestEntry(
            contest_id=contest.id,
            user_id=attempt.user_id,
            attempt_id=attempt.id,
            once_slot=1 if contest.quiz.attempts_allowed == 1 else None,
            created_at=attempt.started_at,
        )
        db.session.add(entry)
        db.session.flush()
    return entry


def own_attempt(contest: Contest, attempt_id: int, user: User) -> QuizAttempt:
    """The member's attempt at this contest (another member's, or another quiz's, looks missing)."""
    attempt = quizzes.get_own_attempt(attempt_id, user)
    if attempt.quiz_id != contest.quiz_id:
        raise NotFound(_l("This attempt does not exist."))
    return attempt


def open_attempt_of(contest: Contest, user: User) -> QuizAttempt | None:
    """The member's attempt in progress, if any."""
    return quizzes._find_open_attempt(contest.quiz_id, user.id)


def attempt_questions(attempt: QuizAttempt) -> list[AttemptQuestion]:
    """The attempt's questions with their snapshots, in one query (the attempt page shows them all)."""
    return list(
        db.session.scalars(
            sa.select(AttemptQuestion)
            .where(AttemptQuestion.attempt_id == attempt.id)
            .options(sa.orm.joinedload(AttemptQuestion.snapshot))
            .order_by(AttemptQuestion.position)
        )
    )


def submit_contest_attempt(contest: Contest, attempt_id: int, user: User, now: datetime) -> QuizAttempt:
    """The member submits: graded now (idempotent; after the deadline the saved answers count)."""
    own_attempt(contest, attempt_id, user)
    return quizzes.submit_attempt(attempt_id, user, now)


_HIDDEN_UPDATE = (
    sa.update(ContestEntry)
    .where(
        ContestEntry.attempt_id == sa.bindparam("b_attempt"),
        ContestEntry.user_id == sa.bindparam("b_user"),
        ContestEntry.contest_id == sa.bindparam("b_contest"),
        ContestEntry.attempt_id.in_(
            sa.select(QuizAttempt.id).where(
                QuizAttempt.id == sa.bindparam("b_attempt"), QuizAttempt.state == AttemptState.IN_PROGRESS
            )
        ),
    )
    .values(
        hidden_count=ContestEntry.hidden_count + 1,
        last_hidden_at=sa.bindparam("b_now", type_=ContestEntry.last_hidden_at.type),
    )
)


def record_page_hidden(contest: Contest, attempt_id: int, user: User, now: datetime) -> bool:
    """Count one "page hidden" (tab switched, app left) during the member's open attempt.

    One UPDATE; returns False when the attempt is not the member's open attempt
    at this contest (nothing is counted after the attempt is final).
    """
    result = db.session.execute(
        _HIDDEN_UPDATE, {"b_attempt": attempt_id, "b_user": user.id, "b_contest": contest.id, "b_now": now}
    )
    return result.rowcount == 1


# --- Ranking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedRow:
    rank: int
    user_id: int
    attempt_id: int
    name: str
    username: str
    branch_id: int | None
    branch_name: str
    score: float
    max_score: float
    score_percent: float
    time_used_seconds: int
    submitted_at: datetime


def ranked_rows(contest: Contest, *, finished_before: datetime | None = None, user_clause=None) -> list[RankedRow]:
    """Every participant's best finished attempt, ranked: ONE query.

    A member's best attempt is the first by the ranking rule itself (score desc,
    time used asc, submit time asc). ``finished_before`` keeps only attempts
    finished earlier (the frozen board); ``user_clause`` (a WHERE clause on
    ``User``) limits the rows, e.g. to a secretary's scope.
    """
    order = (
        QuizAttempt.score.desc(),
        QuizAttempt.time_used_seconds.asc(),
        QuizAttempt.finished_at.asc(),
        QuizAttempt.id.asc(),
    )
    conditions = [
        QuizAttempt.quiz_id == contest.quiz_id,
        QuizAttempt.state == AttemptState.FINISHED,
        QuizAttempt.is_practice.is_(False),
    ]
    if finished_before is not None:
        conditions.append(QuizAttempt.finished_at < finished_before)
    best = (
        sa.select(
            QuizAttempt.id,
            QuizAttempt.user_id,
            QuizAttempt.score,
            QuizAttempt.max_score,
            QuizAttempt.score_percent,
            QuizAttempt.time_used_seconds,
            QuizAttempt.finished_at,
            sa.func.row_number().over(partition_by=QuizAttempt.user_id, order_by=order).label("n"),
        )
        .where(*conditions)
        .subquery()
    )
    query = (
        sa.select(best, User.name, User.username, User.branch_id, Branch.name.label("branch_name"))
        .join(User, User.id == best.c.user_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
        .where(best.c.n == 1)
    )
    if user_clause is not None:
        query = query.where(user_clause)
    rows = db.session.execute(query).all()
    by_user = {row.user_id: row for row in rows}
    entries = [
        Entry(row.user_id, row.branch_id, float(row.score or 0), float(row.time_used_seconds or 0), row.finished_at)
        for row in rows
    ]
    result = []
    for ranked in rank_entries(entries):
        row = by_user[ranked.entry.user_id]
        result.append(
            RankedRow(
                rank=ranked.rank,
                user_id=row.user_id,
                attempt_id=row.id,
                name=row.name,
                username=row.username,
                branch_id=row.branch_id,
                branch_name=row.branch_name or "",
                score=float(row.score or 0),
                max_score=float(row.max_score or 0),
                score_percent=float(row.score_percent or 0),
                time_used_seconds=int(row.time_used_seconds or 0),
                submitted_at=row.finished_at,
            )
        )
    return result


def eligible_by_branch(contest: Contest) -> dict[int, tuple[str, int]]:
    """How many active members of the audience each Party branch has: {branch_id: (name, count)}.

    Only 党支部 compete on the branch board: a 党委 or 党总支 is not a branch of
    members (its own accounts are usually the administrators), so members attached
    directly to one appear on the individual board only.
    """
    rows = db.session.execute(
        sa.select(Branch.id, Branch.name, sa.func.count(User.id))
        .join(User, User.branch_id == Branch.id)
        .where(eligible_clause(contest), Branch.kind == BranchKind.BRANCH)
        .group_by(Branch.id, Branch.name)
    ).all()
    return {branch_id: (name, count) for branch_id, name, count in rows}


@dataclass(frozen=True)
class BranchRow:
    rank: int
    branch_id: int
    branch_name: str
    participants: int
    eligible: int
    member_mean: float
    mean_score: float
    participation_rate: float


def branch_rows(rows: Sequence[RankedRow], eligible: dict[int, tuple[str, int]]) -> list[BranchRow]:
    """The branch board from ranked rows (``ranking.rank_branches``: score per member, then participation)."""
    entries = [Entry(r.user_id, r.branch_id, r.score, r.time_used_seconds, r.submitted_at) for r in rows]
    standings = rank_branches(entries, {branch_id: count for branch_id, (_name, count) in eligible.items()})
    return [
        BranchRow(
            s.rank,
            s.branch_id,
            eligible[s.branch_id][0],
            s.participants,
            s.eligible,
            s.member_mean,
            s.mean_score,
            s.participation_rate,
        )
        for s in standings
    ]


def live_rank(contest: Contest, user: User) -> tuple[int, int] | None:
    """The member's rank right now among everyone who finished, and how many that is (uncached)."""
    rows = ranked_rows(contest)
    mine = next((row for row in rows if row.user_id == user.id), None)
    return (mine.rank, len(rows)) if mine else None


# --- The board (cached) ------------------------------------------------------------------------


def board_seconds() -> float:
    """How long a computed board is served before one request recomputes it."""
    return float(current_app.config.get("CONTEST_BOARD_SECONDS", 3))


def _board_key(contest: Contest, mode: str) -> str:
    # The creation time makes the key unique even where SQLite reuses a deleted contest's id.
    return f"contest-board:{contest.id}:{contest.created_at.timestamp():.6f}:{mode}"


def invalidate_board(contest: Contest) -> None:
    """Drop the cached boards of a contest (after publishing, finalizing, changing settings)."""
    for mode in ("live", "frozen", "final"):
        cache.invalidate(_board_key(contest, mode))
    cache.invalidate(_board_key(contest, "eligible"))


def _eligible_cached(contest: Contest) -> dict[str, list]:
    # Audiences change slowly: the branch board's denominators are refreshed once a minute.
    def compute():
        return {str(k): [name, count] for k, (name, count) in eligible_by_branch(contest).items()}

    return cache.cached(_board_key(contest, "eligible"), 60, compute)


def _snapshot(rows: Sequence, branches: Sequence, now: datetime, **extra) -> dict:
    """The cached board: every row (compact lists) and an index from user id to position."""
    return {
        "generated_at": now.isoformat(),
        "participants": len(rows),
        "rows": [[r.rank, r.user_id, r.name, r.branch_name, round(r.score, 2), r.time_used_seconds] for r in rows],
        "index": {str(r.user_id): i for i, r in enumerate(rows)},
        "branches": [
            [b.rank, b.branch_name, b.member_mean, b.mean_score, b.participation_rate, b.participants, b.eligible]
            for b in branches
        ],
        **extra,
    }


def _compute_live(contest: Contest, mode: str, until: datetime | None) -> dict:
    started = time.perf_counter()
    rows = ranked_rows(contest, finished_before=until)
    eligible = {int(k): (name, count) for k, (name, count) in _eligible_cached(contest).items()}
    snapshot = _snapshot(rows, branch_rows(rows, eligible), _wall_now(), mode=mode)
    board_log.info(
        "contest %s board computed (%s, %d rows) in %.1f ms",
        contest.id,
        mode,
        len(rows),
        (time.perf_counter() - started) * 1000,
    )
    return snapshot


def _compute_final(contest: Contest) -> dict:
    rows = db.session.scalars(
        sa.select(ContestStanding)
        .where(ContestStanding.contest_id == contest.id)
        .order_by(ContestStanding.rank, ContestStanding.id)
    ).all()
    branches = db.session.scalars(
        sa.select(ContestBranchStanding)
        .where(ContestBranchStanding.contest_id == contest.id)
        .order_by(ContestBranchStanding.rank, ContestBranchStanding.id)
    ).all()
    board_log.info("contest %s final board loaded (%d rows)", contest.id, len(rows))
    return _snapshot(rows, branches, contest.finalized_at, mode="final")


def _wall_now() -> datetime:
    from lms import clock

    return clock.utcnow()


def board_mode(contest: Contest, now: datetime) -> str:
    """Which board members see now: "final", "live", "frozen" or "hidden" (or "none" before it opens)."""
    current = phase(contest, now)
    if current == Phase.FINAL:
        return "final"
    if current in (Phase.DRAFT, Phase.UPCOMING):
        return "none"
    if contest.board_visibility == BoardVisibility.HIDDEN:
        return "hidden"
    frozen = freeze_at(contest)
    if frozen is not None and now >= frozen:
        return "frozen"
    return "live"


def board_snapshot(contest: Contest, now: datetime) -> dict | None:
    """The board members see now, from the cache (None when it is hidden or not started)."""
    mode = board_mode(contest, now)
    if mode in ("none", "hidden"):
        return None
    if mode == "final":
        return cache.cached(_board_key(contest, mode), 3600, lambda: _compute_final(contest))
    until = freeze_at(contest) if mode == "frozen" else None
    return cache.cached(_board_key(contest, mode), board_seconds(), lambda: _compute_live(contest, mode, until))


def board_payload(contest: Contest, viewer: User, now: datetime) -> dict:
    """What one viewer's board shows: the top rows, their own row (even far below), the branches."""
    mode = board_mode(contest, now)
    payload = {
        "ok": True,
        "mode": mode,
        "phase": phase(contest, now),
        "board_size": contest.board_size,
        "refresh_seconds": max(int(board_seconds()), 2),
    }
    frozen = freeze_at(contest)
    if frozen is not None:
        payload["frozen_at"] = frozen.isoformat()
    snapshot = board_snapshot(contest, now)
    if snapshot is None:
        payload.update(rows=[], mine=None, branches=[], participants=None)
        return payload
    position = snapshot["index"].get(str(viewer.id))
    payload.update(
        generated_at=snapshot["generated_at"],
        participants=snapshot["participants"],
        rows=snapshot["rows"][: contest.board_size],
        mine=snapshot["rows"][position] if position is not None else None,
        branches=snapshot["branches"],
    )
    return payload


# --- Closing -----------------------------------------------------------------------------------------


def finalize_contest(contest: Contest, now: datetime) -> bool:
    """Close the contest for good: finalize open attempts with their saved answers and store
    the standings (individual and branch) as copies. Idempotent: returns False when it
    was done already. Raises InvalidState before ``close + QUIZ_GRACE_SECONDS``.
    """
    locked = db.session.scalar(
        sa.select(Contest).where(Contest.id == contest.id).with_for_update().execution_options(populate_existing=True)
    )
    if locked.finalized_at is not None:
        return False
    if now < finalizable_at(locked):
        raise InvalidState(_l("The contest has not closed yet."))
    open_attempts = db.session.scalars(
        sa.select(QuizAttempt).where(
            QuizAttempt.quiz_id == locked.quiz_id, QuizAttempt.state == AttemptState.IN_PROGRESS
        )
    ).all()
    for attempt in open_attempts:
        quizzes.finalize_attempt(attempt, now, FinishReason.TIME_UP)
    rows = ranked_rows(locked)
    hidden = dict(
        db.session.execute(
            sa.select(ContestEntry.user_id, sa.func.sum(ContestEntry.hidden_count))
            .where(ContestEntry.contest_id == locked.id)
            .group_by(ContestEntry.user_id)
        ).all()
    )
    db.session.add_all(
        ContestStanding(
            contest_id=locked.id,
            rank=row.rank,
            user_id=row.user_id,
            attempt_id=row.attempt_id,
            name=row.name,
            username=row.username,
            branch_id=row.branch_id,
            branch_name=row.branch_name,
            score=row.score,
            max_score=row.max_score,
            score_percent=row.score_percent,
            time_used_seconds=row.time_used_seconds,
            submitted_at=row.submitted_at,
            hidden_count=int(hidden.get(row.user_id) or 0),
        )
        for row in rows
    )
    db.session.add_all(
        ContestBranchStanding(
            contest_id=locked.id,
            rank=b.rank,
            branch_id=b.branch_id,
            branch_name=b.branch_name,
            participants=b.participants,
            eligible=b.eligible,
            member_mean=b.member_mean,
            mean_score=b.mean_score,
            participation_rate=b.participation_rate,
        )
        for b in branch_rows(rows, eligible_by_branch(locked))
    )
    locked.finalized_at = now
    db.session.flush()
    invalidate_board(locked)
    log.info("contest %s finalized: %d open attempts closed, %d ranked", locked.id, len(open_attempts), len(rows))
    return True


def ensure_final(contest: Contest, now: datetime) -> bool:
    """Freeze the standings now if they are due and the job has not done it; True when it did."""
    if contest.finalized_at is not None or not contest.quiz.is_published or now < finalizable_at(contest):
        return False
    return finalize_contest(contest, now)


def run_contest_schedule(now: datetime) -> int:
    """The scheduler job (every 30 s): announce contests that opened, close those that are due.

    Safe to run twice or in two processes: the opening notice is claimed with a
    conditional UPDATE and finalizing locks the contest row. Returns how many
    contests were announced or finalized.
    """
    done = 0
    opening = (
        db.session.execute(
            sa.select(Contest.id)
            .join(Quiz, Quiz.id == Contest.quiz_id)
            .where(Quiz.is_published.is_(True), Contest.opened_at.is_(None), Quiz.open_at <= now, Quiz.close_at > now)
        )
        .scalars()
        .all()
    )
    for contest_id in opening:
        claimed = db.session.execute(
            sa.update(Contest).where(Contest.id == contest_id, Contest.opened_at.is_(None)).values(opened_at=now)
        )
        if claimed.rowcount == 1:
            announce_opening(db.session.get(Contest, contest_id), now)
            done += 1
    due = (
        db.session.execute(
            sa.select(Contest.id)
            .join(Quiz, Quiz.id == Contest.quiz_id)
            .where(
                Quiz.is_published.is_(True),
                Contest.finalized_at.is_(None),
                Quiz.close_at <= now - quizzes.network_grace(),
            )
        )
        .scalars()
        .all()
    )
    for contest_id in due:
        try:
            with db.session.begin_nested():
                done += finalize_contest(db.session.get(Contest, contest_id), now)
        except Exception:
            log.exception("contest %s could not be finalized", contest_id)
    return done


def announce_opening(contest: Contest, now: datetime) -> int:
    """Tell the contest's audience in their notifications that it is open."""
    from flask import url_for

    from lms.notices.services import notify_users

    try:
        link = url_for("contests.lobby", contest_id=contest.id)
    except RuntimeError:  # no request context and no SERVER_NAME: a relative link by hand
        link = f"/contests/{contest.id}"
    return notify_users(
        sa.select(User.id).where(eligible_clause(contest)),
        kind="contest",
        # Lazy strings: each member reads them in their own language (lms.notices.messages).
        title=_l("The contest “%(title)s” is open", title=contest.quiz.title),
        body=_l("It closes at %(when)s. Good luck!", when=contest.quiz.close_at),
        link=link,
        now=now,
    )


# --- Final standings: views, export, certificates -------------------------------------------------


def standings(contest: Contest, viewer: User | None = None) -> list[ContestStanding]:
    """The stored final standings, optionally within ``viewer``'s scope of members."""
    from lms.auth.permissions import member_scope_clause

    query = sa.select(ContestStanding).where(ContestStanding.contest_id == contest.id)
    if viewer is not None:
        query = query.where(member_scope_clause(viewer, ContestStanding.user_id))
    return list(db.session.scalars(query.order_by(ContestStanding.rank, ContestStanding.id)))


def branch_standings(contest: Contest) -> list[ContestBranchStanding]:
    """The stored final branch board."""
    return list(
        db.session.scalars(
            sa.select(ContestBranchStanding)
            .where(ContestBranchStanding.contest_id == contest.id)
            .order_by(ContestBranchStanding.rank, ContestBranchStanding.id)
        )
    )


def own_standing(contest: Contest, user: User) -> ContestStanding | None:
    """The member's row of the final standings."""
    return db.session.scalar(
        sa.select(ContestStanding).where(ContestStanding.contest_id == contest.id, ContestStanding.user_id == user.id)
    )


def export_standings(contest: Contest, viewer: User) -> bytes:
    """The final standings (within the viewer's scope) and the branch board as .xlsx."""
    from lms import clock
    from lms.exams.display import format_seconds
    from lms.spreadsheets import xlsx_bytes

    if contest.finalized_at is None:
        raise InvalidState(_l("The standings can be exported once the contest has closed."))

    def local(moment: datetime) -> str:
        return moment.astimezone(clock.local_zone()).strftime("%Y-%m-%d %H:%M:%S")

    people = [
        (
            row.rank,
            row.name,
            row.username,
            row.branch_name,
            row.score,
            row.max_score,
            row.score_percent,
            format_seconds(row.time_used_seconds),
            row.time_used_seconds,
            local(row.submitted_at),
            row.hidden_count,
        )
        for row in standings(contest, viewer)
    ]
    branches = [
        (
            b.rank,
            b.branch_name,
            b.member_mean,
            b.mean_score,
            b.participants,
            b.eligible,
            round(b.participation_rate * 100, 2),
        )
        for b in branch_standings(contest)
    ]
    return xlsx_bytes(
        [
            (
                str(_l("Standings")),
                [
                    _l("Rank"),
                    _l("Full name"),
                    _l("Username"),
                    _l("Branch"),
                    _l("Score"),
                    _l("Out of"),
                    _l("Score (%)"),
                    _l("Time used"),
                    _l("Time used (seconds)"),
                    _l("Submitted at"),
                    _l("Times the page was left"),
                ],
                people,
            ),
            (
                str(lazy_pgettext("contest board", "Branches")),
                [
                    _l("Rank"),
                    _l("Branch"),
                    _l("Score per member"),
                    _l("Mean of participants"),
                    _l("Participants"),
                    _l("Eligible members"),
                    _l("Participation (%)"),
                ],
                branches,
            ),
        ]
    )


@dataclass(frozen=True)
class Certificate:
    contest_title: str
    name: str
    branch_name: str
    rank: int
    score: float
    max_score: float
    is_award: bool  # a prize certificate for the top N; otherwise one of participation
    issued_on: datetime


def certificates(contest: Contest, *, scope: str, viewer: User) -> list[Certificate]:
    """Certificates from the final standings: ``scope`` "top" (rank within the top N) or "all",
    within the viewer's scope of members."""
    if contest.finalized_at is None:
        raise InvalidState(_l("Certificates are issued once the contest has closed."))
    rows = standings(contest, viewer)
    if scope == "top":
        rows = [row for row in rows if row.rank <= contest.certificate_top_n]
    return [certificate_for(contest, row) for row in rows]


def certificate_for(contest: Contest, row: ContestStanding) -> Certificate:
    """The certificate of one row of the final standings."""
    return Certificate(
        contest_title=contest.quiz.title,
        name=row.name,
        branch_name=row.branch_name,
        rank=row.rank,
        score=row.score,
        max_score=row.max_score,
        is_award=row.rank <= contest.certificate_top_n,
        issued_on=contest.finalized_at,
    )


def certificates_pdf(html: str, base_url: str) -> bytes:
    """Render certificate HTML to PDF with WeasyPrint (Chinese with the system's Noto CJK fonts).

    Raises ``PdfUnavailable`` when WeasyPrint or its libraries (Pango) are missing.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        raise PdfUnavailable(
            _l(
                "PDF certificates are not available on this server (WeasyPrint is not installed). "
                "Print the page instead."
            )
        ) from error
    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()


class PdfUnavailable(InvalidState):
    """WeasyPrint (or a system library it needs) is not installed."""


# --- Admin views of results -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """An attempt as the admin's results table shows it, with the fair-play counter."""

    attempt: QuizAttempt
    name: str
    branch_name: str
    hidden_count: int
    rank: int | None


def results(contest: Contest, viewer: User) -> list[ResultRow]:
    """Every attempt (in progress or final) within the viewer's scope, best first, with
    the times the page was left and the member's live rank."""
    from lms.auth.permissions import member_scope_clause

    rows = db.session.execute(
        sa.select(QuizAttempt, User.name, Branch.name, ContestEntry.hidden_count)
        .join(User, User.id == QuizAttempt.user_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
        .outerjoin(ContestEntry, ContestEntry.attempt_id == QuizAttempt.id)
        .where(QuizAttempt.quiz_id == contest.quiz_id, member_scope_clause(viewer, QuizAttempt.user_id))
    ).all()
    # Ranks are the contest's own (among everyone), also on a secretary's page of one branch.
    ranks = {row.attempt_id: row.rank for row in ranked_rows(contest)}
    if contest.finalized_at is not None:
        ranks = {row.attempt_id: row.rank for row in standings(contest, viewer) if row.attempt_id}
    result = [
        ResultRow(attempt, name, branch or "", int(hidden or 0), ranks.get(attempt.id))
        for attempt, name, branch, hidden in rows
    ]
    result.sort(
        key=lambda r: (
            r.rank is None,
            r.rank or 0,
            r.attempt.state != AttemptState.IN_PROGRESS,
            -(r.attempt.score or 0),
            r.attempt.id,
        )
    )
    return result
