"""Taking part in a contest (DESIGN.md §5): a member's status, starting and submitting attempts, fair-play counters.

Members take a contest with the quizzes' attempt engine, so timing is the quizzes':
``deadline = min(started_at + time limit, close)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import Forbidden, InvalidState, NotFound
from lms.exams.contests import cache
from lms.exams.contests.models import (
    Contest,
    ContestEntry,
    DrawMode,
)
from lms.exams.contests.phases import Phase, may_see, phase
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import setup as quiz_setup
from lms.exams.quizzes.models import (
    AttemptQuestion,
    AttemptState,
    QuestionSnapshot,
    QuizAttempt,
)
from lms.exams.quizzes.timing import EffectiveSettings
from lms.extensions import db
from lms.raw_sql import RawStatement


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


def start_contest_attempt(
    contest: Contest,
    user: User,
    now: datetime,
    *,
    rng: random.Random | None = None,
    settings: EffectiveSettings | None = None,
    question_set: cache.QuestionSet | None = None,
    own: list | None = None,
):
    """Start the member's attempt, or return the one already in progress (a second tab gets it too).

    Only during the window and for the contest's audience. In a one-attempt
    contest the database refuses a second attempt (``contest_entries.once_slot``).
    Raises Forbidden (not for this member) and InvalidState (not open, closed,
    no attempts left). ``contest`` and ``user``: objects, or the records of
    ``member_read.start_read``, which also gives the member's ``settings`` and the
    contest's cached ``question_set`` (checked as still valid) and the member's attempts at
    it (``own``, as ``own_attempt_rows``): the request has then written nothing before, so on
    PostgreSQL the new attempt's rows go without a savepoint (a refusal by a constraint rolls
    the transaction back). A one-set contest's questions read here are kept for the next
    start (``cache``).
    """
    quiz = contest.quiz
    if not may_see(contest, user):
        raise Forbidden(_l("This contest is not open to you."))
    current = phase(contest, now)
    if current == Phase.UPCOMING:
        raise InvalidState(_l("The contest opens at %(when)s.", when=format_datetime(quiz.open_at, "short")))
    if current != Phase.OPEN:
        raise InvalidState(_l("The contest has closed."))
    fresh = own is not None  # read with the member's login: nothing written yet in this transaction
    if own is None:
        own = own_attempt_rows(contest, user)
    open_id = next((row.id for row in own if row.state == AttemptState.IN_PROGRESS), None)
    allowed = quiz.attempts_allowed
    if open_id is None and allowed and len(own) >= allowed:
        raise InvalidState(_l("You have already taken part in this contest."))
    rng = rng or random.SystemRandom()
    draws = None
    if contest.draw_mode == DrawMode.SAME:
        draws = [quiz_setup.Draw(int(question_id), float(points)) for question_id, points in contest.frozen_draw or []]
        if quiz.shuffle_questions:
            rng.shuffle(draws)
    # Without an attempt in progress the rows are all the start needs; with one (a second tab)
    # the start reads it as an object.
    known = own if open_id is None else None
    prepared, on_prepared = None, None
    if draws is not None:
        if question_set is not None:
            prepared = (question_set.questions, question_set.hashes, question_set.snapshots)
        on_prepared = partial(cache.remember, contest)
    try:
        # A new attempt's entry is written in the attempt's own savepoint (one savepoint a start);
        # a race winner's attempt comes back with the entry its own request wrote.
        attempt = quiz_attempts.start_attempt(
            quiz, user, now, rng=rng, draws=draws, attempts=known, on_created=lambda new: _insert_entry(contest, new),
            settings=settings, prepared=prepared, on_prepared=on_prepared,
            savepoint=not (fresh and db.session.connection().dialect.name == "postgresql"),
        )  # fmt: skip
        if attempt.id == open_id:
            with db.session.begin_nested():
                _ensure_entry(contest, attempt)
    except quiz_attempts.integrity_errors():
        # The same member's other request recorded this attempt first (a second tab), or
        # the database refused a second attempt at a one-attempt contest.
        attempt = quiz_attempts.find_open_attempt(quiz.id, user.id)
        if attempt is None:
            raise InvalidState(_l("You have already taken part in this contest.")) from None
    return attempt


_OWN_ATTEMPTS = sa.select(QuizAttempt.id, QuizAttempt.number, QuizAttempt.state, QuizAttempt.finished_at).where(
    QuizAttempt.quiz_id == sa.bindparam("b_quiz"), QuizAttempt.user_id == sa.bindparam("b_user")
)


def own_attempt_rows(contest: Contest, user: User) -> list[sa.Row]:
    """The member's attempts at the contest as rows (id, number, state, finished_at): what a start checks."""
    return db.session.execute(_OWN_ATTEMPTS, {"b_quiz": contest.quiz_id, "b_user": user.id}).all()


