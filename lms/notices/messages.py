"""Notification text that is shown in the reader's language, whenever it is read.

A notification written by a job (no reader, no request) cannot know the language
of each reader, and a reader may switch languages later. So a service passes
the title and body as lazy Babel strings (``lazy_gettext``, ``lazy_pgettext``,
``lazy_ngettext``); the bell stores what they are made of (function, message
id, parameters) as a *spec* and translates it when the page is shown. The
rendered text in the default language is stored too, for e-mail, exports and
rows written before specs existed.

A parameter may itself be a lazy string, a date or a datetime: dates and times
are formatted at display, in the reader's locale and time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import format_date, format_datetime, gettext, ngettext, pgettext
from flask_babel.speaklater import LazyString

_FUNCTIONS = {"gettext": gettext, "pgettext": pgettext, "ngettext": ngettext}


def _function_name(value: LazyString) -> str | None:
    name = getattr(value._func, "__name__", "")
    return name if name in _FUNCTIONS else None


def _param(value: Any) -> Any:
    if isinstance(value, LazyString):
        spec = to_spec(value)
        return {"$text": spec} if spec else str(value)
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def to_spec(value: Any) -> dict | None:
    """The spec of a lazy Babel string (None for plain text, which is shown as written)."""
    if not isinstance(value, LazyString):
        return None
    name = _function_name(value)
    if name is None or not all(isinstance(arg, str | int) for arg in value._args):
        return None
    return {"f": name, "args": list(value._args), "params": {k: _param(v) for k, v in value._kwargs.items()}}


def _shown_param(value: Any) -> Any:
    if isinstance(value, dict):
        if "$text" in value:
            return render(value["$text"])
        if "$datetime" in value:
            return format_datetime(datetime.fromisoformat(value["$datetime"]), "short")
        if "$date" in value:
            return format_date(date.fromisoformat(value["$date"]), "medium")
    return value


def render(spec: dict) -> str:
    """The text of ``spec`` in the current locale (the reader's, in a request)."""
    function = _FUNCTIONS.get(spec.get("f", ""), gettext)
    params = {k: _shown_param(v) for k, v in (spec.get("params") or {}).items()}
    try:
        return str(function(*spec.get("args", []), **params))
    except (KeyError, TypeError, ValueError):  # a catalogue whose placeholders do not match
        return next((arg for arg in reversed(spec.get("args", [])) if isinstance(arg, str)), "")


def rendered(value: Any) -> str:
    """What to store as the plain text: a lazy string rendered now (params formatted as at display)."""
    spec = to_spec(value)
    return render(spec) if spec else str(value or "")
