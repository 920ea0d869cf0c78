"""Contest services: phases on the clock, taking part, fair play, the board, closing and frozen standings."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from lms.auth.models import BranchKind, MemberStatus, Role
from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.exams.contests import board as contest_board
from lms.exams.contests import closing as contest_closing
from lms.exams.contests import phases as contest_phases
from lms.exams.contests import setup
from lms.exams.contests import taking as contest_taking
from lms.exams.contests.models import BoardVisibility, ContestEntry, ContestStanding, DrawMode
from lms.exams.questions.models import Question, QuestionType
from lms.exams.quizzes import attempts, timing
from lms.exams.quizzes.models import AttemptState, FinishReason, QuizAttempt
from lms.extensions import db
from lms.notices.models import Notification
from tests.exams.contest_factories import answer, clear_cache, create_contest, take

pytestmark = pytest.mark.postgres  # board aggregates, window functions, unique entries

OPEN = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
CLOSE = OPEN + timedelta(hours=2)
GRACE = timedelta(seconds=20)


@pytest.fixture
def five_questions(make_question):
    return [make_question(QuestionType.SINGLE, points=2) for _ in range(5)]


@pytest.fixture
def contest(app, five_questions):
    return create_contest(five_questions, open_at=OPEN, close_at=CLOSE, time_limit_seconds=1800)


# --- Setup ---------------------------------------------------------------------------------------


def test_settings_need_a_window_that_closes_after_it_opens(app):
    with pytest.raises(ValidationFailed) as error:
        setup.create_contest(
            setup.ContestSettings(title="竞赛", open_at=OPEN, close_at=OPEN), created_by=None, now=OPEN
        )
    assert error.value.field == "close_at"
    with pytest.raises(ValidationFailed) as error:
        setup.create_contest(
            setup.ContestSettings(title="竞赛", open_at=None, close_at=CLOSE), created_by=None, now=OPEN
        )
    assert error.value.field == "open_at"


def test_a_frozen_board_needs_a_freeze_shorter_than_the_contest(app):
    settings = setup.ContestSettings(
        title="竞赛", open_at=OPEN, close_at=CLOSE, board_visibility=BoardVisibility.FROZEN, freeze_minutes=0
    )
    with pytest.raises(ValidationFailed) as error:
        setup.create_contest(settings, created_by=None, now=OPEN)
    assert error.value.field == "freeze_minutes"
    settings.freeze_minutes = 120
    with pytest.raises(ValidationFailed):
        setup.create_contest(settings, created_by=None, now=OPEN)
    settings.freeze_minutes = 30
    assert setup.create_contest(settings, created_by=None, now=OPEN).freeze_minutes == 30


def test_a_contest_is_a_contest_quiz_hidden_from_the_quiz_list(app, contest, make_user):
    member = make_user()
    assert contest.quiz.kind == "contest"
    assert contest.quiz not in timing.visible_quizzes(member)
    assert contest in contest_phases.visible_contests(member, OPEN)


def test_questions_cannot_change_while_published(app, contest, make_question):
    with pytest.raises(InvalidState):
        setup.add_fixed_questions(contest, [make_question().id])
    setup.unpublish_contest(contest)
    assert setup.add_fixed_questions(contest, [make_question().id]) == 1


# --- Phases exactly on time ----------------------------------------------------------------------------


def test_phases_change_exactly_at_open_and_close(app, contest):
    tick = timedelta(microseconds=1)
    assert contest_phases.phase(contest, OPEN - tick) == contest_phases.Phase.UPCOMING
    assert contest_phases.phase(contest, OPEN) == contest_phases.Phase.OPEN
    assert contest_phases.phase(contest, CLOSE - tick) == contest_phases.Phase.OPEN
    assert contest_phases.phase(contest, CLOSE) == contest_phases.Phase.CLOSED


def test_start_is_refused_before_the_open_and_accepted_at_it(app, contest, make_user):
    member = make_user()
    with pytest.raises(InvalidState) as error:
        contest_taking.start_contest_attempt(contest, member, OPEN - timedelta(seconds=1))
    assert str(error.value.message) == str(_l("The contest opens at %(when)s.", when=format_datetime(OPEN, "short")))
    attempt = contest_taking.start_contest_attempt(contest, member, OPEN)
    assert attempt.started_at == OPEN


def test_start_at_the_close_is_refused(app, contest, make_user):
    with pytest.raises(InvalidState) as error:
        contest_taking.start_contest_attempt(contest, make_user(), CLOSE)
    assert str(error.value.message) == str(_l("The contest has closed."))


def test_deadline_is_cut_by_the_close_and_saves_after_it_are_refused(app, contest, make_user):
    member = make_user()
    attempt = contest_taking.start_contest_attempt(contest, member, CLOSE - timedelta(minutes=10))
    db.session.commit()
    assert attempt.deadline == CLOSE  # not started + 30 minutes
    first = attempt.questions[0]
    attempts.save_answer(attempt.id, member, 1, {"choice": 0}, 1, CLOSE + GRACE)  # in flight at the close
    with pytest.raises(InvalidState):
        attempts.save_answer(attempt.id, member, 1, {"choice": 1}, 2, CLOSE + GRACE + timedelta(seconds=1))
    db.session.refresh(first)
    assert first.client_seq == 1


# --- Audience -------------------------------------------------------------------------------------------


def test_audience_decides_who_may_start_and_who_is_eligible(app, five_questions, make_branch, make_user):
    committee = make_branch("机关党委")
    inside = make_branch("第一党支部", parent=committee)
    outside = make_branch("第二党支部")
    contest = create_contest(
        five_questions,
        open_at=OPEN,
        audience_statuses=[str(MemberStatus.FULL), str(MemberStatus.PROBATIONARY)],
        audience_branch_ids=[committee.id],
    )
    full = make_user(branch=inside)
    probationary = make_user(branch=inside, status=MemberStatus.PROBATIONARY)
    make_user(branch=inside, is_active=False)
    activist = make_user(branch=inside, status=MemberStatus.ACTIVIST)
    stranger = make_user(branch=outside)
    assert contest_board.eligible_by_branch(contest) == {inside.id: ("第一党支部", 2)}
    contest_taking.start_contest_attempt(contest, full, OPEN)
    contest_taking.start_contest_attempt(contest, probationary, OPEN)
    for refused in (activist, stranger):
        with pytest.raises(Forbidden):
            contest_taking.start_contest_attempt(contest, refused, OPEN)
    assert contest not in contest_phases.visible_contests(stranger, OPEN)


# --- One attempt, a second tab -------------------------------------------------------------------------


def test_a_second_tab_gets_the_same_attempt(app, contest, make_user):
    member = make_user()
    first = contest_taking.start_contest_attempt(contest, member, OPEN)
    db.session.commit()
    second = contest_taking.start_contest_attempt(contest, member, OPEN + timedelta(seconds=5))
    assert second.id == first.id
    assert db.session.scalar(sa.select(sa.func.count(ContestEntry.id))) == 1


def test_a_one_attempt_contest_refuses_a_second_attempt(app, contest, make_user):
    member = make_user()
    take(contest, member, OPEN, correct=3, seconds=60)
    with pytest.raises(InvalidState) as error:
        contest_taking.start_contest_attempt(contest, member, OPEN + timedelta(minutes=5))
    assert str(error.value.message) == str(_l("You have already taken part in this contest."))


def test_the_database_itself_refuses_a_second_entry_in_a_one_attempt_contest(app, contest, make_user):
    member = make_user()
    attempt = take(contest, member, OPEN, correct=3, seconds=60)
    # Bypass every service check: a second attempt row and its entry, as a buggy path would write them.
    second = QuizAttempt(
        quiz_id=contest.quiz_id, user_id=member.id, number=2, open_slot=None, state=AttemptState.FINISHED,
        started_at=OPEN, last_activity_at=OPEN,
    )  # fmt: skip
    db.session.add(second)
    db.session.flush()
    db.session.add(ContestEntry(contest_id=contest.id, user_id=member.id, attempt_id=second.id, once_slot=1))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    assert attempt.id


def test_a_contest_with_two_attempts_ranks_the_better_one(app, five_questions, make_user):
    contest = create_contest(five_questions, open_at=OPEN, attempts_allowed=2)
    member = make_user()
    take(contest, member, OPEN, correct=4, seconds=100)
    take(contest, member, OPEN + timedelta(minutes=5), correct=2, seconds=50)
    with pytest.raises(InvalidState):
        contest_taking.start_contest_attempt(contest, member, OPEN + timedelta(minutes=10))
    rows = contest_board.ranked_rows(contest)
    assert [(r.user_id, r.score, r.time_used_seconds) for r in rows] == [(member.id, 8.0, 100)]


# --- Question draw ------------------------------------------------------------------------------------


def test_same_set_is_drawn_once_and_kept_whatever_happens_to_the_bank(app, make_question, make_user):
    bank_questions = [make_question(QuestionType.SINGLE) for _ in range(8)]
    contest = create_contest(publish=False, open_at=OPEN, shuffle_questions=True)
    setup.add_draw_rule(
        contest, bank_id=bank_questions[0].bank_id, question_type=None, tag="", difficulty=None, count=4, points=5
    )
    setup.publish_contest(contest, now=OPEN - timedelta(hours=1))
    db.session.commit()
    frozen = set(setup.frozen_question_ids(contest))
    assert len(frozen) == 4
    for question in bank_questions:  # the bank is emptied of the drawn questions afterwards
        if question.id in frozen:
            question.is_disabled = True
    db.session.commit()
    sets = []
    for _ in range(3):
        attempt = contest_taking.start_contest_attempt(contest, make_user(), OPEN)
        sets.append({q.question_id for q in attempt.questions})
        assert attempt.max_score == 20
    assert all(drawn == frozen for drawn in sets)


def test_per_member_draw_keeps_the_same_difficulty_mix(app, make_question, make_user):
    for difficulty in (1, 1, 1, 1, 3, 3, 3, 5, 5, 5):
        make_question(QuestionType.SINGLE, difficulty=difficulty)
    contest = create_contest(publish=False, open_at=OPEN, draw_mode=DrawMode.PER_MEMBER)
    bank_id = db.session.scalar(sa.select(Question.bank_id).limit(1))
    for difficulty, count in ((1, 2), (3, 2), (5, 1)):
        setup.add_draw_rule(
            contest, bank_id=bank_id, question_type=None, tag="", difficulty=difficulty, count=count, points=1
        )
    setup.publish_contest(contest, now=OPEN - timedelta(hours=1))
    db.session.commit()
    assert contest.frozen_draw == []
    mixes, sets = [], set()
    for _ in range(6):
        attempt = contest_taking.start_contest_attempt(contest, make_user(), OPEN)
        difficulties = sorted(db.session.get(Question, q.question_id).difficulty for q in attempt.questions)
        mixes.append(difficulties)
        sets.add(frozenset(q.question_id for q in attempt.questions))
    assert all(mix == [1, 1, 3, 3, 5] for mix in mixes)
    assert len(sets) > 1  # members got different questions


def test_a_difficulty_rule_needs_enough_questions(app, make_question):
    question = make_question(QuestionType.SINGLE, difficulty=2)
    contest = create_contest(publish=False, open_at=OPEN)
    with pytest.raises(ValidationFailed) as error:
        setup.add_draw_rule(
            contest, bank_id=question.bank_id, question_type=None, tag="", difficulty=2, count=2, points=1
        )
    assert error.value.field == "count"
    with pytest.raises(ValidationFailed) as error:
        setup.add_draw_rule(
            contest, bank_id=question.bank_id, question_type=None, tag="", difficulty=6, count=1, points=1
        )
    assert error.value.field == "difficulty"


# --- Ranking and the branch board -----------------------------------------------------------------------


def test_ranking_breaks_ties_by_time_then_submit_time_and_shares_full_ties(app, contest, make_user):
    a, b, c, d, e = (make_user(name=name) for name in "甲乙丙丁戊")
    take(contest, a, OPEN, correct=4, seconds=300)  # 8 points, 300 s
    take(contest, b, OPEN, correct=4, seconds=200)  # 8 points, faster
    take(contest, c, OPEN + timedelta(seconds=10), correct=4, seconds=200)  # same score and time, later submit
    take(contest, d, OPEN + timedelta(seconds=10), correct=4, seconds=200)  # all three equal to c
    take(contest, e, OPEN, correct=5, seconds=900)  # best score, slowest
    rows = contest_board.ranked_rows(contest)
    assert [(r.name, r.rank) for r in rows] == [("戊", 1), ("乙", 2), ("丙", 3), ("丁", 3), ("甲", 5)]


def test_branch_board_ranks_by_score_per_member_and_shows_mean_and_participation(app, contest, make_branch, make_user):
    first, second = make_branch("一支部"), make_branch("二支部")
    a1, a2, _a3, _a4 = (make_user(branch=first) for _ in range(4))
    b1, _b2 = (make_user(branch=second) for _ in range(2))
    make_user(branch=make_branch("三支部"))
    take(contest, a1, OPEN, correct=5, seconds=60)  # 10
    take(contest, a2, OPEN, correct=2, seconds=60)  # 4
    take(contest, b1, OPEN, correct=4, seconds=60)  # 8
    rows = contest_board.branch_rows(contest_board.ranked_rows(contest), contest_board.eligible_by_branch(contest))
    table = {
        r.branch_name: (r.rank, r.member_mean, r.mean_score, r.participants, r.eligible, r.participation_rate)
        for r in rows
    }
    assert table["二支部"] == (1, 4.0, 8.0, 1, 2, 0.5)  # 8 / 2 members
    assert table["一支部"] == (2, 3.5, 7.0, 2, 4, 0.5)  # (10 + 4) / 4 members
    assert table["三支部"] == (3, 0.0, 0.0, 0, 1, 0.0)


def test_a_branch_sending_only_its_best_member_does_not_win(app, contest, make_branch, make_user):
    few, many = make_branch("只派一人支部"), make_branch("全员参赛支部")
    best, *_rest = (make_user(branch=few) for _ in range(5))
    everyone = [make_user(branch=many) for _ in range(5)]
    take(contest, best, OPEN, correct=5, seconds=60)  # 10 of 10 points, alone
    for member in everyone:
        take(contest, member, OPEN, correct=3, seconds=60)  # 6 each
    rows = contest_board.branch_rows(contest_board.ranked_rows(contest), contest_board.eligible_by_branch(contest))
    assert [(r.branch_name, r.member_mean, r.mean_score) for r in rows] == [
        ("全员参赛支部", 6.0, 6.0),
        ("只派一人支部", 2.0, 10.0),
    ]


def test_the_committee_and_its_admin_are_not_a_branch_on_the_board(app, contest, make_branch, make_user):
    committee = make_branch("先锋集团党委", kind=BranchKind.COMMITTEE)
    branch = make_branch("第一党支部", parent=committee)
    admin = make_user(role=Role.ADMIN, branch=committee)
    members = [make_user(branch=branch) for _ in range(3)]
    take(contest, admin, OPEN, correct=5, seconds=30)
    take(contest, members[0], OPEN, correct=2, seconds=60)
    eligible = contest_board.eligible_by_branch(contest)
    assert committee.id not in eligible and eligible[branch.id] == ("第一党支部", 3)
    rows = contest_board.branch_rows(contest_board.ranked_rows(contest), eligible)
    assert [(r.rank, r.branch_name) for r in rows] == [(1, "第一党支部")]
    assert contest_board.ranked_rows(contest)[0].user_id == admin.id  # still on the individual board


# --- The board ---------------------------------------------------------------------------------------------


def test_thousands_of_viewers_cost_one_ranking_query_per_refresh(app, contest, make_user, caplog):
    members = [make_user() for _ in range(3)]
    for n, member in enumerate(members):
        take(contest, member, OPEN, correct=n + 1, seconds=60)
    caplog.set_level(logging.INFO, logger="lms.exams.contests.board")
    for viewer in members * 100:
        contest_board.board_payload(contest, viewer, OPEN + timedelta(minutes=5))
    computed = [r for r in caplog.records if "board computed" in r.getMessage()]
    assert len(computed) == 1
    contest_board.invalidate_board(contest)
    contest_board.board_payload(contest, members[0], OPEN + timedelta(minutes=5))
    assert len([r for r in caplog.records if "board computed" in r.getMessage()]) == 2


def test_a_member_sees_their_own_row_even_far_below_the_top(app, five_questions, make_user):
    contest = create_contest(five_questions, open_at=OPEN, board_size=2)
    members = [make_user(name=f"党员{n}") for n in range(5)]
    for n, member in enumerate(members):
        take(contest, member, OPEN, correct=5 - n, seconds=60)
    payload = contest_board.board_payload(contest, members[4], OPEN + timedelta(minutes=5))
    assert [row[2] for row in payload["rows"]] == ["党员0", "党员1"]
    assert payload["mine"][0] == 5 and payload["mine"][2] == "党员4"
    assert payload["participants"] == 5
    outsider = contest_board.board_payload(contest, make_user(), OPEN + timedelta(minutes=5))
    assert outsider["mine"] is None


def test_frozen_board_stops_moving_for_the_last_minutes(app, five_questions, make_user):
    contest = create_contest(
        five_questions, open_at=OPEN, close_at=CLOSE, board_visibility=BoardVisibility.FROZEN, freeze_minutes=30
    )
    early, late = make_user(name="早"), make_user(name="晚")
    take(contest, early, OPEN, correct=2, seconds=60)
    take(contest, late, CLOSE - timedelta(minutes=10), correct=5, seconds=60)
    assert contest_board.board_mode(contest, CLOSE - timedelta(minutes=31)) == "live"
    frozen = contest_board.board_payload(contest, late, CLOSE - timedelta(minutes=5))
    assert frozen["mode"] == "frozen"
    assert [row[2] for row in frozen["rows"]] == ["早"]
    assert frozen["mine"] is None  # the late submission shows at the close
    contest_closing.finalize_contest(contest, CLOSE + GRACE)
    final = contest_board.board_payload(contest, late, CLOSE + GRACE)
    assert [row[2] for row in final["rows"]] == ["晚", "早"]


def test_hidden_board_shows_nothing_until_the_standings_are_final(app, five_questions, make_user):
    contest = create_contest(five_questions, open_at=OPEN, close_at=CLOSE, board_visibility=BoardVisibility.HIDDEN)
    member = make_user()
    take(contest, member, OPEN, correct=3, seconds=60)
    hidden = contest_board.board_payload(contest, member, OPEN + timedelta(minutes=5))
    assert hidden["mode"] == "hidden" and hidden["rows"] == [] and hidden["mine"] is None
    assert contest_board.board_payload(contest, member, CLOSE + timedelta(seconds=1))["mode"] == "hidden"
    contest_closing.finalize_contest(contest, CLOSE + GRACE)
    assert contest_board.board_payload(contest, member, CLOSE + GRACE)["mine"][0] == 1


# --- Fair play ----------------------------------------------------------------------------------------------


def test_page_hides_are_counted_only_during_the_members_open_attempt(app, contest, make_user):
    member, other = make_user(), make_user()
    attempt = contest_taking.start_contest_attempt(contest, member, OPEN)
    assert contest_taking.record_page_hidden(contest, attempt.id, member, OPEN + timedelta(seconds=30))
    assert contest_taking.record_page_hidden(contest, attempt.id, member, OPEN + timedelta(seconds=60))
    assert not contest_taking.record_page_hidden(contest, attempt.id, other, OPEN + timedelta(seconds=60))
    contest_taking.submit_contest_attempt(contest, attempt.id, member, OPEN + timedelta(minutes=2))
    assert not contest_taking.record_page_hidden(contest, attempt.id, member, OPEN + timedelta(minutes=3))
    entry = db.session.scalar(sa.select(ContestEntry).where(ContestEntry.attempt_id == attempt.id))
    assert entry.hidden_count == 2
    assert contest_closing.results(contest, make_user(role="admin"))[0].hidden_count == 2


# --- Closing -------------------------------------------------------------------------------------------------


def test_standings_cannot_freeze_before_the_close_plus_grace(app, contest):
    with pytest.raises(InvalidState):
        contest_closing.finalize_contest(contest, CLOSE + GRACE - timedelta(seconds=1))
    assert contest_closing.ensure_final(contest, CLOSE) is False


def test_close_finalizes_open_attempts_with_their_saved_answers(app, contest, make_user):
    finished, unfinished = make_user(name="交卷"), make_user(name="未交")
    take(contest, finished, OPEN, correct=2, seconds=120)
    started = CLOSE - timedelta(minutes=5)
    attempt = contest_taking.start_contest_attempt(contest, unfinished, started)
    answer(attempt, unfinished, started + timedelta(minutes=1), correct=3)
    db.session.commit()
    assert contest_closing.finalize_contest(contest, CLOSE + GRACE) is True
    db.session.commit()
    db.session.refresh(attempt)
    assert attempt.state == AttemptState.FINISHED
    assert attempt.finish_reason == FinishReason.TIME_UP
    assert attempt.score == 6.0
    assert attempt.finished_at == CLOSE and attempt.time_used_seconds == 300
    stored = contest_board.standings(contest)
    assert [(s.name, s.rank, s.score) for s in stored] == [("未交", 1, 6.0), ("交卷", 2, 4.0)]
    assert contest_closing.finalize_contest(contest, CLOSE + timedelta(hours=1)) is False  # twice is harmless
    assert contest_phases.phase(contest, CLOSE + GRACE) == contest_phases.Phase.FINAL


def test_frozen_standings_do_not_change_when_questions_or_members_change(app, contest, make_user, make_branch):
    first, second = make_user(name="张三"), make_user(name="李四")
    take(contest, first, OPEN, correct=5, seconds=100)
    take(contest, second, OPEN, correct=3, seconds=100)
    contest_closing.finalize_contest(contest, CLOSE + GRACE)
    db.session.commit()
    before = [(s.rank, s.name, s.branch_name, s.score, s.time_used_seconds) for s in contest_board.standings(contest)]
    board_before = contest_board.board_payload(contest, first, CLOSE + GRACE)["rows"]
    # Afterwards: the key of every question changes, members are renamed and moved, an attempt is re-graded.
    for question in db.session.scalars(sa.select(Question)):
        question.answer = {"choice": 3}
        question.version += 1
    first.name = "张三改名"
    first.branch = make_branch("新支部")
    attempt = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.user_id == second.id))
    attempt.score = 99
    db.session.commit()
    clear_cache()
    after = [(s.rank, s.name, s.branch_name, s.score, s.time_used_seconds) for s in contest_board.standings(contest)]
    assert after == before
    assert contest_board.board_payload(contest, first, CLOSE + timedelta(days=1))["rows"] == board_before


def test_the_schedule_job_announces_the_opening_once_and_closes_on_time(app, contest, make_user):
    members = [make_user() for _ in range(3)]
    assert contest_closing.run_contest_schedule(OPEN - timedelta(seconds=1)) == 0
    assert contest_closing.run_contest_schedule(OPEN) == 1
    assert contest_closing.run_contest_schedule(OPEN + timedelta(seconds=30)) == 0
    db.session.commit()
    notices = db.session.scalars(sa.select(Notification).where(Notification.kind == "contest")).all()
    assert sorted(n.user_id for n in notices) == sorted(m.id for m in members)
    attempt = contest_taking.start_contest_attempt(contest, members[0], CLOSE - timedelta(minutes=1))
    db.session.commit()
    assert contest_closing.run_contest_schedule(CLOSE) == 0  # answers in flight still count for 20 s
    assert contest_closing.run_contest_schedule(CLOSE + GRACE) == 1
    db.session.commit()
    db.session.refresh(attempt)
    assert attempt.state == AttemptState.FINISHED
    assert db.session.scalar(sa.select(sa.func.count(ContestStanding.id))) == 1
    assert contest_closing.run_contest_schedule(CLOSE + timedelta(minutes=5)) == 0


def test_state_is_right_after_a_restart_without_the_job(app, contest, make_user):
    """No job ran: the phase comes from the clock and the first page that needs the standings freezes them."""
    member = make_user()
    contest_taking.start_contest_attempt(contest, member, OPEN)
    db.session.commit()
    later = CLOSE + timedelta(hours=3)
    assert contest_phases.phase(contest, later) == contest_phases.Phase.CLOSED
    assert contest_closing.ensure_final(contest, later) is True
    db.session.commit()
    assert contest_phases.phase(contest, later) == contest_phases.Phase.FINAL
    assert contest_board.own_standing(contest, member).time_used_seconds == 1800


# --- Demo -------------------------------------------------------------------------------------------------


def test_demo_adds_a_past_contest_with_results_and_an_upcoming_one_once(app, frozen_clock):
    from lms.auth import demo as auth_demo
    from lms.exams.contests import demo as demo_contests
    from lms.exams.contests.models import Challenge, Contest
    from lms.exams.questions import demo as demo_banks
    from lms.exams.quizzes import demo as demo_quizzes

    auth_demo.seed_demo()
    demo_banks.seed_demo()
    demo_quizzes.seed_demo()
    demo_contests.seed_demo()
    db.session.commit()
    now = frozen_clock.now
    past, upcoming = (demo_contests._existing(t) for t in (demo_contests.PAST_TITLE, demo_contests.UPCOMING_TITLE))
    assert contest_phases.phase(past, now) == contest_phases.Phase.FINAL
    rows = contest_board.standings(past)
    assert len(rows) == 8 and rows[0].rank == 1 and any(row.hidden_count for row in rows)
    assert contest_phases.phase(upcoming, now) == contest_phases.Phase.UPCOMING
    counts = [db.session.scalar(sa.select(sa.func.count(m.id))) for m in (Contest, ContestStanding, Challenge)]
    demo_contests.seed_demo()
    db.session.commit()
    assert [db.session.scalar(sa.select(sa.func.count(m.id))) for m in (Contest, ContestStanding, Challenge)] == counts
