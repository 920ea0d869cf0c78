"""Rich text from editors, sanitised with nh3 on save (templates then mark it safe)."""

from __future__ import annotations

import re

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "span",
    "div",
    "h2",
    "h3",
    "h4",
    "h5",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "caption",
    "figure",
    "figcaption",
    "pre",
    "code",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Classes an author may keep: typography only. A class can position, size or hide
# an element (Bootstrap's "position-fixed w-100 h-100" makes a full-screen overlay
# over the page), so every other class is dropped. The editor adds none of its own.
TEXT_CLASSES = frozenset(
    {"text-start", "text-center", "text-end", "lead", "small", "fw-bold", "fst-italic", "text-muted"}
)
ALLOWED_CLASSES = {tag: set(TEXT_CLASSES) for tag in ALLOWED_TAGS if tag not in ("br", "hr")}
ALLOWED_CLASSES["table"] = {"table", "table-bordered", "table-striped", "table-sm"}
ALLOWED_CLASSES["img"] = {"img-fluid"}
ALLOWED_CLASSES["figure"] = {"figure"}
ALLOWED_CLASSES["figcaption"] = {"figure-caption", *TEXT_CLASSES}
ALLOWED_CLASSES["blockquote"] = {"blockquote", *TEXT_CLASSES}
_EMPTY_CLASS = re.compile(r' class=""(?=[ />])')  # what is left when every class was dropped


def sanitize_html(html: str | None) -> str:
    """Keep formatting, links and images; drop scripts, styles, event handlers, iframes.

    Links and images may only use http(s), relative URLs or data: images; every
    link gets rel="noopener noreferrer".
    """
    cleaned = nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return _EMPTY_CLASS.sub("", cleaned).strip()


def plain_text(html: str | None) -> str:
    """The text of ``html`` without any tag (for previews and e-mails)."""
    return nh3.clean(html or "", tags=set()).strip()
