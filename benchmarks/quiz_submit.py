"""Quiz autosave and submit under load, against gunicorn on loopback.

N simulated members (500; --quick: 60) each start an attempt of a 20-question
timed quiz, autosave 20 answers (JSON POST with the CSRF header, as quiz.js does)
and submit. The reference, measured in the same run with the same concurrency, is
a no-op authenticated JSON POST (``/quizzes/ping``: session and CSRF checked,
nothing written). Reported: throughput and p50/p99 latency of each phase, and the
ratios of save and submit to the no-op. The last line is the headline ratio.

The members' sessions are made directly with the app's secret (no password
hashing in the measured part). The database (a fresh SQLite file by default) is built by
the migrations; gunicorn runs 2 workers x 4 threads (the machine has 2 cores). The database
and the servers are chosen as in every benchmark (``benchmarks/_stack.py``):
``--database-url`` / ``LMS_BENCH_DATABASE_URL`` for PostgreSQL, ``--stack`` for
the scale-out stack.

    .venv/bin/python benchmarks/quiz_submit.py [--quick] [--members N] [--concurrency C] [--database-url URL] [--stack]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import _stack
from _harness import percentile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER_AGENT = "quiz-submit-benchmark"
QUESTIONS = 20
SECRET = "benchmark-secret-key"


def build_database(database_url: str, members: int) -> tuple[int, list[tuple[str, str]]]:
    """Migrate a fresh database, add the members and a published 20-question quiz.

    Returns the quiz id and, per member, (session cookie, CSRF token).
    """
    from flask import session
    from flask_login.utils import _create_identifier
    from flask_migrate import upgrade
    from flask_wtf.csrf import generate_csrf

    from lms import clock, create_app
    from lms.auth.models import User
    from lms.exams.questions.models import Question, QuestionBank, QuestionType
    from lms.exams.quizzes import setup
    from lms.extensions import db

    app = create_app({"SECRET_KEY": SECRET, "DATABASE_URL": database_url, "ENV_NAME": "benchmark"})
    credentials = []
    with app.app_context():
        upgrade()
        now = clock.utcnow()
        users = [
            User(username=f"bench{n}", name=f"压测党员{n}", password_hash="not-used", session_version=1)
            for n in range(members)
        ]
        db.session.add_all(users)
        bank = QuestionBank(name="压测题库")
        db.session.add(bank)
        db.session.flush()
        questions = []
        for n in range(QUESTIONS):
            if n % 2:
                question = Question(
                    bank_id=bank.id, type=QuestionType.TRUE_FALSE, stem=f"判断题{n}", answer={"value": True}
                )
            else:
                question = Question(
                    bank_id=bank.id,
                    type=QuestionType.SINGLE,
                    stem=f"单选题{n}",
                    options=["甲", "乙", "丙", "丁"],
                    answer={"choice": n % 4},
                )
            questions.append(question)
        db.session.add_all(questions)
        db.session.flush()
        quiz = setup.create_quiz(
            setup.QuizSettings(title="压测测验", time_limit_seconds=3600, shuffle_options=True, partial_credit=True),
            created_by=None,
            now=now,
        )
        setup.add_fixed_questions(quiz, [q.id for q in questions])
        setup.publish_quiz(quiz, now=now)
        db.session.commit()
        quiz_id = quiz.id
        user_ids = [(user.id, user.session_version) for user in users]
        db.engine.dispose()
    # Outside the app context above: each request context gets its own ``g`` (Flask-WTF
    # caches the CSRF token there).
    serializer = app.session_interface.get_signing_serializer(app)
    for user_id, version in user_ids:
        with app.test_request_context(headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            session["_user_id"] = f"{user_id}.{version}"
            session["_fresh"] = True
            session["_id"] = _create_identifier()
            token = generate_csrf()
            credentials.append((serializer.dumps(dict(session)), token))
    return quiz_id, credentials


class Client:
    """One keep-alive HTTP connection speaking as one member."""

    def __init__(self, port: int, cookie: str, token: str) -> None:
        self.port = port
        self.headers = {
            "Cookie": f"session={cookie}",
            "X-CSRFToken": token,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self.token = token
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        return response.status, response.getheader("Location"), payload, elapsed

    def post_json(self, path: str, document: dict):
        return self.request("POST", path, json.dumps(document).encode(), "application/json")


def run_phase(clients: list[Client], concurrency: int, work) -> tuple[list[float], float, int]:
    """Run ``work(client, index) -> [latencies]`` for every client on ``concurrency`` threads."""
    jobs: queue.Queue = queue.Queue()
    for index, client in enumerate(clients):
        jobs.put((index, client))
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                index, client = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                measured = work(client, index)
            except Exception as error:  # noqa: BLE001 - counted and the first one shown
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.extend(measured)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print(f"  {len(errors)} members failed, e.g. {errors[0]}", flush=True)
    return latencies, time.perf_counter() - started, len(errors)


def _shifted(work, offset: int):
    """``work`` for a chunk of clients: their indices are ``offset`` + position in the chunk."""
    return lambda client, index: work(client, index + offset)


def summary(name: str, latencies: list[float], wall: float) -> dict:
    result = {
        "name": name,
        "requests": len(latencies),
        "per_second": len(latencies) / wall if wall else 0.0,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }
    print(
        f"{name:<8} {result['requests']:>6} requests  {result['per_second']:>7.1f}/s  "
        f"p50 {result['p50_ms']:>6.1f} ms  p99 {result['p99_ms']:>6.1f} ms"
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 members (under 45 s on 2 cores)")
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=5, help="rounds of start/no-op/save/submit")
    _stack.add_arguments(parser)
    args = parser.parse_args()
    _stack.stop_on_signals()
    members = args.members or (60 if args.quick else 500)

    workdir = Path(tempfile.mkdtemp(prefix="quiz-bench-"))
    database = _stack.database(args, workdir, "quiz_submit")
    database_url = database.url
    print(f"Preparing {members} members and a {QUESTIONS}-question quiz ({database.label}) ...", flush=True)
    try:
        quiz_id, credentials = build_database(database_url, members)
    except BaseException:
        database.drop()
        raise

    environment = dict(
        os.environ,
        LMS_SECRET_KEY=SECRET,
        LMS_DATABASE_URL=database_url,
        LMS_RATELIMIT_ENABLED="false",
        LMS_SCHEDULER="off",
        LMS_ENV_NAME="benchmark",
    )
    servers = None
    try:
        servers = _stack.serve(args, environment, workdir, workers=args.workers, threads=4)
        port = servers.port
        clients = [Client(port, cookie, token) for cookie, token in credentials]
        concurrency = min(args.concurrency, members)
        print(f"{servers.description}; {concurrency} concurrent members; load average {_stack.load_average()}\n",
              flush=True)  # fmt: skip

        def warm(client: Client, index: int) -> list[float]:
            status, _, _, elapsed = client.post_json("/quizzes/ping", {})
            assert status == 200, status
            return [elapsed]

        run_phase(clients, concurrency, warm)

        def noop(client: Client, index: int) -> list[float]:
            measured = []
            for n in range(QUESTIONS):
                status, _, _, elapsed = client.post_json("/quizzes/ping", {"position": n + 1, "seq": 1})
                assert status == 200, status
                measured.append(elapsed)
            return measured

        attempts: dict[int, str] = {}

        def start(client: Client, index: int) -> list[float]:
            body = f"csrf_token={client.token}".encode()
            status, location, _, elapsed = client.request(
                "POST", f"/quizzes/{quiz_id}/start", body, "application/x-www-form-urlencoded"
            )
            assert status == 302 and "/attempts/" in (location or ""), status
            attempts[index] = location.rsplit("/", 1)[-1]
            return [elapsed]

        def save(client: Client, index: int) -> list[float]:
            measured = []
            for position in range(1, QUESTIONS + 1):
                response = {"value": True} if position % 2 == 0 else {"choice": (index + position) % 4}
                document = {"position": position, "response": response, "seq": 1}
                status, _, payload, elapsed = client.post_json(f"/quizzes/attempts/{attempts[index]}/answers", document)
                assert status == 200 and json.loads(payload)["applied"], (status, payload[:200])
                measured.append(elapsed)
            return measured

        def submit(client: Client, index: int) -> list[float]:
            status, _, payload, elapsed = client.post_json(f"/quizzes/attempts/{attempts[index]}/submit", {})
            assert status == 200 and json.loads(payload)["state"] == "finished", (status, payload[:200])
            return [elapsed]

        # The phases run chunk by chunk, the reference right before the saves, so both see
        # the same load (other processes on the machine shift the absolute numbers).
        latencies: dict[str, list[float]] = {name: [] for name in ("no-op", "start", "save", "submit")}
        walls = dict.fromkeys(latencies, 0.0)
        cpu = dict.fromkeys(latencies, 0.0)
        errors = 0
        chunk = max(concurrency, members // args.chunks)
        for first in range(0, members, chunk):
            part = list(range(first, min(first + chunk, members)))
            for name, work in (("start", start), ("no-op", noop), ("save", save), ("submit", submit)):
                cpu_before = servers.cpu_seconds()
                measured, wall, failed = run_phase([clients[i] for i in part], concurrency, _shifted(work, first))
                cpu[name] += servers.cpu_seconds() - cpu_before
                latencies[name] += measured
                walls[name] += wall
                errors += failed
        results = {name: summary(name, latencies[name], walls[name]) for name in latencies}
        per_request = {name: cpu[name] / max(1, len(latencies[name])) * 1000 for name in latencies}
        print("server CPU per request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_request.items())
              + f" (no-op / save {per_request['no-op'] / max(per_request['save'], 1e-9):.2f}x)")  # fmt: skip
        for client in clients:
            client.connection.close()
        servers.stop()
        finished = _count_finished(database_url, quiz_id)
    finally:
        if servers is not None:
            servers.stop()
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nfinished attempts in the database: {finished} of {members}; failed members: {errors}")
    if errors or finished != members:
        print("FAILED: not every member's attempt was saved and graded")
        return 1
    noop, save_result, submit_result = results["no-op"], results["save"], results["submit"]
    print(
        f"save: {save_result['per_second'] / noop['per_second']:.2f}x the no-op's throughput, "
        f"p99 {save_result['p99_ms'] / noop['p99_ms']:.2f}x; "
        f"submit p99 {submit_result['p99_ms'] / noop['p99_ms']:.2f}x the no-op's "
        f"({database.label}, load average {_stack.load_average()})"
    )
    return 0


def _count_finished(database_url: str, quiz_id: int) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(
            sa.text(
                "SELECT count(*) FROM quiz_attempts a WHERE a.quiz_id = :quiz AND a.state = 'finished' AND "
                "(SELECT count(*) FROM attempt_questions q WHERE q.attempt_id = a.id AND q.response IS NOT NULL) = :n"
            ),
            {"quiz": quiz_id, "n": QUESTIONS},
        ).scalar()
    engine.dispose()
    return count


if __name__ == "__main__":
    raise SystemExit(main())
