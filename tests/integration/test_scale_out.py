"""The scale-out deployment as one system (DESIGN.md §7).

Starts PostgreSQL's schema ``scaleout`` (in ``LMS_TEST_DATABASE_URL``), a private
Redis, two gunicorn processes, two ``flask lms worker`` processes and Debian's
nginx in front (with the shipped ``deploy/nginx`` site, its paths and ports
rewritten), seeds the demo, and proves through HTTP what must hold across
processes: the login limit is shared, a contest board is computed once per
refresh, a transcoding job is claimed by one worker and finished by the other when
its worker is killed, one process runs the schedule, heartbeats sent to both
processes are credited exactly, and media bytes come from nginx after the app's
access check.

Run by ``.ci/run`` in its PostgreSQL step; skipped (with the reason) without
PostgreSQL, and where redis-server or nginx are missing except in CI.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = "scaleout"
DEMO_PASSWORD = "Vanguard2026"

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- the stack ----------------------------------------------------------------------


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    pg_url: str
    web_ports: list[int]
    nginx_port: int
    web: list[subprocess.Popen] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    others: list[subprocess.Popen] = field(default_factory=list)

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def sql(self, statement: str, *params):
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as connection:
            connection.execute(f"SET search_path TO {SCHEMA}, public")
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else None

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("ab")
        return subprocess.Popen(command, cwd=self.tmp, env=self.env, stdout=log, stderr=subprocess.STDOUT)


def _flask(stack_env: dict[str, str], cwd: Path, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "lms.wsgi", *args],
        cwd=cwd,
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"flask {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.stdout


def nginx_config(stack: Stack, media: Path) -> str:
    """The shipped site (deploy/nginx/vanguard.conf) on loopback, with this stack's paths and ports."""
    site = (ROOT / "deploy" / "nginx" / "vanguard.conf").read_text()
    replacements = [
        (re.compile(r"server \{\n    listen 80;.*?\n\}\n", re.S), ""),  # the plain-HTTP redirect
        (re.compile(r"    listen 443 ssl;\n    http2 on;\n"), f"    listen 127.0.0.1:{stack.nginx_port};\n"),
        (re.compile(r"    ssl_certificate(_key)? .*\n"), ""),
        (re.compile(r"    server 127\.0\.0\.1:8000;"), "".join(f"    server 127.0.0.1:{p};\n" for p in stack.web_ports)),  # noqa: E501
        (re.compile(r"/srv/vanguard/media/"), f"{media}/"),
        (re.compile(r"/srv/vanguard/venv/lib/python3\.11/site-packages/lms/static/"), f"{ROOT / 'lms' / 'static'}/"),
        (re.compile(r"/etc/nginx/snippets/vanguard-proxy\.conf"), str(ROOT / "deploy/nginx/vanguard-proxy.conf")),
    ]
    for pattern, replacement in replacements:
        site, count = pattern.subn(replacement, site)
        assert count, f"deploy/nginx/vanguard.conf no longer has {pattern.pattern!r}: update this test"
    temp = stack.tmp / "nginx"
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\npid {temp}/nginx.pid;\nerror_log {stack.tmp}/nginx-error.log;\n"
        "events { worker_connections 512; }\nhttp {\n"
        "  types { text/css css; application/javascript js; }\n"
        f"  access_log {stack.tmp}/nginx-access.log;\n"
        f"  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
        f"{site}\n}}\n"
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    pg = os.environ.get("LMS_TEST_DATABASE_URL", "")
    if not pg.startswith("postgresql"):
        # Also in CI's SQLite step: .ci/run runs this test in its PostgreSQL step.
        pytest.skip("the scale-out test needs PostgreSQL: set LMS_TEST_DATABASE_URL")
    redis_server = shutil.which("redis-server")
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not redis_server or not nginx:
        _missing("the scale-out test needs redis-server and nginx (apt-get install redis-server nginx)")
    import psycopg

    pg_url = pg.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.execute(f"CREATE SCHEMA {SCHEMA}")
    tmp = tmp_path_factory.mktemp("stack")
    tmp.chmod(0o755)
    media = tmp / "media"
    media.mkdir()
    (tmp / "nginx").mkdir()
    redis_port = free_port()
    separator = "&" if "?" in pg else "?"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(
        {
            # Tables in the test's own schema; extensions (pg_trgm) where the database has them.
            "LMS_DATABASE_URL": f"{pg}{separator}options=-csearch_path%3D{SCHEMA},public",
            "LMS_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "LMS_SECRET_KEY": "scale-out-test",
            "LMS_MEDIA_ROOT": str(media),
            "LMS_MEDIA_ACCEL_REDIRECT": "/protected-media/",
            "LMS_TRUSTED_PROXIES": "1",
            "LMS_SCHEDULER_LEASE_SECONDS": "4",
            "LMS_TRANSCODE_LEASE_SECONDS": "6",
            "LMS_CONTEST_BOARD_SECONDS": "2",
            "LMS_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),  # the processes run the code under test, wherever the venv points
        }
    )
    stack = Stack(tmp=tmp, env=env, pg_url=pg_url, web_ports=[free_port(), free_port()], nginx_port=free_port())
    try:
        stack.others.append(
            stack.spawn("redis", [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""])
        )
        _flask(env, tmp, "db", "upgrade")
        _flask(env, tmp, "lms", "demo")
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        for index, port in enumerate(stack.web_ports):
            stack.web.append(
                stack.spawn(
                    f"web{index}",
                    [gunicorn, "--workers", "1", "--worker-class", "gthread", "--threads", "8",
                     "--bind", f"127.0.0.1:{port}", "lms.wsgi:app"],
                )
            )  # fmt: skip
        for index in range(2):
            stack.workers.append(stack.spawn(f"worker{index}", [sys.executable, "-m", "flask", "--app", "lms.wsgi",
                                                                "lms", "worker"]))  # fmt: skip
        (tmp / "nginx.conf").write_text(nginx_config(stack, media))
        check = subprocess.run([nginx, "-t", "-p", str(tmp / "nginx"), "-c", str(tmp / "nginx.conf")],
                               capture_output=True, text=True)  # fmt: skip
        assert check.returncode == 0, check.stderr
        stack.others.append(
            stack.spawn("nginx", [nginx, "-p", str(tmp / "nginx"), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
        )
        for port in [*stack.web_ports, stack.nginx_port]:
            wait_for(lambda port=port: _healthy(port), 60, f"a server on port {port}")
        yield stack
    finally:
        for process in [*stack.workers, *stack.web, *stack.others]:
            if process.poll() is None:
                process.terminate()
        for process in [*stack.workers, *stack.web, *stack.others]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(pg_url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


# --- a member's browser, reduced to HTTP -------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Cookies (shared by every port: cookies are per host), CSRF token, no automatic redirects."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        self.csrf = ""

    def request(self, port: int, path: str, *, data=None, json_body=None, headers=None, method=None):
        headers = dict(headers or {})
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
            headers["X-CSRFToken"] = self.csrf
        elif data is not None:
            body = data if isinstance(data, bytes) else urllib.parse.urlencode(data).encode()
            if not isinstance(data, bytes):
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def fetch_csrf(self, port: int, path: str = "/auth/login") -> str:
        status, _, body = self.request(port, path)
        assert status == 200, (status, path)
        found = re.search(rb'name="csrf-token" content="([^"]+)"', body) or re.search(
            rb'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', body
        )
        assert found, "no CSRF token on the page"
        self.csrf = next(g for g in found.groups() if g).decode()
        return self.csrf

    def login(self, port: int, username: str, password: str = DEMO_PASSWORD) -> int:
        self.fetch_csrf(port)
        status, headers, _ = self.request(
            port, "/auth/login", data={"csrf_token": self.csrf, "login": username, "password": password}
        )
        if status in (302, 303):
            self.fetch_csrf(port, "/")
        return status


# --- what must hold across processes -------------------------------------------------


def test_the_login_limit_is_shared_by_both_processes(stack):
    a, b = stack.web_ports
    browser = Browser()
    for attempt in range(5):
        status = browser.login(a if attempt % 2 == 0 else b, "member2", "wrong-password")
        assert status == 200, f"wrong password {attempt + 1} should show the form again, got {status}"
    # The sixth try, with the right password, on either process: the account is locked for now.
    assert browser.login(b, "member2") == 429
    assert browser.login(a, "member2") == 429


def test_a_concurrent_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit(stack):
    a, b = stack.web_ports
    browsers = [Browser() for _ in range(12)]
    for index, browser in enumerate(browsers):
        browser.fetch_csrf(a if index % 2 == 0 else b)

    def attempt(index: int) -> int:
        browser = browsers[index]
        port = a if index % 2 == 0 else b
        status, _, _ = browser.request(
            port, "/auth/login", data={"csrf_token": browser.csrf, "login": "member3", "password": "wrong-password"}
        )
        return status

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(attempt, range(12)))
    checked = [s for s in statuses if s != 429]
    assert len(checked) <= 5, f"{len(checked)} password checks got through a limit of 5: {statuses}"


def _live_contest_id(stack: Stack) -> int:
    """The demo's upcoming contest, opened now (its phase follows the clock)."""
    rows = stack.sql(
        "SELECT c.id, q.id FROM contests c JOIN quizzes q ON q.id = c.quiz_id "
        "WHERE q.open_at > now() ORDER BY q.open_at LIMIT 1"
    )
    assert rows, "the demo has no upcoming contest"
    contest_id, quiz_id = rows[0]
    stack.sql("UPDATE quizzes SET open_at = now() - interval '5 minutes' WHERE id = %s", quiz_id)
    return contest_id


def _board_computations(stack: Stack, contest_id: int) -> int:
    pattern = f"contest {contest_id} board computed"
    return sum(stack.log(f"web{i}").count(pattern) for i in range(2))


def test_a_live_board_is_computed_once_per_refresh_across_processes(stack):
    contest_id = _live_contest_id(stack)
    a, b = stack.web_ports
    browser = Browser()
    assert browser.login(a, "member") in (302, 303)

    def poll(index: int) -> int:
        status, _, body = browser.request(a if index % 2 == 0 else b, f"/contests/{contest_id}/board.json")
        assert status == 200, body[:300]
        return status

    for burst in (1, 2):
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(poll, range(32)))
        try:
            wait_for(lambda burst=burst: _board_computations(stack, contest_id) >= burst, 10, "the board log line")
        except AssertionError as error:
            board = browser.request(a, f"/contests/{contest_id}/board.json")[2][:600]
            logs = stack.log("web0")[-3000:] + stack.log("web1")[-3000:]
            raise AssertionError(f"{error}\n{board}\n{logs}") from None
        time.sleep(0.5)  # anything still computing would have logged by now
        assert _board_computations(stack, contest_id) == burst, stack.log("web0") + stack.log("web1")
        time.sleep(2.2)  # LMS_CONTEST_BOARD_SECONDS=2: the next burst finds it stale


def _worker_pids(stack: Stack) -> dict[int, subprocess.Popen]:
    return {process.pid: process for process in stack.workers}


def test_one_process_runs_the_schedule_and_it_is_a_worker(stack):
    rows = wait_for(lambda: stack.sql("SELECT holder FROM scheduler_leases WHERE name = 'scheduler'"), 30, "a lease")
    holder_pid = int(rows[0][0].split(":")[1])
    assert holder_pid in _worker_pids(stack), f"the lease is held by {rows[0][0]}, not by a worker"


def _make_clip(path: Path, seconds: int) -> None:
    ffmpeg = shutil.which("ffmpeg")
    env = dict(os.environ)
    if ffmpeg is None:
        from lms.media.transcode.tools import find_binary  # the static build `make` installs when none is on PATH

        binary = find_binary("ffmpeg")
        ffmpeg, env = binary.path, {**env, **(binary.env or {})}
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True, env=env,
    )  # fmt: skip


