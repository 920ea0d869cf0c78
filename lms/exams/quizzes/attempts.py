"""Quiz attempts (DESIGN.md §4): starting (frozen question snapshots), saving answers, submitting, finalizing.

The scheduler job (``finalize_overdue``) or the next request that touches an attempt closes
it once it is overdue (``finalize_after``). Abandoned attempts use up an attempt but are never
graded or counted. Every function takes ``now``, flushes and never commits.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import Conflict, Forbidden, InvalidState, NotFound
from lms.exams.questions import types as grading
from lms.exams.questions.models import Question
from lms.exams.quizzes import saves
from lms.exams.quizzes.models import (
    AttemptQuestion,
    AttemptState,
    FinishReason,
    OverdueHandling,
    QuestionSnapshot,
    Quiz,
    QuizAttempt,
    QuizKind,
)
from lms.exams.quizzes.saves import SaveResult
from lms.exams.quizzes.setup import Draw, draw_questions
from lms.exams.quizzes.snapshots import QUESTION_COLUMNS, existing_snapshots, snapshots_for
from lms.exams.quizzes.timing import (
    Availability,
    EffectiveSettings,
    availability_of,
    compute_deadline,
    compute_finalize_after,
    effective_settings,
    is_overdue,
    may_see,
)
from lms.extensions import db
from lms.raw_sql import RawStatement, pipeline

log = logging.getLogger(__name__)

MAX_SECONDS_PER_SAVE, MAX_SEQ = saves.MAX_SECONDS_PER_SAVE, saves.MAX_SEQ


# --- Starting an attempt ----------------------------------------------------------------------


def integrity_errors() -> tuple[type[Exception], ...]:
    """A constraint's refusal: SQLAlchemy's IntegrityError, or the driver's (``raw_sql`` statements raise it)."""
    return (sa.exc.IntegrityError, db.engine.dialect.dbapi.IntegrityError)


def find_open_attempt(quiz_id: int, user_id: int) -> QuizAttempt | None:
    return db.session.scalar(
        sa.select(QuizAttempt)
        .where(
            QuizAttempt.quiz_id == quiz_id,
            QuizAttempt.user_id == user_id,
            QuizAttempt.state == AttemptState.IN_PROGRESS,
        )
        .execution_options(populate_existing=True)
    )


