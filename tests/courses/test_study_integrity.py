"""Study time that cannot be farmed (DESIGN.md §3): the credit budget, idleness, visibility, presence checks.

The farming patterns go through the HTTP endpoint with the clock stepped, as a
script would send them; every bound is checked against wall time x allowed rate.
"""

import json
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from lms import clock
from lms.auth.models import MemberStatus
from lms.courses import presence, progress, services
from lms.courses.models import Course, Lesson, LessonKind, StudyDaySignal, StudyLedgerEntry
from lms.extensions import db


@pytest.fixture
def member(make_user):
    return make_user(username="wangfang", name="王芳")


@pytest.fixture
def video(make_course, lesson_of, frozen_clock):
    return lesson_of(make_course((LessonKind.VIDEO, 3600.0)))


def credited(user) -> float:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0)).where(
        StudyLedgerEntry.user_id == user.id)) or 0.0  # fmt: skip


def signals_of(user) -> list[StudyDaySignal]:
    return db.session.scalars(
        sa.select(StudyDaySignal).where(StudyDaySignal.user_id == user.id).execution_options(populate_existing=True)
    ).all()


def open_session(client, lesson) -> str:
    response = client.post(f"/courses/lessons/{lesson.id}/session", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["session_id"]


def post_beat(client, body: dict):
    return client.post("/courses/heartbeat", data=json.dumps(body), headers={"Content-Type": "text/plain"})


def farm(client, lesson, frozen_clock, *, seconds: int, every: float, claim: float, rate: float, parallel: int = 1):
    """A script: every ``every`` s, ``parallel`` beats each claiming ``claim`` s of new content at ``rate``."""
    session_id = open_session(client, lesson)
    position, elapsed = 0.0, 0.0
    while elapsed < seconds:
        frozen_clock.advance(every)
        elapsed += every
        for _ in range(parallel):
            body = {"session_id": session_id, "lesson_id": lesson.id, "from": position, "to": position + claim,
                    "rate": rate, "visible": True, "idle_seconds": 0}  # fmt: skip
            assert post_beat(client, body).status_code == 200
            position += claim
    return elapsed


# --- farming patterns -------------------------------------------------------------


def test_one_beat_a_second_at_rate_one_earns_no_more_than_real_time(client, login, member, video, frozen_clock):
    login(member)
    # Each beat claims 3 s for 1 s of wall time: the old per-beat slack paid out 87 s in 30 s.
    wall = farm(client, video, frozen_clock, seconds=60, every=1, claim=3, rate=1)
    assert credited(member) <= wall * 1 + progress.session_slack(wall) + 1e-6
    assert credited(member) >= wall - 1  # and honest time is still all there


def test_one_beat_a_second_at_rate_two_earns_no_more_than_twice_real_time(client, login, member, video,
                                                                          frozen_clock):  # fmt: skip
    login(member)
    wall = farm(client, video, frozen_clock, seconds=60, every=1, claim=6, rate=2)
    assert credited(member) <= (wall + progress.session_slack(wall)) * 2 + 1e-6


def test_twenty_parallel_beats_earn_what_one_beat_earns(client, login, member, video, frozen_clock):
    login(member)
    wall = farm(client, video, frozen_clock, seconds=60, every=15, claim=15, rate=1, parallel=20)
    assert credited(member) <= wall + progress.session_slack(wall) + 1e-6


def test_twenty_beats_from_threads_at_once_earn_what_one_beat_earns(app, login, member, video, frozen_clock):
    clients = [app.test_client() for _ in range(20)]
    for each in clients:
        login(member, on=each)
    session_id = open_session(clients[0], video)
    frozen_clock.advance(15)
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []

    def send(each, n):
        barrier.wait()
        body = {"session_id": session_id, "from": n * 15, "to": n * 15 + 15, "rate": 1, "idle_seconds": 0}
        codes.append(post_beat(each, body).status_code)

    threads = [threading.Thread(target=send, args=(each, n)) for n, each in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 20
    assert credited(member) <= 15 + progress.session_slack(15) + 1e-6


def test_a_claimed_rate_of_sixteen_is_charged_at_the_maximum(client, login, member, video, frozen_clock, app):
    login(member)
    wall = farm(client, video, frozen_clock, seconds=60, every=1, claim=16, rate=16)
    assert credited(member) <= (wall + progress.session_slack(wall)) * app.config["MAX_PLAYBACK_RATE"] + 1e-6


def test_restarting_sessions_earns_no_fresh_slack(member, video, start, beat):
    for n in range(20):
        session = start(member, video)
        beat(member, session, n * 10, n * 10 + 10, after=1)
    # 20 s of wall time: 20 restarts do not add 20 slacks.
    assert credited(member) <= 20 + progress.SLACK_MAX_SECONDS


def test_a_session_left_open_does_not_bank_time(member, video, start, beat):
    session = start(member, video)
    result = beat(member, session, 0, 3600, after=3600, rate=2)
    assert result.credited == (progress.BACKLOG_SECONDS + progress.SLACK_MAX_SECONDS) * 2
    assert result.reason == "faster_than_plausible"


def test_an_honest_viewer_switching_speeds_loses_nothing(member, video, start, beat):
    session = start(member, video)
    assert beat(member, session, 0, 30, rate=2).credited == 30
    assert beat(member, session, 30, 45, rate=1).credited == 15
    assert beat(member, session, 45, 75, rate=2).credited == 30


def test_late_beats_after_a_network_outage_are_still_credited(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 15)
    # A minute offline: the player sends its four queued segments at once.
    results = [beat(member, session, s, s + 15, after=60 if s == 15 else 0) for s in (15, 30, 45, 60)]
    assert [r.credited for r in results] == [15, 15, 15, 15]


# --- idleness -----------------------------------------------------------------------


def test_a_beat_without_interaction_for_the_idle_minutes_earns_nothing(member, video, start, beat, app):
    assert app.config["IDLE_MINUTES"] == 10
    session = start(member, video)
    assert beat(member, session, 0, 15, idle_seconds=9 * 60).credited == 15
    result = beat(member, session, 15, 30, idle_seconds=11 * 60)
    assert (result.credited, result.reason) == (0, "idle")
    assert beat(member, session, 30, 45, idle=True).reason == "idle"
    # Once the member answers the dialog, credit resumes (the idle time is not claimable later).
    assert beat(member, session, 45, 60, idle_seconds=2).credited == 15
    assert credited(member) == 30


def test_idle_minutes_are_configuration(member, video, start, beat, app):
    app.config["IDLE_MINUTES"] = 2
    session = start(member, video)
    assert beat(member, session, 0, 15, idle_seconds=150).reason == "idle"


def test_a_player_that_does_not_report_interaction_is_treated_as_idle(client, login, member, video, frozen_clock):
    login(member)
    session_id = open_session(client, video)
    frozen_clock.advance(15)
    body = post_beat(client, {"session_id": session_id, "from": 0, "to": 15, "rate": 1}).get_json()
    assert (body["credited"], body["reason"]) == (0, "idle")
    assert body["message"]


def test_article_credits_reading_only_with_recent_interaction(member, make_course, lesson_of, start, beat):
    article = lesson_of(make_course((LessonKind.ARTICLE, 30)))
    session = start(member, article)
    assert beat(member, session, reading_seconds=15, idle_seconds=30).credited == 15
    assert beat(member, session, reading_seconds=15, idle_seconds=15 * 60).reason == "idle"
    assert credited(member) == 15


# --- visibility ------------------------------------------------------------------


def test_unpublishing_the_course_stops_credit_at_once(member, video, start, beat):
    session = start(member, video)
    assert beat(member, session, 0, 15).credited == 15
    services.unpublish_course(db.session.get(Course, video.course_id))
    db.session.commit()
    result = beat(member, session, 15, 30)
    assert (result.credited, result.reason) == (0, "lesson_unavailable")


def test_unpublishing_the_lesson_stops_credit(member, video, start, beat):
    session = start(member, video)
    db.session.execute(sa.update(Lesson).where(Lesson.id == video.id).values(is_published=False))
    db.session.commit()
    assert beat(member, session, 0, 15).reason == "lesson_unavailable"


def test_an_audience_change_that_excludes_the_member_stops_credit(member, video, start, beat, make_branch):
    session = start(member, video)
    course = db.session.get(Course, video.course_id)
    course.set_audience([MemberStatus.PROBATIONARY], [], [])
    db.session.commit()
    assert beat(member, session, 0, 15).reason == "lesson_unavailable"
    other = make_branch("别的支部")
    course.set_audience([], [], [other.id])
    db.session.commit()
    assert beat(member, session, 0, 15).reason == "lesson_unavailable"
    course.set_audience([], [], [member.branch_id])
    db.session.commit()
    assert beat(member, session, 0, 15, after=15).credited == 15


# --- presence checks ------------------------------------------------------------------


@pytest.fixture
def checked_video(make_course, lesson_of, frozen_clock):
    lesson = lesson_of(make_course((LessonKind.VIDEO, 600.0), title="带抽查的课"))
    db.session.get(Course, lesson.course_id).presence_checks = True
    db.session.commit()
    return lesson


def watch_until_checked(member, lesson, session, beat):
    point = presence.check_point(member.id, lesson.id, 600.0)
    assert 120 <= point <= 480
    position = 0
    while True:
        result = beat(member, session, position, position + 15)
        position += 15
        if result.presence:
            return result, position


def test_presence_check_is_issued_at_a_point_in_the_lesson(member, checked_video, start, beat):
    session = start(member, checked_video)
    result, position = watch_until_checked(member, checked_video, session, beat)
    assert result.watched_seconds >= presence.check_point(member.id, checked_video.id, 600.0)
    assert result.presence["seconds_left"] == 60 and len(result.presence["token"]) >= 16
    # Within the minute to answer, credit goes on.
    assert beat(member, session, position, position + 15, after=15).credited == 15


def test_unanswered_presence_check_stops_credit_until_answered(member, checked_video, start, beat, frozen_clock):
    session = start(member, checked_video)
    result, position = watch_until_checked(member, checked_video, session, beat)
    token = result.presence["token"]
    refused = beat(member, session, position, position + 15, after=61)
    assert (refused.credited, refused.reason) == (0, "presence_check")
    assert refused.presence["token"] == token and refused.presence["seconds_left"] == 0
    # Restarting the player does not dodge it.
    session = start(member, checked_video)
    assert beat(member, session, position, position + 15).reason == "presence_check"
    presence.answer_check(member, checked_video.id, token, now=clock.utcnow())
    db.session.commit()
    assert beat(member, session, position, position + 15).credited == 15


def test_presence_answer_needs_the_issued_token(client, login, member, checked_video, start, beat):
    session = start(member, checked_video)
    result, _ = watch_until_checked(member, checked_video, session, beat)
    login(member)
    wrong = client.post(f"/courses/lessons/{checked_video.id}/presence", json={"token": "x" * 22})
    assert wrong.status_code == 422 and wrong.get_json()["ok"] is False
    right = client.post(f"/courses/lessons/{checked_video.id}/presence", json={"token": result.presence["token"]})
    assert right.status_code == 200 and right.get_json() == {"ok": True}
    assert client.post(f"/courses/lessons/{checked_video.id}/presence", json={"token": result.presence["token"]}
                       ).status_code == 200  # fmt: skip


def test_session_start_returns_a_pending_check(client, login, member, checked_video, start, beat):
    session = start(member, checked_video)
    result, _ = watch_until_checked(member, checked_video, session, beat)
    login(member)
    body = client.post(f"/courses/lessons/{checked_video.id}/session", json={}).get_json()
    assert body["presence"]["token"] == result.presence["token"]
    assert body["idle_minutes"] == 10


def test_courses_without_presence_checks_never_ask(member, video, start, beat):
    session = start(member, video)
    assert all(beat(member, session, s, s + 15).presence is None for s in range(0, 600, 15))


# --- signals -----------------------------------------------------------------------


def test_refused_beats_are_counted_in_one_row_per_member_and_day(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 15)
    assert beat(member, session, 15, 30, after=0).credited == 1.25  # what is left of the slack
    for _ in range(5):
        assert beat(member, session, 15, 30, after=0).reason == "faster_than_plausible"  # the budget is spent
    beat(member, session, 30, 45, idle_seconds=3600)
    beat(member, session, 45, 60, visible=False)  # a hidden page is how honest players report: not counted
    rows = signals_of(member)
    assert len(rows) == 1
    assert rows[0].refused_beats == 6 and rows[0].parallel_beats == 0


def test_beats_of_a_superseded_session_are_counted_as_parallel(member, video, start, beat):
    first = start(member, video)
    second = start(member, video)
    for _ in range(3):
        beat(member, first, 0, 15)
        beat(member, second, 0, 15, after=0)
    assert signals_of(member)[0].parallel_beats == 3


def test_credit_at_night_is_counted(member, video, start, beat, frozen_clock):
    frozen_clock.set(datetime(2026, 3, 2, 17, 0, tzinfo=UTC))  # 01:00 in Shanghai
    session = start(member, video)
    beat(member, session, 0, 15)
    beat(member, session, 15, 30)
    assert signals_of(member)[0].night_seconds == 30


def test_daytime_credit_writes_no_signal_row(member, video, start, beat):
    session = start(member, video)
    beat(member, session, 0, 15)
    assert signals_of(member) == []
