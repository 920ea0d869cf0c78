"""Heartbeat throughput and latency, as a ratio to a no-op authenticated endpoint on the same server.

Serves the app with gunicorn on 127.0.0.1 (the database and the servers are chosen
as in every benchmark, see ``benchmarks/_stack.py``: a fresh SQLite file by
default, PostgreSQL with ``--database-url`` or ``LMS_BENCH_DATABASE_URL``, the
scale-out stack with ``--stack``) and drives simulated viewers, each logged
in with its own session cookie and playback session:

1. capacity: closed loop on keep-alive connections for a fixed time, the
   no-op endpoint (``/bench/noop``: login required, returns ``{"ok": true}``,
   added only by this benchmark's app factory) and heartbeats in alternating
   rounds, each on new connections (``--rounds``). Every beat is
   a real crediting beat (one new content second, CSRF token in the body as
   sendBeacon sends it), so it runs the full write path.
2. latency: open loop at a fixed rate (330 beats/s = 5,000 viewers at 15 s),
   latencies measured from each request's scheduled time (no coordinated omission).

Prints the figures with the load average, checks that the ledger holds exactly the
seconds the answers said were credited, and ends with the headline ratio (heartbeats/s over no-op
requests/s).

    .venv/bin/python benchmarks/heartbeats.py [--quick] [--database-url URL] [--stack]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import _stack

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def bench_app():
    """The app as deployed (``lms.wsgi``: its logging, its frozen start-up objects) and the no-op to compare with."""
    from flask import jsonify
    from flask_login import login_required

    from lms.wsgi import app

    @login_required
    def bench_noop():
        return jsonify(ok=True)

    app.add_url_rule("/bench/noop", "bench_noop", bench_noop, methods=["POST"])
    return app


# --- setting up ------------------------------------------------------------------


@dataclass
class Viewer:
    user_id: int
    cookie: str
    csrf_token: str
    session_id: str
    lesson_id: int
    position: int = 0


def seed(env: dict[str, str], viewers: int) -> list[Viewer]:
    """Schema, members, one long video lesson, and a logged-in cookie and playback session per member."""
    os.environ.update(env)
    import sqlalchemy as sa
    from flask import g, session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from lms import clock, create_app
    from lms.auth.models import User
    from lms.courses import services
    from lms.courses.models import LessonKind, LessonProgress, PlaybackSession
    from lms.extensions import db
    from lms.media.models import AssetKind, AssetStatus, MediaAsset

    app = create_app()
    now = clock.utcnow()
    with app.app_context():
        db.create_all()
        admin = User(username="bench-admin", name="管理员", password_hash="!", role="admin")
        db.session.add(admin)
        asset = MediaAsset(title="基准视频", original_filename="bench.mp4", kind=AssetKind.VIDEO,
                           status=AssetStatus.READY, duration_seconds=36_000.0, ready_at=now)  # fmt: skip
        db.session.add(asset)
        db.session.flush()
        course = services.create_course(services.CourseFields(title="基准课程"), actor=admin, now=now)
        lesson = services.add_lesson(
            course, services.LessonFields(kind=LessonKind.VIDEO, title="第一讲", media_asset_id=asset.id), now=now
        )
        db.session.flush()
        db.session.refresh(course)
        services.publish_course(course, now=now)
        db.session.execute(
            sa.insert(User),
            [{"username": f"viewer{i}", "name": f"观众{i}", "password_hash": "!"} for i in range(viewers)],
        )
        user_ids = db.session.scalars(sa.select(User.id).where(User.username.like("viewer%"))).all()
        sessions = {user_id: secrets.token_urlsafe(16) for user_id in user_ids}
        db.session.execute(
            sa.insert(PlaybackSession),
            [{"user_id": uid, "id": sid, "lesson_id": lesson.id, "kind": LessonKind.VIDEO,
              "duration_seconds": 36_000.0, "started_at": now, "last_beat_at": now, "window_started_at": now,
              "credit_clock": now}
             for uid, sid in sessions.items()],
        )  # fmt: skip
        db.session.execute(
            sa.insert(LessonProgress),
            [{"user_id": uid, "lesson_id": lesson.id, "intervals": [], "watched_seconds": 0.0,
              "last_position_seconds": 0.0, "started_at": now} for uid in sessions],
        )  # fmt: skip
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
        result = []
        for user in db.session.scalars(sa.select(User).where(User.username.like("viewer%"))):
            # A real login (session id, freshness, the session-protection mark) and a CSRF token,
            # for a client at 127.0.0.1 like the benchmark's.
            with app.test_request_context(environ_base={"REMOTE_ADDR": HOST}):
                g.pop("csrf_token", None)  # generate_csrf caches in g, which the app context keeps
                login_user(user)
                token = generate_csrf()
                cookie = serializer.dumps(dict(session))
            result.append(Viewer(user.id, cookie, token, sessions[user.id], lesson.id))
        lesson_id = lesson.id
        db.session.remove()
        db.engine.dispose()
    for viewer in result:
        viewer.lesson_id = lesson_id
    return result


def ledger_seconds(env: dict[str, str]) -> float:
    os.environ.update(env)
    import sqlalchemy as sa

    from lms import create_app
    from lms.courses.models import StudyLedgerEntry
    from lms.extensions import db

    app = create_app()
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StudyLedgerEntry.seconds), 0)))
        db.engine.dispose()
    return float(total)


# --- driving load ----------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection with a minimal response reader (cheap on the client's CPU)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection((HOST, self.port))
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.buffer = b""
                self.sock.sendall(raw)
                return self._read()
            except OSError:
                self.close()
                if attempt:
                    raise
        raise OSError("unreachable")

    def _read(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("closed")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        while len(self.buffer) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("closed")
            self.buffer += chunk
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if not keep:
            self.close()
        return status, body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def noop_request(viewer: Viewer, port: int) -> bytes:
    return (
        f"POST /bench/noop HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: session={viewer.cookie}\r\n"
        f"X-CSRFToken: {viewer.csrf_token}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def beat_request(viewer: Viewer, port: int) -> bytes:
    start = viewer.position
    viewer.position += 1
    body = json.dumps(
        {"session_id": viewer.session_id, "lesson_id": viewer.lesson_id, "from": start, "to": start + 1,
         "rate": 1, "visible": True, "idle_seconds": 0, "csrf_token": viewer.csrf_token},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    head = (
        f"POST /courses/heartbeat HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: session={viewer.cookie}\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


@dataclass
class Tally:
    ok: int = 0
    accepted: int = 0
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why beats were refused (answered 200, not accepted)
    credited: float = 0.0  # the seconds the answers said were credited
    rounded: int = 0  # answers whose credit is a fraction (rounded to the millisecond in the answer)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, body: bytes, latency: float, is_beat: bool) -> None:
        with self.lock:
            self.latencies.append(latency)
            if status != 200:
                self.errors += 1
                return
            self.ok += 1
            if not is_beat:
                return
            answer = json.loads(body)
            credit = answer.get("credited") or 0.0
            self.credited += credit
            self.rounded += credit != int(credit)
            if answer.get("reason") is None:
                self.accepted += 1
            else:
                self.reasons[answer["reason"]] = self.reasons.get(answer["reason"], 0) + 1

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def run_closed_loop(port: int, viewers: list[Viewer], endpoint: str, seconds: float, connections: int,
                    tally: Tally | None = None) -> Tally:  # fmt: skip
    """``connections`` new keep-alive connections, each sending its next request when answered; into ``tally``."""
    tally = tally if tally is not None else Tally()
    stop = time.monotonic() + seconds
    build = beat_request if endpoint == "beat" else noop_request

    def worker(index: int) -> None:
        mine = viewers[index::connections]
        connection = Connection(port)
        n = 0
        while time.monotonic() < stop:
            viewer = mine[n % len(mine)]
            n += 1
            raw = build(viewer, port)
            began = time.perf_counter()
            try:
                status, body = connection.request(raw)
            except OSError:
                status, body = 0, b""
            tally.add(status, body, time.perf_counter() - began, endpoint == "beat")
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def run_open_loop(port: int, viewers: list[Viewer], endpoint: str, seconds: float, rate: float,
                  connections: int) -> Tally:  # fmt: skip
    """Send ``rate`` requests/s spread over ``connections``; latency counts from the scheduled send time."""
    tally = Tally()
    build = beat_request if endpoint == "beat" else noop_request
    total = int(seconds * rate)
    t0 = time.perf_counter() + 0.2

    def worker(index: int) -> None:
        mine = viewers[index::connections]
        connection = Connection(port)
        for k, n in enumerate(range(index, total, connections)):
            scheduled = t0 + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            raw = build(mine[k % len(mine)], port)
            try:
                status, body = connection.request(raw)
            except OSError:
                status, body = 0, b""
            tally.add(status, body, time.perf_counter() - scheduled, endpoint == "beat")
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and short (under 60 s on 2 cores)")
    parser.add_argument("--viewers", type=int, help="simulated viewers (default 3000; quick 1200)")
    parser.add_argument("--seconds", type=float, help="length of each phase (default 15; quick 5)")
    parser.add_argument("--rate", type=float, default=330.0, help="beats/s of the latency phase (default 330)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    # 8 as deployed (deploy/systemd/vanguard-web.service): a beat parks its thread until its batch is
    # committed, so with 4 a worker that the kernel gave 5 or more of the 8 connections queued them
    # with CPU to spare (0.47-0.72x on PostgreSQL in runs of the same code, 0.74-0.85x with 8).
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default 8)")
    parser.add_argument("--connections", type=int, default=8, help="client connections (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="capacity rounds per endpoint, alternating (default 3)")
    _stack.add_arguments(parser)
    args = parser.parse_args()
    _stack.stop_on_signals()
    viewers_n = args.viewers or (1200 if args.quick else 3000)
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    rounds = max(1, args.rounds)

    with tempfile.TemporaryDirectory(prefix="lms-bench-") as tmp_name:
        tmp = Path(tmp_name)
        database = _stack.database(args, tmp, "heartbeats")
        servers = None
        try:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("LMS_")},
                "LMS_DATABASE_URL": database.url,
                "LMS_SECRET_KEY": secrets.token_hex(32),
                "LMS_ENV_NAME": "production",
                "LMS_MEDIA_ROOT": str(tmp / "media"),
                "LMS_SCHEDULER": "off",
            }
            started = time.monotonic()
            viewers = seed(env, viewers_n)
            servers = _stack.serve(args, env, tmp, app="heartbeats:bench_app()", workers=args.workers,
                                   threads=args.threads)  # fmt: skip
            port = servers.port
            print(f"heartbeats benchmark: {database.label}, {servers.description}, "
                  f"{viewers_n} viewers, {args.connections} connections, {rounds} rounds, {os.cpu_count()} CPUs, "
                  f"load average {_stack.load_average()} (setup {time.monotonic() - started:.1f} s)")  # fmt: skip
            run_closed_loop(port, viewers, "noop", 1.0, args.connections)  # warm up both paths
            warm_beats = run_closed_loop(port, viewers, "beat", 1.0, args.connections)
            database_cpu = _stack.postgres_cpu_seconds if database.postgres else (lambda: None)
            # Rounds alternate the two endpoints, each on new connections: the kernel gives each new
            # connection to whichever worker accepts first, and how the 8 are split over the 2 workers
            # (seen: 2/6 and 7/1) moves a single phase's figure by a quarter, and beats' more than the no-op's.
            noop, beats = Tally(), Tally()
            cpu = {"noop": 0.0, "beat": 0.0}
            db_cpu: dict[str, float | None] = {"noop": 0.0, "beat": 0.0}
            for _ in range(rounds):
                for endpoint, tally in (("noop", noop), ("beat", beats)):
                    cpu_before, db_before = servers.cpu_seconds(), database_cpu()
                    run_closed_loop(port, viewers, endpoint, seconds / rounds, args.connections, tally)
                    cpu[endpoint] += servers.cpu_seconds() - cpu_before
                    db_cpu[endpoint] = None if db_before is None else db_cpu[endpoint] + database_cpu() - db_before
            cpu_noop = cpu["noop"] / max(1, len(noop.latencies))
            cpu_beat = cpu["beat"] / max(1, len(beats.latencies))
            db_noop = None if db_cpu["noop"] is None else db_cpu["noop"] / max(1, len(noop.latencies))
            db_beat = None if db_cpu["beat"] is None else db_cpu["beat"] / max(1, len(beats.latencies))
            noop_rate, beat_rate = noop.ok / seconds, beats.accepted / seconds
            print(f"capacity  no-op: {noop_rate:8.1f} req/s  p50 {noop.p(0.5):6.1f} ms  p99 {noop.p(0.99):6.1f} ms"
                  f"  errors {noop.errors}")  # fmt: skip
            print(f"capacity  beats: {beat_rate:8.1f} accepted/s  p50 {beats.p(0.5):6.1f} ms  "
                  f"p99 {beats.p(0.99):6.1f} ms  errors {beats.errors}  "
                  f"refused {beats.ok - beats.accepted} {beats.reasons or ''}")  # fmt: skip
            print(f"server CPU per request: no-op {cpu_noop * 1000:.2f} ms, beat {cpu_beat * 1000:.2f} ms "
                  f"(no-op / beat {cpu_noop / cpu_beat if cpu_beat else float('nan'):.2f}x); servers busy "
                  f"{cpu_noop * len(noop.latencies) / seconds:.2f} / {cpu_beat * len(beats.latencies) / seconds:.2f} "
                  f"CPUs")  # fmt: skip
            if db_noop is not None and db_beat is not None:
                print(f"PostgreSQL CPU per request: no-op {db_noop * 1000:.2f} ms, beat {db_beat * 1000:.2f} ms")
            paced_noop = run_open_loop(port, viewers, "noop", seconds, args.rate, args.connections * 2)
            paced = run_open_loop(port, viewers, "beat", seconds, args.rate, args.connections * 2)
            print(f"at {args.rate:.0f}/s   no-op: p50 {paced_noop.p(0.5):6.1f} ms  p99 {paced_noop.p(0.99):6.1f} ms  "
                  f"errors {paced_noop.errors}")  # fmt: skip
            print(f"at {args.rate:.0f}/s   beats: p50 {paced.p(0.5):6.1f} ms  p99 {paced.p(0.99):6.1f} ms  "
                  f"accepted {paced.accepted}/{int(seconds * args.rate)}  errors {paced.errors} "
                  f"{paced.reasons or ''}")  # fmt: skip
            servers.stop()
            print(f"load average at the end: {_stack.load_average()} (other processes share the CPUs)")
            # Every beat sent is one new content second; the answers say what was credited of it
            # (a beat refused or clipped by the credit budget credits less, and says so).
            sent = sum(viewer.position for viewer in viewers)
            tallies = (warm_beats, beats, paced)
            answered = sum(tally.credited for tally in tallies)
            tolerance = 0.01 + 0.0005 * sum(tally.rounded for tally in tallies)
            credited = ledger_seconds(env)
            print(f"ledger check: {credited:.1f} s in the ledger, {answered:.1f} s credited by the answers, "
                  f"{sent} beats sent "
                  f"({'exact' if abs(credited - answered) <= tolerance else 'MISMATCH'})")  # fmt: skip
        finally:
            if servers is not None:
                servers.stop()
            database.drop()
        print(
            f"p99 at {args.rate:.0f} beats/s over p99 of the no-op: "
            f"{paced.p(0.99) / paced_noop.p(0.99):.2f}x ({paced.p(0.99):.1f} ms vs {paced_noop.p(0.99):.1f} ms)"
        )
        print(f"heartbeat throughput / no-op throughput: {beat_rate / noop_rate:.2f}x "
              f"({beat_rate:.0f} vs {noop_rate:.0f} req/s; {database.label}, load average "
              f"{_stack.load_average()})")  # fmt: skip


if __name__ == "__main__":
    main()
