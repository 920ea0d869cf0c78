"""Vanguard (先锋学堂): the application factory."""

from __future__ import annotations

import importlib
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from lms.config import Config

# Each module defines a blueprint named ``bp``; later domains add theirs here.
BLUEPRINT_MODULES = (
    "lms.home",
    "lms.auth.views",
    "lms.auth.admin",
    "lms.auth.org_admin",
    "lms.notices.views",
    "lms.notices.password_reset",
    "lms.media.views",
    "lms.media.admin",
    "lms.exams.questions.views",
    "lms.exams.quizzes.views",
    "lms.exams.quizzes.admin",
    "lms.exams.contests.views",
    "lms.exams.contests.admin",
    "lms.courses.views",
    "lms.courses.admin",
    "lms.meetings.views",
    "lms.meetings.checkin_views",
    "lms.meetings.admin",
    "lms.assessment.views",
    "lms.assessment.admin",
    "lms.integrity.views",
    "lms.search.views",
    "lms.webapp",
)

# Each defines ``init_app(app)``: its navigation entries, home panels and the hooks it registers on
# the layers below it (never at import). Registering is idempotent, so a second app adds nothing;
# entries of equal ``order`` keep this order.
DOMAIN_MODULES = (
    "lms.home",
    "lms.auth",
    "lms.notices",
    "lms.media",
    "lms.meetings",
    "lms.assessment",
    "lms.integrity",
    "lms.courses",
    "lms.exams.questions",
    "lms.exams.quizzes",
    "lms.exams.contests",
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI and error pages.

    Starts no thread, runs no migration and opens no network connection; the
    scheduler is started by ``lms.jobs.start_in_process`` (serving process only)
    or by ``flask lms worker``.
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("LMS")
    if config:
        app.config.update(config)
    _finish_config(app)

    from lms import extensions, inputs, security, templating
    from lms.auth import login as auth_login
    from lms.errors import register_error_handlers
    from lms.i18n import init_babel

    extensions.db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A pooled connection is pinged when it may be stale (idle, or closed by the server), not
        # at every checkout (pool_pre_ping: a round trip more per request); see lms.db.
        options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
        if "pool_pre_ping" not in options:
            from lms.db import install_idle_ping

            with app.app_context():
                install_idle_ping(extensions.db.engine)
    extensions.migrate.init_app(app, extensions.db, directory=str(Path(app.root_path) / "migrations"))
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    init_babel(app)
    auth_login.init_app(app)
    security.init_app(app)
    templating.init_app(app)  # after CSRFProtect: the layout's csrf_token() and addresses, computed once
    inputs.init_app(app)  # before the blueprints: their <int:...> use its bounded converter
    register_error_handlers(app)

    import lms.models  # noqa: F401  (every domain's tables, for Alembic and relationships)

    for module_name in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(module_name).bp)
    for module_name in DOMAIN_MODULES:
        importlib.import_module(module_name).init_app(app)

    from lms.cli import register_cli

    register_cli(app)
    if app.config["SECURE_COOKIES"] == "auto":
        app.wsgi_app = security.SecureCookiesOverHttps(app.wsgi_app)
    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    return app


def _finish_config(app: Flask) -> None:
    cfg = app.config
    os.makedirs(app.instance_path, exist_ok=True)
    if not cfg.get("SECRET_KEY"):
        if cfg.get("ENV_NAME") in ("development", "test") or cfg.get("TESTING"):
            cfg["SECRET_KEY"] = _development_secret(Path(app.instance_path))
        else:
            raise RuntimeError(
                "LMS_SECRET_KEY is not set. Set it in the environment or in instance/config.py "
                "(e.g. LMS_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')). "
                "Only LMS_ENV_NAME=development generates one by itself."
            )
    url = (
        cfg.get("SQLALCHEMY_DATABASE_URI")
        or cfg.get("DATABASE_URL")
        or ("sqlite:///" + str(Path(app.instance_path) / "lms.sqlite3"))
    )
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        options = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("timeout", 15)
        # Writers queue on a cheap lock instead of SQLite's sleeping busy handler (lms.db.WriteGate).
        from lms.db import GatedConnection

        connect_args.setdefault("factory", GatedConnection)
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options
    else:
        # Each server thread may hold two connections (its request's, and the one it keeps for
        # answer saves) besides the group commits': SQLAlchemy's default of 5 kept in the pool
        # made a busy worker open and close a connection on most requests (736 new PostgreSQL
        # backends in one contest benchmark run, each with its authentication, cold caches and
        # no prepared statements). The pool keeps what the process needed at once, up to this.
        options = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.setdefault("pool_size", int(cfg.get("DB_POOL_SIZE") or 20))
        options.setdefault("max_overflow", int(cfg.get("DB_MAX_OVERFLOW") or 10))
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not cfg.get("MEDIA_ROOT"):
        cfg["MEDIA_ROOT"] = str(Path(app.instance_path) / "media")
    if cfg.get("REDIS_URL"):
        cfg["RATELIMIT_STORAGE_URI"] = cfg["REDIS_URL"]
    # Every request body is bounded (views with @lms.inputs.body_limit have their own bound).
    cfg["MAX_CONTENT_LENGTH"] = int(float(cfg["MAX_REQUEST_MB"]) * 1024 * 1024)
    secure = cfg.get("SECURE_COOKIES")
    secure = str(secure).strip().lower() if secure not in (None, "") else "auto"
    if secure not in ("auto", "true", "false", "1", "0"):
        raise RuntimeError("LMS_SECURE_COOKIES must be auto, true or false.")
    cfg["SECURE_COOKIES"] = {"1": "true", "0": "false"}.get(secure, secure)
    if cfg["SECURE_COOKIES"] == "true":
        cfg["SESSION_COOKIE_SECURE"] = cfg["REMEMBER_COOKIE_SECURE"] = True
    cfg["BABEL_DEFAULT_TIMEZONE"] = cfg["TIMEZONE"]
    dirs = [str(Path(app.root_path) / "translations")]
    dirs += [str(p) for p in sorted(Path(app.root_path).glob("*/translations"))]
    cfg["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)


def _development_secret(instance: Path) -> str:
    """A per-checkout secret kept in instance/secret_key, so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