def _check_may_start(
    quiz: Quiz, user: User, now: datetime, settings: EffectiveSettings, attempts: list[QuizAttempt] | None = None
) -> int:
    """Raise why ``user`` may not start a new attempt; return the next attempt number."""
    if quiz.kind == QuizKind.QUIZ and not may_see(quiz, user):
        raise Forbidden(_l("This quiz is not open to you."))
    if attempts is None:
        attempts = list(
            db.session.scalars(
                sa.select(QuizAttempt).where(QuizAttempt.quiz_id == quiz.id, QuizAttempt.user_id == user.id)
            )
        )
    availability, _, used, next_start = availability_of(quiz, settings, attempts, now)
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
    attempts: Sequence[QuizAttempt] | None = None,
    on_created: Callable[[QuizAttempt], None] | None = None,
    settings: EffectiveSettings | None = None,
    prepared: tuple[dict, dict[int, str], dict[tuple[int, str], int]] | None = None,
    on_prepared: Callable[[dict, dict[int, str], dict[tuple[int, str], int]], None] | None = None,
    savepoint: bool = True,
) -> QuizAttempt:
    """Start an attempt, or return the member's attempt already in progress.

    The attempt freezes its questions (snapshots), their order and each choice
    question's option order. One open attempt per (member, quiz) is enforced by
    the database: when two requests start at once, the loser finds and returns
    the winner's attempt. ``question_ids`` replaces the draw (the wrong-answer
    practice, at the questions' own points); ``draws`` replaces it with questions
    and points chosen by the caller (a contest's one set for everyone).
    ``attempts``: the member's attempts at this quiz, just read by the caller
    (a contest's start has them; they are then not read again): objects, or rows
    with ``number``, ``state`` and ``finished_at`` when none is in progress. ``on_created``
    writes the caller's rows of a new attempt inside the same savepoint (a
    contest's entry): their IntegrityError is handled as the attempt's. ``settings``: the
    member's effective settings when the caller has read them (with the override). ``prepared``:
    the drawn questions' rows, content hashes and existing snapshot ids, as a caller keeps them
    (a contest's one set, ``contests.cache``); else they are read, and given to ``on_prepared``.
    ``savepoint=False``: the caller's transaction has written nothing yet, so the new rows need
    no savepoint of their own (two round trips on PostgreSQL): a constraint's refusal rolls the
    whole transaction back (not on SQLite, whose savepoint takes the write lock). Raises
    Forbidden (not in the audience), InvalidState (closed, not yet open, no
    attempts left, waiting, too few questions).
    """
    if attempts is None:
        existing = find_open_attempt(quiz.id, user.id)
    else:
        attempts = list(attempts)
        existing = next((a for a in attempts if a.state == AttemptState.IN_PROGRESS), None)
    if existing is not None:
        if not is_overdue(existing, now):
            return existing
        finalize_if_overdue(existing, now)
        attempts = None  # read again: one has just closed
        savepoint = True  # and written: a refusal below must not roll that back
    if settings is None:
        settings = effective_settings(quiz, user.id)
    number = _check_may_start(quiz, user, now, settings, attempts)
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
    if prepared is not None:
        questions, hashes, existing = prepared
    else:
        questions = {
            row.id: row
            for row in db.session.execute(
                sa.select(*QUESTION_COLUMNS).where(Question.id.in_([d.question_id for d in draws]))
            )
        }
    for retry in range(2):
        # Reads first; the savepoint takes the write lock (on SQLite, the database's) for the inserts only.
        if prepared is None or retry:
            hashes, existing = existing_snapshots(list(questions.values()))
            if on_prepared is not None:
                on_prepared(questions, hashes, existing)
        try:
            with db.session.begin_nested() if savepoint else contextlib.nullcontext():
                attempt = _create_attempt(quiz, user, now, number, settings, draws, rng, questions, hashes, existing)
                if on_created is not None:
                    on_created(attempt)
            # Into the session once the savepoint holds: a rolled-back attempt never enters it.
            db.session.add(attempt)
            return attempt
        except integrity_errors():
            if not savepoint:
                db.session.rollback()  # nothing else was written: the whole (failed) transaction
            # Another request of the same member won the race (open slot or number taken),
            # or another member's start wrote the same snapshot first.
            winner = find_open_attempt(quiz.id, user.id)
            if winner is not None:
                return winner
            if retry:
                raise
            number = _check_may_start(quiz, user, now, settings)
    raise Conflict(_l("The attempt could not be started; please try again."))  # pragma: no cover


def _insert(table: sa.Table, keys: Sequence[str], returning=None) -> RawStatement:
    """An INSERT of ``keys`` (every other column NULL: no Python default applies), on the DBAPI cursor."""
    statement = sa.insert(table).values({key: sa.bindparam(key, type_=table.c[key].type) for key in keys})
    return RawStatement(statement.returning(returning) if returning is not None else statement)


_ATTEMPT_KEYS = (
    "quiz_id", "user_id", "number", "state", "open_slot", "is_practice", "started_at", "deadline", "finalize_after",
    "last_activity_at", "max_score",
)  # fmt: skip
_ATTEMPT_INSERT = _insert(QuizAttempt.__table__, _ATTEMPT_KEYS, QuizAttempt.__table__.c.id)
_QUESTIONS_INSERT = _insert(
    AttemptQuestion.__table__,
    ("attempt_id", "position", "snapshot_id", "question_id", "points", "option_order", "client_seq",
     "time_spent_seconds"),
)  # fmt: skip


