"""Period sums over the study ledger, local days in Asia/Shanghai, and the 学时 conversion."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from lms.auth.audience import AudienceMixin
from lms.auth.models import MemberStatus, User
from lms.courses import ledger
from lms.courses.models import LessonKind, StudyLedgerEntry, StudySource
from lms.extensions import db

pytestmark = pytest.mark.postgres  # ledger upserts (ON CONFLICT) and sums by local day


@pytest.fixture
def member(make_user):
    return make_user(username="wuqiang")


@pytest.fixture
def video(make_course, lesson_of):
    return lesson_of(make_course((LessonKind.VIDEO, 3600.0)))


def play_at(moment, user, lesson, start, end, frozen_clock, start_session, beat):
    """Open a session just before ``moment`` and play [start, end] so the beat lands at ``moment``."""
    frozen_clock.set(moment)
    frozen_clock.advance(-(end - start))
    session = start_session(user, lesson)
    return beat(user, session, start, end, after=end - start)


def test_study_just_before_and_after_local_midnight_falls_on_two_days(member, video, frozen_clock, start, beat):
    # 2026-03-02 23:59:50 and 2026-03-03 00:00:10 in Shanghai (UTC+8).
    play_at(datetime(2026, 3, 2, 15, 59, 50, tzinfo=UTC), member, video, 0, 10, frozen_clock, start, beat)
    play_at(datetime(2026, 3, 2, 16, 0, 10, tzinfo=UTC), member, video, 10, 20, frozen_clock, start, beat)
    assert ledger.study_seconds(member.id, date(2026, 3, 2), date(2026, 3, 2)) == 10
    assert ledger.study_seconds(member.id, date(2026, 3, 3), date(2026, 3, 3)) == 10
    assert ledger.study_seconds(member.id, date(2026, 3, 2), date(2026, 3, 3)) == 20


def test_year_boundary_follows_local_time_not_utc(member, video, frozen_clock, start, beat):
    # 2025-12-31 16:30 UTC is already 2026-01-01 00:30 in Shanghai.
    play_at(datetime(2025, 12, 31, 15, 59, 0, tzinfo=UTC), member, video, 0, 30, frozen_clock, start, beat)
    play_at(datetime(2025, 12, 31, 16, 30, 0, tzinfo=UTC), member, video, 30, 90, frozen_clock, start, beat)
    assert ledger.study_seconds(member.id, *ledger.year_bounds(2025)) == 30
    assert ledger.study_seconds(member.id, *ledger.year_bounds(2026)) == 60


def test_timezone_is_configuration(app, member, video, frozen_clock, start, beat):
    app.config["TIMEZONE"] = "UTC"
    play_at(datetime(2025, 12, 31, 16, 30, 0, tzinfo=UTC), member, video, 0, 60, frozen_clock, start, beat)
    assert ledger.study_seconds(member.id, *ledger.year_bounds(2025)) == 60


def test_sums_by_user_take_a_select_a_clause_ids_or_everyone(make_user, video, frozen_clock, start, beat):
    full = make_user(username="full")
    probationary = make_user(username="prob", status=MemberStatus.PROBATIONARY)
    idle = make_user(username="idle")
    for user, seconds in ((full, 40), (probationary, 25)):
        play_at(datetime(2026, 5, 1, 2, 0, tzinfo=UTC), user, video, 0, seconds, frozen_clock, start, beat)
    period = (date(2026, 1, 1), date(2026, 12, 31))
    everyone = ledger.study_seconds_by_user(None, *period)
    assert everyone == {full.id: 40, probationary.id: 25}
    probationers = sa.select(User.id).where(User.status == MemberStatus.PROBATIONARY)
    by_select = ledger.study_seconds_by_user(probationers, *period)
    assert by_select == {probationary.id: 25}
    by_clause = ledger.study_seconds_by_user(User.status == MemberStatus.FULL, *period)
    assert by_clause == {full.id: 40}
    assert ledger.study_seconds_by_user([idle.id], *period) == {}
    assert ledger.study_seconds_by_user([], *period) == {}


def test_sums_take_an_audience_clause(make_user, video, frozen_clock, start, beat):
    from lms.auth.audience import audience_clause

    probationary = make_user(username="p2", status=MemberStatus.PROBATIONARY)
    full = make_user(username="f2")
    for user in (probationary, full):
        play_at(datetime(2026, 5, 1, 2, 0, tzinfo=UTC), user, video, 0, 10, frozen_clock, start, beat)

    class Target(AudienceMixin):
        audience_statuses = ["probationary"]
        audience_roles: list = []
        audience_branch_ids: list = []

    result = ledger.study_seconds_by_user(audience_clause(Target()), date(2026, 1, 1), date(2026, 12, 31))
    assert result == {probationary.id: 10}


def test_sums_are_one_query(make_user, video, frozen_clock, start, beat, app):
    users = [make_user(username=f"q{i}") for i in range(5)]
    for user in users:
        play_at(datetime(2026, 5, 1, 2, 0, tzinfo=UTC), user, video, 0, 10, frozen_clock, start, beat)
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = ledger.study_seconds_by_user(sa.select(User.id), date(2026, 1, 1), date(2026, 12, 31))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert len(result) == 5
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_sources_filter(member, video, make_course, lesson_of, frozen_clock, start, beat):
    article = lesson_of(make_course((LessonKind.ARTICLE, 5), title="读物"))
    play_at(datetime(2026, 5, 1, 2, 0, tzinfo=UTC), member, video, 0, 30, frozen_clock, start, beat)
    session = start(member, article)
    beat(member, session, reading_seconds=15)
    period = (date(2026, 1, 1), date(2026, 12, 31))
    assert ledger.study_seconds(member.id, *period) == 45
    assert ledger.study_seconds(member.id, *period, sources=[StudySource.VIDEO]) == 30
    assert ledger.study_seconds(member.id, *period, sources=[StudySource.READING, StudySource.OFFLINE]) == 15
    assert ledger.study_seconds_by_source(member.id, *period) == {
        StudySource.VIDEO: 30,
        StudySource.READING: 15,
        StudySource.OFFLINE: 0,
        StudySource.MEETING: 0,
    }


def test_concurrent_credits_to_one_ledger_row_add_up(member, video):
    day = date(2026, 5, 1)
    ledger.add_study_seconds(member.id, video.id, day, StudySource.VIDEO, 10)
    ledger.add_study_seconds(member.id, video.id, day, StudySource.VIDEO, 5.5)
    db.session.commit()
    assert ledger.study_seconds(member.id, day, day) == 15.5


def test_study_hours_follow_the_configured_minutes(app):
    assert ledger.format_study_hours(45 * 60) == "1.0"
    assert ledger.format_study_hours(60 * 60) == "1.3"
    app.config["MINUTES_PER_STUDY_HOUR"] = 60
    assert ledger.format_study_hours(60 * 60) == "1.0"
    assert ledger.seconds_to_study_hours(90 * 60) == 1.5
    assert ledger.study_hours_to_seconds(2) == 7200


def test_duration_format():
    assert ledger.format_duration(59.6) == "1:00"
    assert ledger.format_duration(3725) == "1:02:05"


def test_a_little_study_shows_as_under_a_tenth_of_a_study_hour_never_zero(app):
    assert ledger.format_study_hours(0) == "0.0"
    assert ledger.format_study_hours(24) == "不足0.1"  # 24 s of a 45-minute 学时
    assert ledger.format_study_hours(135) == "0.1"  # 0.05 学时 rounds up
    assert ledger.format_hours(0.04) == "不足0.1" and ledger.format_hours(12.34) == "12.3"
    assert ledger.study_hours_value(24) == 0.0  # spreadsheets keep numbers


def test_one_function_gives_a_members_totals_by_source_and_course(member, video, make_user):
    other = make_user()
    day = date(2026, 3, 2)
    ledger.add_study_seconds(member.id, video.id, day, StudySource.VIDEO, 600)
    ledger.add_study_seconds(other.id, video.id, day, StudySource.VIDEO, 60)
    db.session.add(StudyLedgerEntry(user_id=member.id, day=day, source=StudySource.OFFLINE, seconds=2700))
    db.session.flush()
    totals = ledger.member_study_totals(member.id, *ledger.year_bounds(2026))
    assert totals.online_seconds == 600 and totals.offline_seconds == 2700 and totals.total_seconds == 3300
    assert totals.by_course == {video.course_id: 600}
    both = ledger.study_totals([member.id, other.id], *ledger.year_bounds(2026))
    assert both[other.id].total_seconds == 60
    assert ledger.study_totals_each({member.id: (day, day), other.id: (date(2026, 4, 1), date(2026, 4, 30))}) == {
        member.id: totals
    }
