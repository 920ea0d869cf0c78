"""A small shared cache for hot read-mostly values (e.g. contest leaderboards).

``cached(key, ttl_seconds, compute)`` returns the stored value while it is
fresh; when it is stale, exactly one caller recomputes it (single flight)
while the others keep getting the previous value, so thousands of viewers
polling a board cost one query per refresh. When there is no previous value
at all (a cold or invalidated key), the others wait for the one computation
instead of all computing at once. With ``LMS_REDIS_URL`` set, values and the
refresh lock live in Redis and are shared by every process; otherwise they
live in this process's memory. Values must be JSON-serialisable.

A value in Redis carries a version (stored with it, and as the value of its freshness
key): each process keeps the last version it decoded, so a fresh value costs a poll one
small GET, not the transfer and decoding of the whole value (a 2,000-row board is 200 KB
of JSON, about a millisecond to decode). Like the in-process values, a returned value is
shared by the callers: it must not be changed.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import current_app

_local: dict[str, tuple[float, Any]] = {}
_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()
_redis_clients: dict[str, Any] = {}
# The last value of each Redis key this process decoded: {key: (version, value)}.
_remote_copies: dict[str, tuple[bytes, Any]] = {}


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


_MISSING = object()


def _load(client, key: str, data_key: str) -> Any:
    """The value stored in Redis (``_MISSING`` when there is none), decoded once per version in this process."""
    raw = client.get(data_key)
    if raw is None:
        return _MISSING
    version, newline, body = raw.partition(b"\n")
    if not newline:  # stored without a version (before versions were kept)
        return json.loads(raw)
    copy = _remote_copies.get(key)
    if copy is not None and copy[0] == version:
        return copy[1]
    value = json.loads(body)
    _remote_copies[key] = (version, value)
    return value


def _cached_redis(client, key: str, ttl_seconds: float, compute: Callable[[], Any]):
    data_key, fresh_key, lock_key = f"lms:cache:{key}", f"lms:fresh:{key}", f"lms:lock:{key}"
    fresh = client.get(fresh_key)  # the fresh value's version
    if fresh is not None:
        copy = _remote_copies.get(key)
        if copy is not None and copy[0] == fresh:
            return copy[1]
        value = _load(client, key, data_key)
        if value is not _MISSING:
            return value
    value = _load(client, key, data_key)
    lock_ms = int(max(ttl_seconds, 1) * 1000 * 5)
    if not client.set(lock_key, "1", nx=True, px=lock_ms):
        if value is not _MISSING:
            return value  # someone else is refreshing: the previous value will do
        # Cold key: wait for the computation under way rather than joining a herd.
        deadline = time.monotonic() + COLD_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            value = _load(client, key, data_key)
            if value is not _MISSING:
                return value
            if client.set(lock_key, "1", nx=True, px=lock_ms):
                break  # the holder gave up (error or expiry): compute it ourselves
        else:
            return json.loads(json.dumps(compute()))
    try:
        # Another caller may have finished between our first read and taking the lock.
        fresh = client.get(fresh_key)
        if fresh is not None:
            value = _load(client, key, data_key)
            if value is not _MISSING:
                return value
        encoded = json.dumps(compute())
        value = json.loads(encoded)
        version = uuid.uuid4().hex.encode()
        client.set(data_key, version + b"\n" + encoded.encode())
        client.set(fresh_key, version, px=int(ttl_seconds * 1000))
        _remote_copies[key] = (version, value)
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