def _create_attempt(
    quiz: Quiz,
    user: User,
    now: datetime,
    number: int,
    settings: EffectiveSettings,
    draws: list[Draw],
    rng: random.Random,
    questions: dict,
    hashes: dict[int, str],
    existing: dict[tuple[int, str], int],
) -> QuizAttempt:
    snapshots = snapshots_for(list(questions.values()), hashes, existing)
    deadline = compute_deadline(now, settings)
    placed = []
    for position, draw in enumerate((d for d in draws if d.question_id in questions), start=1):
        question = questions[draw.question_id]
        order = list(range(len(question.options or []))) if grading.kind_of(question.type).has_options else []
        if quiz.shuffle_options:
            rng.shuffle(order)
        placed.append((position, question.id, draw.points, order))
    values = {
        "quiz_id": quiz.id,
        "user_id": user.id,
        "number": number,
        "state": AttemptState.IN_PROGRESS,
        "open_slot": 1,
        "is_practice": quiz.is_practice or quiz.kind == QuizKind.NOTEBOOK,
        "started_at": now,
        "deadline": deadline,
        "finalize_after": compute_finalize_after(quiz, deadline),
        "last_activity_at": now,
        "finished_at": None,
        "finish_reason": None,
        "score": None,
        "max_score": round(sum(points for _, _, points, _ in placed), 4),
        "score_percent": None,
        "time_used_seconds": None,
    }
    if any(isinstance(snapshot, QuestionSnapshot) for snapshot in snapshots.values()):
        db.session.flush()  # the new snapshots' ids
    snapshot_ids = {key: value if isinstance(value, int) else value.id for key, value in snapshots.items()}
    # Core statements (a start is a contest's burst: no ORM unit of work): the attempt,
    # then its questions in one executemany.
    connection = db.session.connection()
    attempt_id = _ATTEMPT_INSERT.rows(connection, {key: values[key] for key in _ATTEMPT_KEYS})[0].id
    _QUESTIONS_INSERT.execute_many(connection, [
        {"attempt_id": attempt_id, "position": position, "snapshot_id": snapshot_ids[question_id],
         "question_id": question_id, "points": points, "option_order": order, "client_seq": 0,
         "time_spent_seconds": 0}
        for position, question_id, points, order in placed
    ])  # fmt: skip
    # The object of the row just written, every column known (its questions load when first read);
    # the caller adds it to the session.
    attempt = QuizAttempt(id=attempt_id, **values)
    sa.orm.make_transient_to_detached(attempt)
    log.info("attempt %s started (quiz %s, user %s, deadline %s)", attempt.id, quiz.id, user.id, deadline)
    return attempt


# --- Saving answers ----------------------------------------------------------------------------


def get_own_attempt(attempt_id: int, user: User | int, *, lock: bool = False) -> QuizAttempt:
    """The member's (or member id's) own attempt (another member's id looks missing); ``lock``
    selects it FOR UPDATE.

    Without the lock, an attempt this session has loaded already is not read again.
    """
    user_id = user if isinstance(user, int) else user.id
    if lock:
        query = sa.select(QuizAttempt).where(QuizAttempt.id == attempt_id, QuizAttempt.user_id == user_id)
        attempt = db.session.scalar(query.with_for_update().execution_options(populate_existing=True))
    else:
        attempt = db.session.get(QuizAttempt, attempt_id)
        if attempt is not None and attempt.user_id != user_id:
            attempt = None
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


def save_answer(attempt_id: int, user: User, position: int, raw, seq: int, now: datetime) -> SaveResult:
    """Store the member's answer to question ``position`` of their attempt (``saves``: the rules).

    ``seq`` is the client's sequence number for that question: a save whose
    seq is not above the stored one changes nothing (replays and saves arriving
    out of order). The time since the attempt's previous save is added to the
    question's time spent (capped). Refused (InvalidState) once the attempt is
    final or after ``deadline + QUIZ_GRACE_SECONDS``; an overdue attempt is then
    closed on the spot. Raises ValidationFailed for an answer that does not fit.
    Core statements on the session's connection; the save view group-commits
    instead (``saves.SaveCommitter``) and closes an overdue attempt with ``refuse_save``.
    """
    prepared = saves.prepare_save(attempt_id, user, position, raw, seq)
    outcome = saves.apply_saves(db.session.connection(), [(prepared, now)])[0]
    if isinstance(outcome, str):
        refuse_save(outcome, attempt_id, user, now)
    return outcome


def refuse_save(outcome: str, attempt_id: int, user: User, now: datetime) -> None:
    """Raise the InvalidState of a refused save (``saves.FINAL`` / ``OVERDUE``), closing an overdue attempt."""
    if outcome == saves.OVERDUE:
        finalize_if_overdue(get_own_attempt(attempt_id, user), now)
        raise InvalidState(
            _l(
                "Time is up: answers sent after the deadline are not accepted. "
                "Your answers saved before the deadline are kept."
            )
        )
    raise InvalidState(_l("This attempt has been submitted; its answers can no longer change."))


# --- Submitting and finalizing -------------------------------------------------------------------


# The attempt's state, what grading and the notebook need of its quiz, and its member's login
# (checked by the submit view's fast path).
_SUBMIT_READ = (
    sa.select(QuizAttempt.state, Quiz.partial_credit, Quiz.kind, User.is_active, User.session_version,
              User.must_change_password, User.locale)
    .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
    .join(User, User.id == QuizAttempt.user_id)
    .where(QuizAttempt.id == sa.bindparam("attempt_id"), QuizAttempt.user_id == sa.bindparam("user_id"))
)  # fmt: skip


