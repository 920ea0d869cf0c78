"""A small shared cache for hot read-mostly values (e.g. contest leaderboards).

``cached(key, ttl_seconds, compute)`` returns the stored value while it is
fresh; when it is stale, exactly one caller recomputes it (single flight)
while the others keep getting the previous value, so thousands of viewers
polling a board cost one query per refresh. When there is no previous value
at all (a cold or invalidated key), the others wait for the one computation
instead of all computing at once. With ``LMS_REDIS_URL`` set, values and the
refresh lock live in Redis and are shared by every process; otherwise they
live in this process's memory. Values must be JSON-serialisable.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app

_local: dict[str, tuple[float, Any]] = {}
_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()
_redis_clients: dict[str, Any] = {}


def _redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    if url not in _redis_clients:
        import redis

        _redis_clients[url] = redis.Redis.from_url(url)
    return _redis_clients[url]


def cached(key: str, ttl_seconds: float, compute: Callable[[], Any], *, now: Callable[[], float] = time.monotonic):
    """The value for ``key``, recomputed by one caller at most every ``ttl_seconds``."""
    client = _redis()
    if client is not None:
        return _cached_redis(client, key, ttl_seconds, compute)
    entry = _local.get(key)
    if entry is not None and now() - entry[0] < ttl_seconds:
        return entry[1]
    with _guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=entry is None):
        return entry[1]  # someone else is refreshing: the previous value will do
    try:
        entry = _local.get(key)
        if entry is not None and now() - entry[0] < ttl_seconds:
            return entry[1]
        value = json.loads(json.dumps(compute()))
        _local[key] = (now(), value)
        return value
    finally:
        lock.release()


# How long a caller waits on a cold key for another process's computation before
# computing itself (the holder may have died; its lock expires anyway).
COLD_WAIT_SECONDS = 5.0
_POLL_SECONDS = 0.01


def _cached_redis(client, key: str, ttl_seconds: float, compute: Callable[[], Any]):
    data_key, fresh_key, lock_key = f"lms:cache:{key}", f"lms:fresh:{key}", f"lms:lock:{key}"
    raw = client.get(data_key)
    if raw is not None and client.exists(fresh_key):
        return json.loads(raw)
    lock_ms = int(max(ttl_seconds, 1) * 1000 * 5)
    if not client.set(lock_key, "1", nx=True, px=lock_ms):
        if raw is not None:
            return json.loads(raw)  # someone else is refreshing: the previous value will do
        # Cold key: wait for the computation under way rather than joining a herd.
        deadline = time.monotonic() + COLD_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            raw = client.get(data_key)
            if raw is not None:
                return json.loads(raw)
            if client.set(lock_key, "1", nx=True, px=lock_ms):
                break  # the holder gave up (error or expiry): compute it ourselves
        else:
            return json.loads(json.dumps(compute()))
    try:
        # Another caller may have finished between our first read and taking the lock.
        raw = client.get(data_key)
        if raw is not None and client.exists(fresh_key):
            return json.loads(raw)
        value = json.loads(json.dumps(compute()))
        client.set(data_key, json.dumps(value))
        client.set(fresh_key, "1", px=int(ttl_seconds * 1000))
        return value
    finally:
        client.delete(lock_key)


def invalidate(key: str) -> None:
    """Make ``key`` stale so the next caller recomputes it (once, across processes).

    With Redis the previous value is kept: while one caller recomputes, the
    others are served it instead of all recomputing after every invalidation.
    """
    _local.pop(key, None)
    client = _redis()
    if client is not None:
        client.delete(f"lms:fresh:{key}")
