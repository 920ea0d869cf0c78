"""The database and the servers a load benchmark runs against.

One way to choose the database, the same in every benchmark:

- ``--database-url URL`` (default: the ``LMS_BENCH_DATABASE_URL`` environment
  variable); empty means a fresh SQLite file in the benchmark's temporary
  directory. A PostgreSQL URL gets a schema of the benchmark's own
  (``bench_<name>``), made before and dropped after the run, so the database
  named in the URL is never touched otherwise. ``LMS_DATABASE_URL`` is not read
  (it names the site's own database).
- ``--stack``: the scale-out deployment instead of one gunicorn: PostgreSQL
  (the URL above, required), a private redis-server, two gunicorn processes
  behind Debian's nginx with the shipped site (``deploy/nginx/vanguard.conf``,
  its ports and paths rewritten), as ``tests/integration/test_scale_out.py`` starts it.

Every process started here is stopped when the benchmark ends, fails, is
interrupted (Ctrl-C) or is sent SIGTERM/SIGHUP (``stop_on_signals``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _harness import free_port

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
_RUNNING: list[subprocess.Popen] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LMS_BENCH_DATABASE_URL", ""),
        help="PostgreSQL to run on, in a schema of its own (default: $LMS_BENCH_DATABASE_URL; empty: a fresh "
        "SQLite file)",
    )
    parser.add_argument(
        "--stack",
        action="store_true",
        help="the scale-out stack: PostgreSQL (--database-url), Redis, two gunicorn processes behind nginx",
    )


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the benchmark like Ctrl-C, so its servers are stopped on the way out."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def _stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    if process in _RUNNING:
        _RUNNING.remove(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        _stop(process)


def spawn(command: list[str], env: dict[str, str], log: Path | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    """Start a process in its own process group (stopped by ``_stop`` with everything it started)."""
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT if output else None,
                               start_new_session=True)  # fmt: skip
    _RUNNING.append(process)
    return process


def _healthy(port: int) -> bool:
    try:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        probe.request("GET", "/healthz")
        return probe.getresponse().status == 200
    except OSError:
        return False


def _wait_healthy(port: int, processes: list[subprocess.Popen], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _healthy(port):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            raise SystemExit(f"{what} did not start")
        time.sleep(0.2)


# --- the database -------------------------------------------------------------------


@dataclass
class Database:
    """Where the benchmark's data lives: ``url`` for LMS_DATABASE_URL and for SQLAlchemy."""

    url: str
    postgres: bool
    schema: str = ""
    admin_url: str = ""

    @property
    def label(self) -> str:
        return "PostgreSQL" if self.postgres else "SQLite"

    def drop(self) -> None:
        if self.postgres:
            _postgres(self.admin_url, f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def postgres_cpu_seconds() -> float | None:
    """CPU time (user + system) used so far by a PostgreSQL running on this machine, or None if none is seen.

    Every ``postgres`` process (postmaster, backends, background workers), plus what the
    postmaster's ended children used (its cutime/cstime: backends of closed connections).
    On a shared machine that includes other clients' queries; the benchmarks' own database
    server is the only busy one when they run.
    """
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.index("(") + 1 : text.rindex(")")] != "postgres":
            continue
        fields = text[text.rindex(")") + 2 :].split()
        processes[int(stat.parent.name)] = (int(fields[1]), [int(value) for value in fields[11:15]])
    if not processes:
        return None
    total = 0
    for parent, (utime, stime, cutime, cstime) in processes.values():
        total += utime + stime
        if parent not in processes:  # the postmaster: its ended children too
            total += cutime + cstime
    return total / os.sysconf("SC_CLK_TCK")


