"""Reading what a request sends, safely, in one place for the whole app.

- ids in URLs (``<int:...>``) and integer query/form values (``type=int``) are
  bounded to a 64-bit signed integer (a larger one makes SQLite raise
  OverflowError): an id out of range is a 404, a query value out of range is
  ignored as if it were not a number;
- ``page_arg()`` reads a page number, bounded;
- ``json_object()`` reads a JSON body that must be an object, with bounded
  integers, finite floats and text without NUL;
- request bodies are bounded: ``MAX_CONTENT_LENGTH`` for the whole app and
  ``@body_limit(bytes)`` on a view, both checked before anything is read (the
  Content-Length, then the stream while it is read);
- a JSON body that is not an object, and text with NUL (which PostgreSQL
  refuses), are refused at input with a 400;
- ``clean_filename()`` makes an uploaded file name safe to keep and to send back
  in a header; ``SaneDate`` keeps dates in years a person could mean.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable
from typing import Any

import flask
from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter
from wtforms.validators import ValidationError

from lms.errors import DomainError

MAX_INT = 2**63 - 1  # the largest value of a 64-bit signed integer (SQLite, PostgreSQL BIGINT)
MAX_PAGE = 100_000
MIN_YEAR, MAX_YEAR = 1900, 2200
FORM_MIMETYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class BadInput(DomainError):
    """The request could not be read (shape, size or characters)."""

    status_code = 400


# --- integers -----------------------------------------------------------------------


def bounded_int(value: Any) -> int:
    """``int(value)``, refusing (ValueError) anything outside a 64-bit signed integer."""
    number = int(value)
    if not -MAX_INT <= number <= MAX_INT:
        raise ValueError("integer out of range")
    return number


class BoundedIntConverter(IntegerConverter):
    """The ``int`` URL converter, bounded: ``/x/99999999999999999999`` is a 404, not a 500."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_INT, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_INT if max is None else max, signed=signed)


class BoundedMultiDict(ImmutableMultiDict):
    """Query and form values whose ``get(..., type=int)`` ignores an out-of-range number."""

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's signature)
        return super().get(key, default, bounded_int if type is int else type)

    def getlist(self, key, type=None):  # noqa: A002
        return super().getlist(key, bounded_int if type is int else type)


def page_arg(name: str = "page") -> int:
    """The page number in the query string: 1 when missing or invalid, at most MAX_PAGE."""
    page = request.args.get(name, 1, type=int)
    return min(max(page, 1), MAX_PAGE)


# --- request bodies ------------------------------------------------------------------


def body_limit(max_bytes: int | Callable[[], int]):
    """Bound the body of one view (bytes, or a function giving them) instead of MAX_CONTENT_LENGTH."""

    def decorate(view):
        view.max_body_bytes = max_bytes
        return view

    return decorate


def checks_own_body(view):
    """Mark a view that reads its body only through ``json_object`` and no query or form text.

    ``check_request_text`` skips it: ``json_object`` makes the same checks (an
    object, no NUL, the body's bound), so the hottest endpoint (the heartbeat)
    does not pay them twice.
    """
    view.checks_own_body = True
    return view


class Request(flask.Request):
    """Flask's request with bounded integers and the per-view body limit of ``@body_limit``."""

    parameter_storage_class = BoundedMultiDict

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        if current_app and self.endpoint:
            limit = getattr(current_app.view_functions.get(self.endpoint), "max_body_bytes", None)
            if limit is not None:
                return int(limit() if callable(limit) else limit)
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def _parse_int(text: str) -> int:
    return bounded_int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _check_text(value: Any) -> None:
    """Refuse NUL and text that cannot be stored (lone surrogates from ``\\ud800`` escapes)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL in text")
        value.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def json_object(*, force: bool = False) -> dict:
    """The request's JSON body, which must be an object; BadInput (400) otherwise.

    ``force`` reads the body whatever its Content-Type (``navigator.sendBeacon``
    sends text/plain). The body is bounded by the request's limit.
    """
    unreadable = _l("The request could not be read. Reload the page and try again.")
    if not (force or request.is_json):
        raise BadInput(unreadable)
    raw = request.get_data(cache=True)
    try:
        value = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
        if not isinstance(value, dict):
            raise ValueError("not an object")
        _check_text(value)
    except (ValueError, RecursionError) as error:  # includes JSONDecodeError and UnicodeError
        raise BadInput(unreadable) from error
    return value


# --- text and file names -------------------------------------------------------------------


def check_request_text() -> None:
    """before_request: refuse a body over the bound (413), a JSON body that is not a
    plain object and NUL in any text (400).

    A JSON body is checked for every view, not only those that call ``json_object``:
    Flask-WTF reads one as form data, and a list there was a 500. NUL in a query or
    form value is refused because PostgreSQL cannot store it. A view marked
    ``checks_own_body`` skips the body checks, never the Content-Length one (a header:
    free, and a declared 300 MB body is refused as too large before anything else).
    """
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()  # refused on its Content-Length, even where the view reads no body
    if getattr(current_app.view_functions.get(request.endpoint or ""), "checks_own_body", False):
        return
    if request.is_json and request.method in ("POST", "PUT", "PATCH", "DELETE") and request.get_data(cache=True):
        json_object()
    sources = [request.args]
    if request.mimetype in FORM_MIMETYPES:
        sources.append(request.form)
    for source in sources:
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                raise BadInput(_l("Text must not contain the NUL character."))


def clean_filename(name: str | None, max_length: int = 255) -> str:
    """An uploaded file name made safe to store and to send in a header.

    Keeps the last path component; removes control, format and other invisible
    characters (NUL, CR, LF, right-to-left overrides); trims; shortens.
    """
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    return text.strip().strip(".").strip()[:max_length]


class SaneDate:
    """WTForms validator: a date (or date-time) between MIN_YEAR and MAX_YEAR.

    Year 1 or 9999 is never meant, and converting such a local time to UTC overflows.
    """

    def __call__(self, form, field) -> None:
        if field.data is not None and not MIN_YEAR <= field.data.year <= MAX_YEAR:
            message = _l("Give a date between the years %(start)d and %(end)d.", start=MIN_YEAR, end=MAX_YEAR)
            raise ValidationError(message)


def init_app(app: Flask) -> None:
    """Use the bounded request and ``int`` converter, and check JSON bodies and text."""
    app.request_class = Request
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(check_request_text)
