"""Server memory while receiving a large upload: peak RSS of a gunicorn worker against its idle RSS.

Starts gunicorn (one sync worker) on 127.0.0.1 with a throwaway database and
media folder, logs in as an admin and sends a 2 GB file (``--quick``: 256 MB)
through the real chunk API (8 MB chunks, each with its SHA-256), then completes
it. The worker's resident memory is sampled every 20 ms and its high-water mark
(VmHWM) read at the end; the reference is the same worker's RSS, warmed up by a
small upload, just before the big one starts. Target: flat, under 100 MB above idle.

    .venv/bin/python benchmarks/upload.py [--quick] [--megabytes N]

The last line is the headline ratio (peak RSS / idle RSS).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _harness import free_port, spawn_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 8 * 1024 * 1024
PASSWORD = "Bench-passw0rd"




def prepare(workdir: Path, env: dict[str, str]) -> None:
    """Create the schema and an admin in the throwaway database."""
    script = (
        "from lms import create_app\n"
        "from lms.extensions import db\n"
        "from lms.auth.models import Role, User\n"
        "from lms.auth.services import hash_password\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    db.create_all()\n"
        "    db.session.add(User(username='bench', name='Bench', role=Role.ADMIN,\n"
        f"                        password_hash=hash_password({PASSWORD!r})))\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


class Client:
    """A tiny HTTP client keeping the session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, body=None, headers=None, stream_from=None, length=0):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        if stream_from is None:
            connection.request(method, path, body=body, headers=headers)
        else:
            # Send the body a megabyte at a time, as a browser's network stack would.
            connection.putrequest(method, path)
            headers["Content-Length"] = str(length)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            view = memoryview(stream_from)
            for offset in range(0, length, 1024 * 1024):
                connection.send(view[offset : min(offset + 1024 * 1024, length)])
        response = connection.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        connection.close()
        return response.status, data


def upload(client: Client, size: int, payload: bytes, last_payload: bytes) -> None:
    status, data = client.request(
        "POST",
        "/admin/media/uploads",
        body=json.dumps({"filename": "big.mp4", "size": size, "title": "bench"}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert status == 201, data
    upload_info = json.loads(data)["upload"]
    assert upload_info["chunk_size"] == CHUNK
    digest = hashlib.sha256(payload).hexdigest()
    digests = []
    offset = 0
    while offset < size:
        length = min(CHUNK, size - offset)
        body = payload if length == CHUNK else last_payload[:length]
        chunk_digest = digest if length == CHUNK else hashlib.sha256(body).hexdigest()
        status, data = client.request(
            "PUT",
            upload_info["url"],
            headers={
                "Content-Range": f"bytes {offset}-{offset + length - 1}/{size}",
                "X-Chunk-SHA256": chunk_digest,
                "Content-Type": "application/octet-stream",
                "Accept": "application/json",
            },
            stream_from=body,
            length=length,
        )
        assert status == 200, data
        offset = json.loads(data)["offset"]
        digests.append(bytes.fromhex(chunk_digest))
    checksum = hashlib.sha256(b"".join(digests)).hexdigest()
    status, data = client.request(
        "POST",
        upload_info["url"] + "/complete",
        body=json.dumps({"checksum": checksum}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert status == 200, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 MB instead of 2 GB")
    parser.add_argument("--megabytes", type=int, help="upload size in MB")
    options = parser.parse_args()
    megabytes = options.megabytes or (256 if options.quick else 2048)
    size = megabytes * 1024 * 1024

    workdir = Path(tempfile.mkdtemp(prefix="vanguard-upload-bench-"))
    port = free_port()
    env = dict(
        os.environ,
        LMS_SECRET_KEY="bench",
        LMS_ENV_NAME="test",
        LMS_DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        LMS_MEDIA_ROOT=str(workdir / "media"),
        LMS_MAX_UPLOAD_MB=str(megabytes + 1),
        LMS_WTF_CSRF_ENABLED="false",
        LMS_RATELIMIT_ENABLED="false",
        LMS_SCHEDULER="off",
    )
    server = None
    try:
        prepare(workdir, env)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = spawn_server(
            [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--timeout", "120", "wsgi:app"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker = worker_pid(server.pid)
        client = Client(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.request("GET", "/auth/login")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        status, _ = client.request(
            "POST",
            "/auth/login",
            body=urlencode({"login": "bench", "password": PASSWORD}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 302, status
        payload = os.urandom(CHUNK)
        # Warm-up: a small upload loads every module and code path the big one uses.
        upload(client, 3 * CHUNK + 12345, payload, payload)
        idle = rss_kib(worker)
        high_water_before = rss_kib(worker, "VmHWM")

        peak = idle
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, rss_kib(worker))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        upload(client, size, payload, payload)
        elapsed = time.perf_counter() - began
        stop.set()
        sampler.join()
        peak = max(peak, rss_kib(worker))
        high_water = rss_kib(worker, "VmHWM")
        growth_mb = (peak - idle) / 1024
        print(f"uploaded {megabytes} MB in {elapsed:.1f} s ({megabytes / elapsed:.0f} MB/s) over loopback, 8 MB chunks")
        print(f"gunicorn worker RSS: idle {idle / 1024:.1f} MB, peak {peak / 1024:.1f} MB")
        print(f"worker high-water mark (VmHWM) before/after: {high_water_before / 1024:.1f}/{high_water / 1024:.1f} MB")
        print(f"peak growth above idle: {growth_mb:.1f} MB (target < 100 MB)")
        print(f"server peak RSS / idle RSS during a {megabytes} MB upload = {peak / idle:.3f}x")
    finally:
        if server is not None:
            stop_server(server, timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