def _postgres(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def database(args: argparse.Namespace, workdir: Path, name: str) -> Database:
    """The benchmark's database from ``--database-url`` (see the module docstring); a PostgreSQL schema is made."""
    url = args.database_url
    if args.stack and not url.startswith(("postgresql", "postgres:")):
        raise SystemExit("--stack runs on PostgreSQL: give --database-url or set LMS_BENCH_DATABASE_URL")
    if not url:
        return Database(f"sqlite:///{workdir / 'bench.sqlite3'}", postgres=False)
    if not url.startswith(("postgresql", "postgres:")):
        raise SystemExit(f"--database-url must be a PostgreSQL URL (or empty for SQLite), not {url!r}")
    admin_url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    schema = f"bench_{name}"
    _postgres(admin_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    _postgres(admin_url, f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    app_url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)
    search_path = ",".join([schema, *_extension_schemas(admin_url)])
    return Database(f"{app_url}{separator}options=-csearch_path%3D{search_path}", True, schema, admin_url)


def _extension_schemas(url: str) -> list[str]:
    """The schema of the database's pg_trgm, when installed and holding no tables: it follows the benchmark's
    schema on its search path, so the app's search indexes can use its operator classes.

    An extension is installed once per database, in one schema (``public`` when made
    there, e.g. by hand or by migrations; another run's ``bench_*`` schema while that
    run lasts). ``CREATE EXTENSION IF NOT EXISTS`` then does nothing in the benchmark's
    schema; an extension outside the search path leaves the app without trigram indexes.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        schemas = [name for (name,) in connection.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm' AND n.nspname <> 'pg_catalog'")]  # fmt: skip
        # Not a schema holding tables (another run's, or the site's): the app would find them instead of
        # making its own. Then the app makes no trigram indexes (lms.search.models.create_full_text).
        return [name for name in schemas if not connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (name,)).fetchone()[0]]  # fmt: skip


# --- the servers --------------------------------------------------------------------


@dataclass
class Servers:
    """What the load goes to: ``port`` on 127.0.0.1 (gunicorn, or nginx in front of the stack)."""

    port: int
    description: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    workdir: Path | None = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the servers started here and their children.

        gunicorn's master and workers (with ``--stack`` also nginx and Redis; never the
        database). Divided by the requests served, it is what a request costs the servers,
        a figure that other processes on the machine hardly change, unlike throughput.
        """
        groups = {process.pid for process in self.processes}
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[2]) in groups:  # the process group: each server is the leader of its own
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)
        self.processes.clear()


def _gunicorn_command(port: int, app: str, workers: int, threads: int, extra: list[str]) -> list[str]:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    return [gunicorn, *extra, "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
            "--keep-alive", "30", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            "--pythonpath", f"{ROOT},{BENCHMARKS}", app]  # fmt: skip


