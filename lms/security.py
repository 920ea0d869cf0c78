"""Security headers, the Content Security Policy, secure cookies and safe redirects."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import Flask, Response, request

# Scripts only from our origin (no inline script anywhere); hls.js needs blob: for
# MSE media and its worker. Inline style attributes are allowed for progress bars.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.mimetype == "text/html":
            # Pages show personal data: never keep them in shared caches.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def safe_next_url(target: str | None) -> str | None:
    """Return ``target`` if it is a local path (no scheme, no host), else None.

    Whitespace and control characters are refused: browsers drop tabs and line
    breaks from URLs ("/", a tab, "/evil.example" becomes "//evil.example"), and a line
    break cannot go into a Location header.
    """
    if not target:
        return None
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


class SecureCookiesOverHttps:
    """WSGI middleware: on a request served over HTTPS, every cookie set is marked ``Secure``.

    Flask's session cookie and Flask-Login's remember cookie read their ``Secure``
    flag from fixed settings; this marks them per request instead, so one
    deployment works behind TLS (secure cookies) and on http://127.0.0.1 in
    development. It sits inside ProxyFix, so ``X-Forwarded-Proto`` counts when
    the proxy is trusted (``LMS_TRUSTED_PROXIES``).
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("wsgi.url_scheme") != "https":
            return self.app(environ, start_response)

        def secure_start_response(status, headers, exc_info=None):
            marked = [(name, _with_secure(value) if name.lower() == "set-cookie" else value) for name, value in headers]
            return start_response(status, marked, exc_info)

        return self.app(environ, secure_start_response)


def _with_secure(cookie: str) -> str:
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    return cookie if "secure" in attributes else cookie + "; Secure"
