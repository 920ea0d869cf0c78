"""Core statements on the DBAPI cursor (lms.courses.raw_sql): the same rows and writes as SQLAlchemy's."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from lms.courses import raw_sql, tracking
from lms.courses.models import LessonKind, LessonProgress, StudySource
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
