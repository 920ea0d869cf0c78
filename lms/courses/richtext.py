"""Rich text of course summaries and articles, sanitised with nh3 on save.

Only structural tags survive; links get ``rel="noopener noreferrer"``; images
and links may only point at http(s) or at a path on this site (the CSP then
limits images to our own origin, so article images are uploaded here).
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "b", "em", "i", "u", "s", "sub", "sup", "mark", "small",
    "h2", "h3", "h4", "blockquote", "pre", "code",
    "ul", "ol", "li", "a", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tr", "th", "td", "caption",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https"}
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def sanitize_html(html: str | None) -> str:
    """Return ``html`` with everything but the allowed tags and attributes removed."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def plain_text(html: str | None, limit: int | None = None) -> str:
    """The text of sanitised ``html`` on one line (for cards and search), cut at ``limit``.

    The result is plain text: templates escape it again when they show it.
    """
    text = _SPACE.sub(" ", html_lib.unescape(_TAG.sub(" ", html or ""))).strip()
    if limit is not None and len(text) > limit:
        return text[: limit - 1].rstrip() + "…"
    return text
