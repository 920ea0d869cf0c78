"""The pure scoring rules of DESIGN.md §6: components, weights, grades, offline cap, pace."""

from datetime import date

import pytest

from lms.assessment.scoring import (
    DEFAULT_BANDS,
    Grade,
    GradeBands,
    ItemStatus,
    Pace,
    TargetRules,
    Weights,
    completion_share,
    counted_hours,
    days_left,
    elapsed_share,
    expected_hours,
    grade_for,
    hours_progress,
    item_due,
    pace_for,
    renormalised_weights,
    score_member,
    weighted_score,
)

YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)


def course(done: bool, due=YEAR_END, item_id=1) -> ItemStatus:
    return ItemStatus("course", item_id, "课程", due, done)


def quiz(done: bool, due=YEAR_END, item_id=1, score=None) -> ItemStatus:
    return ItemStatus("quiz", item_id, "测验", due, done, score, 60.0)


def test_hours_progress_is_the_share_of_required_hours_capped_at_one():
    assert hours_progress(16, 32) == 0.5
    assert hours_progress(40, 32) == 1.0
    assert hours_progress(0, 32) == 0.0
    assert hours_progress(10, None) is None
    assert hours_progress(10, 0) is None


def test_completion_share_counts_done_items_and_is_none_without_requirements():
    assert completion_share(1, 4) == 0.25
    assert completion_share(4, 4) == 1.0
    assert completion_share(0, 0) is None


def test_default_weights_are_half_hours_three_tenths_courses_one_fifth_quizzes():
    assert weighted_score({"hours": 1.0, "courses": 0.0, "quizzes": 0.0}) == 50.0
    assert weighted_score({"hours": 0.0, "courses": 1.0, "quizzes": 0.0}) == 30.0
    assert weighted_score({"hours": 0.0, "courses": 0.0, "quizzes": 1.0}) == 20.0
    assert weighted_score({"hours": 0.5, "courses": 0.5, "quizzes": 0.5}) == 50.0


def test_weights_are_renormalised_over_the_components_a_target_sets():
    assert renormalised_weights(Weights(), ["hours", "courses"]) == pytest.approx({"hours": 0.625, "courses": 0.375})
    # Hours alone: the hours progress is the whole score.
    assert weighted_score({"hours": 0.75, "courses": None, "quizzes": None}) == 75.0
    # Courses and a quiz (a probationary target): 0.3 / 0.5 and 0.2 / 0.5.
    assert weighted_score({"hours": None, "courses": 1.0, "quizzes": 0.0}) == 60.0
    assert weighted_score({"hours": None, "courses": None, "quizzes": None}) is None


def test_zero_weights_on_every_set_component_share_equally():
    assert weighted_score({"hours": 1.0, "courses": 0.0}, Weights(0, 0, 0)) == 50.0


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (100.0, Grade.EXCELLENT),
        (90.0, Grade.EXCELLENT),
        (89.9, Grade.GOOD),
        (80.0, Grade.GOOD),
        (79.9, Grade.QUALIFIED),
        (60.0, Grade.QUALIFIED),
        (59.9, Grade.UNQUALIFIED),
        (0.0, Grade.UNQUALIFIED),
    ],
)
def test_grade_boundaries_are_inclusive_at_90_80_and_60(score, grade):
    assert grade_for(score, DEFAULT_BANDS) == grade


def test_a_score_exactly_on_a_boundary_from_real_hours_gets_the_higher_grade():
    # 28.8 / 32 is 0.8999999... in binary; the rounded score 90.0 is what the member sees and is graded.
    result = score_member(
        TargetRules(required_hours=32),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=date(2026, 6, 1),
        online_hours=28.8,
        offline_hours=0,
    )
    assert result.score == 90.0 and result.grade == Grade.EXCELLENT
    result = score_member(
        TargetRules(required_hours=32),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=date(2026, 6, 1),
        online_hours=25.6,
        offline_hours=0,
    )
    assert result.score == 80.0 and result.grade == Grade.GOOD
    assert (
        score_member(
            TargetRules(required_hours=32),
            period_start=YEAR_START,
            period_end=YEAR_END,
            today=YEAR_END,
            online_hours=19.2,
            offline_hours=0,
        ).grade
        == Grade.QUALIFIED
    )


