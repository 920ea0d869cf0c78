"""Quiz answer saves (DESIGN.md §4), set-based and group-committed.

The autosave is the hottest write of a quiz (every member saves each answer as
they give it). ``prepare_save`` does what needs no lock (the question's shape is
frozen: find it, parse the answer); ``apply_saves`` applies any number of
prepared saves under their attempts' locks with three statements: one SELECT
... IN ... FOR UPDATE of the attempts and their questions' stored answers (in
attempt order), and one executemany each for the answers and the attempts' last
activity. Each save is judged in order against the rows as the
earlier saves of the batch left them, by the rules of one save: a seq not above
the stored one changes nothing; the time since the attempt's previous save is
added to the question's time spent (capped); a final attempt, or one past
``deadline + QUIZ_GRACE_SECONDS``, refuses the save (``FINAL`` / ``OVERDUE``;
the caller closes an overdue attempt).

``SaveCommitter`` (``lms.group_commit``) applies the saves a process receives
meanwhile in one transaction and answers each only once it is committed; the
save view uses it. ``attempts.save_answer`` is the one-save service on the
request's session.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.db import PING_IDLE_SECONDS, pings_before_use, socket_has_data
from lms.errors import DomainError, NotFound, ValidationFailed
from lms.exams.questions import types as grading
from lms.exams.questions.models import QuestionType
from lms.exams.questions.types import is_int, parse_response, to_shown_order
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuestionSnapshot, QuizAttempt
from lms.exams.quizzes.timing import network_grace
from lms.extensions import db
from lms.group_commit import GroupCommitter, Pending
from lms.raw_sql import RawStatement, lock_for_writes, pipeline

# Time between two saves longer than this is not counted as time spent on a question
# (the member left the page, or the phone slept).
MAX_SECONDS_PER_SAVE = 600
MAX_SEQ = 2**53
# Batches of a process applied at once on PostgreSQL: a batch spends most of its time
# waiting for its commit's WAL flush (a few ms), and a save that waits for another batch's
# flush holds its server thread idle, so a save never waits for one (as many as the
# server's threads: gunicorn runs 4 a process); PostgreSQL flushes concurrent commits
# together itself. Each batch locks its attempts in attempt order: two never wait for
# each other in a cycle. (Measured with quiz_submit on PostgreSQL, 2 x 4 threads: about
# 0.8x the no-op's throughput against 0.6x with two batches at once and 0.45x with one.)
PARALLEL_BATCHES = 16
# A server thread's kept connection (``SaveCommitter.request_connection``) idle longer than
# this is pinged before a save uses it, as the pool pings every checkout.
KEPT_IDLE_PING_SECONDS = PING_IDLE_SECONDS  # as the pool's own idle ping (lms.db)

FINAL = "final"  # the attempt is submitted or closed: answers no longer change
OVERDUE = "overdue"  # past the deadline and its grace: refused, and the attempt is to be closed


@dataclass(frozen=True)
class SaveResult:
    applied: bool  # False: an older or replayed save; the newer answer stays
    position: int
    seq: int
    response: dict | None  # the answer now stored, in shown order
    saved_at: datetime | None
    remaining_seconds: int | None
    answered: bool


@dataclass(frozen=True)
class PreparedSave:
    """A save checked and parsed (no lock needed): the attempt question it writes and the answer."""

    attempt_id: int
    question_id: int  # attempt_questions.id
    position: int
    seq: int
    question_type: QuestionType
    order: list
    response: dict | None


class StaleLogin(Exception):
    """The save's login check refused it: ``LOGIN`` (unknown or deactivated member, or a revoked
    session) or ``FORCED_CHANGE`` (the member must change the password first)."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


LOGIN = "login"
FORCED_CHANGE = "forced_change"


