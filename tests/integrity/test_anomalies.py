"""The anomaly list (反刷课): each signal, the secretaries' scope, the page and its date filters."""

from datetime import UTC, date, datetime, timedelta

import pytest

from lms import clock
from lms.auth.models import BranchKind, Role
from lms.courses.ledger import add_study_seconds
from lms.courses.models import LessonKind, StudyDaySignal, StudySource
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuestionSnapshot, Quiz, QuizAttempt
from lms.extensions import db
from lms.integrity.anomalies import AnomalyKind, find_anomalies

DAY = date(2026, 3, 2)


@pytest.fixture
def org(make_branch, make_user, frozen_clock):
    committee = make_branch("机关党委", kind=BranchKind.COMMITTEE)
    first = make_branch("第一党支部", parent=committee)
    second = make_branch("第二党支部", parent=committee)
    return {
        "first": first,
        "second": second,
        "secretary": make_user(role=Role.SECRETARY, branch=first, username="shuji", name="张书记"),
        "a": make_user(branch=first, username="a", name="李一"),
        "b": make_user(branch=second, username="b", name="王二"),
        "admin": make_user(role=Role.ADMIN, branch=committee, username="root", name="管理员"),
    }


def kinds(viewer, start=DAY, end=DAY, **kw):
    return {(a.member_name, a.kind) for a in find_anomalies(viewer, start, end, **kw)}


def signal(user, day=DAY, **counts):
    db.session.add(StudyDaySignal(user_id=user.id, day=day, updated_at=clock.utcnow(), **counts))
    db.session.commit()


def test_more_online_hours_in_a_day_than_plausible(org, make_course, lesson_of):
    lesson = lesson_of(make_course((LessonKind.VIDEO, 100.0)))
    add_study_seconds(org["a"].id, lesson.id, DAY, StudySource.VIDEO, 9 * 3600)
    add_study_seconds(org["b"].id, lesson.id, DAY, StudySource.VIDEO, 7 * 3600)
    db.session.commit()
    assert kinds(org["admin"]) == {("李一", AnomalyKind.DAILY_HOURS)}
    (found,) = find_anomalies(org["admin"], DAY, DAY)
    assert "9.0" in found.reason and found.branch_name == "第一党支部"


def test_daily_limit_is_configuration(app, org, make_course, lesson_of):
    app.config["ANOMALY_MAX_DAILY_HOURS"] = 6
    lesson = lesson_of(make_course((LessonKind.VIDEO, 100.0)))
    add_study_seconds(org["b"].id, lesson.id, DAY, StudySource.VIDEO, 7 * 3600)
    db.session.commit()
    assert kinds(org["admin"]) == {("王二", AnomalyKind.DAILY_HOURS)}


def test_study_at_night_parallel_sessions_and_refused_beats(org):
    signal(org["a"], night_seconds=30 * 60, parallel_beats=12)
    signal(org["b"], night_seconds=5 * 60, parallel_beats=3, refused_beats=25)
    assert kinds(org["admin"]) == {
        ("李一", AnomalyKind.NIGHT),
        ("李一", AnomalyKind.PARALLEL),
        ("王二", AnomalyKind.REFUSED_SHARE),  # 25 refused, no credit: all of them
    }


def test_refused_beats_are_weighed_against_the_credited_time(org, make_course, lesson_of):
    lesson = lesson_of(make_course((LessonKind.VIDEO, 100.0)))
    # 8 h of credit is about 1,900 accepted beats: 25 refused are an honest player's hiccups.
    add_study_seconds(org["b"].id, lesson.id, DAY, StudySource.VIDEO, 7.9 * 3600)
    db.session.commit()
    signal(org["b"], refused_beats=25)
    assert kinds(org["admin"]) == set()


def test_farming_by_parallel_beats_shows_up_in_the_list(org, make_course, lesson_of, start, beat):
    lesson = lesson_of(make_course((LessonKind.VIDEO, 3600.0)))
    session = start(org["a"], lesson)
    for round_ in range(2):
        for n in range(20):
            beat(org["a"], session, (round_ * 20 + n) * 15, (round_ * 20 + n) * 15 + 15, after=15 if n == 0 else 0)
    assert ("李一", AnomalyKind.REFUSED_SHARE) in kinds(org["admin"])


def test_night_beats_show_up_in_the_list(org, make_course, lesson_of, start, beat, frozen_clock):
    frozen_clock.set(datetime(2026, 3, 1, 17, 30, tzinfo=UTC))  # 01:30 on 2 March in Shanghai
    lesson = lesson_of(make_course((LessonKind.VIDEO, 3600.0)))
    session = start(org["a"], lesson)
    for n in range(100):  # 25 minutes
        beat(org["a"], session, n * 15, n * 15 + 15)
    assert kinds(org["admin"]) == {("李一", AnomalyKind.NIGHT)}


