"""DESIGN.md §3, rule by rule, through the tracking services with a frozen clock."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from lms import clock
from lms.auth.models import MemberStatus
from lms.courses import tracking
from lms.courses.ledger import study_seconds
from lms.courses.models import LessonKind, LessonProgress, PlaybackSession, StudyLedgerEntry, StudySource
from lms.errors import NotFound
from lms.extensions import db

pytestmark = pytest.mark.postgres  # row locks and ledger upserts under the tracking services


@pytest.fixture
def member(make_user):
    return make_user(username="liming", name="李明")


@pytest.fixture
def video(make_course, lesson_of, frozen_clock):
    return lesson_of(make_course((LessonKind.VIDEO, 100.0)))


def credited_total(user) -> float:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0)).where(
        StudyLedgerEntry.user_id == user.id)) or 0.0  # fmt: skip


def progress_of(user, lesson) -> LessonProgress:
    return db.session.get(LessonProgress, (user.id, lesson.id), populate_existing=True)


def test_plain_watching_credits_each_played_second(member, video, start, beat):
    session = start(member, video)
    assert beat(member, session, 0, 15).credited == 15
    assert beat(member, session, 15, 30).credited == 15
    assert credited_total(member) == 30
    assert progress_of(member, video).intervals == [0, 30]


def test_seek_ahead_earns_no_credit_for_the_skipped_part(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 10, after=10)
    # The member seeks from 10 s to 80 s: the player reports what it played after the seek.
    result = beat(member, session, 80, 90, after=10)
    assert result.credited == 10
    assert credited_total(member) == 20
    assert progress_of(member, video).intervals == [0, 10, 80, 90]


def test_a_segment_spanning_a_seek_is_refused_as_implausible(member, video, start, beat):
    session = start(member, video)
    # A forged "I played 0..90" after 10 s of wall time credits only the plausible part.
    result = beat(member, session, 0, 90, after=10)
    assert result.credited == pytest.approx(10 + 1 + 10 / 60, abs=0.001)  # 10 s and the session's slack
    assert result.reason == "faster_than_plausible"


def test_replay_earns_nothing(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 15)
    beat(member, session, 15, 30)
    replay = beat(member, session, 0, 15)
    assert replay.credited == 0
    assert replay.reason == "already_watched"
    assert credited_total(member) == 30


def test_double_speed_within_the_maximum_credits_the_content(member, video, start, beat):
    session = start(member, video)
    result = beat(member, session, 0, 30, after=15, rate=2.0)
    assert result.credited == 30
    assert result.reason is None


def test_speed_beyond_the_maximum_credits_only_the_plausible_part(member, video, start, beat, app):
    assert app.config["MAX_PLAYBACK_RATE"] == 2.0
    session = start(member, video)
    result = beat(member, session, 0, 60, after=15, rate=4.0)
    assert result.credited == 32.5  # (15 s + 1.25 s slack) x 2
    assert result.reason == "faster_than_plausible"


def test_beat_from_a_superseded_session_earns_nothing(member, video, make_course, lesson_of, start, beat):
    first = start(member, video)
    other = lesson_of(make_course((LessonKind.VIDEO, 200.0), title="另一门课"))
    second = start(member, other)
    stale = beat(member, first, 0, 15)
    assert stale.credited == 0
    assert stale.reason == "session_not_active"
    assert beat(member, second, 0, 15).credited == 15
    assert credited_total(member) == 15


def test_two_concurrent_lessons_credit_only_the_active_one(member, make_course, lesson_of, start, beat):
    lesson_a = lesson_of(make_course((LessonKind.VIDEO, 300.0), title="甲"))
    lesson_b = lesson_of(make_course((LessonKind.VIDEO, 300.0), title="乙"))
    session_a = start(member, lesson_a)
    session_b = start(member, lesson_b)  # a second window: playback here supersedes the first
    for second in range(0, 60, 15):
        assert beat(member, session_a, second, second + 15, after=7.5).credited == 0
        assert beat(member, session_b, second, second + 15, after=7.5).credited == 15
    assert progress_of(member, lesson_a).watched_seconds == 0
    assert progress_of(member, lesson_b).watched_seconds == 60


def test_restarting_the_same_lesson_in_a_new_window_supersedes_the_old_window(member, video, start, beat):
    old = start(member, video)
    new = start(member, video)
    assert old != new
    assert beat(member, old, 0, 15).reason == "session_not_active"
    assert beat(member, new, 0, 15).credited == 15


def test_hidden_page_earns_nothing(member, video, start, beat):
    session = start(member, video)
    result = beat(member, session, 0, 15, visible=False)
    assert result.credited == 0
    assert result.reason == "page_hidden"
    assert credited_total(member) == 0


def test_time_of_a_refused_beat_cannot_be_claimed_again(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 15, after=15, visible=False)
    # Right after, the client claims the same 15 s as visible: only half a second and the slack are plausible.
    assert beat(member, session, 15, 30, after=0.5).credited == pytest.approx(0.5 + 1 + 15.5 / 60, abs=0.001)


def test_segment_past_the_duration_is_clipped(member, video, start, beat):
    session = start(member, video)
    for second in range(0, 90, 15):
        beat(member, session, second, second + 15)
    result = beat(member, session, 90, 100.8, after=11)
    assert result.credited == 10
    assert progress_of(member, video).intervals == [0, 100]


def test_segment_far_past_the_duration_is_refused(member, video, start, beat):
    session = start(member, video)
    result = beat(member, session, 95, 130)
    assert result.credited == 0
    assert result.reason == "beyond_duration"


def test_credit_never_exceeds_the_lesson_duration(member, video, start, beat):
    session = start(member, video)
    for _ in range(3):
        for second in range(0, 100, 15):
            beat(member, session, second, min(second + 15, 100.9))
    assert progress_of(member, video).watched_seconds == 100
    assert credited_total(member) == 100


def test_completion_at_exactly_ninety_percent(member, video, start, beat):
    session = start(member, video)
    for second in range(0, 75, 15):
        beat(member, session, second, second + 15)
    almost = beat(member, session, 75, 89.9, after=15)
    assert not almost.completed
    done = beat(member, session, 89.9, 90, after=1)
    assert done.completed
    assert progress_of(member, video).completed_at == clock.utcnow()


def test_completion_needs_coverage_not_the_last_position(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 10, after=10)
    result = beat(member, session, 95, 100, after=5)  # jumped to the end
    assert not result.completed
    assert progress_of(member, video).last_position_seconds == 100


def test_completion_stays_when_more_is_watched_later(member, video, start, beat):
    session = start(member, video)
    for second in range(0, 90, 15):
        beat(member, session, second, second + 15)
    completed_at = progress_of(member, video).completed_at
    beat(member, session, 90, 100, after=10)
    assert progress_of(member, video).completed_at == completed_at


def test_ledger_has_one_row_per_member_lesson_day_and_source(member, video, start, beat, frozen_clock):
    frozen_clock.set(datetime(2026, 3, 2, 15, 59, 30, tzinfo=UTC))  # 23:59:30 in Shanghai
    session = start(member, video)
    beat(member, session, 0, 15)
    beat(member, session, 15, 30)  # 00:00:00 the next local day
    beat(member, session, 30, 45)
    rows = db.session.execute(
        sa.select(StudyLedgerEntry.day, StudyLedgerEntry.source, StudyLedgerEntry.seconds).order_by(
            StudyLedgerEntry.day
        )
    ).all()
    assert [(str(day), str(source), seconds) for day, source, seconds in rows] == [
        ("2026-03-02", "video", 15.0),
        ("2026-03-03", "video", 30.0),
    ]


def test_start_resumes_where_the_member_left_off(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 15)
    beat(member, session, 15, 42.5, after=30)
    started = tracking.start_session(member, video.id, now=clock.utcnow())
    assert started.resume_at == 42.5
    assert started.watched_seconds == 42.5


def test_start_near_the_end_resumes_from_the_beginning(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 95, 99, after=5)
    assert tracking.start_session(member, video.id, now=clock.utcnow()).resume_at == 0


def test_session_for_a_lesson_outside_the_audience_is_refused(make_user, make_course, lesson_of):
    activist = make_user(status=MemberStatus.ACTIVIST)
    course = make_course(audience={"audience_statuses": ["probationary"]})
    with pytest.raises(NotFound):
        tracking.start_session(activist, lesson_of(course).id, now=clock.utcnow())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PlaybackSession)) == 0


def test_session_for_a_draft_course_is_refused(member, make_course, lesson_of):
    course = make_course(published=False)
    with pytest.raises(NotFound):
        tracking.start_session(member, lesson_of(course).id, now=clock.utcnow())


def test_beat_naming_another_lesson_is_refused(member, video, make_course, lesson_of, start, beat):
    session = start(member, video)
    other = lesson_of(make_course(title="别的课"))
    result = beat(member, session, 0, 15, lesson_id=other.id)
    assert result.credited == 0
    assert result.reason == "lesson_mismatch"


def test_article_credits_visible_reading_time_up_to_its_minutes(member, make_course, lesson_of, start, beat):
    article = lesson_of(make_course((LessonKind.ARTICLE, 1)))  # one minute of reading
    session = start(member, article)
    assert beat(member, session, reading_seconds=15).credited == 15
    assert beat(member, session, reading_seconds=15, visible=False).credited == 0
    assert beat(member, session, reading_seconds=30, after=30).credited == 30
    last = beat(member, session, reading_seconds=30, after=30)
    assert last.credited == 15  # only up to the set minute
    assert last.completed
    assert beat(member, session, reading_seconds=15).reason == "reading_complete"
    assert study_seconds(member.id, clock.local_day(clock.utcnow()), clock.local_day(clock.utcnow()),
                         [StudySource.READING]) == 60  # fmt: skip


def test_article_reading_faster_than_the_clock_is_clipped(member, make_course, lesson_of, start, beat):
    article = lesson_of(make_course((LessonKind.ARTICLE, 10)))
    session = start(member, article)
    result = beat(member, session, reading_seconds=300, after=15)
    assert result.credited == 16.25
    assert result.reason == "faster_than_plausible"


def test_micro_course_is_tracked_like_a_video(member, make_course, lesson_of, start, beat):
    micro = lesson_of(make_course((LessonKind.MICRO, 120.0)))
    session = start(member, micro)
    assert beat(member, session, 0, 15).credited == 15
    row = db.session.scalar(sa.select(StudyLedgerEntry))
    assert row.source == StudySource.VIDEO


def test_a_crediting_heartbeat_is_a_fixed_handful_of_statements(member, video, start, frozen_clock):
    session = start(member, video)
    member_id = member.id
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        for second in range(0, 60, 15):
            frozen_clock.advance(15)
            beat = tracking.Heartbeat(session_id=session, start=second, end=second + 15)
            assert tracking.record_heartbeat(member_id, beat, now=clock.utcnow()).credited == 15
            db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    per_beat = [s for s in statements if s in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    # Per beat: SELECT ... FOR UPDATE of session + progress, UPDATE session, UPDATE progress, ledger upsert.
    assert len(per_beat) == 4 * 4
    assert per_beat.count("SELECT") == 4 and per_beat.count("INSERT") == 4
