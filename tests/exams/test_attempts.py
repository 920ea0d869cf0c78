"""Attempts: drawing, the server's deadline, saves, submit and finalize (DESIGN.md §4)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts, setup, timing
from lms.exams.quizzes import results as quizzes_results
from lms.exams.quizzes.models import (
    AttemptQuestion,
    AttemptState,
    FinishReason,
    KeptGrade,
    OverdueHandling,
    QuestionSnapshot,
    QuizAttempt,
    QuizOverride,
)
from lms.extensions import db

pytestmark = pytest.mark.postgres  # row locks and the one-open-attempt unique slot

GRACE = 20  # LMS_QUIZ_GRACE_SECONDS default


def _answer_all_right(attempt, user, now, seq=1):
    """Save the right answer to every question (the test knows the key; the member does not)."""
    for question in attempt.questions:
        snapshot = question.snapshot
        order = question.option_order
        if snapshot.type == QuestionType.SINGLE:
            raw = {"choice": order.index(snapshot.answer["choice"])}
        elif snapshot.type == QuestionType.MULTIPLE:
            raw = {"choices": [order.index(c) for c in snapshot.answer["choices"]]}
        elif snapshot.type == QuestionType.TRUE_FALSE:
            raw = {"value": snapshot.answer["value"]}
        else:
            raw = {"blanks": [accepted[0] for accepted in snapshot.answer["blanks"]]}
        attempts.save_answer(attempt.id, user, question.position, raw, seq, now)


def test_attempt_freezes_a_snapshot_that_bank_edits_do_not_change(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    single = four_questions[0]
    single.stem = "改过的题干"
    single.answer = {"choice": 3}
    single.version += 1
    db.session.commit()
    first = attempt.questions[0].snapshot
    assert first.stem != "改过的题干"
    assert first.answer == {"choice": 1}
    assert [q.position for q in attempt.questions] == [1, 2, 3, 4]
    assert attempt.max_score == 4


def test_attempts_share_one_snapshot_per_question_version(make_user, make_quiz, four_questions, frozen_clock):
    quiz = make_quiz(four_questions)
    for _ in range(3):
        attempts.start_attempt(quiz, make_user(), frozen_clock.now)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(QuestionSnapshot.id))) == 4


def test_shuffled_options_are_saved_and_graded_in_the_original_order(make_user, make_quiz, make_question, frozen_clock):
    member = make_user()
    question = make_question(QuestionType.SINGLE)
    quiz = make_quiz([question], shuffle_options=True)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now, rng=random.Random(3))
    db.session.commit()
    order = attempt.questions[0].option_order
    assert sorted(order) == [0, 1, 2, 3]
    shown_position_of_right = order.index(1)
    result = attempts.save_answer(attempt.id, member, 1, {"choice": shown_position_of_right}, 1, frozen_clock.now)
    assert result.response == {"choice": shown_position_of_right}
    db.session.refresh(attempt.questions[0])
    assert attempt.questions[0].response == {"choice": 1}
    finished = attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    assert finished.score == 1


def test_draw_rules_pick_distinct_questions_matching_type_and_tag(
    make_user, make_quiz, make_question, make_bank, frozen_clock
):
    bank = make_bank("党史题库")
    tagged = [make_question(QuestionType.SINGLE, bank=bank, tags=["党史"]) for _ in range(5)]
    make_question(QuestionType.SINGLE, bank=bank, tags=["党章"])
    make_question(QuestionType.TRUE_FALSE, bank=bank, tags=["党史"])
    make_question(QuestionType.SINGLE, bank=bank, tags=["党史"], is_disabled=True)
    quiz = make_quiz([], publish=False)
    setup.add_draw_rule(quiz, bank_id=bank.id, question_type=QuestionType.SINGLE, tag="党史", count=3, points=2)
    setup.publish_quiz(quiz, now=frozen_clock.now)
    db.session.commit()
    attempt = attempts.start_attempt(quiz, make_user(), frozen_clock.now, rng=random.Random(1))
    drawn = [q.question_id for q in attempt.questions]
    assert len(set(drawn)) == 3
    assert set(drawn) <= {q.id for q in tagged}
    assert all(q.points == 2 for q in attempt.questions)
    assert attempt.max_score == 6


def test_rule_that_cannot_be_satisfied_is_refused_with_the_count(make_quiz, make_question, make_bank):
    bank = make_bank()
    make_question(QuestionType.SINGLE, bank=bank)
    quiz = make_quiz([], publish=False)
    with pytest.raises(ValidationFailed, match="1"):
        setup.add_draw_rule(quiz, bank_id=bank.id, question_type=None, tag="", count=2, points=1)


def test_deadline_is_start_plus_limit_and_countdown_comes_from_the_server(
    make_user, make_quiz, four_questions, frozen_clock
):
    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    assert attempt.deadline == frozen_clock.now + timedelta(seconds=600)
    assert timing.remaining_seconds(attempt, frozen_clock.now + timedelta(seconds=100)) == 500


def test_quiz_closing_mid_attempt_cuts_the_deadline(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    now = frozen_clock.now
    quiz = make_quiz(four_questions, time_limit_seconds=3600, close_at=now + timedelta(minutes=30))
    attempt = attempts.start_attempt(quiz, member, now)
    assert attempt.deadline == now + timedelta(minutes=30)


def test_admin_moving_the_close_date_earlier_cuts_open_attempts(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    now = frozen_clock.now
    quiz = make_quiz(four_questions, time_limit_seconds=3600)
    attempt = attempts.start_attempt(quiz, member, now)
    db.session.commit()
    settings = setup.settings_of(quiz)
    settings.close_at = now + timedelta(minutes=10)
    setup.update_quiz(quiz, settings, now=now + timedelta(minutes=5))
    db.session.commit()
    db.session.refresh(attempt)
    assert attempt.deadline == now + timedelta(minutes=10)
    assert attempt.finalize_after == now + timedelta(minutes=10, seconds=GRACE)


def test_save_at_deadline_plus_grace_minus_one_second_is_kept(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=60)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    late = attempt.deadline + timedelta(seconds=GRACE - 1)
    result = attempts.save_answer(attempt.id, member, 3, {"value": True}, 1, late)
    db.session.commit()
    assert result.applied
    assert result.remaining_seconds == 0
    finished = attempts.finalize_overdue(attempt.deadline + timedelta(seconds=GRACE + 1))
    db.session.commit()
    assert finished == 1
    db.session.refresh(attempt)
    assert attempt.questions[2].score == 1


def test_save_at_deadline_plus_grace_plus_one_second_is_refused_with_a_clear_message(
    make_user, make_quiz, four_questions, frozen_clock
):
    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=60)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    attempts.save_answer(attempt.id, member, 3, {"value": False}, 1, frozen_clock.now + timedelta(seconds=10))
    db.session.commit()
    too_late = attempt.deadline + timedelta(seconds=GRACE + 1)
    with pytest.raises(InvalidState, match="答题时间已到"):
        attempts.save_answer(attempt.id, member, 3, {"value": True}, 2, too_late)
    db.session.commit()
    db.session.refresh(attempt)
    # The refusal also closed the overdue attempt with the answer saved in time.
    assert attempt.state == AttemptState.FINISHED
    assert attempt.finish_reason == FinishReason.TIME_UP
    assert attempt.questions[2].response == {"value": False}
    assert attempt.finished_at == attempt.deadline


def test_abandoned_attempt_is_finalized_by_the_job_with_its_saved_answers(
    make_user, make_quiz, four_questions, frozen_clock
):
    from lms.exams.quizzes.jobs import finalize_overdue_attempts

    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=300)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    _answer_all_right(attempt, member, frozen_clock.now + timedelta(seconds=30))
    db.session.commit()
    assert finalize_overdue_attempts(attempt.deadline + timedelta(seconds=GRACE)) == 0  # not overdue yet
    assert finalize_overdue_attempts(attempt.deadline + timedelta(seconds=GRACE + 5)) == 1
    db.session.commit()
    db.session.refresh(attempt)
    assert attempt.state == AttemptState.FINISHED
    assert attempt.score == 4
    assert attempt.score_percent == 100
    assert attempt.open_slot is None
    assert attempt.time_used_seconds == 300
    assert finalize_overdue_attempts(attempt.deadline + timedelta(hours=1)) == 0  # twice is harmless


def test_submit_twice_changes_nothing(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=300)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    _answer_all_right(attempt, member, frozen_clock.now)
    first = attempts.submit_attempt(attempt.id, member, frozen_clock.now + timedelta(seconds=50))
    db.session.commit()
    finished_at, score = first.finished_at, first.score
    again = attempts.submit_attempt(attempt.id, member, frozen_clock.now + timedelta(seconds=90))
    db.session.commit()
    assert (again.finished_at, again.score) == (finished_at, score)
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def test_older_or_replayed_save_never_overwrites_a_newer_one(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    attempt = attempts.start_attempt(make_quiz(four_questions), member, frozen_clock.now)
    now = frozen_clock.now
    assert attempts.save_answer(attempt.id, member, 3, {"value": True}, 5, now).applied
    older = attempts.save_answer(attempt.id, member, 3, {"value": False}, 4, now)
    replay = attempts.save_answer(attempt.id, member, 3, {"value": False}, 5, now)
    assert not older.applied and not replay.applied
    assert older.response == {"value": True} and older.seq == 5
    stored = db.session.scalar(
        sa.select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt.id, AttemptQuestion.position == 3)
    )
    assert stored.response == {"value": True}


def test_time_spent_is_recorded_per_question_from_the_saves(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    attempt = attempts.start_attempt(make_quiz(four_questions), member, frozen_clock.now)
    attempts.save_answer(attempt.id, member, 1, {"choice": 0}, 1, frozen_clock.now + timedelta(seconds=40))
    attempts.save_answer(attempt.id, member, 3, {"value": True}, 1, frozen_clock.now + timedelta(seconds=55))
    attempts.save_answer(attempt.id, member, 1, {"choice": 1}, 2, frozen_clock.now + timedelta(seconds=60))
    db.session.commit()
    spent = {q.position: q.time_spent_seconds for q in attempt.questions}
    assert spent == {1: 45, 2: 0, 3: 15, 4: 0}


@pytest.mark.parametrize(
    "raw",
    [{"choice": 9}, {"choice": True}, {"choice": "1"}, [1], "x", {"choices": [0]}],
)
def test_answer_that_does_not_fit_the_question_is_refused(make_user, make_quiz, four_questions, frozen_clock, raw):
    member = make_user()
    attempt = attempts.start_attempt(make_quiz(four_questions), member, frozen_clock.now)
    with pytest.raises(ValidationFailed):
        attempts.save_answer(attempt.id, member, 1, raw, 1, frozen_clock.now)


def test_fill_in_needs_one_text_per_blank(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    attempt = attempts.start_attempt(make_quiz(four_questions), member, frozen_clock.now)
    with pytest.raises(ValidationFailed):
        attempts.save_answer(attempt.id, member, 4, {"blanks": ["only one"]}, 1, frozen_clock.now)
    with pytest.raises(ValidationFailed):
        attempts.save_answer(attempt.id, member, 4, {"blanks": ["x" * 501, ""]}, 1, frozen_clock.now)
    assert attempts.save_answer(attempt.id, member, 4, {"blanks": ["a", ""]}, 1, frozen_clock.now).applied


def test_another_members_attempt_cannot_be_saved(make_user, make_quiz, four_questions, frozen_clock):
    from lms.errors import NotFound

    owner, other = make_user(), make_user()
    attempt = attempts.start_attempt(make_quiz(four_questions), owner, frozen_clock.now)
    with pytest.raises(NotFound):
        attempts.save_answer(attempt.id, other, 1, {"choice": 0}, 1, frozen_clock.now)


def test_attempts_beyond_the_allowed_number_are_refused(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions, attempts_allowed=2)
    for _ in range(2):
        attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
        attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    with pytest.raises(InvalidState, match="2"):
        attempts.start_attempt(quiz, member, frozen_clock.now)


def test_override_gives_one_member_more_attempts_and_time(make_user, make_quiz, four_questions, frozen_clock):
    member, other = make_user(), make_user()
    quiz = make_quiz(four_questions, attempts_allowed=1, time_limit_seconds=600)
    setup.set_override(
        quiz, member, time_limit_seconds=1200, attempts_allowed=2, open_at=None, close_at=None, now=frozen_clock.now
    )
    for _ in range(2):
        attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
        assert attempt.deadline == frozen_clock.now + timedelta(seconds=1200)
        attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    attempts.submit_attempt(attempts.start_attempt(quiz, other, frozen_clock.now).id, other, frozen_clock.now)
    with pytest.raises(InvalidState):
        attempts.start_attempt(quiz, other, frozen_clock.now)


def test_override_during_an_attempt_extends_its_deadline(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    setup.set_override(
        quiz, member, time_limit_seconds=900, attempts_allowed=None, open_at=None, close_at=None, now=frozen_clock.now
    )
    db.session.refresh(attempt)
    assert attempt.deadline == frozen_clock.now + timedelta(seconds=900)


def test_wait_between_attempts_is_enforced(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions, attempts_allowed=0, wait_seconds=3600)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    with pytest.raises(InvalidState):
        attempts.start_attempt(quiz, member, frozen_clock.now + timedelta(minutes=59))
    assert attempts.start_attempt(quiz, member, frozen_clock.now + timedelta(minutes=60)).number == 2


def test_window_is_enforced(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    now = frozen_clock.now
    quiz = make_quiz(four_questions, open_at=now + timedelta(hours=1), close_at=now + timedelta(hours=2))
    with pytest.raises(InvalidState):
        attempts.start_attempt(quiz, member, now)
    with pytest.raises(InvalidState):
        attempts.start_attempt(quiz, member, now + timedelta(hours=2))
    assert attempts.start_attempt(quiz, member, now + timedelta(hours=1)).deadline == now + timedelta(hours=2)


def test_member_outside_the_audience_cannot_start(make_user, make_quiz, four_questions, frozen_clock):
    from lms.auth.models import MemberStatus

    quiz = make_quiz(four_questions, audience_statuses=[MemberStatus.PROBATIONARY])
    with pytest.raises(Forbidden):
        attempts.start_attempt(quiz, make_user(status=MemberStatus.FULL), frozen_clock.now)
    assert attempts.start_attempt(quiz, make_user(status=MemberStatus.PROBATIONARY), frozen_clock.now)


def test_unpublished_quiz_cannot_be_started(make_user, make_quiz, four_questions, frozen_clock):
    quiz = make_quiz(four_questions, publish=False)
    with pytest.raises(Forbidden):
        attempts.start_attempt(quiz, make_user(), frozen_clock.now)


def test_starting_again_returns_the_open_attempt(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions)
    first = attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    assert attempts.start_attempt(quiz, member, frozen_clock.now).id == first.id


def test_database_refuses_a_second_open_attempt(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions)
    attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    db.session.add(
        QuizAttempt(
            quiz_id=quiz.id,
            user_id=member.id,
            number=2,
            open_slot=1,
            started_at=frozen_clock.now,
            last_activity_at=frozen_clock.now,
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_start_that_loses_the_race_returns_the_winners_attempt(
    make_user, make_quiz, four_questions, frozen_clock, monkeypatch
):
    # Both requests read "no open attempt"; the second insert hits the unique open slot.
    member = make_user()
    quiz = make_quiz(four_questions)
    winner = attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    real_find = attempts.find_open_attempt
    calls = []

    def stale_first_read(quiz_id, user_id):
        calls.append(1)
        return None if len(calls) == 1 else real_find(quiz_id, user_id)

    monkeypatch.setattr(attempts, "find_open_attempt", stale_first_read)
    monkeypatch.setattr(attempts, "_check_may_start", lambda *args: 2)
    loser = attempts.start_attempt(quiz, member, frozen_clock.now)
    db.session.commit()
    assert loser.id == winner.id
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def test_concurrent_double_start_makes_one_attempt(app, make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions)
    quiz_id, user_id = quiz.id, member.id
    barrier = threading.Barrier(2)
    results, errors = [], []

    def start():
        with app.app_context():
            try:
                barrier.wait(timeout=5)
                user = db.session.get(type(member), user_id)
                attempt = attempts.start_attempt(db.session.get(type(quiz), quiz_id), user, frozen_clock.now)
                db.session.commit()
                results.append(attempt.id)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors
    assert len(results) == 2 and results[0] == results[1]
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def test_kept_grade_follows_the_setting(make_user, make_quiz, make_question, frozen_clock):
    member = make_user()
    question = make_question(QuestionType.TRUE_FALSE)
    highest = make_quiz([question], attempts_allowed=0, kept_grade=KeptGrade.HIGHEST)
    last = make_quiz([question], attempts_allowed=0, kept_grade=KeptGrade.LAST)
    for quiz in (highest, last):
        for value in (True, False):  # right, then wrong
            attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
            attempts.save_answer(attempt.id, member, 1, {"value": value}, 1, frozen_clock.now)
            attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    db.session.commit()
    results = quizzes_results.quiz_results([highest.id, last.id], sa.true())
    assert results[(member.id, highest.id)] == (100.0, True)
    assert results[(member.id, last.id)] == (0.0, False)


def test_quiz_results_leave_out_practice_and_abandoned_attempts(make_user, make_quiz, make_question, frozen_clock):
    member = make_user()
    question = make_question(QuestionType.TRUE_FALSE)
    practice = make_quiz([question], is_practice=True)
    strict = make_quiz([question], time_limit_seconds=60, overdue_handling=OverdueHandling.NOT_COUNTED)
    attempt = attempts.start_attempt(practice, member, frozen_clock.now)
    assert attempt.deadline is None
    attempts.submit_attempt(attempt.id, member, frozen_clock.now)
    late = attempts.start_attempt(strict, member, frozen_clock.now)
    attempts.save_answer(late.id, member, 1, {"value": True}, 1, frozen_clock.now)
    attempts.finalize_overdue(frozen_clock.now + timedelta(seconds=60 + GRACE + 1))
    db.session.commit()
    db.session.refresh(late)
    assert late.state == AttemptState.ABANDONED and late.score is None
    assert quizzes_results.quiz_results([practice.id, strict.id], sa.true()) == {}


def test_grace_period_allows_submitting_but_not_changing(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(
        four_questions, time_limit_seconds=60, overdue_handling=OverdueHandling.GRACE_PERIOD, grace_period_seconds=600
    )
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    attempts.save_answer(attempt.id, member, 3, {"value": True}, 1, frozen_clock.now)
    five_minutes_late = attempt.deadline + timedelta(minutes=5)
    with pytest.raises(InvalidState):
        attempts.save_answer(attempt.id, member, 3, {"value": False}, 2, five_minutes_late)
    assert attempts.finalize_overdue(five_minutes_late) == 0
    submitted = attempts.submit_attempt(attempt.id, member, five_minutes_late)
    assert submitted.state == AttemptState.FINISHED
    assert submitted.finish_reason == FinishReason.SUBMITTED
    assert submitted.time_used_seconds == 60
    assert submitted.score == 1


def test_grace_period_unsubmitted_attempt_is_not_counted(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(
        four_questions, time_limit_seconds=60, overdue_handling=OverdueHandling.GRACE_PERIOD, grace_period_seconds=600
    )
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    assert attempts.finalize_overdue(attempt.deadline + timedelta(seconds=601)) == 1
    db.session.refresh(attempt)
    assert attempt.state == AttemptState.ABANDONED


def test_submitted_in_time_counts_under_not_counted_rule(make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    quiz = make_quiz(four_questions, time_limit_seconds=60, overdue_handling=OverdueHandling.NOT_COUNTED)
    attempt = attempts.start_attempt(quiz, member, frozen_clock.now)
    finished = attempts.submit_attempt(attempt.id, member, attempt.deadline + timedelta(seconds=GRACE - 1))
    assert finished.state == AttemptState.FINISHED


def test_effective_settings_read_the_override_as_values_not_an_object(
    make_user, make_quiz, four_questions, frozen_clock
):
    member = make_user()
    quiz = make_quiz(four_questions, attempts_allowed=1, time_limit_seconds=600)
    setup.set_override(
        quiz, member, time_limit_seconds=None, attempts_allowed=3, open_at=None, close_at=None, now=frozen_clock.now
    )
    db.session.commit()
    quiz_id, member_id = quiz.id, member.id
    db.session.expunge_all()
    quiz = db.session.get(type(quiz), quiz_id)
    loaded = []

    def on_load(target, context):
        loaded.append(target)

    sa.event.listen(QuizOverride, "load", on_load)
    try:
        settings = timing.effective_settings(quiz, member_id)
    finally:
        sa.event.remove(QuizOverride, "load", on_load)
    assert (settings.time_limit_seconds, settings.attempts_allowed, settings.has_override) == (600, 3, True)
    # Every start reads it: a row, not an ORM object.
    assert loaded == []
    assert timing.effective_settings(quiz, make_user().id).has_override is False
