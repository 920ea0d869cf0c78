"""What the load benchmarks share: a free loopback port, percentiles, and servers started, ready and stopped.

A server started here (``spawn_server``, ``start_gunicorn``) never outlives the
benchmark: it is stopped by ``stop_server``, at exit, when the benchmark is
interrupted (Ctrl-C, SIGTERM, SIGHUP), when it runs past ``LMS_BENCH_TIMEOUT``
seconds (default 1800), and, through the kernel, when the benchmark is killed.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = int(os.environ.get("LMS_BENCH_TIMEOUT", "1800"))
PR_SET_PDEATHSIG = 1

_servers: list[subprocess.Popen] = []


def _end_on_signal(signum, frame) -> None:
    name = signal.Signals(signum).name
    if signum == signal.SIGALRM:
        raise SystemExit(f"benchmark stopped: it ran past {TIMEOUT_SECONDS} s (LMS_BENCH_TIMEOUT)")
    raise SystemExit(f"benchmark stopped by {name}")  # finally blocks and atexit stop the servers


def _guard() -> None:
    """Turn SIGTERM/SIGHUP and the time bound into SystemExit, once, in the main thread."""
    if getattr(_guard, "done", False):
        return
    _guard.done = True
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, _end_on_signal)
    if TIMEOUT_SECONDS > 0 and signal.alarm(0) == 0:
        signal.alarm(TIMEOUT_SECONDS)
    atexit.register(stop_all_servers)


def _die_with_parent() -> None:
    """In the child: SIGTERM it when the benchmark dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn_server(command: list[str], **popen_options) -> subprocess.Popen:
    """Start a server process in its own session, registered to be stopped with the benchmark."""
    _guard()
    popen_options.setdefault("cwd", ROOT)
    server = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent, **popen_options)
    _servers.append(server)
    return server


def stop_server(server: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the server's whole process group (master and workers); SIGKILL it if it lingers."""
    if server in _servers:
        _servers.remove(server)
    if server.poll() is None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        except ProcessLookupError:
            pass
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)  # workers left behind by a dead master


def stop_all_servers() -> None:
    for server in list(_servers):
        stop_server(server, timeout=10)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def start_gunicorn(
    port: int, environment: dict[str, str], *, workers: int, threads: int, extra: list[str] = ()
) -> subprocess.Popen:
    """Start ``gunicorn wsgi:app`` (gthread) on 127.0.0.1:``port`` and wait until /healthz answers."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    command = [gunicorn, *extra, "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)]
    command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    server = spawn_server(command, env=environment)
    deadline = time.monotonic() + 30
    while True:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            stop_server(server, timeout=5)
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)
