"""lms.group_commit: leaders and followers, one batch at a time or several (max_leaders)."""

from __future__ import annotations

import random
import threading
import time

from lms.group_commit import GroupCommitter, Pending


class Item(Pending):
    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value


class Recording(GroupCommitter):
    """Applies items by recording them; ``gate`` (an Event) holds every batch until set."""

    def __init__(self, app, leaders: int = 1, gate: threading.Event | None = None, jitter: bool = False) -> None:
        super().__init__(app)
        self.leaders, self.gate, self.jitter = leaders, gate, jitter
        self.applied: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._count = threading.Lock()

    def max_leaders(self) -> int:
        return self.leaders

    def transaction(self, ordered):
        with self._count:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                assert self.gate.wait(10)
            if self.jitter:
                time.sleep(random.random() / 1000)
            with self._count:
                self.applied += [item.value for item in ordered]
            return [item.value * 10 for item in ordered]
        finally:
            with self._count:
                self.in_flight -= 1


def _submit_in_threads(committer, values):
    answers: dict[int, object] = {}

    def run(value):
        try:
            answers[value] = committer.submit_pending(Item(value))
        except Exception as error:  # noqa: BLE001 - the test asserts there is none
            answers[value] = error

    threads = [threading.Thread(target=run, args=(value,)) for value in values]
    for thread in threads:
        thread.start()
    return threads, answers


def _wait_for(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_one_leader_at_a_time_by_default(app):
    gate = threading.Event()
    committer = Recording(app, leaders=1, gate=gate)
    threads, answers = _submit_in_threads(committer, [1])
    _wait_for(lambda: committer.in_flight == 1)
    more, more_answers = _submit_in_threads(committer, [2, 3])
    _wait_for(lambda: len(committer._waiting) == 2)  # they wait: the one batch in flight holds them back
    assert committer.in_flight == 1
    gate.set()
    for thread in threads + more:
        thread.join(10)
    assert answers == {1: 10} and more_answers == {2: 20, 3: 30}
    assert committer.most_in_flight == 1


def test_a_second_leader_applies_its_batch_while_the_first_is_in_flight(app):
    gate = threading.Event()
    committer = Recording(app, leaders=2, gate=gate)
    threads, _ = _submit_in_threads(committer, [1])
    _wait_for(lambda: committer.in_flight == 1)
    more, _ = _submit_in_threads(committer, [2])
    _wait_for(lambda: committer.in_flight == 2)  # not held back by the first batch
    gate.set()
    for thread in threads + more:
        thread.join(10)
    assert sorted(committer.applied) == [1, 2]


def test_a_leader_whose_item_another_leader_took_waits_for_that_batch(app):
    committer = Recording(app, leaders=2)
    own = Item(7)
    own.taken = True  # in another leader's batch, not yet applied
    done = threading.Event()

    def lead():
        committer._lead(own)
        done.set()

    thread = threading.Thread(target=lead)
    thread.start()
    assert not done.wait(0.2)  # nothing left to take: it waits for the other batch
    with committer._cond:
        own.answer(70)
        committer._cond.notify_all()
    assert done.wait(10)
    thread.join(10)
    assert committer.applied == []  # it never applied the item itself


def test_every_item_is_applied_once_under_contention(app):
    committer = Recording(app, leaders=3, jitter=True)
    values = list(range(200))
    threads, answers = _submit_in_threads(committer, values)
    for thread in threads:
        thread.join(30)
    assert answers == {value: value * 10 for value in values}
    assert sorted(committer.applied) == values
    assert committer.most_in_flight <= 3


def test_items_in_a_batch_in_flight_do_not_become_leaders(app):
    gate = threading.Event()
    committer = Recording(app, leaders=2, gate=gate)
    with committer._cond:
        committer._leading = 2  # busy: the items queue as followers
    threads, answers = _submit_in_threads(committer, [1, 2, 3])
    _wait_for(lambda: len(committer._waiting) == 3)
    leader = threading.Thread(target=committer._lead, args=(None,))
    leader.start()  # takes the three in one batch, held in flight by the gate
    _wait_for(lambda: committer.in_flight == 1)
    with committer._cond:
        committer._leading = 1  # only that leader now: a slot is free
        committer._cond.notify_all()
    time.sleep(0.2)
    assert committer._leading == 1  # their items are taken: they wait for that batch, not lead
    gate.set()
    leader.join(10)
    with committer._cond:
        committer._leading = 0
        committer._cond.notify_all()
    for thread in threads:
        thread.join(10)
    assert answers == {1: 10, 2: 20, 3: 30}
