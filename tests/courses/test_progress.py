"""The pure rules of study credit: the union of watched intervals and the plausibility of a segment."""

from hypothesis import given
from hypothesis import strategies as st

from lms.courses import progress as rules


def test_first_segment_adds_its_length():
    flat, added = rules.add_interval([], 0, 15)
    assert flat == [0, 15]
    assert added == 15


def test_replayed_segment_adds_nothing():
    flat, _ = rules.add_interval([], 0, 30)
    flat2, added = rules.add_interval(flat, 10, 20)
    assert flat2 == [0, 30]
    assert added == 0


def test_overlapping_segment_adds_only_the_new_part():
    flat, _ = rules.add_interval([0, 30], 20, 45)
    assert flat == [0, 45]
    _, added = rules.add_interval([0, 30], 20, 45)
    assert added == 15


def test_segment_bridging_two_intervals_adds_the_gap_only():
    flat, added = rules.add_interval([0, 10, 20, 30, 50, 60], 5, 55)
    assert flat == [0, 60]
    assert added == 10 + 20


def test_disjoint_segments_stay_separate_and_sorted():
    flat, _ = rules.add_interval([50, 60], 0, 10)
    assert flat == [0, 10, 50, 60]
    assert rules.covered_seconds(flat) == 20


def test_empty_or_reversed_segment_adds_nothing():
    assert rules.add_interval([0, 10], 5, 5) == ([0, 10], 0.0)
    assert rules.add_interval([0, 10], 8, 3) == ([0, 10], 0.0)


@given(st.lists(st.tuples(st.floats(0, 600), st.floats(0, 60)), max_size=40))
def test_sum_of_credits_equals_the_covered_length_and_never_exceeds_the_content(segments):
    flat: list[float] = []
    credited = 0.0
    for start, length in segments:
        end = min(start + length, 600)
        flat, added = rules.add_interval(flat, start, end)
        credited += added
        assert added >= 0
    assert abs(credited - rules.covered_seconds(flat)) < 0.01 * (len(segments) + 1)
    assert rules.covered_seconds(flat) <= 600 + 1e-6
    pairs = rules.pairs(flat)
    assert all(a < b for a, b in pairs)
    assert all(pairs[i][1] < pairs[i + 1][0] for i in range(len(pairs) - 1))


def judge(start, end, rate=1.0, visible=True, duration=100.0, elapsed=15.0, max_rate=2.0):
    """A segment judged against the budget of a session that started ``elapsed`` s ago with no credit yet."""
    room = rules.credit_room(elapsed, elapsed, rate if isinstance(rate, int | float) and rate > 0 else 0, max_rate)
    return rules.judge_segment(
        start, end, rate=rate, visible=visible, duration=duration, allowed_seconds=room.content_seconds
    )


def test_plausible_segment_is_accepted_whole():
    verdict = judge(0, 15)
    assert (verdict.start, verdict.end, verdict.reason, verdict.refused) == (0, 15, None, False)


def test_slack_is_granted_per_minute_of_session_from_a_floor():
    # 15 s into a session: the floor (1 s) plus a quarter of the per-minute second.
    assert rules.session_slack(15) == 1.25
    assert judge(0, 16.25).reason is None
    assert judge(0, 16.5).reason == "faster_than_plausible"


def test_slack_stops_at_its_cap():
    assert rules.session_slack(0) == rules.SLACK_MIN_SECONDS
    assert rules.session_slack(3 * 60) == 4.0
    assert rules.session_slack(24 * 3600) == rules.SLACK_MAX_SECONDS


def test_double_speed_within_the_limit_credits_the_content():
    verdict = judge(0, 30, rate=2.0)
    assert verdict.end == 30 and verdict.reason is None


def test_speed_beyond_the_limit_credits_only_the_plausible_part():
    verdict = judge(0, 60, rate=4.0)
    assert verdict.end == (15 + 1.25) * 2.0
    assert verdict.reason == "faster_than_plausible"
    assert not verdict.refused


def test_claimed_rate_one_with_a_double_length_segment_is_clipped():
    verdict = judge(0, 30, rate=1.0)
    assert verdict.end == 16.25


def test_a_spent_budget_refuses_the_segment():
    room = rules.credit_room(-1.25, 15, 1.0, 2.0)  # the clock is already 1.25 s ahead: all slack used
    assert room.wall_seconds == 0
    verdict = rules.judge_segment(15, 30, rate=1.0, visible=True, duration=100.0, allowed_seconds=room.content_seconds)
    assert verdict.refused and verdict.reason == "faster_than_plausible"


def test_time_older_than_the_backlog_is_never_credited():
    # A session left open an hour: a beat may claim at most the backlog (plus slack), not the hour.
    room = rules.credit_room(3600, 3600, 2.0, 2.0)
    assert room.lag == rules.BACKLOG_SECONDS
    assert room.content_seconds == (rules.BACKLOG_SECONDS + rules.SLACK_MAX_SECONDS) * 2


def test_the_clock_moves_by_the_playing_time_of_the_credit():
    room = rules.credit_room(15, 15, 2.0, 2.0)
    assert room.lag_after(30) == 0  # 30 s of content at double speed took the 15 s that passed
    assert rules.credit_room(15, 15, 16.0, 2.0).rate == 2.0  # a claimed rate is charged at most the maximum


def test_hidden_page_is_refused():
    verdict = judge(0, 15, visible=False)
    assert verdict.refused and verdict.reason == "page_hidden"


def test_end_up_to_one_second_past_the_duration_is_clipped_to_it():
    verdict = judge(90, 100.8)
    assert verdict.end == 100 and not verdict.refused


def test_end_further_past_the_duration_is_refused():
    assert judge(90, 101.5).reason == "beyond_duration"


def test_absurd_positions_are_refused():
    for start, end in [(-5, 10), (10, 5), (3, 3), (float("nan"), 5), (0, float("inf")), (None, 5), (True, 5)]:
        assert judge(start, end).refused


def test_non_positive_or_non_finite_rate_is_refused():
    assert judge(0, 10, rate=0).reason == "invalid_rate"
    assert judge(0, 10, rate=-1).reason == "invalid_rate"
    assert judge(0, 10, rate=float("nan")).refused


def test_completion_is_at_the_ratio_inclusive():
    assert rules.is_complete(90.0, 100.0, 0.9)
    assert not rules.is_complete(89.99, 100.0, 0.9)
    assert not rules.is_complete(0, 0, 0.9)
