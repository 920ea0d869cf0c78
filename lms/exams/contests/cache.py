"""Per-process cache of what a contest start reads that only an edit changes: its question set.

A contest with one set for everyone (``DrawMode.SAME``) starts each of its 2,000 attempts
with the same questions, so each start read the same ten question rows, hashed their
contents and looked up the snapshots of those contents. A ``QuestionSet`` keeps them, for
the contest's ``frozen_draw``: the question rows, their content hashes and the ids of
their snapshots (only snapshots read from the database: committed, and never deleted).

It stays valid while the contest's ``frozen_draw`` is the same and its questions are the
same rows at the same versions: every edit of a question bumps its ``version`` (versions only
grow) and a deleted question lowers the count, so the start's own first read
(``member_read.start_read``) carries the questions' count and the sum of their versions,
and a set they do not match is dropped and built again. Nothing else of the contest or its
quiz is cached: the start reads them current in that same statement.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_LOCK = threading.Lock()
_SETS: dict[int, QuestionSet] = {}


@dataclass(frozen=True)
class QuestionSet:
    contest_id: int
    frozen_draw: tuple[tuple[int, float], ...]
    question_ids: tuple[int, ...]
    version_sum: int
    questions: dict  # question id -> row (``snapshots.QUESTION_COLUMNS``)
    hashes: dict[int, str]  # question id -> content hash
    snapshots: dict[tuple[int, str], int]  # (question id, content hash) -> snapshot id

    def holds(self, contest, question_count, question_versions) -> bool:
        """Whether the set is still the contest's: the same draw, the same questions at the same versions."""
        return (
            _draw_key(contest.frozen_draw) == self.frozen_draw
            and question_count == len(self.question_ids)
            and int(question_versions or 0) == self.version_sum
        )


def _draw_key(frozen_draw) -> tuple[tuple[int, float], ...]:
    return tuple((int(question_id), float(points)) for question_id, points in frozen_draw or [])


def question_set(contest_id: int) -> QuestionSet | None:
    """The contest's cached set, to be checked with ``QuestionSet.holds`` before use."""
    return _SETS.get(contest_id)


def remember(contest, questions: dict, hashes: dict[int, str], snapshots: dict[tuple[int, str], int]) -> None:
    """Keep a start's question set when every question has a snapshot in the database already."""
    if any((question_id, content_hash) not in snapshots for question_id, content_hash in hashes.items()):
        return  # a start is writing one: the next start keeps the set
    ids = tuple(sorted(questions))
    entry = QuestionSet(
        contest.id,
        _draw_key(contest.frozen_draw),
        ids,
        sum(int(questions[i].version or 0) for i in ids),  # as SQL sums them (NULL: none)
        dict(questions),
        dict(hashes),
        {key: value for key, value in snapshots.items() if key[0] in questions},
    )
    with _LOCK:
        _SETS[contest.id] = entry


def forget(contest_id: int | None = None) -> None:
    """Drop one contest's set, or all (tests)."""
    with _LOCK:
        if contest_id is None:
            _SETS.clear()
        else:
            _SETS.pop(contest_id, None)
