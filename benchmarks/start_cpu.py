"""CPU per contest request in one process: start, the attempt page, save, submit, board (no server, no load).

The contest benchmark's database (``contest.build_database``: members and an open
10-question contest) on SQLite; each of N members starts through the Flask test
client (``POST /contests/<id>/start``), opens the attempt page, saves one answer and
submits, while a viewer polls the board. CPU time (``time.process_time``) per
request kind is stable on a loaded machine, unlike wall time. ``--profile KIND``
prints a cProfile (CPU clock) of that kind's requests. With ``--database-url`` (a
PostgreSQL on this machine) it runs there and also prints what each kind costs the
server processes of the app's connections (round trips cost both sides). ``--sql`` prints
each kind's statements and round trips to the database (``tests/sql_count.py``).

    .venv/bin/python benchmarks/start_cpu.py [--members 300] [--profile start] [--sort tottime]
        [--database-url URL] [--sql]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _stack  # noqa: E402
import contest as contest_bench  # noqa: E402


class Backends:
    """CPU time of the PostgreSQL server processes serving this database's connections (read from /proc).

    Only this benchmark connects to its database while it runs, so the backends listed in
    ``pg_stat_activity`` for it are the app's; the list is refreshed every ``refresh`` reads
    (the pool opens connections as it needs them). A few /proc files per read: cheap enough
    to read around every request without disturbing what is measured.
    """

    def __init__(self, url: str, refresh: int = 50) -> None:
        import sqlalchemy as sa

        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.refresh, self.reads, self.pids, self.monitor = refresh, 0, [], None
        self._list()

    def _list(self) -> None:
        import sqlalchemy as sa

        if self.monitor is None:
            self.monitor = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        self.pids = [int(pid) for pid in self.monitor.execute(sa.text(query)).scalars()]

    def seconds(self) -> float:
        self.reads += 1
        if self.reads % self.refresh == 0:
            self._list()
        total = 0
        for pid in self.pids:
            try:
                text = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
        self.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--profile", choices=["start", "take", "save", "submit", "board", "no-op"])
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", choices=["cumulative", "tottime"], default="cumulative")
    parser.add_argument("--database-url", default="", help="a PostgreSQL database on this machine (a schema is made)")
    parser.add_argument("--sql", action="store_true", help="count each kind's statements and round trips")
    args = parser.parse_args()
    args.stack = False

    from lms import create_app

    workdir = Path(tempfile.mkdtemp(prefix="start-cpu-"))
    database, backends = None, None
    try:
        database = _stack.database(args, workdir, "start_cpu")
        url = database.url
        contest_id, members, viewers = contest_bench.build_database(url, args.members, 1)
        database_cpu: dict[str, float] = {}
        app = create_app(
            {
                "SECRET_KEY": contest_bench.SECRET,
                "DATABASE_URL": url,
                "ENV_NAME": "benchmark",
                "RATELIMIT_ENABLED": False,
                "SCHEDULER": "off",
            }
        )
        gc.freeze()  # as lms.wsgi does once the app is built: collections scan what requests make
        client = app.test_client()
        cpu: dict[str, float] = {}
        if database.postgres:
            client.get("/healthz")  # the pool's first connection
            backends = Backends(url.replace("+psycopg", ""))
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        trips = None
        if args.sql:
            from lms.extensions import db
            from tests.sql_count import RoundTrips

            with app.app_context():
                trips = RoundTrips(db.engine)

        def request(kind: str, method: str, path: str, cookie: str, token: str, **options):
            client.set_cookie("session", cookie)
            headers = {"X-CSRFToken": token, "User-Agent": contest_bench.USER_AGENT, "Accept": "application/json"}
            served_before = backends.seconds() if backends else 0.0
            began = time.process_time()
            if profiler and kind == args.profile:
                profiler.enable()
            with trips.counting(kind) if trips else contextlib.nullcontext():
                response = client.open(path, method=method, headers=headers, **options)
            if profiler and kind == args.profile:
                profiler.disable()
            cpu[kind] = cpu.get(kind, 0.0) + time.process_time() - began
            if backends:
                database_cpu[kind] = database_cpu.get(kind, 0.0) + backends.seconds() - served_before
            return response

        viewer_cookie, viewer_token = viewers[0]
        for cookie, token in members:
            response = request("start", "POST", f"/contests/{contest_id}/start", cookie, token,
                               data={"csrf_token": token})  # fmt: skip
            assert response.status_code == 302 and response.location.endswith("/take"), response.status_code
            page = request("take", "GET", f"/contests/{contest_id}/take", cookie, token).get_data(as_text=True)
            marker = 'data-attempt="'
            attempt = int(page[page.index(marker) + len(marker) :].split('"', 1)[0])
            body = {"position": 1, "response": {"choice": 1}, "seq": 1}
            response = request("save", "POST", f"/quizzes/attempts/{attempt}/answers", cookie, token, json=body)
            assert response.status_code == 200 and response.get_json()["applied"], response.status_code
            response = request("submit", "POST", f"/contests/{contest_id}/attempts/{attempt}/submit", cookie, token,
                               json={})  # fmt: skip
            assert response.status_code == 200 and response.get_json()["state"] == "finished"
            response = request("board", "GET", f"/contests/{contest_id}/board.json", viewer_cookie, viewer_token)
            assert response.status_code == 200
            response = request("no-op", "POST", "/quizzes/ping", viewer_cookie, viewer_token, json={})
            assert response.status_code == 200
        n = len(members)
        for kind, seconds in cpu.items():
            line = f"{kind:<7} {seconds / n * 1000:7.2f} ms CPU per request ({seconds / cpu['no-op']:.2f}x the no-op)"
            if backends:
                line += f"; PostgreSQL {database_cpu.get(kind, 0.0) / n * 1000:5.2f} ms"
            print(line)
        contestant = sum(cpu[k] for k in ("start", "take", "save", "submit"))
        print(f"a contestant's start+take+save+submit against the no-op: {contestant / cpu['no-op']:.2f}x")
        # The full contest load (benchmarks/contest.py, nominal): 2,000 contestants (start, page,
        # 3 saves, submit) and 2,000 viewers polling every 5 s for the 60 s window and the 10 s
        # after it, one no-op per five polls. Its CPU in one process (no HTTP server) over its 70 s.
        per = {kind: seconds / n for kind, seconds in cpu.items()}
        polls = 2000 * 70 / contest_bench.POLL_SECONDS
        counts = {"start": 2000, "take": 2000, "save": 6000, "submit": 2000, "board": polls, "no-op": polls / 5}
        total = sum(per[kind] * count for kind, count in counts.items())
        shares = f"boards {per['board'] * polls / total:.0%}, no-ops {per['no-op'] * polls / 5 / total:.0%}"
        cores = total / 70
        print(f"the full contest load in this process: {total:.0f} CPU s = {cores:.2f} cores over its 70 s ({shares})")
        for kind in cpu if trips else ():
            print(trips.summary(kind, n))
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    finally:
        if backends is not None:
            backends.close()
        if database is not None:
            database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
