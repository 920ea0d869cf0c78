"""The shared cache recomputes a stale value once, however many callers ask."""

import shutil
import socket
import subprocess
import threading
import time

import pytest

from lms.cache import cached, invalidate


def test_fresh_value_is_served_without_recomputing(app):
    calls = []
    clock = [0.0]
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cached("k1", 5, compute, now=lambda: clock[0]) == 1
    clock[0] = 4.9
    assert cached("k1", 5, compute, now=lambda: clock[0]) == 1
    clock[0] = 5.1
    assert cached("k1", 5, compute, now=lambda: clock[0]) == 2
    invalidate("k1")
    assert cached("k1", 5, compute, now=lambda: clock[0]) == 3


def test_many_concurrent_callers_cause_one_computation(app):
    calls = []
    started = threading.Event()
    release = threading.Event()

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return {"rows": len(calls)}

    cached("k2", 0.0001, lambda: {"rows": 0})  # a stale previous value exists
    results = []

    def viewer():
        with app.app_context():
            results.append(cached("k2", 0.0001, slow))

    threads = [threading.Thread(target=viewer) for _ in range(20)]
    threads[0].start()
    started.wait(5)
    for thread in threads[1:]:
        thread.start()
    for thread in threads[1:]:
        thread.join(5)
    release.set()
    threads[0].join(5)
    assert len(calls) == 1
    assert results.count({"rows": 0}) == 19 and results.count({"rows": 1}) == 1


@pytest.fixture
def redis_url(app, tmp_path):
    """A private redis-server on a free port for this test; the app's cache uses it."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    url = f"redis://127.0.0.1:{port}/0"
    app.config["REDIS_URL"] = url
    try:
        yield url
    finally:
        app.config["REDIS_URL"] = ""
        process.terminate()
        process.wait(5)


def test_redis_backend_is_shared_and_single_flight(app, redis_url):
    calls = []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cached("board", 60, compute) == 1
    assert cached("board", 60, compute) == 1
    invalidate("board")
    assert cached("board", 60, compute) == 2


def _herd(app, key, compute, callers=12):
    """``callers`` threads, each with its own Redis connection (as separate processes
    would have), ask for ``key`` at once; returns what each got."""
    import redis

    from lms import cache

    barrier = threading.Barrier(callers)
    results = []

    def caller():
        with app.app_context():
            own = redis.Redis.from_url(app.config["REDIS_URL"])
            barrier.wait(5)
            results.append(cache._cached_redis(own, key, 60, compute))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_a_cold_key_is_computed_once_while_the_others_wait(app, redis_url):
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)  # the ranking query takes a while; the others must wait, not compute
        return {"rows": len(calls)}

    results = _herd(app, "cold-board", slow)
    assert len(calls) == 1
    assert results == [{"rows": 1}] * 12


def test_an_invalidated_key_is_recomputed_once_and_others_get_the_previous_value(app, redis_url):
    cached("hot-board", 60, lambda: {"rows": 0})
    invalidate("hot-board")
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return {"rows": len(calls)}

    results = _herd(app, "hot-board", slow)
    assert len(calls) == 1
    assert results.count({"rows": 1}) == 1 and results.count({"rows": 0}) == 11


def test_a_fresh_shared_value_is_decoded_once_per_version_in_a_process(app, redis_url, monkeypatch):
    from lms import cache

    cached("big-board", 60, lambda: {"rows": list(range(2000))})
    cache._remote_copies.clear()  # as another process would start: nothing decoded yet
    decoded = []
    real_loads = cache.json.loads
    monkeypatch.setattr(cache.json, "loads", lambda raw: decoded.append(1) or real_loads(raw))
    first = cached("big-board", 60, lambda: {"rows": []})
    again = cached("big-board", 60, lambda: {"rows": []})
    assert first == {"rows": list(range(2000))} and again is first  # one decode, then the process's copy
    assert len(decoded) == 1


def test_a_new_version_stored_by_another_process_replaces_the_local_copy(app, redis_url):
    from lms import cache

    cached("moving-board", 60, lambda: {"rows": 1})
    own_copy = dict(cache._remote_copies)  # what this process has decoded
    invalidate("moving-board")
    assert cached("moving-board", 60, lambda: {"rows": 2}) == {"rows": 2}  # "another process" recomputes
    cache._remote_copies.clear()
    cache._remote_copies.update(own_copy)  # this process still holds version 1
    assert cached("moving-board", 60, lambda: {"rows": 3}) == {"rows": 2}
    invalidate("moving-board")  # stale now: while one refreshes, the others get the last version
    assert cache._load(cache._redis(), "moving-board", "lms:cache:moving-board") == {"rows": 2}


def test_a_value_stored_without_a_version_is_still_read(app, redis_url):
    from lms import cache

    client = cache._redis()
    client.set("lms:cache:old-board", b'{"rows": 7}')
    client.set("lms:fresh:old-board", "1", px=60_000)
    assert cached("old-board", 60, lambda: {"rows": 0}) == {"rows": 7}