def submit_attempt(attempt_id: int, user: User | int, now: datetime, *, session_version: int | None = None,
                   read=None, commit: Callable[[QuizAttempt], None] | None = None) -> QuizAttempt:  # fmt: skip
    """The member submits their attempt: graded now. Idempotent: submitting a final
    attempt again changes nothing. Past the point where it is overdue, the quiz's
    overdue rule decides instead (graded at the deadline, or not counted).

    ``user``: the member or their id. With ``session_version`` (a session's login not yet
    checked) the member's row is checked in the attempt's first read, as a save's
    (``saves.StaleLogin``). The answers are read and graded before the attempt is locked;
    under the lock only their sequence numbers are read again (every save raises one),
    and the answers are graded again only if a save came in between. That is on SQLite,
    where the lock is the database's write lock, which every writer waits for: it then
    covers only the checks and the writes. On PostgreSQL (a row lock) they are read and
    graded under the lock. ``read``: the attempt's ``state`` and its quiz's ``partial_credit`` and
    ``kind`` when the caller has read them for the member's own attempt (a contest's submit).
    ``commit(attempt)``: the view's commit. With it the writes and the database's COMMIT go in
    one round trip on PostgreSQL (a psycopg pipeline), and then ``commit`` is called with the
    graded attempt; not called when the submit writes nothing (the attempt was final already)
    or the attempt was overdue.
    """
    user_id = user if isinstance(user, int) else user.id
    connection = db.session.connection()
    if read is not None:
        row = read
    else:
        row = connection.execute(_SUBMIT_READ, {"attempt_id": attempt_id, "user_id": user_id}).first()
    if session_version is not None and read is None:
        if row is None:
            saves.check_login(user_id, session_version, connection=connection)
        else:
            saves.check_login_row(row, session_version)
    if row is None:
        raise NotFound(_l("This attempt does not exist."))
    if row.state != AttemptState.IN_PROGRESS:
        return get_own_attempt(attempt_id, user_id)
    quiz = SimpleNamespace(partial_credit=row.partial_credit, kind=row.kind)  # settings that never change
    # On SQLite the lock is the database's one write lock: grade first. On PostgreSQL it is the
    # attempt's row lock, which holds back only this attempt's saves: grade under it (one read).
    graded = _graded_questions(attempt_id, quiz) if connection.dialect.name == "sqlite" else None
    attempt = get_own_attempt(attempt_id, user_id, lock=True)
    if attempt.state != AttemptState.IN_PROGRESS:
        return attempt
    if is_overdue(attempt, now):
        return finalize_if_overdue(attempt, now)
    return _finalize_locked(attempt, now, FinishReason.SUBMITTED, graded, quiz, commit)


# The attempt's questions with what grading reads of their frozen snapshots, in position order.
_GRADING_ROWS = (
    sa.select(
        AttemptQuestion.id, AttemptQuestion.snapshot_id, AttemptQuestion.question_id, AttemptQuestion.response,
        AttemptQuestion.points, AttemptQuestion.client_seq, QuestionSnapshot.type, QuestionSnapshot.answer,
    )
    .join(QuestionSnapshot, QuestionSnapshot.id == AttemptQuestion.snapshot_id)
    .where(AttemptQuestion.attempt_id == sa.bindparam("b_attempt"))
    .order_by(AttemptQuestion.position)
)  # fmt: skip
# What a save changes (it raises the question's seq), to tell whether answers graded before the lock still stand.
_SEQS = (
    sa.select(AttemptQuestion.id, AttemptQuestion.client_seq)
    .where(AttemptQuestion.attempt_id == sa.bindparam("b_attempt"))
    .order_by(AttemptQuestion.position)
)


# Run on the DBAPI cursor (``lms.raw_sql``): a submit's statements are a contest's burst.
_GRADING_RAW, _SEQS_RAW = RawStatement(_GRADING_ROWS), RawStatement(_SEQS)


def _graded_questions(attempt_id: int, quiz) -> list[SimpleNamespace]:
    """The attempt's questions as stored now, each graded (``score``, ``outcome``), in position order."""
    questions = []
    for row in _GRADING_RAW.rows(db.session.connection(), {"b_attempt": attempt_id}):
        result = grading.grade(row.type, row.answer, row.response, row.points, partial_credit=quiz.partial_credit)
        questions.append(SimpleNamespace(id=row.id, question_id=row.question_id, client_seq=row.client_seq,
                                         score=result.points, outcome=result.outcome))  # fmt: skip
    return questions


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


