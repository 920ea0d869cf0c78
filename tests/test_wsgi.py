"""The WSGI entry point (``lms.wsgi``): the app, and the start-up objects frozen for the collector."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_wsgi_module_freezes_what_start_up_built(tmp_path):
    environment = dict(
        os.environ,
        LMS_SECRET_KEY="wsgi-test",
        LMS_DATABASE_URL=f"sqlite:///{tmp_path / 'wsgi.sqlite3'}",
        LMS_SCHEDULER="off",
        LMS_ENV_NAME="production",
    )
    script = "import gc, lms.wsgi; print(lms.wsgi.app.name, gc.get_freeze_count())"
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    name, frozen = result.stdout.split()
    assert name == "lms" and int(frozen) > 10_000  # modules, mappers, templates: out of the collector's passes