def _upload(stack: Stack, browser: Browser, port: int, clip: Path) -> int:
    payload = clip.read_bytes()
    status, _, body = browser.request(
        port, "/admin/media/uploads", json_body={"filename": clip.name, "size": len(payload), "title": "扩展部署测试"}
    )
    assert status == 201, body
    upload = json.loads(body)["upload"]
    size = upload["chunk_size"]
    digests = []
    for start in range(0, len(payload), size):
        chunk = payload[start : start + size]
        digests.append(hashlib.sha256(chunk).digest())
        status, _, body = browser.request(
            port,
            f"/admin/media/uploads/{upload['id']}",
            data=chunk,
            method="PUT",
            headers={
                "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{len(payload)}",
                "X-Chunk-SHA256": hashlib.sha256(chunk).hexdigest(),
                "X-CSRFToken": browser.csrf,
                "Content-Type": "application/octet-stream",
            },
        )
        assert status == 200, body
    status, _, body = browser.request(
        port,
        f"/admin/media/uploads/{upload['id']}/complete",
        json_body={"checksum": hashlib.sha256(b"".join(digests)).hexdigest()},  # the browser's digest of digests
    )
    assert status == 200, body
    return json.loads(body)["asset_id"]


def test_a_transcoding_job_is_claimed_once_and_a_killed_workers_job_is_finished_by_the_other(stack):
    a, _ = stack.web_ports
    admin = Browser()
    assert admin.login(a, "admin") in (302, 303)
    clip = stack.tmp / "long.mp4"
    _make_clip(clip, 40)
    asset_id = _upload(stack, admin, a, clip)

    def running():
        rows = stack.sql(
            "SELECT worker_id, attempts FROM media_transcode_jobs WHERE asset_id = %s AND status = 'running'", asset_id
        )
        return rows[0] if rows else None

    worker_id, attempts = wait_for(running, 60, "a worker to claim the job", interval=0.1)
    assert attempts == 1, "one claim, one attempt"
    claimed_pid = int(worker_id.split(":")[1])
    pids = _worker_pids(stack)
    assert claimed_pid in pids
    pids[claimed_pid].send_signal(signal.SIGKILL)
    pids[claimed_pid].wait(10)
    survivor = next(pid for pid in pids if pid != claimed_pid)

    def done():
        rows = stack.sql("SELECT status, attempts, worker_id FROM media_transcode_jobs WHERE asset_id = %s", asset_id)
        return rows[0] if rows and rows[0][0] in ("done", "failed") else None

    status, attempts, last_worker = wait_for(done, 300, "the surviving worker to finish the job", interval=0.5)
    assert status == "done", stack.log("worker0") + stack.log("worker1")
    assert attempts == 2 and int(last_worker.split(":")[1]) == survivor
    assert stack.sql("SELECT status FROM media_assets WHERE id = %s", asset_id)[0][0] == "ready"

    # The schedule moves to the survivor when the killed worker held it (its lease expires).
    def holder_is_survivor():
        rows = stack.sql("SELECT holder FROM scheduler_leases WHERE name = 'scheduler'")
        return rows and int(rows[0][0].split(":")[1]) == survivor

    wait_for(holder_is_survivor, 30, "the surviving worker to hold the scheduler lease")


