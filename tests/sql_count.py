"""Statements and round trips to the database per request (tests and ``benchmarks/start_cpu.py``).

On PostgreSQL (psycopg) a request pays one round trip per statement, plus the
transaction's BEGIN (psycopg sends it on its own before the first statement, outside
autocommit), plus its COMMIT or ROLLBACK, plus the pool's pre-ping at each checkout.
A psycopg pipeline (``lms.raw_sql.pipeline``) sends its statements and the commit that
ends it in one round trip: it counts one, its statements, BEGIN and COMMIT none. On
SQLite the statements are counted and round trips are 0.

    trips = RoundTrips(db.engine)
    with trips.counting("start"):
        client.post(...)
    trips.last("start")  # Count(statements=..., round_trips=..., seen=["BEGIN", "SELECT", ...])
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import sqlalchemy as sa


@dataclass
class Count:
    statements: int = 0
    round_trips: int = 0
    seen: list[str] = field(default_factory=list)  # what went to the server, in order


class RoundTrips:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.ping = bool(getattr(engine.pool, "_pre_ping", False))
        self.current: Count | None = None
        self.pipelines: list = []  # the pipelines seen in the current count (each one round trip)
        self.counts: dict[str, list[Count]] = {}

    @contextlib.contextmanager
    def counting(self, kind: str):
        """Count what runs inside under ``kind`` (one Count per use)."""
        self.current, self.pipelines = Count(), []
        listeners = [
            (self.engine, "before_cursor_execute", self._statement),
            (self.engine, "commit", self._end("COMMIT")),
            (self.engine, "rollback", self._end("ROLLBACK")),
            (self.engine, "checkout", self._checkout),
        ]
        for target, name, listener in listeners:
            sa.event.listen(target, name, listener)
        try:
            yield self.current
        finally:
            for target, name, listener in listeners:
                sa.event.remove(target, name, listener)
            self.counts.setdefault(kind, []).append(self.current)
            self.current = None

    def last(self, kind: str) -> Count:
        return self.counts[kind][-1]

    def summary(self, kind: str, n: int | None = None) -> str:
        counts = self.counts.get(kind, [])
        if not counts:
            return f"{kind:<7} -"
        n = n or len(counts)
        statements = sum(c.statements for c in counts) / n
        trips = sum(c.round_trips for c in counts) / n
        last = " ".join(counts[-1].seen)
        return f"{kind:<7} {statements:5.2f} statements, {trips:5.2f} round trips a request; last: {last}"

    # --- listeners ---

    def _pipeline_of(self, dbapi_connection):
        pipeline = getattr(dbapi_connection, "_pipeline", None) if self.postgres else None
        if pipeline is not None and not any(p is pipeline for p in self.pipelines):
            self.pipelines.append(pipeline)
            self.current.round_trips += 1
            self.current.seen.append("[pipeline")
        return pipeline

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        count = self.current
        dbapi_connection = conn.connection.dbapi_connection
        in_pipeline = self._pipeline_of(dbapi_connection) is not None
        if self.postgres and not dbapi_connection.autocommit:
            from psycopg.pq import TransactionStatus

            if dbapi_connection.info.transaction_status == TransactionStatus.IDLE:
                count.seen.append("BEGIN")
                count.round_trips += 0 if in_pipeline else 1
        count.statements += 1
        count.round_trips += 0 if (in_pipeline or not self.postgres) else 1
        words = statement.split(None, 2)
        word = words[0].upper()
        if word in ("RELEASE", "ROLLBACK") and len(words) > 1:
            word = f"{word}_{words[1].upper()}"
        count.seen.append(word + ("*" if executemany else ""))

    def _end(self, word: str):
        def listener(conn):
            if not self.postgres:
                self.current.seen.append(word)
                return
            from psycopg.pq import TransactionStatus

            dbapi_connection = conn.connection.dbapi_connection
            if dbapi_connection.info.transaction_status == TransactionStatus.IDLE:
                return  # nothing began: psycopg sends nothing
            in_pipeline = self._pipeline_of(dbapi_connection) is not None
            self.current.seen.append(word)
            self.current.round_trips += 0 if in_pipeline else 1

        return listener

    def _checkout(self, dbapi_connection, record, proxy):
        if self.postgres and self.ping:
            self.current.seen.append("PING")
            self.current.round_trips += 1
