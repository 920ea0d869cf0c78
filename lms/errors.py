"""Domain errors raised by services, and the HTTP error pages."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError


class DomainError(Exception):
    """A rule of the domain was broken; ``message`` is shown to the user as is."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class InvalidState(DomainError):
    status_code = 409


class ValidationFailed(DomainError):
    status_code = 422


def show_on_form(form, error: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's error next to the form field it names (or above the form).

    ``aliases`` maps a service's field name to the form's, where they differ.
    """
    name = (aliases or {}).get(error.field or "", error.field or "")
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def wants_json() -> bool:
    """True when the client asked for JSON (fetch/XHR/beacon) rather than a page."""
    if request.is_json or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


_TITLES = {
    400: _l("Bad request"),
    401: _l("Please log in"),
    403: _l("You do not have permission to see this page"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    409: _l("This conflicts with the current state"),
    413: _l("The upload is too large"),
    422: _l("The input could not be accepted"),
    429: _l("Too many requests"),
    500: _l("Something went wrong on our side"),
}


def _render(code: int, message: str | None = None):
    title = _TITLES.get(code, _TITLES[500])
    if wants_json():
        return jsonify(ok=False, error=str(message or title)), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def register_error_handlers(app: Flask) -> None:
    """Answer every error with a page (or JSON) in the user's language."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return _render(error.status_code, str(error.message))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render(400, str(_l("The form has expired or was forged. Reload the page and try again.")))

    @app.errorhandler(429)
    def too_many(error):
        return _render(429, str(_l("Too many attempts. Please wait a few minutes and try again.")))

    @app.errorhandler(413)
    def too_large(error):
        limit = request.max_content_length
        if not limit:
            return _render(413, str(_l("The request is too large.")))
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{max(limit // 1024, 1)} KB"
        return _render(413, str(_l("The request is too large: at most %(size)s can be sent here.", size=size)))

    @app.errorhandler(OverflowError)
    def out_of_range(error: OverflowError):
        # A number or date too large for the database or the calendar (e.g. an id of
        # 2**64 on SQLite, a year-1 date converted to UTC): the input's fault, not ours.
        from lms.extensions import db

        db.session.rollback()
        return _render(400, str(_l("A number or date in the request is out of range.")))

    for code in (400, 403, 404, 405):
        app.register_error_handler(code, lambda error, code=code: _render(code))

    @app.errorhandler(500)
    def server_error(error):
        from lms.extensions import db

        db.session.rollback()
        return _render(500)