_ENTRY_KEYS = ("contest_id", "user_id", "attempt_id", "once_slot", "hidden_count", "created_at")
_ENTRY_INSERT = RawStatement(
    sa.insert(ContestEntry.__table__).values(
        {key: sa.bindparam(key, type_=ContestEntry.__table__.c[key].type) for key in _ENTRY_KEYS}
    )
)  # on the DBAPI cursor (lms.raw_sql): a contest's burst of starts


def _insert_entry(contest: Contest, attempt: QuizAttempt) -> None:
    _ENTRY_INSERT.execute(
        db.session.connection(),
        {
            "contest_id": contest.id,
            "user_id": attempt.user_id,
            "attempt_id": attempt.id,
            "once_slot": 1 if contest.quiz.attempts_allowed == 1 else None,
            "hidden_count": 0,
            "created_at": attempt.started_at,
        },
    )


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
    attempt = quiz_attempts.get_own_attempt(attempt_id, user)
    if attempt.quiz_id != contest.quiz_id:
        raise NotFound(_l("This attempt does not exist."))
    return attempt


def open_attempt_of(contest: Contest, user: User) -> QuizAttempt | None:
    """The member's attempt in progress, if any."""
    return quiz_attempts.find_open_attempt(contest.quiz_id, user.id)


_ATTEMPT_PAGE = (
    sa.select(
        QuizAttempt.id, QuizAttempt.state, QuizAttempt.deadline, QuizAttempt.finalize_after,
        AttemptQuestion.position, AttemptQuestion.points, AttemptQuestion.option_order, AttemptQuestion.response,
        AttemptQuestion.client_seq, AttemptQuestion.time_spent_seconds,
        QuestionSnapshot.type, QuestionSnapshot.stem, QuestionSnapshot.options, QuestionSnapshot.answer,
    )
    .select_from(QuizAttempt)
    .outerjoin(AttemptQuestion, AttemptQuestion.attempt_id == QuizAttempt.id)
    .outerjoin(QuestionSnapshot, QuestionSnapshot.id == AttemptQuestion.snapshot_id)
    .where(
        QuizAttempt.quiz_id == sa.bindparam("b_quiz"),
        QuizAttempt.user_id == sa.bindparam("b_user"),
        QuizAttempt.state == AttemptState.IN_PROGRESS,
    )
    .order_by(AttemptQuestion.position)
)  # fmt: skip


def open_attempt_page(contest: Contest, user: User) -> tuple[SimpleNamespace | None, list[SimpleNamespace]]:
    """The member's attempt in progress and its questions (with their snapshots), in one read.

    Rows, not ORM objects (the page of 2,000 contestants at once): the attempt as
    ``id, state, deadline, finalize_after``, each question with the attributes
    ``review.question_view`` reads without answers or scores (the snapshot's answer only
    shapes the inputs, e.g. a fill-in's blanks). (None, []) when no attempt is in progress.
    """
    rows = db.session.execute(_ATTEMPT_PAGE, {"b_quiz": contest.quiz_id, "b_user": user.id}).all()
    if not rows:
        return None, []
    first = rows[0]
    attempt = SimpleNamespace(
        id=first.id, state=first.state, deadline=first.deadline, finalize_after=first.finalize_after
    )
    return attempt, question_rows(rows)


def question_rows(rows) -> list[SimpleNamespace]:
    """The attempt's questions from rows of its questions joined with their snapshots (a row
    without a question, from an outer join, is left out): what ``review.question_view`` reads."""
    return [
        SimpleNamespace(
            position=row.position, points=row.points, option_order=row.option_order, response=row.response,
            client_seq=row.client_seq, time_spent_seconds=row.time_spent_seconds,
            snapshot=SimpleNamespace(type=row.type, stem=row.stem, options=row.options, answer=row.answer),
        )
        for row in rows
        if row.position is not None
    ]  # fmt: skip


def submit_contest_attempt(contest: Contest, attempt_id: int, user: User, now: datetime) -> QuizAttempt:
    """The member submits: graded now (idempotent; after the deadline the saved answers count)."""
    own_attempt(contest, attempt_id, user)
    return quiz_attempts.submit_attempt(attempt_id, user, now)


def submit_read_attempt(contest, attempt, user_id: int, now: datetime, *, commit=None) -> QuizAttempt:
    """``submit_contest_attempt`` for what ``member_read.submit_read`` read: the contest (a record)
    and the member's attempt (``id, quiz_id, state``, None when the member has no such attempt).
    ``commit``: as ``quiz_attempts.submit_attempt``'s."""
    if attempt is None or attempt.quiz_id != contest.quiz_id:
        raise NotFound(_l("This attempt does not exist."))
    read = SimpleNamespace(state=attempt.state, partial_credit=contest.quiz.partial_credit, kind=contest.quiz.kind)
    return quiz_attempts.submit_attempt(attempt.id, user_id, now, read=read, commit=commit)


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
