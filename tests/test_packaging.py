"""A built wheel is the whole platform: it runs outside the checkout, migrates and speaks Chinese."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

PROBE = """
import sys
import lms
assert lms.__file__.startswith(sys.argv[1]), lms.__file__  # the installed copy, not the checkout
from flask_migrate import upgrade
from lms import create_app
app = create_app({"SECRET_KEY": "wheel", "DATABASE_URL": "sqlite:///" + sys.argv[2]})
with app.app_context():
    upgrade()
client = app.test_client()
page = client.get("/auth/login")
assert page.status_code == 200, page.status_code
text = page.get_data(as_text=True)
assert "登录" in text, text[:500]
assert client.get("/static/css/app.css").status_code == 200
print("wheel ok")
"""


def test_the_built_wheel_runs_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("vanguard_lms-*.whl")
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(target), str(tmp_path / "wheel.sqlite3")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "wheel ok" in run.stdout
