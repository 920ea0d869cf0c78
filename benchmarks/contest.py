"""A knowledge contest under load, against gunicorn on loopback.

N contestants (2,000; --quick: 150) start, answer 3 of the 10 questions (autosave,
``--answers``) and submit, their starts spread evenly over one minute (--quick: 15 s),
while V viewers (2,000;
--quick: 150) poll the live board JSON every 5 s. The load is open-loop: each request
is sent at its scheduled time by a pool of client threads, and its latency is measured
from that moment. The reference, measured in the same run under the same load, is a
no-op authenticated JSON POST (``/quizzes/ping``), sent by one viewer in five
right after each poll.

Reported: p50/p99 of start, save, submit, board and the no-op; the achieved request
rates; and the ranking queries: every computation of the board is logged by the
workers (logger ``lms.exams.contests.board``, collected in a file), so their count
per second can be set against the board requests per second. With the default
in-process cache each gunicorn worker refreshes its own copy (about workers /
CONTEST_BOARD_SECONDS ranking queries per second); with ``--redis`` (a redis-server
started here on loopback) the workers share one copy (about 1 / CONTEST_BOARD_SECONDS).
The last line is the headline: board requests served per ranking query.

The database and the servers are chosen as in every benchmark
(``benchmarks/_stack.py``): ``--database-url`` / ``LMS_BENCH_DATABASE_URL`` for
PostgreSQL, ``--stack`` for the scale-out stack (its Redis shares the board).

    .venv/bin/python benchmarks/contest.py [--quick] [--redis] [--database-url URL] [--stack]
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _stack
from _harness import free_port, percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "contest-benchmark-secret"
USER_AGENT = "contest-benchmark"
QUESTIONS = 10
POLL_SECONDS = 5.0
BOARD_SECONDS = 3


def build_database(database_url: str, contestants: int, viewers: int):
    """Migrate a fresh database; add the members and an open 10-question contest.

    Returns the contest id and (session cookie, CSRF token) per contestant and per viewer.
    """
    from datetime import timedelta

    from flask import session
    from flask_login.utils import _create_identifier
    from flask_migrate import upgrade
    from flask_wtf.csrf import generate_csrf

    from lms import clock, create_app
    from lms.auth.models import Branch, BranchKind, User
    from lms.exams.contests import setup
    from lms.exams.questions.models import Question, QuestionBank, QuestionType
    from lms.extensions import db

    app = create_app({"SECRET_KEY": SECRET, "DATABASE_URL": database_url, "ENV_NAME": "benchmark"})
    with app.app_context():
        upgrade()
        now = clock.utcnow()
        branches = [Branch(name=f"压测第{n + 1}党支部", kind=BranchKind.BRANCH, path="") for n in range(20)]
        db.session.add_all(branches)
        db.session.flush()
        for branch in branches:
            branch.path = f"/{branch.id}/"
        users = [
            User(
                username=f"bench{n}",
                name=f"党员{n}",
                password_hash="not-used",
                session_version=1,
                branch_id=branches[n % len(branches)].id,
            )
            for n in range(contestants + viewers)
        ]
        db.session.add_all(users)
        bank = QuestionBank(name="竞赛压测题库")
        db.session.add(bank)
        db.session.flush()
        questions = []
        for n in range(QUESTIONS):
            if n % 2:
                questions.append(
                    Question(bank_id=bank.id, type=QuestionType.TRUE_FALSE, stem=f"判断题{n}", answer={"value": True})
                )
            else:
                questions.append(
                    Question(
                        bank_id=bank.id,
                        type=QuestionType.SINGLE,
                        stem=f"单选题{n}",
                        options=["甲", "乙", "丙", "丁"],
                        answer={"choice": n % 4},
                    )
                )
        db.session.add_all(questions)
        db.session.flush()
        contest = setup.create_contest(
            setup.ContestSettings(
                title="压测知识竞赛",
                open_at=now - timedelta(minutes=1),
                close_at=now + timedelta(hours=2),
                time_limit_seconds=600,
                shuffle_questions=False,
                shuffle_options=False,
            ),
            created_by=None,
            now=now,
        )
        setup.add_fixed_questions(contest, [q.id for q in questions])
        setup.publish_contest(contest, now=now)
        db.session.commit()
        contest_id = contest.id
        ids = [(user.id, user.session_version) for user in users]
        db.engine.dispose()
    serializer = app.session_interface.get_signing_serializer(app)
    credentials = []
    for user_id, version in ids:
        with app.test_request_context(headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            session["_user_id"] = f"{user_id}.{version}"
            session["_fresh"] = True
            session["_id"] = _create_identifier()
            token = generate_csrf()
            credentials.append((serializer.dumps(dict(session)), token))
    return contest_id, credentials[:contestants], credentials[contestants:]


class Connection:
    """Keep-alive HTTP connections, one per client thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, headers: dict, body: bytes | None = None):
        for retry in range(2):
            try:
                self.http.request(method, path, body=body, headers=headers)
                response = self.http.getresponse()
                return response.status, response.getheader("Location"), response.read()
            except (http.client.HTTPException, OSError):
                self.http.close()
                self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if retry:
                    raise
        raise AssertionError("unreachable")


