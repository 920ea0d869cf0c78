"""How a stored question stem is shown: its blank markers ``{{n}}`` become visible gaps.

Fill-in stems store their blanks as ``{{1}}``, ``{{2}}``... (see
``importers.common.MARKER``). Every page that shows a stem as text goes through
the ``stem`` template filter (``stem_html``); JSON for scripts carries
``stem_text``. Nowhere else turns markers into gaps. A stem in HTML
(``question_html``) is shown as its cleaned HTML, or as its text when shortened.
"""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup, escape

from lms.exams.questions import question_html
from lms.exams.questions.importers.common import MARKER

GAP = "（____）"


def stem_text(stem: str) -> str:
    """The stem as plain text, each blank marker shown as ``（____）``."""
    return MARKER.sub(GAP, question_html.plain(stem))


def _gap_html(number: int) -> Markup:
    label = _("Blank %(n)d", n=number)
    return Markup('<span class="quiz-gap" role="img" aria-label="{label}" title="{label}">{gap}</span>').format(
        label=label, gap=GAP
    )


def stem_html(stem: str, length: int | None = None) -> Markup:
    """The stem as escaped HTML with each blank an underlined, labelled gap.

    ``length`` shortens the stem to about that many visible characters (a gap
    counts as its own width), ending in "…"; markers are never cut in half.
    """
    if question_html.is_html(stem):
        if length is None:
            shown = question_html.html_of(stem)
            return Markup(MARKER.sub(lambda m: _gap_html(int(m.group(1))), shown))  # noqa: S704  (cleaned HTML)
        stem = question_html.plain(stem)
    stem = stem or ""
    pieces: list[Markup] = []
    budget = length if length is not None else -1
    cursor = 0
    truncated = False

    def add_text(text: str) -> bool:
        nonlocal budget
        if budget < 0:
            pieces.append(escape(text))
            return True
        if len(text) <= budget:
            pieces.append(escape(text))
            budget -= len(text)
            return True
        pieces.append(escape(text[:budget].rstrip()))
        budget = 0
        return False

    for match in MARKER.finditer(stem):
        if not add_text(stem[cursor : match.start()]):
            truncated = True
            break
        if 0 <= budget < len(GAP):
            truncated = True
            break
        pieces.append(_gap_html(int(match.group(1))))
        if budget >= 0:
            budget -= len(GAP)
        cursor = match.end()
    else:
        truncated = not add_text(stem[cursor:])
    if truncated:
        pieces.append(Markup("…"))
    return Markup("").join(pieces)