# Built once (bound parameters): the hot path only binds values. The member's row comes
# along for the login check of the save view's fast path (what Flask-Login's user loader
# and the forced password change check, without loading the user).
_SAVE_TARGET = (
    sa.select(
        AttemptQuestion.id, AttemptQuestion.option_order, QuestionSnapshot.type, QuestionSnapshot.answer,
        User.is_active, User.session_version, User.must_change_password, User.locale,
    )
    .join(QuizAttempt, QuizAttempt.id == AttemptQuestion.attempt_id)
    .join(QuestionSnapshot, QuestionSnapshot.id == AttemptQuestion.snapshot_id)
    .join(User, User.id == QuizAttempt.user_id)
    .where(
        QuizAttempt.id == sa.bindparam("attempt_id"),
        QuizAttempt.user_id == sa.bindparam("user_id"),
        AttemptQuestion.position == sa.bindparam("position"),
    )
)  # fmt: skip
_SAVE_TARGET_RAW = RawStatement(_SAVE_TARGET)
_OWN_ATTEMPT = sa.select(QuizAttempt.id).where(
    QuizAttempt.id == sa.bindparam("attempt_id"), QuizAttempt.user_id == sa.bindparam("user_id")
)
_LOGIN_ROW = sa.select(User.is_active, User.session_version, User.must_change_password, User.locale).where(
    User.id == sa.bindparam("user_id")
)
# The attempts and their questions' stored answers, both locked (the latest versions on
# PostgreSQL), attempt by attempt: every writer of an attempt's answers locks the attempt first.
_LOCK = (
    sa.select(
        QuizAttempt.id.label("attempt_id"),
        QuizAttempt.state,
        QuizAttempt.deadline,
        QuizAttempt.last_activity_at,
        AttemptQuestion.id.label("question_id"),
        AttemptQuestion.client_seq,
        AttemptQuestion.response,
        AttemptQuestion.saved_at,
    )
    .join(QuizAttempt, QuizAttempt.id == AttemptQuestion.attempt_id)
    .where(AttemptQuestion.id.in_(sa.bindparam("p_questions", expanding=True)))
    .order_by(QuizAttempt.id, AttemptQuestion.id)
    .with_for_update(of=[QuizAttempt, AttemptQuestion])
)
_WRITE = (
    sa.update(AttemptQuestion)
    .where(AttemptQuestion.id == sa.bindparam("b_question"), AttemptQuestion.client_seq < sa.bindparam("b_seq"))
    .values(
        response=sa.bindparam("b_response", type_=sa.JSON),
        client_seq=sa.bindparam("b_seq"),
        saved_at=sa.bindparam("b_now", type_=AttemptQuestion.saved_at.type),
        time_spent_seconds=AttemptQuestion.time_spent_seconds + sa.bindparam("b_spent"),
    )
)
_TOUCH = (
    sa.update(QuizAttempt)
    .where(QuizAttempt.id == sa.bindparam("b_attempt"))
    .values(last_activity_at=sa.bindparam("b_now", type_=QuizAttempt.last_activity_at.type))
)
# The batch's statements run on the DBAPI cursor, compiled once (``lms.raw_sql``: no
# SQLAlchemy execution overhead per statement, the hot path's main client cost).
_LOCK_RAW, _WRITE_RAW, _TOUCH_RAW = RawStatement(_LOCK), RawStatement(_WRITE), RawStatement(_TOUCH)


def check_login_row(row, session_version: int) -> None:
    """Raise StaleLogin unless the member's row (is_active, session_version, must_change_password,
    locale) accepts a session of ``session_version``.

    The member's saved language, read in the same query, goes to ``g.user_locale``
    (``lms.i18n.select_locale``), so the save's messages need no load of the member.
    """
    if row is None or not row.is_active or row.session_version != session_version:
        raise StaleLogin(LOGIN)
    if row.must_change_password:
        raise StaleLogin(FORCED_CHANGE)
    if has_request_context():
        g.user_locale = row.locale


def check_login(user_id: int, session_version: int, *, connection=None) -> None:
    """StaleLogin unless the member's row accepts a session of ``session_version`` (``prepare_save``'s check)."""
    connection = connection if connection is not None else db.session.connection()
    check_login_row(connection.execute(_LOGIN_ROW, {"user_id": user_id}).first(), session_version)


def prepare_save(
    attempt_id: int, user: User | int, position: int, raw, seq, *, session_version: int | None = None, connection=None
) -> PreparedSave:
    """Check and parse a save of question ``position`` of the member's attempt; no lock, no write.

    ``user``: the member or their id. With ``session_version`` (the login of a session cookie
    not yet checked: ``lms.auth.login.session_identity``) the member's row is checked in the
    same query first: StaleLogin unless the member exists, is active, has that session
    version and no forced password change. Raises ValidationFailed (no valid seq, an
    answer that does not fit the question) and NotFound (not the member's attempt, no
    such question).
    """
    user_id = user if isinstance(user, int) else user.id
    connection = connection if connection is not None else db.session.connection()
    ids = {"attempt_id": attempt_id, "user_id": user_id}
    found = _SAVE_TARGET_RAW.rows(connection, {**ids, "position": position})
    row = found[0] if found else None
    if session_version is not None:
        check_login_row(row if row is not None else connection.execute(_LOGIN_ROW, ids).first(), session_version)
    if not is_int(seq) or not 0 < seq < MAX_SEQ:
        raise ValidationFailed(_l("The save carries no valid sequence number; reload the page."))
    if row is None:
        if connection.execute(_OWN_ATTEMPT, ids).first() is None:  # another member's attempt looks missing
            raise NotFound(_l("This attempt does not exist."))
        raise NotFound(_l("This question is not part of the attempt."))
    question_type = QuestionType(row.type)
    order = row.option_order or []
    response = parse_response(question_type, order, grading.blank_count(row.answer), raw)
    return PreparedSave(attempt_id, row.id, position, seq, question_type, order, response)


