"""Contest ranking: score desc, time used asc, submit time asc; full ties share a rank."""

from datetime import UTC, datetime, timedelta

from lms.exams.contests.ranking import Entry, rank_branches, rank_entries

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def entry(user_id, score, used, submitted_after=0, branch_id=1):
    return Entry(user_id, branch_id, score, used, T0 + timedelta(seconds=submitted_after))


def ranks(entries):
    return [(r.rank, r.entry.user_id) for r in rank_entries(entries)]


def test_higher_score_ranks_first_whatever_the_time():
    assert ranks([entry(1, 80, 100), entry(2, 90, 500)]) == [(1, 2), (2, 1)]


def test_equal_scores_are_split_by_time_used():
    assert ranks([entry(1, 90, 300), entry(2, 90, 200)]) == [(1, 2), (2, 1)]


def test_equal_score_and_time_are_split_by_submit_time():
    assert ranks([entry(1, 90, 200, submitted_after=50), entry(2, 90, 200, submitted_after=10)]) == [(1, 2), (2, 1)]


def test_ties_in_all_three_share_a_rank_and_the_next_rank_skips():
    board = ranks([entry(1, 90, 200, 5), entry(2, 90, 200, 5), entry(3, 80, 100, 1), entry(4, 95, 400, 9)])
    assert board == [(1, 4), (2, 1), (2, 2), (4, 3)]


def test_branch_board_mean_participation_and_absent_branches():
    entries = [entry(1, 90, 1, branch_id=10), entry(2, 70, 1, branch_id=10), entry(3, 100, 1, branch_id=20)]
    board = rank_branches(entries, {10: 4, 20: 2, 30: 5})
    assert [(b.rank, b.branch_id, b.participants, b.mean_score, b.participation_rate) for b in board] == [
        (1, 20, 1, 100.0, 0.5),
        (2, 10, 2, 80.0, 0.5),
        (3, 30, 0, 0.0, 0.0),
    ]


def test_branches_with_equal_mean_are_split_by_participation_then_tie():
    entries = [entry(1, 80, 1, branch_id=1), entry(2, 80, 1, branch_id=2), entry(3, 80, 1, branch_id=3)]
    board = rank_branches(entries, {1: 1, 2: 2, 3: 2})
    assert [(b.rank, b.branch_id) for b in board] == [(1, 1), (2, 2), (2, 3)]
