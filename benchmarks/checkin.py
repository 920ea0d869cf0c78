"""QR sign-in throughput, as a ratio to a no-op authenticated endpoint on the same server.

Serves the app with gunicorn on a free loopback port (SQLite in a temporary
directory, or ``--database-url``) with one scheduled meeting whose sign-in is
open and N members on its attendee list, each logged in with a session cookie
of their own. A thread plays the secretary's sign-in screen: it fetches the
current code from ``/meetings/<id>/checkin-code`` every 5 s, as the page does.

1. no-op: closed loop on keep-alive connections, ``GET /bench/noop`` (login
   required, returns ``{"ok": true}``; added to each worker by this
   benchmark's gunicorn config, not by the app).
2. sign-ins: the same connections, each member once: the scan (``GET`` of the
   code's URL: token, window and list checked, the confirmation page with its
   pass) and the confirmation (``POST`` with the CSRF token and the pass) that
   signs the member in. A sign-in counts when the POST answers 302.

Then checks that the database holds exactly the counted sign-ins, and ends
with the headline ratio (sign-ins/s over no-op requests/s; a sign-in is two
requests, so 0.5x would mean it costs what two no-ops cost).

The database and the servers are chosen as in every benchmark
(``benchmarks/_stack.py``): ``--database-url`` / ``LMS_BENCH_DATABASE_URL`` for
PostgreSQL, ``--stack`` for the scale-out stack.

    .venv/bin/python benchmarks/checkin.py [--quick] [--database-url URL] [--stack]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import _stack
from _harness import percentile
from heartbeats import Connection

HOST = "127.0.0.1"
PASS_PATTERN = re.compile(rb'name="scan_pass" type="hidden" value="([^"]+)"')

GUNICORN_CONFIG = """
def post_worker_init(worker):
    # The no-op the sign-ins are compared against: the same login and session
    # work, then nothing. Added before the worker's first request.
    from flask import jsonify
    from flask_login import login_required

    @login_required
    def bench_noop():
        return jsonify(ok=True)

    worker.wsgi.add_url_rule("/bench/noop", "bench_noop", bench_noop)
