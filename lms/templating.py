"""The layout's template calls, computed once: ``csrf_token()`` per request, layout addresses per process.

Every page's layout (``base.html``) asks for the CSRF token four times and for about twenty
addresses that are the same on every request: the static files, the menu's pages, the
forms' targets. Flask builds each address through the URL map on every call and Flask-WTF
looks its configuration and ``g`` up through proxies on every call. Here:

- ``csrf_token()`` returns the token the request already made (Flask-WTF keeps it in ``g``),
  and otherwise asks Flask-WTF (``generate_csrf``), so the token is exactly Flask-WTF's;
- ``url_for`` remembers the address of an endpoint without values, or of a static file,
  per script root and host (the only request details such a path depends on). Anything
  else (values, ``_external``, an anchor, a blueprint-relative name) is built by Flask each
  time. At most ``_MAX_ADDRESSES`` addresses are kept (a forged ``Host`` header cannot grow
  the memory).
"""

from __future__ import annotations

from flask import Flask
from flask.globals import _cv_app, _cv_request
from flask_wtf.csrf import generate_csrf

_MAX_ADDRESSES = 512


def init_app(app: Flask) -> None:
    """Install the template globals (after ``CSRFProtect.init_app``, whose ``csrf_token`` this replaces)."""
    field_name = app.config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
    build = app.url_for
    addresses: dict[tuple, str] = {}

    def csrf_token() -> str:
        app_context = _cv_app.get(None)
        token = app_context.g.__dict__.get(field_name) if app_context is not None else None
        return token if token is not None else generate_csrf()

    def url_for(endpoint: str, /, **values) -> str:
        request_context = _cv_request.get(None)
        if request_context is None or endpoint[:1] == "." or (values and (len(values) > 1 or "filename" not in values)):
            return build(endpoint, **values)
        environ = request_context.request.environ
        key = (environ.get("SCRIPT_NAME"), environ.get("HTTP_HOST"), endpoint, values.get("filename"))
        address = addresses.get(key)
        if address is None:
            address = build(endpoint, **values)
            if len(addresses) < _MAX_ADDRESSES:
                addresses[key] = address
        return address

    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["url_for"] = url_for
