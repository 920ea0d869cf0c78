"""Core statements on the DBAPI cursor (lms.raw_sql): the same rows and writes as SQLAlchemy's."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import datetime
from types import SimpleNamespace

import psycopg
import pytest
import sqlalchemy as sa

from lms import clock, raw_sql
from lms.courses import tracking
from lms.courses.models import (
    LessonKind,
    LessonProgress,
    PlaybackSession,
    StudyDaySignal,
    StudyLedgerEntry,
    StudySource,
)
from lms.extensions import db

pytestmark = pytest.mark.postgres  # the pyformat paramstyle and psycopg's result types


def test_the_beat_select_reads_what_sqlalchemy_reads(app, make_user, make_course, lesson_of, start, beat,
                                                     frozen_clock):  # fmt: skip
    video = lesson_of(make_course((LessonKind.VIDEO, 600.0)))
    members = [make_user() for _ in range(3)]
    for member in members:
        assert beat(member, start(member, video), 0, 15).credited == 15
    ids = sorted(member.id for member in members)
    with db.engine.connect() as connection:
        expected = [row._asdict() for row in connection.execute(tracking._SELECT_FOR_BEATS.statement,
                                                                {"p_user_ids": ids})]  # fmt: skip
        connection.rollback()
        rows = tracking.lock_beat_rows(connection, ids)
        connection.rollback()
    assert [vars(rows[user_id]) for user_id in ids] == expected
    found = rows[ids[0]]  # processed like SQLAlchemy's rows: JSON, dates, booleans, enums
    assert isinstance(found.intervals, list) and found.intervals and isinstance(found.last_beat_at, datetime)
    assert found.user_is_active is True and found.kind == LessonKind.VIDEO


def test_the_batch_takes_the_write_lock_before_its_select(app, make_user):
    make_user()
    with db.engine.connect() as connection:
        raw_sql.lock_for_writes(connection)
        assert connection.in_transaction()
        if connection.dialect.name == "sqlite":
            assert connection.connection.dbapi_connection.in_transaction  # BEGIN IMMEDIATE ran
        connection.rollback()


def test_writes_go_through_the_bind_processors(app, make_user, make_course, lesson_of, start, frozen_clock):
    video = lesson_of(make_course((LessonKind.VIDEO, 600.0)))
    member = make_user()
    start(member, video)
    later = frozen_clock.now
    with db.engine.connect() as connection:
        raw_sql.lock_for_writes(connection)
        tracking._SAVE_PROGRESS.execute_many(connection, [{
            "p_user_id": member.id, "p_lesson_id": video.id, "p_intervals": [[0.0, 30.0]], "p_watched": 30.0,
            "p_position": 30.0, "p_studied_at": later, "p_completed_at": None, "p_presence_token": None,
            "p_presence_issued_at": None}])  # fmt: skip
        tracking.add_study_seconds_many([(member.id, video.id, later.date(), StudySource.VIDEO, 30.0)],
                                        connection=connection)  # fmt: skip
        connection.commit()
    db.session.expire_all()
    progress = db.session.execute(sa.select(LessonProgress).filter_by(user_id=member.id)).scalar_one()
    assert progress.intervals == [[0.0, 30.0]] and progress.watched_seconds == 30.0
    assert progress.last_studied_at == later and progress.completed_at is None


def _as_sqlalchemy(monkeypatch) -> None:
    """Run the RawStatements through SQLAlchemy's own execution (what the batch did before raw_sql)."""
    monkeypatch.setattr(raw_sql.RawStatement, "rows", lambda self, connection, values: [
        SimpleNamespace(**row._asdict()) for row in connection.execute(self.statement, values)])  # fmt: skip
    monkeypatch.setattr(raw_sql.RawStatement, "execute_many",
                        lambda self, connection, rows: connection.execute(self.statement, rows) if rows else None)


def _state(members, lessons) -> list:
    """Every row the beats wrote, per member index (ids and session ids left out)."""
    index = {member.id: number for number, member in enumerate(members)}
    rows = []
    for table, skip in ((PlaybackSession, {"user_id", "id"}), (LessonProgress, {"user_id", "id"}),
                        (StudyLedgerEntry, {"user_id", "id"}), (StudyDaySignal, {"user_id", "id"})):  # fmt: skip
        columns = [column for column in table.__table__.columns if column.name not in skip]
        for row in db.session.execute(sa.select(table.user_id, *columns).where(table.user_id.in_(index))):
            rows.append((table.__tablename__, index[row[0]], *row[1:]))
    return sorted(rows, key=repr)


