"""WSGI entry point in a checkout: ``gunicorn wsgi:app`` (and what ``flask`` finds by itself).

An installed platform uses ``lms.wsgi`` (the same app); this file only saves typing.
"""

from lms.wsgi import app

__all__ = ["app"]
