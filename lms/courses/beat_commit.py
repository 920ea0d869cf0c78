"""Group commit of heartbeats: each process applies the beats that arrived meanwhile in one transaction.

The heartbeat is the platform's hottest write (about 330 beats/s for 5,000
viewers). Written one transaction per request, each beat pays a BEGIN and a
COMMIT and, on SQLite, queues for the database's single write lock once per
beat. Here the beats that arrived while the previous batch was being committed
are applied together (batches grow with the load; a lone beat is applied at
once, see ``BeatCommitter``): the batch's leader locks the members' rows and
reads their logins in one query (``tracking.lock_beat_rows``), applies the
beats with ``tracking.apply_heartbeats`` (the crediting rules of one beat,
set-based statements for the batch) in one transaction on a connection of its
own, commits, and only then answers each waiting request: a beat is answered only
once it is durable. Beats are applied in member order (a member's own beats in
arrival order), so two processes' batches lock rows in the same order on
PostgreSQL. If the batch fails, it is rolled back and each beat is applied
again in its own transaction, so one bad beat fails alone.

The login check (``LOGIN`` / ``FORCED_CHANGE``) is the heartbeat's fast path of
Flask-Login's user loader: the member's row must exist, be active, carry the
session version of the cookie, and not be waiting for a forced password change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import Flask

from lms.auth.models import User
from lms.courses import tracking
from lms.extensions import db

log = logging.getLogger(__name__)

LOGIN = "login"  # not logged in (unknown, deactivated, or the session was revoked)
FORCED_CHANGE = "forced_change"  # must change the password before anything else
MAX_BATCH = 500
ANSWER_TIMEOUT_SECONDS = 120

_AUTH = sa.select(User.id, User.is_active, User.session_version, User.must_change_password).where(
    User.id.in_(sa.bindparam("p_user_ids", expanding=True))
)


@dataclass
class PendingBeat:
    user_id: int
    session_version: int
    beat: tracking.Heartbeat
    now: datetime
    done: threading.Event = field(default_factory=threading.Event)
    outcome: tracking.BeatResult | str | None = None
    error: BaseException | None = None

    def answer(self, outcome=None, error: BaseException | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.done.set()


class BeatCommitter:
    """One per app and process; ``submit`` blocks until the beat is committed (or refused).

    Leader and followers, as databases group their commits: a request that finds
    no batch being applied becomes the leader and applies, in its own thread and
    on a database connection of its own, every beat waiting (its own among them); requests arriving
    meanwhile wait, and are answered when the batch holding their beat commits.
    When the leader's own beat is done it steps down and a waiting request takes
    over. No thread of its own: a lone beat is applied at once with no hand-over.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._reset()
        self.batches = 0  # how many transactions applied beats (for tests and benchmarks)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._waiting: list[PendingBeat] = []
        self._leading = False

    def submit(self, user_id: int, session_version: int, beat: tracking.Heartbeat, now: datetime):
        """The beat's BeatResult once committed, or LOGIN / FORCED_CHANGE when the login check refuses it.

        Must be called in an app context whose database session holds no write of its own
        (on SQLite, a leader waits for the database's write lock on a connection of its own).
        """
        if self._pid != os.getpid():  # forked: the parent's waiters and lock are not ours
            self._reset()
        pending = PendingBeat(user_id, session_version, beat, now)
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        with self._cond:
            self._waiting.append(pending)
            while self._leading and not pending.done.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if pending in self._waiting:
                        self._waiting.remove(pending)  # never applied: the answer below is an error
                    raise RuntimeError("no heartbeat batch took this beat in time")
                self._cond.wait(remaining)
            leader = not pending.done.is_set()
            if leader:
                self._leading = True
        if leader:
            try:
                self._lead(pending)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if not pending.done.is_set():
            raise RuntimeError("the heartbeat was not applied")
        if pending.error is not None:
            raise pending.error
        return pending.outcome

    def _lead(self, own: PendingBeat | None) -> None:
        """Apply the waiting beats, batch after batch, until ``own`` is done (None: until none waits)."""
        while own is None or not own.done.is_set():
            with self._cond:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
            if not batch:
                return
            try:
                self._apply(batch)
            except BaseException as error:  # never leave a request waiting
                log.exception("heartbeat batch failed")
                for pending in batch:
                    if not pending.done.is_set():
                        pending.answer(error=error)
            finally:
                with self._cond:
                    self._cond.notify_all()  # the followers whose beats were in the batch

    def _apply(self, batch: list[PendingBeat]) -> None:
        ordered = sorted(batch, key=lambda pending: pending.user_id)  # stable: a member's beats keep their order
        try:
            outcomes = self._transaction(ordered)  # rolled back when it fails (the connection closes)
        except Exception:
            if len(ordered) == 1:
                raise
            log.warning("a batch of %d heartbeats failed; applying them one by one", len(ordered), exc_info=True)
            for pending in ordered:
                try:
                    outcome = self._transaction([pending])[0]
                except Exception as error:
                    pending.answer(error=error)
                else:
                    pending.answer(outcome)
            return
        for pending, outcome in zip(ordered, outcomes, strict=True):
            pending.answer(outcome)

    def _transaction(self, ordered: list[PendingBeat]) -> list:
        """Apply the beats in one transaction and commit; their outcomes in the same order.

        On a connection of its own (not the request's ORM session: no unit of work
        to flush, a commit that is only the database's). The login check reads the
        members' rows in the beats' own SELECT (``tracking.lock_beat_rows``); only
        members without a playback session need a query of their own.
        """
        with db.engine.connect() as connection:
            rows = tracking.lock_beat_rows(connection, {pending.user_id for pending in ordered})
            logins = {user_id: (row.user_is_active, row.user_session_version, row.user_must_change_password)
                      for user_id, row in rows.items()}  # fmt: skip
            missing = sorted({pending.user_id for pending in ordered} - logins.keys())
            if missing:
                for row in connection.execute(_AUTH, {"p_user_ids": missing}):
                    logins[row.id] = (row.is_active, row.session_version, row.must_change_password)
            outcomes: list = []
            accepted: list[int] = []
            for index, pending in enumerate(ordered):
                is_active, session_version, must_change_password = logins.get(pending.user_id, (False, None, False))
                if not is_active or session_version != pending.session_version:
                    outcomes.append(LOGIN)
                elif must_change_password:
                    outcomes.append(FORCED_CHANGE)
                else:
                    outcomes.append(None)
                    accepted.append(index)
            if accepted:
                results = tracking.apply_heartbeats(
                    connection, rows, [(ordered[i].user_id, ordered[i].beat, ordered[i].now) for i in accepted]
                )
                for index, result in zip(accepted, results, strict=True):
                    outcomes[index] = result
            connection.commit()
        self.batches += 1
        return outcomes


def committer(app: Flask) -> BeatCommitter:
    """The app's committer (made on first use)."""
    found = app.extensions.get("lms.beat_committer")
    if found is None:
        found = app.extensions.setdefault("lms.beat_committer", BeatCommitter(app))
    return found
