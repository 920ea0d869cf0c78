"""WSGI entry point of an installed platform: ``gunicorn lms.wsgi:app``, ``flask --app lms.wsgi``."""

import gc

from lms import create_app
from lms.jobs import start_in_process
from lms.logs import configure_logging

app = create_app()
configure_logging(app.config.get("LOG_LEVEL") or "INFO")
# Only with LMS_SCHEDULER=inprocess (the quick start); gunicorn deployments leave the
# schedule to `flask lms worker`.
start_in_process(app)
# Everything built so far (modules, mappers, templates, the app) lives as long as the worker:
# frozen, it is left out of the cyclic collector's passes, so a full collection scans what the
# requests made instead of holding every thread of the worker for a few hundred milliseconds.
gc.freeze()
