"""File downloads (exports, certificates, originals): one way to name them and type them.

Browsers read ``filename*`` (RFC 6266 / 5987, UTF-8) and fall back to ``filename``,
which must be plain ASCII. Werkzeug's ``send_file`` derives that fallback by
dropping every non-ASCII character ("先锋（党史）题库" becomes "()"), and adds
``charset=utf-8`` to a text type that already has it. So every download names
itself here: the real name in ``filename*`` and an ASCII fallback the caller
chooses (``bank-12.gift.txt``).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Response

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _clean(filename: str) -> str:
    """The name without path separators, quotes or control characters."""
    return _UNSAFE.sub("_", filename).strip(" ._") or "download"


def ascii_name(fallback: str) -> str:
    """``fallback`` reduced to letters, digits, dot, dash and underscore."""
    return _ASCII_UNSAFE.sub("-", fallback).strip("-.") or "download"


def content_disposition(filename: str, fallback: str, *, inline: bool = False) -> str:
    """``attachment; filename="<ascii>"; filename*=UTF-8''<utf-8>`` (``filename*`` only when it differs)."""
    kind = "inline" if inline else "attachment"
    name = _clean(filename)
    plain = ascii_name(fallback)
    if name == plain:
        return f'{kind}; filename="{plain}"'
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def name_download(response: Response, filename: str, fallback: str, *, inline: bool = False) -> Response:
    """Set the Content-Disposition of any response (e.g. a streamed ``send_file``)."""
    response.headers["Content-Disposition"] = content_disposition(filename, fallback, inline=inline)
    return response


def download(payload: bytes, *, mimetype: str, filename: str, fallback: str, inline: bool = False) -> Response:
    """A download of ``payload``. ``mimetype`` without a charset: text types get ``charset=utf-8`` once."""
    base = mimetype.split(";", 1)[0].strip()
    response = Response(payload, mimetype=base)  # Werkzeug adds "; charset=utf-8" to text types
    if base == "application/json":
        response.headers["Content-Type"] = "application/json; charset=utf-8"
    return name_download(response, filename, fallback, inline=inline)