def headers_for(cookie: str, token: str, content_type: str | None = None) -> dict:
    headers = {
        "Cookie": f"session={cookie}",
        "X-CSRFToken": token,
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    if content_type:
        headers["Content-Type"] = content_type
    return headers


class Scheduler:
    """An open-loop load: tasks run at their times on a pool of threads; latencies by kind.

    A task is ``(when, kind, func)``; ``func(connection) -> list of (kind, sent, follow_up)``
    where ``follow_up`` (a task or None) is scheduled next (a contestant's next step).
    """

    def __init__(self, port: int, threads: int) -> None:
        self.port = port
        self.threads = threads
        self.heap: list = []
        self.counter = 0
        self.cond = threading.Condition()
        self.latencies: dict[str, list[float]] = {}
        self.lateness: list[float] = []
        self.errors: list[str] = []
        self.pending = 0
        self.stop_at = float("inf")

    def add(self, when: float, kind: str, func) -> None:
        with self.cond:
            heapq.heappush(self.heap, (when, self.counter, kind, func))
            self.counter += 1
            self.pending += 1
            self.cond.notify()

    def run(self) -> None:
        workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _worker(self) -> None:
        connection = Connection(self.port)
        while True:
            with self.cond:
                while True:
                    if not self.heap:
                        if self.pending == 0:
                            self.cond.notify_all()
                            return
                        self.cond.wait(0.5)
                        continue
                    when = self.heap[0][0]
                    delay = when - time.perf_counter()
                    if delay <= 0:
                        when, _, kind, func = heapq.heappop(self.heap)
                        break
                    self.cond.wait(min(delay, 0.5))
            started = time.perf_counter()
            try:
                follow_up = func(connection)
                elapsed = time.perf_counter() - started
            except Exception as error:  # noqa: BLE001 - counted, the first ones shown
                follow_up = None
                elapsed = None
                with self.cond:
                    self.errors.append(f"{kind}: {type(error).__name__}: {error}")
            with self.cond:
                if elapsed is not None:
                    self.latencies.setdefault(kind, []).append(elapsed)
                    self.lateness.append(started - when)
                self.pending -= 1
                if follow_up is not None:
                    next_when, next_kind, next_func = follow_up
                    heapq.heappush(self.heap, (next_when, self.counter, next_kind, next_func))
                    self.counter += 1
                    self.pending += 1
                self.cond.notify_all()


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if not binary:
        raise SystemExit("--redis needs redis-server (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("redis-server did not start")


GUNICORN_CONFIG = """
import logging, os

def post_fork(server, worker):
    # Every computation of a board is one line in this file (counted by the benchmark).
    handler = logging.FileHandler(os.environ["CONTEST_BENCH_BOARD_LOG"])
    handler.setFormatter(logging.Formatter("%(created).3f %(process)d %(message)s"))
    logger = logging.getLogger("lms.exams.contests.board")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 contestants and 150 viewers over 15 s")
    parser.add_argument("--contestants", type=int, default=None)
    parser.add_argument("--viewers", type=int, default=None)
    parser.add_argument("--window", type=float, default=None, help="seconds over which contestants start")
    parser.add_argument("--answers", type=int, default=3, help="answers each contestant saves before submitting")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--clients", type=int, default=48, help="client threads sending the load")
    parser.add_argument("--redis", action="store_true", help="share the board cache between workers in Redis")
    _stack.add_arguments(parser)
    args = parser.parse_args()
    _stack.stop_on_signals()
    contestants = args.contestants or (150 if args.quick else 2000)
    viewers = args.viewers or (150 if args.quick else 2000)
    window = args.window or (15.0 if args.quick else 60.0)
    answers = max(0, min(args.answers, QUESTIONS))

    workdir = Path(tempfile.mkdtemp(prefix="contest-bench-"))
    database = _stack.database(args, workdir, "contest")
    database_url = database.url
    print(f"Preparing {contestants} contestants, {viewers} viewers and an open contest ({database.label}) ...",
          flush=True)  # fmt: skip
    try:
        contest_id, contestant_credentials, viewer_credentials = build_database(database_url, contestants, viewers)
    except BaseException:
        database.drop()
        raise

    redis_process = None
    environment = dict(
        os.environ,
        LMS_SECRET_KEY=SECRET,
        LMS_DATABASE_URL=database_url,
        LMS_RATELIMIT_ENABLED="false",
        LMS_SCHEDULER="off",
        LMS_ENV_NAME="benchmark",
        LMS_CONTEST_BOARD_SECONDS=str(BOARD_SECONDS),
        CONTEST_BENCH_BOARD_LOG=str(workdir / "board.log"),
    )
    shared = args.redis or args.stack
    (workdir / "gunicorn_conf.py").write_text(GUNICORN_CONFIG)
    servers = None
    try:
        if args.redis and not args.stack:
            redis_process, redis_url = start_redis(workdir)
            environment["LMS_REDIS_URL"] = redis_url
        servers = _stack.serve(args, environment, workdir, workers=args.workers, threads=args.threads,
                               extra=["--config", str(workdir / "gunicorn_conf.py")])  # fmt: skip
        port = servers.port
        print(
            f"{servers.description}; {args.clients} client threads; "
            f"board cache {'in Redis (shared)' if shared else 'in each worker'}, "
            f"refreshed every {BOARD_SECONDS} s; load average {_stack.load_average()}\n",
            flush=True,
        )
        scheduler = Scheduler(port, args.clients)
        begin = time.perf_counter() + 1.0
        end_of_load = begin + window + 10.0  # the last contestants need ~10 s to answer and submit
        rng = random.Random(6)

        # --- Contestants: start, 10 saves a second apart, submit --------------------------------
        finished = {"submitted": 0}
        lock = threading.Lock()

        def contestant(index: int, cookie: str, token: str):
            form = headers_for(cookie, token, "application/x-www-form-urlencoded")
            as_json = headers_for(cookie, token, "application/json")
            state: dict = {}

            def start(connection):
                status, location, _ = connection.request(
                    "POST", f"/contests/{contest_id}/start", form, f"csrf_token={token}".encode()
                )
                assert status == 302 and (location or "").endswith("/take"), status
                status, _, page = connection.request("GET", f"/contests/{contest_id}/take", as_json)
                assert status == 200, status
                text = page.decode()
                marker = 'data-attempt="'
                state["attempt"] = int(text[text.index(marker) + len(marker) :].split('"', 1)[0])
                if not answers:
                    return (time.perf_counter() + 1.0, "submit", submit)
                return (time.perf_counter() + 1.0, "save", save(1))

            def save(position: int):
                def run(connection):
                    response = {"value": True} if position % 2 == 0 else {"choice": (index + position) % 4}
                    body = json.dumps({"position": position, "response": response, "seq": 1}).encode()
                    status, _, payload = connection.request(
                        "POST", f"/quizzes/attempts/{state['attempt']}/answers", as_json, body
                    )
                    assert status == 200 and json.loads(payload)["applied"], (status, payload[:200])
                    if position < answers:
                        return (time.perf_counter() + 0.5, "save", save(position + 1))
                    return (time.perf_counter() + 0.5, "submit", submit)

                return run

            def submit(connection):
                status, _, payload = connection.request(
                    "POST", f"/contests/{contest_id}/attempts/{state['attempt']}/submit", as_json, b"{}"
                )
                assert status == 200 and json.loads(payload)["state"] == "finished", (status, payload[:200])
                with lock:
                    finished["submitted"] += 1
                    finished["last"] = max(finished.get("last", 0.0), time.perf_counter() - begin)
                return None

            return start

        for index, (cookie, token) in enumerate(contestant_credentials):
            scheduler.add(begin + window * index / contestants, "start", contestant(index, cookie, token))

        # --- Viewers: the board every 5 s; one in ten also sends the no-op reference ------------
        def viewer(index: int, cookie: str, token: str, first: float):
            headers = headers_for(cookie, token)
            ping_headers = headers_for(cookie, token, "application/json")

            def poll(connection):
                status, _, payload = connection.request("GET", f"/contests/{contest_id}/board.json", headers)
                assert status == 200 and json.loads(payload)["ok"], status
                if index % 5 == 0:  # the reference: a no-op right after the poll
                    return (time.perf_counter(), "no-op", ping)
                return _next_poll()

            def ping(connection):
                status, _, _ = connection.request("POST", "/quizzes/ping", ping_headers, b"{}")
                assert status == 200, status
                return _next_poll()

            def _next_poll():
                next_time = time.perf_counter() + POLL_SECONDS
                return (next_time, "board", poll) if next_time < end_of_load else None

            return first, poll

        for index, (cookie, token) in enumerate(viewer_credentials):
            first, poll = viewer(index, cookie, token, begin + rng.random() * POLL_SECONDS)
            scheduler.add(first, "board", poll)

        probe_before = _stack.speed_probe()
        load_started = time.time()
        server_cpu, client_cpu = servers.cpu_seconds(), time.process_time()
        database_cpu = _stack.postgres_cpu_seconds() if database.postgres else None
        scheduler.run()
        load_seconds = time.time() - load_started
        server_cpu, client_cpu = servers.cpu_seconds() - server_cpu, time.process_time() - client_cpu
        if database_cpu is not None:
            database_cpu = (_stack.postgres_cpu_seconds() or database_cpu) - database_cpu
        servers.stop()
        probe_after = _stack.speed_probe()
        done = _count_finished(database_url, contest_id, answers)
    finally:
        if servers is not None:
            servers.stop()
        if redis_process is not None:
            os.killpg(redis_process.pid, signal.SIGTERM)
            redis_process.wait(timeout=10)
        database.drop()

    computed = [
        float(line.split()[0])
        for line in (workdir / "board.log").read_text().splitlines()
        if "board computed" in line and float(line.split()[0]) >= load_started
    ]
    shutil.rmtree(workdir, ignore_errors=True)

    print(f"{'kind':<8} {'requests':>8} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    results = {}
    for kind in ("start", "save", "submit", "board", "no-op"):
        values = scheduler.latencies.get(kind, [])
        if not values:
            continue
        results[kind] = {
            "n": len(values),
            "rate": len(values) / load_seconds,
            "p50": percentile(values, 0.5) * 1000,
            "p99": percentile(values, 0.99) * 1000,
        }
        r = results[kind]
        print(f"{kind:<8} {r['n']:>8} {r['rate']:>7.1f} {r['p50']:>8.1f} {r['p99']:>8.1f}")
    late = percentile(scheduler.lateness, 0.99) if scheduler.lateness else 0.0
    print(f"\nload: {load_seconds:.1f} s; requests sent late by the client (p99): {late * 1000:.0f} ms")
    if scheduler.errors:
        print(f"{len(scheduler.errors)} requests failed, e.g. {scheduler.errors[:3]}")
    print(f"finished attempts in the database: {done} of {contestants}")
    print(
        f"last contestant submitted {finished.get('last', 0.0):.1f} s after the first start "
        f"(starts spread over {window:.0f} s; each contestant's own steps take ~{1.0 + 0.5 * answers:.1f} s)"
    )
    # A start is two requests: the POST and the attempt page it redirects to.
    served = sum(len(values) for values in scheduler.latencies.values()) + len(scheduler.latencies.get("start", []))
    print(
        f"CPU during the load: servers {server_cpu:.1f} s ({server_cpu / load_seconds:.2f} cores, "
        f"{server_cpu / max(served, 1) * 1000:.2f} ms a request), this client {client_cpu:.1f} s "
        f"({client_cpu / load_seconds:.2f} cores)"
        + (f", PostgreSQL {database_cpu:.1f} s ({database_cpu / load_seconds:.2f} cores, "
           f"{database_cpu / max(served, 1) * 1000:.2f} ms a request)" if database_cpu is not None else "")
    )
    print(f"machine speed probe (fixed Python work; lower is faster): {probe_before:.0f} ms before the load, "
          f"{probe_after:.0f} ms after")  # fmt: skip
    board = results.get("board", {"n": 0, "rate": 0.0, "p99": 0.0})
    ranking_per_second = len(computed) / load_seconds
    expected = (1 if shared else args.workers) / BOARD_SECONDS
    print(
        f"ranking queries: {len(computed)} in {load_seconds:.1f} s = {ranking_per_second:.2f}/s "
        f"(one per {BOARD_SECONDS} s refresh {'shared' if shared else 'per worker'}: {expected:.2f}/s); "
        f"board requests {board['rate']:.1f}/s"
    )
    if "no-op" in results:
        noop = results["no-op"]
        print(
            f"p99 against the no-op's ({noop['p99']:.1f} ms): submit {results['submit']['p99'] / noop['p99']:.2f}x, "
            f"board {board['p99'] / noop['p99']:.2f}x"
        )
    if scheduler.errors or done != contestants:
        print("FAILED: not every contestant's attempt was submitted and graded")
        return 1
    per_query = board["n"] / max(len(computed), 1)
    print(
        f"board requests per ranking query: {per_query:.0f}x "
        f"(ranking {ranking_per_second:.2f}/s vs board {board['rate']:.1f}/s; "
        f"submit p99 {results['submit']['p99']:.0f} ms, board p99 {board['p99']:.0f} ms; the last of "
        f"{contestants} submitted {finished.get('last', 0.0):.1f} s after the first start for a {window:.0f} s window "
        f"(+{1.0 + 0.5 * answers:.1f} s of its own steps); the {window + 10:.0f} s schedule took {load_seconds:.1f} s; "
        f"{database.label}, load average {_stack.load_average()})"
    )
    return 0


def _count_finished(database_url: str, contest_id: int, answers: int) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(
            sa.text(
                "SELECT count(*) FROM quiz_attempts a JOIN contests c ON c.quiz_id = a.quiz_id "
                "WHERE c.id = :contest AND a.state = 'finished' AND "
                "(SELECT count(*) FROM attempt_questions q WHERE q.attempt_id = a.id AND q.response IS NOT NULL) = :n"
            ),
            {"contest": contest_id, "n": answers},
        ).scalar()
    engine.dispose()
    return count


if __name__ == "__main__":
    raise SystemExit(main())