def _ready_video_lesson(stack: Stack, browser: Browser, port: int) -> tuple[int, int]:
    """A published video lesson with a ready video that this member may open."""
    rows = stack.sql(
        "SELECT l.id, l.media_asset_id FROM lessons l JOIN media_assets m ON m.id = l.media_asset_id "
        "WHERE l.kind = 'video' AND m.status = 'ready' ORDER BY l.id"
    )
    for lesson_id, asset_id in rows:
        if browser.request(port, f"/courses/lessons/{lesson_id}")[0] == 200:
            return lesson_id, asset_id
    raise AssertionError("the demo has no ready video lesson this member may open")


def test_heartbeats_sent_to_both_processes_are_credited_exactly(stack):
    a, b = stack.web_ports
    browser = Browser()
    assert browser.login(a, "activist") in (302, 303)
    lesson_id, _ = _ready_video_lesson(stack, browser, a)
    user_id = stack.sql("SELECT id FROM users WHERE username = 'activist'")[0][0]

    def ledger() -> float:
        rows = stack.sql(
            "SELECT coalesce(sum(seconds), 0) FROM study_ledger WHERE user_id = %s AND lesson_id = %s",
            user_id,
            lesson_id,
        )
        return float(rows[0][0])

    before = ledger()
    status, _, body = browser.request(a, f"/courses/lessons/{lesson_id}/session", json_body={})
    assert status == 200, body
    session = json.loads(body)
    session_id = session["session_id"]
    start = float(session["resume_at"])
    credited = 0.0
    position = start
    for beat in range(6):
        time.sleep(1.05)
        payload = {"session_id": session_id, "lesson_id": lesson_id, "from": position, "to": position + 1.0,
                   "rate": 1.0, "visible": True, "idle": False, "idle_seconds": 0}  # fmt: skip
        status, _, body = browser.request(a if beat % 2 == 0 else b, "/courses/heartbeat", json_body=payload)
        assert status == 200, body
        result = json.loads(body)
        credited += float(result["credited"])
        position += 1.0
    assert credited > 0, "no beat was credited"
    assert ledger() - before == pytest.approx(credited, abs=1e-6)


def test_media_bytes_come_from_nginx_after_the_apps_access_check(stack):
    a, _ = stack.web_ports
    member = Browser()
    assert member.login(a, "member") in (302, 303)
    _, asset_id = _ready_video_lesson(stack, member, a)
    path = f"/media/{asset_id}/hls/master.m3u8"
    # The app itself answers with the internal redirect and no bytes...
    status, headers, body = member.request(a, path)
    assert status == 200 and headers.get("X-Accel-Redirect", "").startswith("/protected-media/"), headers
    assert body == b""
    # ...and through nginx the member gets the playlist.
    status, headers, body = member.request(stack.nginx_port, path)
    assert status == 200 and body.startswith(b"#EXTM3U"), (status, body[:200])
    assert "X-Accel-Redirect" not in headers
    # Without a login nginx sends nothing, and the protected location is not reachable from outside.
    status, _, body = Browser().request(stack.nginx_port, path)
    assert status in (302, 401, 403) and not body.startswith(b"#EXTM3U")
    internal = member.request(a, path)[1]["X-Accel-Redirect"]
    status, _, _ = member.request(stack.nginx_port, internal)
    assert status == 404, internal