def apply_saves(
    connection, saves: Sequence[tuple[PreparedSave, datetime]], *, commit: bool = False
) -> list[SaveResult | str]:
    """Apply prepared saves, in order, under their attempts' locks: a SaveResult, FINAL or OVERDUE each.

    With ``commit`` the transaction is committed too; on PostgreSQL (psycopg) the batch then
    takes two round trips: the lock (with its BEGIN), then the writes with the COMMIT
    (``raw_sql.pipeline``: an error in any write raises at the commit, and nothing is committed).
    """
    lock_for_writes(connection)  # SQLite: the write lock now, before the SELECT ... FOR UPDATE
    attempts: dict[int, SimpleNamespace] = {}
    questions: dict[int, SimpleNamespace] = {}
    with pipeline(connection):  # PostgreSQL: a BEGIN not yet sent goes with the SELECT
        locked = _LOCK_RAW.rows(connection, {"p_questions": sorted({save.question_id for save, _ in saves})})
    for row in locked:
        attempts.setdefault(row.attempt_id, SimpleNamespace(state=row.state, deadline=row.deadline,
                                                            last_activity_at=row.last_activity_at))  # fmt: skip
        questions[row.question_id] = SimpleNamespace(client_seq=row.client_seq, response=row.response,
                                                     saved_at=row.saved_at)  # fmt: skip
    writes: dict[int, dict] = {}
    touches: dict[int, dict] = {}
    results: list[SaveResult | str] = []
    grace = network_grace()
    for save, now in saves:
        attempt = attempts.get(save.attempt_id)
        if attempt is None or attempt.state != AttemptState.IN_PROGRESS:
            results.append(FINAL)
            continue
        if attempt.deadline is not None and now > attempt.deadline + grace:
            results.append(OVERDUE)
            continue
        question = questions[save.question_id]
        applied = save.seq > question.client_seq
        if applied:
            spent = int(min(max((now - attempt.last_activity_at).total_seconds(), 0), MAX_SECONDS_PER_SAVE))
            earlier = writes[save.question_id]["b_spent"] if save.question_id in writes else 0
            writes[save.question_id] = {
                "b_question": save.question_id, "b_seq": save.seq, "b_response": save.response, "b_now": now,
                "b_spent": earlier + spent,
            }  # fmt: skip
            touches[save.attempt_id] = {"b_attempt": save.attempt_id, "b_now": now}
            question.client_seq, question.response, question.saved_at = save.seq, save.response, now
            attempt.last_activity_at = now
        remaining = None if attempt.deadline is None else max(int((attempt.deadline - now).total_seconds()), 0)
        results.append(SaveResult(
            applied=applied,
            position=save.position,
            seq=question.client_seq,
            response=to_shown_order(save.question_type, save.order, question.response),
            saved_at=question.saved_at,
            remaining_seconds=remaining,
            answered=grading.is_answered(save.question_type, question.response),
        ))  # fmt: skip
    with pipeline(connection):
        _WRITE_RAW.execute_many(connection, list(writes.values()))
        _TOUCH_RAW.execute_many(connection, list(touches.values()))
        if commit:
            connection.commit()
    return results


class _ThreadEnd:
    """Lives in a thread's locals beside its kept save connection (``SaveCommitter.request_connection``)."""


def _return_kept(connection: sa.Connection, pid: int) -> None:
    """A kept save connection whose thread ended goes back to the pool (never a parent process's)."""
    if os.getpid() == pid:
        with contextlib.suppress(Exception):
            connection.close()


@dataclass(eq=False)
class PendingSave(Pending):
    save: PreparedSave
    now: datetime

    def __post_init__(self) -> None:
        Pending.__init__(self)