_CLOSE_COLUMNS = ("open_slot", "finished_at", "finish_reason", "time_used_seconds", "state", "score", "score_percent")
_CLOSE = (
    sa.update(QuizAttempt)
    .where(QuizAttempt.id == sa.bindparam("b_id"))
    .values({key: sa.bindparam(f"b_{key}", type_=QuizAttempt.__table__.c[key].type) for key in _CLOSE_COLUMNS})
)
_CLOSE_RAW, _FINALIZE_GRADE_RAW = RawStatement(_CLOSE), RawStatement(_FINALIZE_GRADE)


def _close(attempt: QuizAttempt, **values) -> None:
    """Write the closing ``values`` (every one of ``_CLOSE_COLUMNS``) to the locked attempt's row (one
    Core UPDATE, no unit of work to flush) and to its object."""
    _CLOSE_RAW.execute(
        db.session.connection(), {"b_id": attempt.id, **{f"b_{key}": values[key] for key in _CLOSE_COLUMNS}}
    )
    for key in _CLOSE_COLUMNS:
        sa.orm.attributes.set_committed_value(attempt, key, values[key])


def _finalize_locked(
    attempt: QuizAttempt,
    now: datetime,
    reason: FinishReason,
    graded: list[SimpleNamespace] | None = None,
    quiz=None,
    commit: Callable[[QuizAttempt], None] | None = None,
) -> QuizAttempt:
    """Close the locked attempt; ``graded``: its questions graded before the lock (``_graded_questions``),
    ``quiz``: its quiz's ``partial_credit`` and ``kind`` when read already (else the quiz is loaded)."""
    end = now
    if reason != FinishReason.SUBMITTED and attempt.deadline is not None:
        end = min(now, attempt.deadline)
    limit_end = min(end, attempt.deadline) if attempt.deadline else end
    closing = {
        "open_slot": None,
        "finished_at": end,
        "finish_reason": reason,
        "time_used_seconds": max(int((limit_end - attempt.started_at).total_seconds()), 0),
    }
    if reason == FinishReason.ABANDONED:
        _close(attempt, **closing, state=AttemptState.ABANDONED, score=None, score_percent=None)
        log.info("attempt %s abandoned (not submitted in time)", attempt.id)
        return attempt
    quiz = quiz if quiz is not None else db.session.get(Quiz, attempt.quiz_id)
    # Core statements while the attempt is locked (on SQLite, while every writer waits):
    # the answers graded before the lock stand unless a save changed one since; the grades
    # go as one executemany.
    connection = db.session.connection()
    if graded is not None:
        seqs = [(row.id, row.client_seq) for row in _SEQS_RAW.rows(connection, {"b_attempt": attempt.id})]
        if seqs != [(question.id, question.client_seq) for question in graded]:
            graded = None
    questions = graded if graded is not None else _graded_questions(attempt.id, quiz)
    score = sum(question.score for question in questions)
    percent = round(100.0 * score / attempt.max_score, 2) if attempt.max_score else 0.0
    from lms.exams.quizzes.mistakes import record_attempt

    # With the caller's commit, the writes and the commit go in one round trip on PostgreSQL.
    dbapi_connection = connection.connection.dbapi_connection
    try:
        with pipeline(connection) if commit is not None else contextlib.nullcontext():
            if questions:
                _FINALIZE_GRADE_RAW.execute_many(
                    connection, [{"b_id": q.id, "b_score": q.score, "b_outcome": q.outcome} for q in questions]
                )
            _expire_loaded(AttemptQuestion, lambda question: question.attempt_id == attempt.id)
            _close(attempt, **closing, state=AttemptState.FINISHED, score=round(score, 4), score_percent=percent)
            record_attempt(attempt, questions, quiz, now)
            log.info("attempt %s finalized (%s): %.2f%%", attempt.id, reason, percent)
            if commit is not None:
                # The database connection commits inside the pipeline; the caller's commit (the
                # session's) runs after it and sends nothing. A session commit inside would hand
                # the connection back to the pool while the pipeline is open, to another thread.
                db.session.flush()
                dbapi_connection.commit()
        if commit is not None:
            commit(attempt)
    except Exception:
        if commit is not None:
            # A write refused in the pipeline raises at its end: roll the connection back outside it
            # (a rollback inside leaves the transaction aborted), then the session (as the view would).
            dbapi_connection.rollback()
            db.session.rollback()
        raise
    return attempt