def test_grade_bands_are_configurable_per_target():
    strict = GradeBands(excellent=95, good=85, qualified=70)
    assert grade_for(90.0, strict) == Grade.GOOD
    assert grade_for(69.9, strict) == Grade.UNQUALIFIED
    assert not GradeBands(excellent=80, good=90, qualified=60).is_valid()


def test_offline_hours_count_up_to_the_cap():
    assert counted_hours(10, 30, 16) == 26
    assert counted_hours(10, 8, 16) == 18
    assert counted_hours(10, 30, None) == 40
    assert counted_hours(10, 30, 0) == 10
    result = score_member(
        TargetRules(required_hours=32, offline_cap_hours=16),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=date(2026, 7, 1),
        online_hours=8,
        offline_hours=24,
    )
    assert result.hours == 24 and result.score == 75.0


def test_every_component_appears_in_the_member_score():
    result = score_member(
        TargetRules(required_hours=32),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=date(2026, 7, 1),
        online_hours=16,
        offline_hours=0,
        items=[course(True, item_id=1), course(False, item_id=2), quiz(True, score=85.0)],
    )
    assert (result.courses_done, result.courses_required) == (1, 2)
    assert (result.quizzes_passed, result.quizzes_required) == (1, 1)
    # 0.5 * 0.5 + 0.3 * 0.5 + 0.2 * 1 = 0.6
    assert result.score == 60.0 and result.grade == Grade.QUALIFIED


def test_elapsed_share_counts_the_days_completed_before_today():
    assert elapsed_share(YEAR_START, YEAR_END, date(2026, 1, 1)) == 0
    assert elapsed_share(YEAR_START, YEAR_END, date(2025, 12, 1)) == 0
    assert elapsed_share(YEAR_START, YEAR_END, date(2026, 7, 2)) == pytest.approx(182 / 365)
    assert elapsed_share(YEAR_START, YEAR_END, date(2027, 1, 1)) == 1
    assert days_left(YEAR_START, YEAR_END, date(2026, 12, 31)) == 1
    assert days_left(YEAR_START, YEAR_END, date(2027, 1, 1)) == 0
    assert days_left(YEAR_START, YEAR_END, date(2025, 6, 1)) == 365


def test_expected_hours_are_required_times_elapsed_share_and_behind_is_below_80_percent():
    share = elapsed_share(YEAR_START, YEAR_END, date(2026, 7, 2))  # 182 of 365 days done
    expected = expected_hours(32, share)
    assert expected == pytest.approx(32 * 182 / 365)
    assert pace_for(expected * 0.8 - 0.01, 32, share) == Pace.BEHIND
    assert pace_for(expected * 0.8, 32, share) == Pace.AT_RISK
    assert pace_for(expected - 0.01, 32, share) == Pace.AT_RISK
    assert pace_for(expected, 32, share) == Pace.ON_TRACK
    assert pace_for(32, 32, share) == Pace.DONE
    assert pace_for(0, None, share) == Pace.NONE
    assert pace_for(0, 32, 0.0) == Pace.ON_TRACK  # nobody is behind on the first day


def test_items_due_within_fourteen_days_or_overdue_put_a_member_at_risk():
    today = date(2026, 3, 1)
    result = score_member(
        TargetRules(),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=today,
        online_hours=0,
        offline_hours=0,
        items=[course(False, due=date(2026, 3, 15)), course(False, due=date(2026, 3, 16), item_id=2)],
    )
    assert result.due_soon == 1 and result.overdue == 0 and result.at_risk
    later = score_member(
        TargetRules(),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=date(2026, 3, 20),
        online_hours=0,
        offline_hours=0,
        items=[course(False, due=date(2026, 3, 15))],
    )
    assert later.overdue == 1 and later.at_risk
    done = score_member(
        TargetRules(),
        period_start=YEAR_START,
        period_end=YEAR_END,
        today=today,
        online_hours=0,
        offline_hours=0,
        items=[course(True, due=date(2026, 3, 10))],
    )
    assert not done.at_risk


def test_item_due_dates_count_from_the_period_start_and_never_pass_its_end():
    admitted, probation_end = date(2025, 9, 1), date(2026, 8, 31)
    assert item_due(admitted, probation_end, 90) == date(2025, 11, 30)
    assert item_due(admitted, probation_end, 999) == probation_end
    assert item_due(admitted, probation_end, None) == probation_end