def test_a_random_stream_of_beats_writes_what_sqlalchemy_writes(app, make_user, make_course, start, frozen_clock,
                                                                 monkeypatch):  # fmt: skip
    """The same beats (accepted, clipped, replayed, refused, articles, several per member in a batch, clock
    steps with microseconds) through raw_sql, through SQLAlchemy and through raw_sql's scripts on a
    connection of their own (the beat committer's way) leave the same rows and answers."""
    course = make_course((LessonKind.VIDEO, 600.0), (LessonKind.ARTICLE, 2))
    video, article = sorted(course.lessons, key=lambda lesson: lesson.kind != LessonKind.VIDEO)
    groups = [[make_user() for _ in range(6)] for _ in range(3)]
    sessions = [[start(member, video if number % 3 else article) for number, member in enumerate(group)]
                for group in groups]  # fmt: skip
    lessons = [video if number % 3 else article for number in range(6)]
    randomness = random.Random(16)
    positions = [0.0] * 6
    answers: list[list] = [[], [], []]
    kept = db.engine.connect()  # the scripts' connection, kept between batches as the committer keeps its own
    for _ in range(60):
        frozen_clock.advance(randomness.choice([0.2, 0.9, 1.0, 3.7, 15.0, 16.000001, 40.5]) + randomness.random() / 7)
        batch = []
        for _ in range(randomness.randint(1, 5)):
            number = randomness.randrange(6)
            kind = randomness.choice(["ok", "ok", "ok", "fast", "replay", "hidden", "idle", "stale", "other_lesson",
                                      "bad"])  # fmt: skip
            begin = positions[number]
            length = {"fast": 45.0, "replay": 0.0}.get(kind, randomness.choice([1.0, 2.5, 15.0]))
            if kind == "replay":
                begin, length = max(begin - 5, 0.0), 3.0
            elif kind in ("ok", "fast"):
                positions[number] = begin + length
            batch.append((number, kind, begin, begin + length, randomness.random() * 20))
        for group_number, group in enumerate(groups):
            if group_number == 1:
                _as_sqlalchemy(monkeypatch)
            beats = []
            for number, kind, begin, end, reading in batch:
                session_id = "x" * 22 if kind == "stale" else sessions[group_number][number]
                lesson_id = article.id if kind == "other_lesson" and lessons[number] is video else lessons[number].id
                beats.append((group[number].id, tracking.Heartbeat(
                    session_id=session_id, lesson_id=lesson_id, start=begin if kind != "bad" else float("nan"),
                    end=end, visible=kind != "hidden", reading_seconds=reading if kind != "hidden" else None,
                    idle_seconds=0.0 if kind != "idle" else 3600.0), clock.utcnow()))  # fmt: skip
            if group_number == 2:
                with raw_sql.script(kept) as script:
                    rows = tracking.lock_beat_rows(kept, {user_id for user_id, _, _ in beats})
                    results = tracking.apply_heartbeats(kept, rows, beats)
                    script.commit()
            else:
                results = tracking.record_heartbeats(beats)
            answers[group_number].append([asdict(result) for result in results])
            db.session.commit()
            monkeypatch.undo()
    kept.close()
    assert answers[0] == answers[1] == answers[2]
    credited = sum(answer["credited"] for batch in answers[0] for answer in batch)
    reasons = {answer["reason"] for batch in answers[0] for answer in batch}
    assert credited > 100 and {None, "faster_than_plausible", "already_watched", "session_not_active"} <= reasons
    db.session.expire_all()
    assert _state(groups[0], lessons) == _state(groups[1], lessons) == _state(groups[2], lessons)


def test_a_script_left_uncommitted_is_rolled_back_and_a_failed_one_invalidates_its_connection(app, make_user,
                                                                                           make_course, lesson_of,
                                                                                           start, beat,
                                                                                           frozen_clock):  # fmt: skip
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's simple query protocol")
    video = lesson_of(make_course((LessonKind.VIDEO, 600.0)))
    member = make_user()
    beat(member, start(member, video), 0, 15)
    update = raw_sql.RawStatement(sa.update(LessonProgress).where(LessonProgress.user_id == sa.bindparam("p_id"))
                                  .values(presence_token=sa.bindparam("p_token")))  # fmt: skip
    with db.engine.connect() as connection:
        with raw_sql.script(connection):
            tracking.lock_beat_rows(connection, [member.id])
            update.execute_many(connection, [{"p_id": member.id, "p_token": "uncommitted"}])
        assert not connection.in_transaction()
        assert connection.connection.dbapi_connection.info.transaction_status == 0  # IDLE: rolled back
        with pytest.raises(psycopg.errors.StringDataRightTruncation), raw_sql.script(connection) as script:
            tracking.lock_beat_rows(connection, [member.id])
            update.execute_many(connection, [{"p_id": member.id, "p_token": "x" * 33}])  # too long: refused
            script.commit()
        assert connection.invalidated
    tokens = db.session.scalars(sa.select(LessonProgress.presence_token).where(LessonProgress.user_id == member.id))
    assert "uncommitted" not in list(tokens)
    with db.engine.connect() as other:  # no lock was left behind
        other.execute(sa.text("SET lock_timeout = '1s'"))
        other.execute(sa.update(LessonProgress).where(LessonProgress.user_id == member.id).values(presence_token="t"))
        other.commit()