"""


@dataclass
class Member:
    cookie: str
    csrf_token: str


def seed(database_url: str, secret: str, members: int) -> tuple[int, Member, list[Member]]:
    """Schema, kinds, a branch with a secretary and members, an open meeting, and a logged-in cookie each."""
    import sqlalchemy as sa
    from flask import g, session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from lms import clock, create_app
    from lms.auth.models import Branch, BranchKind, Role, User
    from lms.extensions import db
    from lms.meetings import kinds, scheduling
    from lms.meetings.models import MeetingKind

    app = create_app({"SECRET_KEY": secret, "DATABASE_URL": database_url, "ENV_NAME": "benchmark"})
    now = clock.utcnow()
    with app.app_context():
        db.create_all()
        kinds.seed_defaults()
        branch = Branch(name="基准党支部", kind=BranchKind.BRANCH, path="")
        db.session.add(branch)
        db.session.flush()
        branch.path = f"/{branch.id}/"
        secretary = User(username="bench-secretary", name="书记", password_hash="!", role=Role.SECRETARY,
                         branch_id=branch.id, is_committee_member=True)  # fmt: skip
        db.session.add(secretary)
        db.session.execute(
            sa.insert(User),
            [{"username": f"member{i}", "name": f"党员{i}", "password_hash": "!", "branch_id": branch.id}
             for i in range(members)],
        )  # fmt: skip
        db.session.flush()
        kind = db.session.scalar(sa.select(MeetingKind).where(MeetingKind.code == "general_meeting"))
        ids = list(db.session.scalars(sa.select(User.id).where(User.branch_id == branch.id)))
        fields = scheduling.MeetingFields(
            branch_id=branch.id, kind_id=kind.id, topic="基准会议", starts_at=now + timedelta(minutes=10),
            ends_at=now + timedelta(hours=3), place="会议室", attendee_ids=ids,
        )  # fmt: skip
        meeting = scheduling.schedule_meeting(secretary, fields, now=now)
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
        credentials: dict[str, Member] = {}
        for user in db.session.scalars(sa.select(User).where(User.branch_id == branch.id)):
            with app.test_request_context(environ_base={"REMOTE_ADDR": HOST}):
                g.pop("csrf_token", None)  # generate_csrf caches in g, which the app context keeps
                login_user(user)
                token = generate_csrf()
                credentials[user.username] = Member(serializer.dumps(dict(session)), token)
        meeting_id = meeting.id
        db.session.remove()
        db.engine.dispose()
    secretary_credentials = credentials.pop("bench-secretary")
    return meeting_id, secretary_credentials, list(credentials.values())


def signed_in_count(database_url: str, secret: str, meeting_id: int) -> int:
    import sqlalchemy as sa

    from lms import create_app
    from lms.extensions import db
    from lms.meetings.models import MeetingAttendance

    app = create_app({"SECRET_KEY": secret, "DATABASE_URL": database_url, "ENV_NAME": "benchmark"})
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).where(
                MeetingAttendance.meeting_id == meeting_id, MeetingAttendance.signed_in_at.is_not(None)
            )
        )
        db.engine.dispose()
    return int(count)


def get(path: str, member: Member, port: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: session={member.cookie}\r\n"
        f"Accept: text/html\r\n\r\n"
    ).encode()


def post_form(path: str, member: Member, port: int, fields: dict[str, str]) -> bytes:
    body = "&".join(f"{name}={quote(value, safe='')}" for name, value in fields.items()).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nCookie: session={member.cookie}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


class Screen(threading.Thread):
    """The secretary's sign-in screen: keeps the current code's path, refreshed every 5 s."""

    def __init__(self, port: int, meeting_id: int, secretary: Member) -> None:
        super().__init__(daemon=True)
        self.port, self.meeting_id, self.secretary = port, meeting_id, secretary
        self.path = ""
        self.stop = threading.Event()
        self.ready = threading.Event()

    def fetch(self, connection: Connection) -> None:
        raw = get(f"/meetings/{self.meeting_id}/checkin-code", self.secretary, self.port)
        status, body = connection.request(raw.replace(b"text/html", b"application/json"))
        if status == 200:
            self.path = urlsplit(json.loads(body)["url"]).path
            self.ready.set()

    def run(self) -> None:
        connection = Connection(self.port)
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                self.fetch(connection)
            self.stop.wait(5)
        connection.close()


@dataclass
class Tally:
    done: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ok: bool, latency: float) -> None:
        with self.lock:
            if ok:
                self.done += 1
                self.latencies.append(latency)
            else:
                self.errors += 1


def run_noop(port: int, members: list[Member], seconds: float, connections: int) -> Tally:
    tally = Tally()
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        mine = members[index::connections]
        connection = Connection(port)
        n = 0
        while time.monotonic() < stop:
            began = time.perf_counter()
            try:
                status, _ = connection.request(get("/bench/noop", mine[n % len(mine)], port))
            except OSError:
                status = 0
            n += 1
            tally.add(status == 200, time.perf_counter() - began)
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def run_signins(port: int, meeting_id: int, members: list[Member], screen: Screen, seconds: float,
                connections: int) -> tuple[Tally, float]:  # fmt: skip
    """Each member scans and confirms once; returns the tally and the seconds it took."""
    tally = Tally()
    stop = time.monotonic() + seconds
    queue = iter(members)
    queue_lock = threading.Lock()

    def next_member() -> Member | None:
        with queue_lock:
            return next(queue, None)

    def worker() -> None:
        connection = Connection(port)
        while time.monotonic() < stop:
            member = next_member()
            if member is None:
                break
            began = time.perf_counter()
            ok = False
            try:
                status, page = connection.request(get(screen.path, member, port))
                found = PASS_PATTERN.search(page) if status == 200 else None
                if found:
                    fields = {"csrf_token": member.csrf_token, "scan_pass": found[1].decode()}
                    status, _ = connection.request(post_form(f"/meetings/{meeting_id}/scan", member, port, fields))
                    ok = status == 302
            except OSError:
                pass
            tally.add(ok, time.perf_counter() - began)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, min(time.monotonic() - started, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and short (under 60 s on 2 cores)")
    parser.add_argument("--members", type=int, help="members on the attendee list (default 4000; quick 600)")
    parser.add_argument("--seconds", type=float, help="length of each phase (default 15; quick 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--connections", type=int, default=8, help="client connections (default 8)")
    _stack.add_arguments(parser)
    args = parser.parse_args()
    _stack.stop_on_signals()
    members_n = args.members or (600 if args.quick else 4000)
    seconds = args.seconds or (5.0 if args.quick else 15.0)
    secret = secrets.token_hex(32)

    with tempfile.TemporaryDirectory(prefix="lms-checkin-bench-") as tmp_name:
        tmp = Path(tmp_name)
        database = _stack.database(args, tmp, "checkin")
        database_url = database.url
        started = time.monotonic()
        try:
            meeting_id, secretary, members = seed(database_url, secret, members_n)
        except BaseException:
            database.drop()
            raise
        (tmp / "gunicorn_conf.py").write_text(GUNICORN_CONFIG)
        environment = dict(os.environ, LMS_SECRET_KEY=secret, LMS_DATABASE_URL=database_url, LMS_SCHEDULER="off",
                           LMS_ENV_NAME="benchmark", LMS_RATELIMIT_ENABLED="false",
                           LMS_MEDIA_ROOT=str(tmp / "media"))  # fmt: skip
        servers = screen = None
        interrupted = False
        try:
            servers = _stack.serve(args, environment, tmp, workers=args.workers, threads=args.threads,
                                   extra=["--config", str(tmp / "gunicorn_conf.py")])  # fmt: skip
            port = servers.port
            screen = Screen(port, meeting_id, secretary)
            print(f"check-in benchmark: {database.label}, {servers.description}, "
                  f"{members_n} members, {args.connections} "
                  f"connections, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
                  f"(setup {time.monotonic() - started:.1f} s)", flush=True)  # fmt: skip
            screen.start()
            if not screen.ready.wait(15):
                raise SystemExit("the sign-in screen got no code")
            warm, rest = members[:50], members[50:]
            run_noop(port, members, 1.0, args.connections)  # warm up both paths
            warm_tally, _ = run_signins(port, meeting_id, warm, screen, 5.0, args.connections)
            noop = run_noop(port, members, seconds, args.connections)
            signins, took = run_signins(port, meeting_id, rest, screen, seconds, args.connections)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if screen is not None:
                screen.stop.set()
            if servers is not None:
                servers.stop()
            if interrupted:
                database.drop()
        if interrupted:
            print("interrupted; the server is stopped")
            return 130
        noop_rate, signin_rate = noop.done / seconds, signins.done / took
        print(f"no-op:    {noop_rate:8.1f} req/s      p50 {percentile(noop.latencies, .5) * 1000:6.1f} ms  "
              f"p99 {percentile(noop.latencies, .99) * 1000:6.1f} ms  errors {noop.errors}")  # fmt: skip
        print(f"sign-ins: {signin_rate:8.1f} /s (scan + confirm)  p50 {percentile(signins.latencies, .5) * 1000:6.1f} "
              f"ms  p99 {percentile(signins.latencies, .99) * 1000:6.1f} ms  refused {signins.errors}"
              f"{'  (members ran out)' if took < seconds else ''}")  # fmt: skip
        stored = signed_in_count(database_url, secret, meeting_id)
        database.drop()
        expected = signins.done + warm_tally.done
        print(f"database check: {stored} members signed in for {expected} confirmed sign-ins "
              f"({'exact' if stored == expected else 'MISMATCH'}); load average at the end "
              f"{os.getloadavg()[0]:.1f} (other processes share the CPUs)")  # fmt: skip
        print(f"check-in: {signin_rate:.0f} sign-ins/s = {signin_rate / noop_rate:.2f}× the no-op's "
              f"({noop_rate:.0f} req/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
