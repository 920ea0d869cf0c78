"""Moodle XML: the format Moodle users move question banks with; read and written.

Read with defusedxml (no entity expansion, no external entities). Supported:
``multichoice`` (single → 单选; several right or weights → multiple response
with the per-option weights kept), ``truefalse``, ``shortanswer`` (one blank:
the answers of 100%), ``multianswer`` (Cloze) made only of SHORTANSWER
subquestions (several blanks), and ``category`` (its last part becomes a
knowledge point of the questions that follow). A question in HTML keeps safe HTML
and its images (``<file encoding="base64">`` referred to as ``@@PLUGINFILE@@/…``,
or ``data:`` URIs), see ``lms.exams.questions.question_html``; HTML with no
formatting beyond paragraphs becomes plain text; anything dropped is a note on the
question. The general feedback and each answer's feedback go into the
explanation. Other question types are skipped with the reason.

Written by ``write_moodle_xml`` so that Moodle imports it and ``parse_moodle_xml``
reads it back to the same questions; a multiple-choice question that this
platform scores all or nothing carries ``<vanguard_scoring>all</vanguard_scoring>``,
which Moodle ignores.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from xml.etree.ElementTree import Comment, Element, SubElement, tostring

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions import question_html
from lms.exams.questions.importers.common import (
    FILL,
    MARKER,
    MAX_QUESTIONS,
    MULTIPLE,
    SINGLE,
    TRUE_FALSE,
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    adopt_html,
    finish_question,
    label_for,
    marker,
    points_text,
)
from lms.exams.questions.importers.gift import _category_tag, _plain
from lms.spreadsheets import decode_text

_SKIPPED = {
    "essay": _l("An essay question: not a question type of this platform."),
    "matching": _l("A matching question: not a question type of this platform."),
    "numerical": _l("A numerical question: not a question type of this platform."),
    "description": _l("A description (no answer): not a question type of this platform."),
}
_CLOZE = re.compile(r"\{(\d*):(SHORTANSWER|SA|MW|SHORTANSWER_C|SAC|MWC|[A-Z_]+):((?:\\.|[^}])*)\}")


def parse_moodle_xml(payload: bytes | str) -> ParseResult:
    raw = payload.encode("utf-8") if isinstance(payload, str) else payload
    try:
        root = ElementTree.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as error:
        raise ValidationFailed(_l("The XML file declares entities or a DTD, which are refused."), "file") from error
    except ElementTree.ParseError as error:
        decode_text(raw)  # not text at all: that message first
        raise ValidationFailed(_l("The file is not valid Moodle XML: %(error)s.", error=str(error)), "file") from error
    if root.tag != "quiz":
        raise ValidationFailed(_l("The file is not Moodle XML (its root element is not <quiz>)."), "file")
    result = ParseResult("moodle_xml")
    category = ""
    for number, element in enumerate(root.findall("question"), start=1):
        kind = element.get("type", "")
        if kind == "category":
            category = _category_tag(_literal(element.find("category")))
            continue
        result.items.append(_question(number, kind, element, category))
        if len(result.items) > MAX_QUESTIONS:
            raise ValidationFailed(_l("The file holds more than %(n)d questions.", n=MAX_QUESTIONS), "file")
    if not result.items:
        raise ValidationFailed(_l("The file holds no questions."), "file")
    return result


def _raw(element) -> tuple[str, str]:
    """(text, format) of an element holding <text>, the format defaulting to HTML as in Moodle."""
    if element is None:
        return "", "plain_text"
    text = element.findtext("text") or ""
    return text, element.get("format", "html")


def _literal(element) -> str:
    """Names, tags and categories: plain text in Moodle XML."""
    return "" if element is None else (element.findtext("text") or "").strip()


def _text(element) -> str:
    """A text as plain text (answers to type in, true/false words)."""
    text, fmt = _raw(element)
    if fmt == "html":
        return question_html.to_text(text)
    if fmt == "moodle_auto_format":
        return _plain(text)
    return text.strip()


def _source(element) -> str:
    """A text of a question read as HTML: its HTML as written, a plain one escaped."""
    text, fmt = _raw(element)
    if fmt == "html":
        return text.strip()
    return question_html.from_plain(_plain(text) if fmt == "moodle_auto_format" else text.strip())


def _files(element, notes: list) -> dict[str, bytes]:
    """The files embedded in a question (``<file name="a.png" encoding="base64">``), by name."""
    files = {}
    for file in element.iter("file"):
        try:
            files[file.get("name", "")] = base64.b64decode(re.sub(r"\s+", "", file.text or ""), validate=True)
        except (binascii.Error, ValueError):
            notes.append(_l("The file “%(name)s” could not be decoded.", name=file.get("name", "")))
    return files


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None and text.strip() else default
    except ValueError:
        return default


def _question(number: int, kind: str, element, category: str) -> ParsedItem:
    notes: list = []
    title = _literal(element.find("name"))
    stem_element = element.find("questiontext")
    html_mode = _raw(stem_element)[1] == "html"
    text_of = _source if html_mode else _text
    stem = text_of(stem_element)
    item = ParsedItem(number, label_for(title, stem))
    if kind in _SKIPPED:
        item.problems.append(Problem(_SKIPPED[kind]))
        return item
    if kind not in ("multichoice", "truefalse", "shortanswer", "multianswer"):
        item.problems.append(Problem(_l("A “%(type)s” question: not a question type of this platform.", type=kind)))
        return item
    question = ParsedQuestion(type="", stem=stem, title=title)
    question.points = _number(element.findtext("defaultgrade"), 1.0)
    difficulty = (element.findtext("vanguard_difficulty") or "").strip()
    if difficulty in ("1", "2", "3", "4", "5"):
        question.difficulty = int(difficulty)
    tags = [_literal(tag) for tag in element.findall("tags/tag")]
    question.tags = [tag for tag in tags if tag] + ([category] if category else [])
    feedback: list[str] = []
    answers = []
    for answer in element.findall("answer"):
        text = text_of(answer) if kind == "multichoice" else _text(answer)
        answers.append((text, _number(answer.get("fraction"), 0.0)))
        note = text_of(answer.find("feedback"))
        if note:
            shown = question_html.from_plain(text) if html_mode and kind != "multichoice" else text
            feedback.append(f"{shown}：{note}")
    if kind == "multichoice":
        problem = _choices(element, question, answers, notes)
    elif kind == "truefalse":
        right = [text.casefold() for text, fraction in answers if fraction >= 100]
        problem = None if right and right[0] in ("true", "false") else Problem(_l("No answer is marked right."))
        question.type, question.answer = TRUE_FALSE, {"value": bool(right) and right[0] == "true"}
        feedback = [note.split("：", 1)[1] for note in feedback]
    elif kind == "shortanswer":
        problem = _short_answers(question, answers, notes)
    else:
        problem = _cloze(question, notes, html_mode)
    if problem:
        item.problems.append(problem)
        return item
    general = text_of(element.find("generalfeedback"))
    question.explanation = ("<br>" if html_mode else "\n").join(text for text in [general, *feedback] if text)
    if html_mode:
        adopt_html(question, notes, _files(element, notes))
    item.notes = list(dict.fromkeys(notes))
    item.problems += finish_question(question)
    if question.title == label_for("", question.stem_text(), 60):
        question.title = ""  # a name Moodle required, made from the stem
    item.label = label_for(title, question.stem_text())
    if not item.problems:
        item.question = question
    return item


def _choices(element, question: ParsedQuestion, answers: list, notes: list) -> Problem | None:
    options = [text for text, _ in answers]
    weights = [fraction for _, fraction in answers]
    question.options = options
    single = (element.findtext("single") or "true").strip().lower() in ("true", "1")
    if single:
        right = [i for i, weight in enumerate(weights) if weight >= 100]
        if len(right) != 1:
            return Problem(_l("A single-choice question needs exactly one answer of 100%."))
        partial = [question_html.to_text(options[i]) for i, weight in enumerate(weights) if 0 < weight < 100]
        if partial:
            notes.append(_l("Partial credit for “%(options)s” was dropped.", options="”, “".join(partial)))
        question.type, question.answer = SINGLE, {"choice": right[0]}
        return None
    right = [i for i, weight in enumerate(weights) if weight > 0]
    question.type, question.answer = MULTIPLE, {"choices": right, "weights": weights}
    if (element.findtext("vanguard_scoring") or "").strip() == "all":
        question.answer.pop("weights")
    if (element.findtext("vanguard_indefinite") or "").strip() == "true":
        question.answer["indefinite"] = True
    return None


def _short_answers(question: ParsedQuestion, answers: list, notes: list) -> Problem | None:
    accepted = [text for text, fraction in answers if fraction >= 100]
    for text, fraction in answers:
        if fraction < 100:
            notes.append(_l("The answer “%(answer)s” with a weight below 100%% is not accepted.", answer=text))
    if not accepted:
        return Problem(_l("A fill-in blank needs at least one fully correct answer (=answer)."))
    question.type, question.answer = FILL, {"blanks": [accepted]}
    return None


def _cloze(question: ParsedQuestion, notes: list, html_mode: bool = False) -> Problem | None:
    blanks: list[list[str]] = []

    def blank(match: re.Match) -> str:
        if match.group(2) not in ("SHORTANSWER", "SA", "MW", "SHORTANSWER_C", "SAC", "MWC"):
            raise _NotShortAnswer
        accepted = []
        for part in re.split(r"(?<!\\)~", match.group(3)):
            part = part.split("#", 1)[0]
            weight = 0.0
            if part.startswith("="):
                weight, part = 100.0, part[1:]
            elif weighted := re.match(r"%(-?\d+(?:\.\d+)?)%", part):
                weight, part = float(weighted.group(1)), part[weighted.end() :]
            part = re.sub(r"\\(.)", r"\1", part).strip()
            part = question_html.to_text(part) if html_mode else part
            if weight >= 100:
                accepted.append(part)
            elif part:
                notes.append(_l("The answer “%(answer)s” with a weight below 100%% is not accepted.", answer=part))
        blanks.append(accepted)
        return marker(len(blanks))

    try:
        question.stem = _CLOZE.sub(blank, question.stem)
    except _NotShortAnswer:
        return Problem(_l("An embedded (Cloze) question with other than short-answer blanks is not supported."))
    if not blanks or not all(blanks):
        return Problem(_l("A fill-in blank needs at least one fully correct answer (=answer)."))
    question.type, question.answer = FILL, {"blanks": blanks}
    return None


class _NotShortAnswer(Exception):
    pass


# --- Writing ------------------------------------------------------------------------


def _text_element(
    parent, tag: str, text: str, fmt: str | None = "plain_text", images: dict | None = None, **attributes
) -> Element:
    """``<tag format=…><text>…</text></tag>``; an HTML text carries the images it shows as ``<file>``s."""
    element = SubElement(parent, tag, **({"format": fmt} if fmt else {}), **attributes)
    SubElement(element, "text").text = text
    for name in question_html.referenced_images(text) if images is not None else ():
        if name in images:
            SubElement(element, "file", name=name, path="/", encoding="base64").text = images[name]
    return element


def _cloze_escape(text: str) -> str:
    return re.sub(r"([\\}~#=%{])", r"\\\1", text)


def _cloze_blank(accepted: list[str], html_format: bool = False) -> str:
    words = [question_html.from_plain(word) if html_format else word for word in accepted]
    return "{1:SHORTANSWER:" + "~".join("=" + _cloze_escape(word) for word in words) + "}"


def write_moodle_xml(questions: Iterable[ParsedQuestion], bank_name: str = "") -> str:
    """The questions as Moodle XML that Moodle imports and ``parse_moodle_xml`` reads back alike."""
    quiz = Element("quiz")
    if bank_name:
        quiz.append(Comment(f" {bank_name} (Vanguard question bank) ".replace("--", "- -")))
    for question in questions:
        if question.type == FILL and len(question.answer["blanks"]) > 1:
            kind = "multianswer"
        else:
            kind = {SINGLE: "multichoice", MULTIPLE: "multichoice", TRUE_FALSE: "truefalse", FILL: "shortanswer"}[
                question.type
            ]
        element = SubElement(quiz, "question", type=kind)
        _text_element(element, "name", question.title or label_for("", question.stem, 60), fmt=None)
        stem = question.stem
        if kind == "multianswer":
            blanks = question.answer["blanks"]
            stem = MARKER.sub(
                lambda m, blanks=blanks, html=question.html: _cloze_blank(blanks[int(m.group(1)) - 1], html), stem
            )
        elif kind == "shortanswer":
            stem = MARKER.sub("_____", stem)
        fmt, images = ("html", question.images) if question.html else ("plain_text", None)
        _text_element(element, "questiontext", stem, fmt, images)
        _text_element(element, "generalfeedback", question.explanation, fmt, images)
        SubElement(element, "defaultgrade").text = points_text(question.points)
        SubElement(element, "vanguard_difficulty").text = str(question.difficulty)  # Moodle ignores it
        if question.type in (SINGLE, MULTIPLE):
            SubElement(element, "single").text = "true" if question.type == SINGLE else "false"
            SubElement(element, "shuffleanswers").text = "true"
            if question.type == SINGLE:
                fractions = [100.0 if i == question.answer["choice"] else 0.0 for i in range(len(question.options))]
            elif question.answer.get("weights"):
                fractions = question.answer["weights"]
            else:
                right = question.answer["choices"]
                fractions = [100 / len(right) if i in right else -100.0 for i in range(len(question.options))]
                SubElement(element, "vanguard_scoring").text = "all"
            if question.answer.get("indefinite"):
                SubElement(element, "vanguard_indefinite").text = "true"
            for option, fraction in zip(question.options, fractions, strict=True):
                _text_element(
                    element, "answer", option, fmt, images, fraction=f"{fraction:.5f}".rstrip("0").rstrip(".")
                )
        elif question.type == TRUE_FALSE:
            value = question.answer["value"]
            _text_element(element, "answer", "true", fmt="moodle_auto_format", fraction="100" if value else "0")
            _text_element(element, "answer", "false", fmt="moodle_auto_format", fraction="0" if value else "100")
        elif kind == "shortanswer":
            SubElement(element, "usecase").text = "0"
            for word in question.answer["blanks"][0]:
                _text_element(element, "answer", word, fraction="100")
        if question.tags:
            tags = SubElement(element, "tags")
            for tag in question.tags:
                _text_element(tags, "tag", tag, fmt=None)
    body = tostring(quiz, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
