"""Group commit: the writes a process receives while one transaction commits wait and go together in the next.

For the platform's hottest small writes (heartbeats, quiz answer saves). Written
one transaction per request, each pays a BEGIN and a COMMIT and, on SQLite,
queues once per write for the database's single write lock. A ``GroupCommitter``
applies the items that arrived meanwhile in one transaction on a connection of
its own (batches grow with the load; a lone item is applied at once) and only
then answers each waiting request: an item is answered only once it is durable.

Leader and followers, as databases group their commits: a request that finds no
batch being applied becomes the leader and applies every item waiting (its own
among them); requests arriving meanwhile wait, and are answered when the batch
holding their item commits. When the leader's own item is done it steps down and
a waiting request takes over. No thread of its own. A subclass may let several
leaders apply batches at once (``max_leaders``; PostgreSQL, where a batch spends
most of its time waiting for its commit's flush): an item is in exactly one batch.
If a batch fails it is rolled back and each item is applied again in its own
transaction, so one bad item fails alone.

A subclass says how a batch is applied (``transaction``: the outcomes in the
items' order, committed) and in which order (``order_key``: rows locked in one
order by every process, so two processes' batches never wait in a cycle). A
transaction that waits for a write lock first may take in what arrived while it
waited (``join_waiting``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

MAX_BATCH = 500
ANSWER_TIMEOUT_SECONDS = 120


class Pending:
    """An item waiting for its batch; ``answer`` wakes its request."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.taken = False  # in a batch being applied (its request waits for that batch)
        self.outcome: Any = None
        self.error: BaseException | None = None

    def answer(self, outcome=None, error: BaseException | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.done.set()


class GroupCommitter(ABC):
    """One per app and process (``of``); ``submit_pending`` blocks until the item is committed."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._reset()
        self.batches = 0  # how many transactions applied items (for tests and benchmarks)

    @classmethod
    def of(cls, app: Flask):
        """The app's committer of this class (made on first use)."""
        key = f"lms.group_commit.{cls.__module__}.{cls.__qualname__}"
        found = app.extensions.get(key)
        if found is None:
            found = app.extensions.setdefault(key, cls(app))
        return found

    @abstractmethod
    def transaction(self, ordered: list) -> list:
        """Apply the items in one transaction and commit; their outcomes in the same order."""

    def order_key(self, pending):
        """The order a batch is applied in (stable: equal keys keep their arrival order)."""
        return 0

    def max_leaders(self) -> int:
        """How many of the process's batches may be applied at once (1: one after the other).

        More than one only where the database lets concurrent transactions commit at once
        (PostgreSQL: a batch that waits for its commit's flush need not hold the next one back).
        """
        return 1

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._waiting: list = []
        self._leading = 0  # leaders applying batches now
        self._one_by_one = 0  # leaders applying a failed batch's items one by one

    def submit_pending(self, pending):
        """The item's outcome once its batch is committed; raises what applying it raised.

        Must be called in an app context whose database session holds no write of its own
        (on SQLite, a leader waits for the database's write lock on a connection of its own).
        """
        if self._pid != os.getpid():  # forked: the parent's waiters and lock are not ours
            self._reset()
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        limit = self.max_leaders()
        with self._cond:
            self._waiting.append(pending)
            while not pending.done.is_set() and (pending.taken or self._leading >= limit):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if pending in self._waiting:
                        self._waiting.remove(pending)  # never applied: the answer below is an error
                    raise RuntimeError("no batch took this write in time")
                self._cond.wait(remaining)
            leader = not pending.done.is_set()
            if leader:
                self._leading += 1
        if leader:
            try:
                self._lead(pending)
            finally:
                with self._cond:
                    self._leading -= 1
                    self._cond.notify_all()
        if not pending.done.is_set():
            raise RuntimeError("the write was not applied")
        if pending.error is not None:
            raise pending.error
        return pending.outcome

    def _lead(self, own) -> None:
        """Apply the waiting items, batch after batch, until ``own`` is done (None: until none waits)."""
        while own is None or not own.done.is_set():
            with self._cond:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                for pending in batch:
                    pending.taken = True
            if not batch:
                if own is not None:  # taken by another leader's batch (several leaders): wait for it
                    with self._cond:
                        while not own.done.is_set():
                            self._cond.wait()
                return
            ordered = sorted(batch, key=self.order_key)
            try:
                self._apply(ordered)  # ``ordered`` may grow (``join_waiting``)
            except BaseException as error:  # never leave a request waiting
                log.exception("%s: a batch failed", type(self).__name__)
                for pending in ordered:
                    if not pending.done.is_set():
                        pending.answer(error=error)
            finally:
                with self._cond:
                    self._cond.notify_all()  # the followers whose items were in the batch

    def join_waiting(self, ordered: list) -> None:
        """Add to ``ordered`` (in order) the items that arrived since its batch was taken, up to ``MAX_BATCH``.

        For a transaction that has just waited for the database's write lock: what arrived
        meanwhile is applied with it instead of waiting for the lock once more. Call it before
        the batch locks any row (the rows of a batch are locked in one order). A member's
        items keep their arrival order (the sort is stable; these arrived later).
        """
        if self._one_by_one:  # applying a failed batch's items alone: each fails alone
            return
        with self._cond:
            room = max(MAX_BATCH - len(ordered), 0)
            arrived = self._waiting[:room]
            del self._waiting[:room]
            for pending in arrived:
                pending.taken = True
        if arrived:
            ordered.extend(arrived)
            ordered.sort(key=self.order_key)

    def _apply(self, ordered: list) -> None:
        try:
            outcomes = self._transaction(ordered)  # rolled back when it fails (its connection closes)
        except Exception:
            if len(ordered) == 1:
                raise
            log.warning("a batch of %d writes failed; applying them one by one", len(ordered), exc_info=True)
            with self._cond:
                self._one_by_one += 1
            try:
                for pending in ordered:
                    try:
                        outcome = self._transaction([pending])[0]
                    except Exception as error:
                        pending.answer(error=error)
                    else:
                        pending.answer(outcome)
            finally:
                with self._cond:
                    self._one_by_one -= 1
            return
        for pending, outcome in zip(ordered, outcomes, strict=True):
            pending.answer(outcome)

    def _transaction(self, ordered: list) -> list:
        outcomes = self.transaction(ordered)
        self.batches += 1
        return outcomes
