"""Aiken: a question line, options ``A.`` or ``A)``, then ``ANSWER: B``.

As Moodle reads it (https://docs.moodle.org/en/Aiken_format), with small
extensions people use in Chinese banks: options may also be written ``A、`` or
``Ａ．``, the answer line may be ``答案：B``, a stem may run over several lines,
several letters (``ANSWER: AC``) make a multiple-choice question, and a
``解析：``/``EXPLANATION:`` line after the answer is kept as the explanation.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions.importers.common import (
    MAX_QUESTIONS,
    MULTIPLE,
    SINGLE,
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    finish_question,
    label_for,
    letters_to_indexes,
)
from lms.spreadsheets import decode_text

_OPTION = re.compile(r"^(?:\(\s*([A-Z])\s*\)|([A-Z])\s*[.)、．）:：])\s*(\S.*)$")
# the next option on the same line: "A.甲 B.乙 C.丙"
_INLINE_OPTION = re.compile(r"\s+(?:\(\s*([B-Z])\s*\)|([B-Z])\s*[.)、．）:：])\s*(?=\S)")
_NUMBER = re.compile(r"^\d{1,4}\s*[.．、)）]\s*(?=\S)")
_ANSWER = re.compile(r"^(?:ANSWER|答案)\s*[:：]\s*(.*)$", re.IGNORECASE)
_EXPLANATION = re.compile(r"^(?:解析|EXPLANATION)\s*[:：]\s*(.*)$", re.IGNORECASE)


class _Draft:
    def __init__(self, line: int) -> None:
        self.line = line
        self.stem: list[str] = []
        self.options: list[str] = []
        self.problems: list[Problem] = []


def parse_aiken(payload: bytes | str) -> ParseResult:
    """Parse Aiken text (UTF-8 with or without BOM, or GBK) into items."""
    text = decode_text(payload) if isinstance(payload, bytes) else payload
    result = ParseResult("aiken")
    draft: _Draft | None = None
    last: ParsedItem | None = None  # the question an explanation line may follow
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        head = unicodedata.normalize("NFKC", line[:4]) + line[4:]  # Ａ．-> A., （A）-> (A)
        option = _OPTION.match(head)
        answer = _ANSWER.match(head)
        explanation = _EXPLANATION.match(head)
        if explanation and draft is None and last is not None:
            if last.question is not None:
                last.question.explanation = (last.question.explanation + "\n" + explanation.group(1)).strip()
            continue
        if answer and draft is not None:
            last = _finish(draft, answer.group(1), number)
            result.items.append(last)
            draft = None
            continue
        if option and draft is not None and draft.stem:
            for letter, option_text in _options_of_line(option):
                expected = chr(ord("A") + len(draft.options))
                if letter != expected:
                    draft.problems.append(
                        Problem(
                            _l(
                                "Option %(letter)s is out of order (expected %(expected)s).",
                                letter=letter,
                                expected=expected,
                            )
                        )
                    )
                draft.options.append(option_text.strip())
            continue
        if draft is not None and draft.options:
            # a new question began before this one had its ANSWER line
            result.items.append(_unanswered(draft))
            draft = None
        if draft is None:
            draft = _Draft(number)
            last = None
            numbered = _NUMBER.match(unicodedata.normalize("NFKC", line[:6]) + line[6:])
            if numbered:  # "1．党的…": the number is the file's, not the question's
                line = line[len(numbered.group(0)) :] if len(numbered.group(0)) <= 6 else line
        draft.stem.append(line)
        if len(result.items) > MAX_QUESTIONS:
            raise ValidationFailed(_l("The file holds more than %(n)d questions.", n=MAX_QUESTIONS), "file")
    if draft is not None:
        result.items.append(_unanswered(draft))
    if not result.items:
        raise ValidationFailed(_l("The file holds no questions."), "file")
    return result


def _unanswered(draft: _Draft) -> ParsedItem:
    return ParsedItem(
        draft.line,
        label_for("", " ".join(draft.stem)),
        problems=[*draft.problems, Problem(_l("No “ANSWER:” line after the options."))],
    )


def _options_of_line(match: re.Match) -> list[tuple[str, str]]:
    """The options of one line: "A.甲" or, written side by side, "A.甲 B.乙 C.丙"."""
    letter = match.group(1) or match.group(2)
    text = match.group(3)
    options = []
    cursor = 0
    for inline in _INLINE_OPTION.finditer(text):
        following = inline.group(1) or inline.group(2)
        if ord(following) != ord(letter) + 1:
            continue
        options.append((letter, text[cursor : inline.start()]))
        letter, cursor = following, inline.end()
    options.append((letter, text[cursor:]))
    return options


def _finish(draft: _Draft, letters: str, answer_line: int) -> ParsedItem:
    stem = "\n".join(draft.stem)
    item = ParsedItem(draft.line, label_for("", stem), problems=list(draft.problems))
    if len(draft.options) < 2:
        item.problems.append(Problem(_l("A choice question needs at least two options.")))
        return item
    indexes, problem = letters_to_indexes(letters, len(draft.options))
    if problem:
        item.problems.append(
            Problem(_l("Line %(line)d (ANSWER): %(problem)s", line=answer_line, problem=problem.message))
        )
        return item
    question = ParsedQuestion(type=SINGLE, stem=stem, options=draft.options)
    if len(indexes) == 1:
        question.answer = {"choice": indexes[0]}
    else:
        question.type, question.answer = MULTIPLE, {"choices": indexes}
    item.problems += finish_question(question)
    if not item.problems:
        item.question = question
    return item
