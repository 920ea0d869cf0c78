"""The app factory: configuration layers and start-up rules."""

import pytest

from lms import create_app


def test_missing_secret_key_outside_development_is_a_startup_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LMS_SECRET_KEY", raising=False)
    monkeypatch.delenv("LMS_ENV_NAME", raising=False)
    with pytest.raises(RuntimeError, match="LMS_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})


def test_environment_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_SECRET_KEY", "from-env")
    monkeypatch.setenv("LMS_HEARTBEAT_SECONDS", "20")
    monkeypatch.setenv("LMS_MEDIA_ROOT", str(tmp_path / "m"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["HEARTBEAT_SECONDS"] == 20
    assert app.config["MEDIA_ROOT"] == str(tmp_path / "m")


def test_embedded_default_is_sqlite_in_instance_with_wal_and_foreign_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_SECRET_KEY", "x")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    from lms.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    monkeypatch.delenv("LMS_DATABASE_URL", raising=False)
    default = create_app({})
    assert default.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/lms.sqlite3")


def test_create_app_starts_no_thread_even_with_inprocess_scheduler(tmp_path):
    # A fresh interpreter, so threads left by other tests cannot blur the count.
    import subprocess
    import sys

    code = (
        "import threading; from lms import create_app; "
        "create_app({'SECRET_KEY': 'x', 'SCHEDULER': 'inprocess', "
        f"'DATABASE_URL': 'sqlite:///{tmp_path}/x.sqlite3'}}); "
        "print(threading.active_count())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"


def test_behind_a_trusted_proxy_the_members_address_is_used(tmp_path):
    from flask import request

    app = create_app({"SECRET_KEY": "x", "TRUSTED_PROXIES": 1, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    app.add_url_rule("/_addr", "addr", lambda: request.remote_addr)
    response = app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == "203.0.113.9"
