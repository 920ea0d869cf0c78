"""lms.group_commit with a committer that needs no database: batches growing while they wait for a lock."""

from __future__ import annotations

import pytest

from lms.group_commit import GroupCommitter, Pending


class Item(Pending):
    def __init__(self, key: int, *, bad: bool = False) -> None:
        super().__init__()
        self.key, self.bad = key, bad


class Committer(GroupCommitter):
    """Each transaction first "waits for its lock" (``arrive``: items submitted meanwhile), then joins them."""

    def __init__(self) -> None:
        self._reset()
        self.batches = 0
        self.arrivals: list[list[Item]] = []
        self.applied: list[list[int]] = []

    def order_key(self, pending: Item) -> int:
        return pending.key

    def transaction(self, ordered: list) -> list:
        if self.arrivals:
            with self._cond:
                self._waiting.extend(self.arrivals.pop(0))
        self.join_waiting(ordered)
        if any(item.bad for item in ordered):
            raise RuntimeError("bad item")
        self.applied.append([item.key for item in ordered])
        return [f"ok {item.key}" for item in ordered]


def test_what_arrives_while_a_batch_waits_for_its_lock_joins_it_in_order():
    committer = Committer()
    first, second = Item(5), Item(9)
    later = [Item(1), Item(5), Item(7)]  # a second item of member 5: after its first one
    committer._waiting = [second, first]
    committer.arrivals = [later]
    committer._lead(None)
    assert committer.batches == 1
    assert committer.applied == [[1, 5, 5, 7, 9]]
    assert committer.applied[0].index(5) == 1 and first.outcome == "ok 5" and later[1].outcome == "ok 5"
    assert all(item.done.is_set() and item.outcome == f"ok {item.key}" for item in [first, second, *later])


def test_a_failed_batchs_items_are_applied_alone_without_taking_in_new_ones():
    committer = Committer()
    bad, good = Item(1, bad=True), Item(2)
    joined, during_retry = Item(3), Item(4)
    committer._waiting = [bad, good]
    # The batch takes in item 3 and fails (item 1); item 4 arrives while the items are applied one by one.
    committer.arrivals = [[joined], [during_retry]]
    committer._lead(None)
    assert isinstance(bad.error, RuntimeError)
    assert [good.outcome, joined.outcome, during_retry.outcome] == ["ok 2", "ok 3", "ok 4"]
    assert committer.applied == [[2], [3], [4]]  # item 4 in a batch of its own, after the retries
    assert all(item.done.is_set() for item in (bad, good, joined, during_retry))


@pytest.mark.parametrize("size", [1, 3])
def test_a_batch_never_grows_past_the_maximum(monkeypatch, size):
    from lms import group_commit

    monkeypatch.setattr(group_commit, "MAX_BATCH", size)
    committer = Committer()
    items = [Item(key) for key in range(5)]
    committer._waiting = items[:1]
    committer.arrivals = [items[1:]]
    committer._lead(None)
    assert [len(batch) for batch in committer.applied] == ([1, 1, 1, 1, 1] if size == 1 else [3, 2])
    assert all(item.outcome == f"ok {item.key}" for item in items)
