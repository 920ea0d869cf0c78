"""Questions written in HTML: safe HTML kept, images stored as the platform's images.

A question is plain text (the default: every page escapes it) or HTML
(``ParsedQuestion.html``): then its stem, options and explanation are HTML
fragments cleaned with nh3 to ``TAGS`` (paragraphs, line breaks, bold, italic,
underline, sub/superscripts, lists, tables, http(s) links with
``rel="noopener noreferrer"``, images). Fill-in blank markers ``{{n}}`` stay text.

Stored, each non-empty text of an HTML question begins with ``MARK``
(``<!--html-->``): a question row and every snapshot of it carry their format in
their own texts, so the ``stem`` and ``qtext`` template filters (``render``) tell
HTML from plain text without being told. ``stored_texts`` / ``read_texts`` add
and remove the mark; no plain text keeps a leading mark (it is dropped on the way in).

Images are files under ``MEDIA_ROOT/question-images/`` named by the SHA-256 of
their bytes (``IMAGE_NAME``), written ``<img src="@@PLUGINFILE@@/<name>">`` in the
HTML as Moodle does, and served by ``question_images.image``. On the way in
(``clean``) an image embedded as a ``data:`` URI or as a Moodle XML ``<file>`` is
checked with Pillow (``lms.images``) and kept in the question's ``images`` (name ->
base64) until ``store_images`` writes it, re-encoded; an image named by an
external URL is not fetched (dropped, with a note), nor is one the file lacks.
An image exported from here comes back under the same name, so a round trip
through Moodle XML, GIFT or JSON is identical.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import os
import re
from collections.abc import Callable
from urllib.parse import unquote

import nh3
from flask import has_app_context, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from lms import images as platform_images
from lms.errors import ValidationFailed

MARK = "<!--html-->"
IMAGE_PREFIX = "@@PLUGINFILE@@/"
IMAGE_FOLDER = "question-images"
IMAGE_MAX_SIZE = (1600, 1600)
MAX_IMAGES = 20  # per question
IMAGE_NAME = re.compile(r"^[0-9a-f]{32}\.(?:png|jpg)$")

TAGS = {"p", "br", "b", "strong", "i", "em", "u", "sub", "sup", "ul", "ol", "li",
        "table", "thead", "tbody", "tr", "th", "td", "a", "img"}  # fmt: skip
ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Wrappers that only carry layout: dropped silently, their text kept (Moodle writes them everywhere).
_QUIET = {"span", "div", "font", "html", "head", "body", "center", "small", "big", "h1", "h2", "h3", "h4", "h5",
          "h6", "blockquote", "pre", "code", "hr", "caption", "tfoot", "col", "colgroup", "s", "strike", "del",
          "ins", "mark", "label", "section", "article", "figure", "figcaption", "nobr", "wbr"}  # fmt: skip
_TAG = re.compile(r"<\s*([a-zA-Z][a-zA-Z0-9]*)")
_EVENT = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_SRC = re.compile(r'(<img[^>]*?\ssrc=")' + re.escape(IMAGE_PREFIX) + r'([^"]+)(")')
_RICH = re.compile(r"<(?!/?(?:p|br)\b)[a-z]", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,(.*)$", re.IGNORECASE | re.DOTALL)


# --- Stored texts -------------------------------------------------------------------


def is_html(text: str | None) -> bool:
    return bool(text) and text.startswith(MARK)


def stored_texts(html_format: bool, stem: str, options: list[str], explanation: str) -> tuple[str, list[str], str]:
    """The texts as stored: each non-empty one of an HTML question marked, a plain one unmarked."""

    def store(text: str) -> str:
        text = unmark(text)
        return MARK + text if html_format and text else text

    return store(stem), [store(option) for option in options], store(explanation)


def unmark(text: str | None) -> str:
    text = text or ""
    while text.startswith(MARK):
        text = text[len(MARK) :]
    return text


# --- Cleaning -----------------------------------------------------------------------


def _keep_image(value: str) -> str | None:
    name = value[len(IMAGE_PREFIX) :] if value.startswith(IMAGE_PREFIX) else ""
    return value if IMAGE_NAME.match(name) else None


def _filter(tag: str, attribute: str, value: str, image: Callable[[str], str | None] = _keep_image) -> str | None:
    if tag == "img" and attribute == "src":
        return image(value)
    if tag == "a" and attribute == "href":
        return value if re.match(r"(?i)https?://", value) else None
    if attribute in ("width", "height", "colspan", "rowspan"):
        return value if re.fullmatch(r"\d{1,4}%?", value.strip()) else None
    return value.replace("{{", "{").replace("}}", "}")  # a blank marker lives in the text, never in an attribute


def sanitize(fragment: str, image: Callable[[str], str | None] = _keep_image) -> str:
    """``fragment`` reduced to ``TAGS``; images only as references to stored images (or as ``image`` says)."""
    cleaned = nh3.clean(
        fragment or "",
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "data"},
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=lambda tag, attribute, value: _filter(tag, attribute, value, image),
    )
    # source line breaks and indentation are layout, not text (question texts are shown with pre-wrap)
    return re.sub(r"\s+", " ", _IMG_WITHOUT_SRC.sub("", cleaned)).strip()


def image_name(payload: bytes, extension: str) -> str:
    return hashlib.sha256(payload).hexdigest()[:32] + "." + extension


def _checked_image(payload: bytes) -> str:
    """The name an image is imported under; ValidationFailed when it is not an image we keep."""
    if len(payload) > platform_images.MAX_IMAGE_BYTES:
        raise ValidationFailed(
            _l("The image is larger than %(mb)d MB.", mb=platform_images.MAX_IMAGE_BYTES // (1024 * 1024))
        )
    _, extension = platform_images.normalise_image(payload, IMAGE_MAX_SIZE)
    return image_name(payload, extension)


def clean(fragment: str, *, images: dict[str, str], notes: list, files: dict[str, bytes] | None = None) -> str:
    """Imported HTML made safe; embedded images go into ``images``; what was dropped is noted in ``notes``."""
    found = {name.lower() for name in _TAG.findall(fragment or "")}
    dropped = sorted(found - TAGS - _QUIET)
    if dropped:
        notes.append(_l("HTML not allowed was removed: %(tags)s.", tags=", ".join(f"<{tag}>" for tag in dropped)))
    if _EVENT.search(fragment or ""):
        notes.append(_l("Scripts in HTML attributes (on… handlers) were removed."))
    files = files or {}

    def image(value: str) -> str | None:
        value = value.strip()
        payload = None
        if match := _DATA_URI.match(value):
            try:
                payload = base64.b64decode(re.sub(r"\s+", "", match.group(1)), validate=True)
            except (binascii.Error, ValueError):
                notes.append(_l("An embedded image could not be decoded and was dropped."))
                return None
        elif value.startswith(IMAGE_PREFIX):
            name = unquote(value[len(IMAGE_PREFIX) :].split("?", 1)[0])
            payload = files.get(name) if name in files else files.get(name.rsplit("/", 1)[-1])
            if payload is None:
                if IMAGE_NAME.match(name) and (name in images or _stored_image_exists(name)):
                    return IMAGE_PREFIX + name
                notes.append(_l("The image “%(name)s” is not in the file and was dropped.", name=name))
                return None
        elif re.match(r"(?i)https?://", value):
            notes.append(_l("An image at another site was not fetched and was dropped: %(url)s", url=value[:200]))
            return None
        else:
            notes.append(_l("An image that is neither embedded nor in the file was dropped: %(src)s", src=value[:80]))
            return None
        try:
            name = _checked_image(payload)
        except ValidationFailed as error:
            notes.append(_l("An image was dropped: %(reason)s", reason=error.message))
            return None
        if name not in images and len(images) >= MAX_IMAGES:
            notes.append(_l("A question holds at most %(n)d images; the others were dropped.", n=MAX_IMAGES))
            return None
        images[name] = base64.b64encode(payload).decode("ascii")
        return IMAGE_PREFIX + name

    return sanitize(fragment, image)


def is_rich(fragment: str) -> bool:
    """Whether cleaned HTML holds more than paragraphs and line breaks (else it reads as plain text)."""
    return bool(_RICH.search(fragment or ""))


def from_plain(text: str) -> str:
    """A plain text as an HTML fragment (escaped, line breaks kept)."""
    return str(escape(text or "")).replace("\n", "<br>")


_BREAKS = re.compile(r"(?i)<br\s*/?>|</p>\s*<p[^>]*>|</(?:li|tr|div|h\d|ul|ol|table)>|<(?:ul|ol|table)[^>]*>")


def to_text(fragment: str) -> str:
    """The text of an HTML fragment: paragraphs and list items on their own lines, table cells tab-separated."""
    text = _BREAKS.sub("\n", unmark(fragment))
    text = re.sub(r"(?i)<li[^>]*>", "• ", text)
    text = re.sub(r"(?i)</t[dh]>", "\t", text)
    text = re.sub(r"(?i)<img[^>]*>", "[图]", text)
    text = html.unescape(nh3.clean(text, tags=set()))
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def plain(text: str | None) -> str:
    """Any stored text as plain text (an HTML one without its tags)."""
    return to_text(text) if is_html(text) else (text or "")


# --- Showing ------------------------------------------------------------------------


def image_url(name: str) -> str:
    return url_for("question_images.image", name=name)


def html_of(text: str) -> Markup:
    """A stored HTML text as safe markup, its images pointing at the image route."""
    cleaned = sanitize(unmark(text))
    # cleaned by nh3 just above; only our escaped image URLs are put in
    shown = _SRC.sub(lambda m: m.group(1) + str(escape(image_url(m.group(2)))) + m.group(3), cleaned)
    return Markup(shown)  # noqa: S704


def render(text: str | None) -> Markup:
    """Any stored text of a question, safe to put in a page: HTML cleaned, plain text escaped."""
    return html_of(text) if is_html(text) else escape(text or "")


# --- Image files --------------------------------------------------------------------


def image_folder():
    return platform_images.media_folder(IMAGE_FOLDER)


def _stored_image_exists(name: str) -> bool:
    return has_app_context() and platform_images.stored_image_path(image_folder(), name) is not None


def image_path(name: str):
    """The stored file of an image name, or None."""
    if not IMAGE_NAME.match(name or ""):
        return None
    return platform_images.stored_image_path(image_folder(), name)


def store_images(question) -> None:
    """Write the imported images of ``question`` (re-encoded), renaming its references to the stored names.

    An image that is already stored (an export of this platform coming back) keeps its name.
    """
    folder = image_folder()
    renames = {}
    for name, encoded in (question.images or {}).items():
        if image_path(name) is not None:
            continue
        payload = base64.b64decode(encoded)
        stored, extension = platform_images.normalise_image(payload, IMAGE_MAX_SIZE)
        final = image_name(stored, extension)
        if image_path(final) is None:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{final}.part"
            temporary.write_bytes(stored)
            os.replace(temporary, folder / final)
        if final != name:
            renames[IMAGE_PREFIX + name] = IMAGE_PREFIX + final
    question.images = {}
    if renames:
        pattern = re.compile("|".join(re.escape(old) for old in renames))
        swap = lambda text: pattern.sub(lambda m: renames[m.group(0)], text)  # noqa: E731
        question.stem = swap(question.stem)
        question.options = [swap(option) for option in question.options]
        question.explanation = swap(question.explanation)


def referenced_images(*texts: str) -> list[str]:
    """The image names the texts refer to, in order, once each."""
    names = []
    for text in texts:
        names += [m.group(2) for m in _SRC.finditer(text or "")]
    return list(dict.fromkeys(names))


def load_images(question) -> None:
    """Fill ``question.images`` with the stored bytes of the images it shows (for an export)."""
    for name in referenced_images(question.stem, *question.options, question.explanation):
        path = image_path(name)
        if path is not None:
            question.images[name] = base64.b64encode(path.read_bytes()).decode("ascii")


def with_data_uris(text: str, images: dict[str, str]) -> str:
    """References to images replaced by ``data:`` URIs (for GIFT, which carries no files)."""

    def inline(match: re.Match) -> str:
        name = match.group(2)
        if name not in images:
            return match.group(0)
        mimetype = "image/png" if name.endswith(".png") else "image/jpeg"
        return f"{match.group(1)}data:{mimetype};base64,{images[name]}{match.group(3)}"

    return _SRC.sub(inline, text)
