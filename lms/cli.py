"""`flask lms ...`: init, demo, worker and the domains' import/export commands."""

from __future__ import annotations

import importlib
import signal
import threading

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade

from lms.extensions import db

lms_cli = AppGroup("lms", help="Vanguard administration commands.")

# Each module has ``seed_demo() -> list[str]`` (lines to print); run in this order.
DEMO_MODULES = (
    "lms.auth.demo",
    "lms.media.demo",
    "lms.exams.questions.demo",
    "lms.exams.quizzes.demo",
    "lms.exams.contests.demo",
    "lms.courses.demo",
    "lms.assessment.demo",
    "lms.meetings.demo",
    "lms.notices.demo",
    "lms.search.demo",
)
# Each module has ``register(group)`` adding its commands to `flask lms`.
COMMAND_MODULES: tuple[str, ...] = ("lms.exams.questions.commands", "lms.search.demo")


@lms_cli.command("init")
@click.option("--admin-username", help="Username of the first admin (asked when missing).")
@click.option("--admin-name", default="管理员", show_default=True)
@click.option("--admin-password", help="Password of the first admin (asked when missing).")
@click.option("--no-admin", is_flag=True, help="Only upgrade the database.")
def init_command(admin_username, admin_name, admin_password, no_admin):
    """Upgrade the database to the newest schema and make sure an admin exists."""
    from lms.auth import services
    from lms.auth.models import Role, User

    upgrade()
    click.echo("Database is at the newest schema.")
    for module in INIT_MODULES:
        for line in importlib.import_module(module).seed_defaults():
            click.echo(line)
    db.session.commit()
    if no_admin:
        return
    if db.session.scalar(sa.select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None:
        click.echo("An admin account exists already; nothing to do.")
        return
    username = admin_username or click.prompt("Admin username")
    password = admin_password or click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    user = services.create_user(services.UserFields(username=username, name=admin_name, role=Role.ADMIN), password)
    db.session.commit()
    click.echo(f"Admin {user.username} created.")


# Each module has ``seed_defaults() -> list[str]``, run by `flask lms init` (idempotent).
INIT_MODULES: tuple[str, ...] = ("lms.assessment.defaults", "lms.meetings.kinds", "lms.meetings.offline_import")


@lms_cli.command("demo")
def demo_command():
    """Add the demo organisation and content (idempotent) and print the logins."""
    upgrade()
    for module in INIT_MODULES:
        importlib.import_module(module).seed_defaults()
    for module in DEMO_MODULES:
        lines = importlib.import_module(module).seed_demo()
        db.session.commit()
        for line in lines:
            click.echo(line)


@lms_cli.command("worker")
@click.option("--log-level", default=None, help="Logging level (default: LMS_LOG_LEVEL or INFO).")
def worker_command(log_level):
    """Run the scheduled jobs (and transcoding) in this process until stopped."""
    import logging

    from lms.jobs import HOLDER, SCHEDULER_LEASE, build_scheduler, release_lease
    from lms.logs import configure_logging

    app: Flask = current_app._get_current_object()
    configure_logging(log_level or app.config.get("LOG_LEVEL") or "INFO")
    log = logging.getLogger("lms.worker")
    scheduler = build_scheduler(app)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler.start()
    log.info("worker %s running; Ctrl-C or SIGTERM to stop", HOLDER)
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)
        # A clean stop hands the schedule over now, not when the lease expires.
        if release_lease(SCHEDULER_LEASE, HOLDER):
            log.info("released the scheduler lease")
        db.session.remove()
        log.info("worker stopped")


def register_cli(app: Flask) -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(lms_cli)
    app.cli.add_command(lms_cli)
