"""Group commit of heartbeats: each process applies the beats that arrived meanwhile in one transaction.

The heartbeat is the platform's hottest write (about 330 beats/s for 5,000
viewers). Written one transaction per request, each beat pays a BEGIN and a
COMMIT and, on SQLite, queues for the database's single write lock once per
beat. Here the beats that arrived while the previous batch was being committed
are applied together (``lms.group_commit``: batches grow with the load; a lone
beat is applied at once): the batch's leader locks the members' rows and
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

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, g, has_request_context

from lms import raw_sql
from lms.auth.models import User
from lms.courses import tracking
from lms.extensions import db
from lms.group_commit import GroupCommitter, Pending

LOGIN = "login"  # not logged in (unknown, deactivated, or the session was revoked)
FORCED_CHANGE = "forced_change"  # must change the password before anything else

_AUTH = sa.select(User.id, User.is_active, User.session_version, User.must_change_password, User.locale).where(
    User.id.in_(sa.bindparam("p_user_ids", expanding=True))
)


@dataclass(eq=False)
class PendingBeat(Pending):
    user_id: int
    session_version: int
    beat: tracking.Heartbeat
    now: datetime

    def __post_init__(self) -> None:
        Pending.__init__(self)
        self.locale: str | None = None  # the member's saved language, read with the login (set when applied)


class BeatCommitter(GroupCommitter):
    """One per app and process (``lms.group_commit``); ``submit`` blocks until the beat is committed (or refused).

    Beats are applied in member order (a member's own beats in arrival order). The
    batches run on one connection kept between them (only the leader uses it): no pool
    checkout per batch, and on PostgreSQL no pre-ping round trip before each batch. It is
    dropped when a batch fails, when the engine's pool is replaced (``engine.dispose()``)
    and in a forked child.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self._connection: sa.Connection | None = None
        self._connection_of: tuple[int, object] | None = None  # (process, pool) it was taken in

    def _batch_connection(self) -> sa.Connection:
        """The connection the batches run on (see the class docstring)."""
        owner = (os.getpid(), db.engine.pool)
        connection = self._connection
        if connection is not None and (self._connection_of != owner or connection.closed or connection.invalidated):
            self._drop_connection(close=self._connection_of[0] == owner[0])  # never close a parent's connection
            connection = None
        if connection is None:
            connection = self._connection = db.engine.connect()
            self._connection_of = owner
        return connection

    def _drop_connection(self, *, close: bool = True) -> None:
        connection, self._connection, self._connection_of = self._connection, None, None
        if connection is not None and close:
            with contextlib.suppress(Exception):
                # Discarded, not returned to the pool (``raw_sql.script`` has invalidated it already on
                # PostgreSQL: it holds statements prepared for the batches). Closing it ends (and so rolls
                # back) its transaction and, on SQLite, releases the write gate.
                connection.invalidate()
            with contextlib.suppress(Exception):
                connection.close()

    def submit(self, user_id: int, session_version: int, beat: tracking.Heartbeat, now: datetime):
        """The beat's BeatResult once committed, or LOGIN / FORCED_CHANGE when the login check refuses it.

        The member's saved language, read in the same query, goes to ``g.user_locale``
        (``lms.i18n.select_locale``), so the beat's message needs no load of the user.
        """
        pending = PendingBeat(user_id, session_version, beat, now)
        outcome = self.submit_pending(pending)
        if outcome not in (LOGIN, FORCED_CHANGE) and has_request_context():
            g.user_locale = pending.locale
        return outcome

    def order_key(self, pending: PendingBeat) -> int:
        return pending.user_id

    def transaction(self, ordered: list[PendingBeat]) -> list:
        """Apply the beats in one transaction and commit; their outcomes in the same order.

        On a connection of its own (not the request's ORM session: no unit of work
        to flush, a commit that is only the database's). The login check reads the
        members' rows in the beats' own SELECT (``tracking.lock_beat_rows``); only
        members without a playback session need a query of their own.
        """
        connection = self._batch_connection()
        try:
            outcomes = self._apply_beats(connection, ordered)
        except BaseException:
            self._drop_connection()
            raise
        return outcomes

    def _apply_beats(self, connection: sa.Connection, ordered: list[PendingBeat]) -> list:
        """The beats' outcomes, written and committed on ``connection`` (on PostgreSQL in two round trips,
        ``raw_sql.script``: BEGIN with the SELECT, then the writes with the COMMIT)."""
        with raw_sql.script(connection) as script:
            # SQLite: the write lock was taken first (the write gate, often held by the other process's
            # batch); the beats that arrived while it was awaited join this batch instead of waiting again.
            self.join_waiting(ordered)
            rows = tracking.lock_beat_rows(connection, {pending.user_id for pending in ordered})
            logins = {user_id: (row.user_is_active, row.user_session_version, row.user_must_change_password,
                                row.user_locale) for user_id, row in rows.items()}  # fmt: skip
            missing = sorted({pending.user_id for pending in ordered} - logins.keys())
            if missing:
                for row in connection.execute(_AUTH, {"p_user_ids": missing}):
                    logins[row.id] = (row.is_active, row.session_version, row.must_change_password, row.locale)
            outcomes: list = []
            accepted: list[int] = []
            for index, pending in enumerate(ordered):
                is_active, session_version, must_change_password, pending.locale = logins.get(
                    pending.user_id, (False, None, False, None)
                )
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
            script.commit()
        return outcomes


def committer(app: Flask) -> BeatCommitter:
    """The app's committer (made on first use)."""
    return BeatCommitter.of(app)