def finished_attempt(user, questions: int, seconds: int, practice=False):
    quiz = Quiz(title="党章测验", is_published=True)
    db.session.add(quiz)
    snapshot = QuestionSnapshot(content_hash="h", type=QuestionType.SINGLE, stem="?", answer={"choice": 0})
    db.session.add(snapshot)
    db.session.flush()
    finished = clock.utcnow()
    attempt = QuizAttempt(quiz_id=quiz.id, user_id=user.id, state=AttemptState.FINISHED, is_practice=practice,
                          started_at=finished - timedelta(seconds=seconds), last_activity_at=finished,
                          finished_at=finished, time_used_seconds=seconds, open_slot=None)  # fmt: skip
    db.session.add(attempt)
    db.session.flush()
    for position in range(1, questions + 1):
        db.session.add(AttemptQuestion(attempt_id=attempt.id, position=position, snapshot_id=snapshot.id))
    db.session.commit()


def test_quizzes_answered_faster_than_they_can_be_read(org):
    finished_attempt(org["a"], questions=10, seconds=12)
    finished_attempt(org["b"], questions=10, seconds=60)
    finished_attempt(org["b"], questions=10, seconds=5, practice=True)  # practice never counts
    assert kinds(org["admin"]) == {("李一", AnomalyKind.FAST_QUIZ)}
    (found,) = find_anomalies(org["admin"], DAY, DAY)
    assert "10" in found.reason and "12" in found.reason and "党章测验" in found.reason


def test_secretaries_see_only_their_branch_subtree(org):
    signal(org["a"], parallel_beats=20)
    signal(org["b"], parallel_beats=20)
    assert kinds(org["secretary"]) == {("李一", AnomalyKind.PARALLEL)}
    assert kinds(org["admin"], branch=org["second"]) == {("王二", AnomalyKind.PARALLEL)}


def test_the_period_bounds_the_list(org):
    signal(org["a"], DAY - timedelta(days=10), parallel_beats=20)
    assert kinds(org["admin"]) == set()
    assert kinds(org["admin"], start=DAY - timedelta(days=10)) == {("李一", AnomalyKind.PARALLEL)}


def test_the_page_groups_by_branch_with_date_filters(client, login, org):
    signal(org["a"], parallel_beats=20)
    signal(org["b"], DAY - timedelta(days=3), night_seconds=3600)
    login(org["admin"])
    page = client.get("/admin/integrity/anomalies").get_data(as_text=True)
    assert "第一党支部" in page and "第二党支部" in page and page.count('data-testid="anomaly"') == 2
    assert 'href="/admin/integrity/anomalies"' in page  # linked from the manage navigation
    page = client.get("/admin/integrity/anomalies?start=2026-03-02&end=2026-03-02").get_data(as_text=True)
    assert page.count('data-testid="anomaly"') == 1 and "王二" not in page
    page = client.get(f"/admin/integrity/anomalies?branch_id={org['second'].id}").get_data(as_text=True)
    assert page.count('data-testid="anomaly"') == 1 and "王二" in page


def test_bad_dates_get_a_clear_message_not_an_error(client, login, org):
    login(org["secretary"])
    response = client.get("/admin/integrity/anomalies?start=2026-13-45&end=yesterday")
    assert response.status_code == 200
    assert "YYYY-MM-DD" in response.get_data(as_text=True)
    for far in ("0001-01-01", "9999-12-31"):
        response = client.get(f"/admin/integrity/anomalies?start={far}&end={far}")
        assert response.status_code == 200 and "YYYY-MM-DD" in response.get_data(as_text=True)
    swapped = client.get("/admin/integrity/anomalies?start=2026-03-02&end=2026-02-01")
    assert swapped.status_code == 200 and 'value="2026-02-01"' in swapped.get_data(as_text=True)


def test_members_cannot_open_the_page_and_secretaries_cannot_pick_other_branches(client, login, org):
    login(org["a"])
    assert client.get("/admin/integrity/anomalies").status_code == 403
    login(org["secretary"])
    assert client.get(f"/admin/integrity/anomalies?branch_id={org['second'].id}").status_code == 404


def test_nothing_to_show(client, login, org):
    login(org["admin"])
    assert 'data-testid="no-anomalies"' in client.get("/admin/integrity/anomalies").get_data(as_text=True)
