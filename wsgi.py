"""WSGI entry point: ``gunicorn wsgi:app`` (and what ``flask`` finds by itself)."""

from lms import create_app
from lms.jobs import start_in_process

app = create_app()
# Only with LMS_SCHEDULER=inprocess (the quick start); gunicorn deployments leave the
# schedule to `flask lms worker`.
start_in_process(app)