def serve(
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    *,
    app: str = "wsgi:app",
    workers: int = 2,
    threads: int = 4,
    extra: list[str] = (),
) -> Servers:
    """gunicorn (``workers`` x ``threads``) on a free port, or with ``--stack`` the scale-out stack.

    The stack runs two gunicorn processes of one worker each with ``workers * threads
    // 2`` threads (the same threads in all), a private Redis (LMS_REDIS_URL: shared
    rate limits and caches) and nginx in front, which the load then goes to.
    """
    env = {k: v for k, v in env.items() if k != "LMS_REDIS_URL" or not args.stack}
    if not args.stack:
        port = free_port()
        process = spawn(_gunicorn_command(port, app, workers, threads, list(extra)), env)
        servers = Servers(port, f"gunicorn {workers} workers x {threads} threads", [process], workdir)
        try:
            _wait_healthy(port, [process], "gunicorn")
        except BaseException:
            servers.stop()
            raise
        return servers
    redis_server = shutil.which("redis-server")
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not redis_server or not nginx:
        raise SystemExit("--stack needs redis-server and nginx (apt-get install redis-server nginx)")
    stack_dir = workdir / "stack"
    (stack_dir / "nginx").mkdir(parents=True, exist_ok=True)
    stack_dir.chmod(0o755)
    web_ports, nginx_port, redis_port = [free_port(), free_port()], free_port(), free_port()
    env = {**env, "LMS_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "LMS_TRUSTED_PROXIES": "1"}
    per_process = max(1, workers * threads // len(web_ports))
    servers = Servers(nginx_port, f"stack: nginx -> 2 gunicorn processes x {per_process} threads, Redis",
                      workdir=workdir)  # fmt: skip
    try:
        servers.processes.append(spawn([redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
                                       env, stack_dir / "redis.log"))  # fmt: skip
        for index, port in enumerate(web_ports):
            servers.processes.append(
                spawn(_gunicorn_command(port, app, 1, per_process, list(extra)), env, stack_dir / f"web{index}.log")
            )
        (stack_dir / "nginx.conf").write_text(nginx_config(stack_dir, web_ports, nginx_port, Path(env.get(
            "LMS_MEDIA_ROOT", workdir / "media"))))  # fmt: skip
        check = subprocess.run([nginx, "-t", "-p", str(stack_dir / "nginx"), "-c", str(stack_dir / "nginx.conf")],
                               capture_output=True, text=True)  # fmt: skip
        if check.returncode:
            raise SystemExit(f"nginx refused the configuration:\n{check.stderr}")
        servers.processes.append(spawn([nginx, "-p", str(stack_dir / "nginx"), "-c", str(stack_dir / "nginx.conf"),
                                        "-g", "daemon off;"], env, stack_dir / "nginx.log"))  # fmt: skip
        for port in [*web_ports, nginx_port]:
            _wait_healthy(port, servers.processes, f"the stack's server on port {port}")
    except BaseException:
        servers.stop()
        raise
    return servers


def nginx_config(stack_dir: Path, web_ports: list[int], nginx_port: int, media: Path) -> str:
    """The shipped site (deploy/nginx/vanguard.conf) on loopback over plain HTTP, with these ports and paths."""
    site = (ROOT / "deploy" / "nginx" / "vanguard.conf").read_text()
    replacements = [
        (r"server \{\n    listen 80;.*?\n\}\n", ""),  # the plain-HTTP redirect
        (r"    listen 443 ssl;\n    http2 on;\n", f"    listen 127.0.0.1:{nginx_port};\n"),
        (r"    ssl_certificate(_key)? [^\n]*\n", ""),
        (r"    server 127\.0\.0\.1:8000;", "".join(f"    server 127.0.0.1:{port};\n" for port in web_ports)),
        (r"/srv/vanguard/media/", f"{media}/"),
        (r"/srv/vanguard/venv/lib/python3\.11/site-packages/lms/static/", f"{ROOT / 'lms' / 'static'}/"),
        (r"/etc/nginx/snippets/vanguard-proxy\.conf", str(ROOT / "deploy" / "nginx" / "vanguard-proxy.conf")),
    ]
    for pattern, replacement in replacements:
        site, count = re.subn(pattern, replacement, site, flags=re.S)
        if not count:
            raise SystemExit(f"deploy/nginx/vanguard.conf no longer has {pattern!r}: update benchmarks/_stack.py")
    temp = stack_dir / "nginx"
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\npid {temp}/nginx.pid;\nerror_log {stack_dir}/nginx-error.log;\n"
        "events { worker_connections 4096; }\nhttp {\n"
        "  types { text/css css; application/javascript js; }\n"
        "  access_log off;\n"
        f"  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
        f"{site}\n}}\n"
    )


def load_average() -> str:
    """The 1-minute load average, for every figure printed (other processes share the CPUs)."""
    return f"{os.getloadavg()[0]:.1f}"


def speed_probe() -> float:
    """Milliseconds this machine takes for a fixed piece of pure-Python work (best of three).

    This VM's speed changes from run to run (the same code's CPU per request varied by up to 2x
    with no other process running), which moves absolute figures such as "the last contestant
    submitted after N s". Printed at a benchmark's start and end, it tells a slow phase of the
    machine from a slower program; ratios measured within one run are not affected.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for index in range(300_000):
            total += index * index % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000
