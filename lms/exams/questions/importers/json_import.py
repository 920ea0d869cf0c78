"""JSON: read back what the bank's JSON export writes (closing that round trip).

The export is a list of objects with ``type``, ``title``, ``stem``, ``options``,
``answers`` (the correct option letters, ``[true]``/``[false]``, or the accepted
answers of each blank), ``points``, ``difficulty``, ``tags``, ``explanation``,
and for multiple choice optionally ``weights`` (percent per option) and
``indefinite``; a question in HTML has ``"format": "html"`` and the images its
texts show (``@@PLUGINFILE@@/<name>``) in ``images`` (name -> base64). Each object
is checked like any other imported question.
"""

from __future__ import annotations

import base64
import binascii
import json

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions.importers.common import (
    FILL,
    LETTERS,
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
)
from lms.spreadsheets import decode_text


def parse_json(payload: bytes | str) -> ParseResult:
    text = decode_text(payload) if isinstance(payload, bytes) else payload
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValidationFailed(_l("The file is not valid JSON."), "file") from error
    if isinstance(data, dict) and isinstance(data.get("questions"), list):
        data = data["questions"]
    if not isinstance(data, list) or not data:
        raise ValidationFailed(_l("The file holds no questions."), "file")
    if len(data) > MAX_QUESTIONS:
        raise ValidationFailed(_l("The file holds more than %(n)d questions.", n=MAX_QUESTIONS), "file")
    result = ParseResult("json")
    for number, entry in enumerate(data, start=1):
        result.items.append(_item(number, entry))
    return result


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _item(number: int, entry) -> ParsedItem:
    if not isinstance(entry, dict):
        return ParsedItem(number, f"#{number}", problems=[Problem(_l("Each question must be a JSON object."))])
    item = ParsedItem(number, label_for(_text(entry.get("title")), _text(entry.get("stem"))))
    kind = _text(entry.get("type"))
    options = [str(option) for option in entry.get("options") or [] if isinstance(option, str | int | float)]
    answers = entry.get("answers")
    if not isinstance(answers, list):
        answers = []
    answer: dict = {}
    try:
        if kind in (SINGLE, MULTIPLE):
            indexes = sorted({LETTERS.index(str(letter).strip().upper()) for letter in answers})
            if kind == SINGLE:
                answer = {"choice": indexes[0] if len(indexes) == 1 else -1}
            else:
                answer = {"choices": indexes}
                if entry.get("weights") is not None:
                    answer["weights"] = entry["weights"]
                if entry.get("indefinite"):
                    answer["indefinite"] = True
        elif kind == TRUE_FALSE:
            answer = {"value": answers[0] if len(answers) == 1 else None}
        elif kind == FILL:
            answer = {"blanks": [[str(word) for word in blank] for blank in answers if isinstance(blank, list)]}
    except ValueError:
        item.problems.append(Problem(_l("The answer must name the correct options."), "answer"))
        return item
    points = entry.get("points", 1)
    difficulty = entry.get("difficulty", 3)
    question = ParsedQuestion(
        type=kind,
        stem=_text(entry.get("stem")),
        options=options,
        answer=answer,
        points=points if isinstance(points, int | float) and not isinstance(points, bool) else 0,
        difficulty=difficulty if isinstance(difficulty, int) and not isinstance(difficulty, bool) else 0,
        tags=[str(tag) for tag in entry.get("tags") or [] if isinstance(tag, str)],
        explanation=_text(entry.get("explanation")),
        title=_text(entry.get("title")),
    )
    if entry.get("format") == "html":
        adopt_html(question, item.notes, _images(entry.get("images"), item.notes))
    item.problems += finish_question(question)
    if not item.problems:
        item.question = question
    return item


def _images(value, notes: list) -> dict[str, bytes]:
    files = {}
    for name, encoded in (value or {}).items() if isinstance(value, dict) else ():
        try:
            files[str(name)] = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            notes.append(_l("The file “%(name)s” could not be decoded.", name=str(name)))
    return files
