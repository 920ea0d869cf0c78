"""WSGI entry point of an installed platform: ``gunicorn lms.wsgi:app``, ``flask --app lms.wsgi``."""

from lms import create_app
from lms.jobs import start_in_process
from lms.logs import configure_logging

app = create_app()
configure_logging(app.config.get("LOG_LEVEL") or "INFO")
# Only with LMS_SCHEDULER=inprocess (the quick start); gunicorn deployments leave the
# schedule to `flask lms worker`.
start_in_process(app)