class SaveCommitter(GroupCommitter):
    """Group commit of answer saves (``lms.group_commit``), in attempt order; ``SaveCommitter.of(app)``.

    A request may lend the connection it prepared its save on (``submit(..., connection=)``):
    if it becomes the leader, its batches go on that connection instead of one checked out
    for them (on PostgreSQL a checkout costs a ping and its return a rollback). The lent
    connection must hold no write (a prepared save only read on it). The save view takes
    it from ``request_connection``.
    """

    def __init__(self, app) -> None:
        super().__init__(app)
        self._lent = threading.local()  # the leader's own connection, seen from its thread only
        self._kept = threading.local()  # a server thread's connection for its save requests
        self._parallel: int | None = None

    @contextlib.contextmanager
    def request_connection(self):
        """The connection a save request prepares its save on and lends to ``submit``.

        Where the pool checks connections at checkout (``lms.db.pings_before_use``: on
        PostgreSQL) each server thread keeps one between its save requests: no checkout per
        save (a kept connection the server closed, seen by a poll of its socket, or idle over
        ``KEPT_IDLE_PING_SECONDS`` is pinged, and replaced when the ping fails). It leaves every
        request with no transaction open (the read of a save that another request committed is
        rolled back, as the pool's return would) and is dropped when a request fails otherwise
        than by a refusal (``DomainError``), when the engine's pool is replaced and in a forked
        child. Elsewhere: one from the pool, returned after.
        """
        if not pings_before_use(db.engine):
            with db.engine.connect() as connection:
                yield connection
            return
        connection = self._kept_connection()
        try:
            yield connection
        except DomainError:
            try:
                connection.rollback()
            except Exception:
                self._drop_kept()
            raise
        except BaseException:
            self._drop_kept()
            raise
        if connection.in_transaction():
            connection.rollback()
        self._kept.used_at = time.monotonic()

    def _kept_connection(self) -> sa.Connection:
        owner = (os.getpid(), db.engine.pool)
        kept = getattr(self._kept, "entry", None)
        if kept is not None:
            connection, of = kept
            stale = of != owner or connection.closed or connection.invalidated
            if not stale and (self._closed_by_server(connection)
                              or time.monotonic() - self._kept.used_at > KEPT_IDLE_PING_SECONDS):  # fmt: skip
                stale = not self._pings(connection)
            if not stale:
                return connection
            self._drop_kept(close=of[0] == owner[0])  # never close a parent process's connection
        connection = db.engine.connect()  # the pool pings it
        self._kept.entry, self._kept.used_at = (connection, owner), time.monotonic()
        # When the thread ends (a server that starts a thread per request) its locals go, and
        # with them this marker: the connection then goes back to the pool.
        self._kept.thread_end = _ThreadEnd()
        weakref.finalize(self._kept.thread_end, _return_kept, connection, owner[0])
        return connection

    @staticmethod
    def _closed_by_server(connection: sa.Connection) -> bool:
        """Whether the idle connection's socket has something to read (``lms.db.socket_has_data``):
        the server closed it or sent a notice; either way it is pinged before use."""
        return socket_has_data(connection.connection.dbapi_connection)

    @staticmethod
    def _pings(connection: sa.Connection) -> bool:
        try:
            return bool(connection.dialect.do_ping(connection.connection.dbapi_connection))
        except Exception:  # the database closed it (a restart, an idle timeout)
            return False

    def _drop_kept(self, *, close: bool = True) -> None:
        kept, self._kept.entry, self._kept.thread_end = getattr(self._kept, "entry", None), None, None
        if kept is not None and close:
            with contextlib.suppress(Exception):
                kept[0].invalidate()  # its transaction ends with it; a failed pipeline may have left it unusable
            with contextlib.suppress(Exception):
                kept[0].close()

    def submit(self, save: PreparedSave, now: datetime, *, connection=None) -> SaveResult | str:
        """The save's SaveResult (or FINAL / OVERDUE) once its batch is committed."""
        self._lent.connection = connection
        try:
            return self.submit_pending(PendingSave(save, now))
        finally:
            self._lent.connection = None

    def order_key(self, pending: PendingSave) -> int:
        return pending.save.attempt_id

    def max_leaders(self) -> int:
        """On SQLite one batch at a time (the database has one writer); elsewhere ``PARALLEL_BATCHES``."""
        if self._parallel is None:
            self._parallel = 1 if db.engine.dialect.name == "sqlite" else PARALLEL_BATCHES
        return self._parallel

    def transaction(self, ordered: list[PendingSave]) -> list:
        lent = getattr(self._lent, "connection", None)
        connection = lent if lent is not None else db.engine.connect()
        try:
            return apply_saves(connection, [(pending.save, pending.now) for pending in ordered], commit=True)
        except BaseException:
            # Discarded, not rolled back for reuse: after a failure inside psycopg's pipeline the
            # connection may not come back from its error state. The lender's Connection stays usable
            # (a retry one by one runs on it): it takes a new database connection on its next statement.
            connection.invalidate()
            connection.rollback()
            raise
        finally:
            if lent is None:
                connection.close()
