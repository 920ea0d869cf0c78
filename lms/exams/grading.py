"""Grading rules of DESIGN.md §4 as pure functions: one response against one answer key.

Responses and keys use the JSON shapes of ``lms.exams.models`` (indices into the
question's own option list, never the shuffled order):

- single ``{"choice": 2}``, true/false ``{"value": true}``: all or nothing;
- multiple ``{"choices": [0, 3]}``: all or nothing, or with partial credit
  (少选得一半, 错选不得分): a non-empty strict subset of the right options with
  no wrong one earns half the points; a key with per-option ``weights``
  (percent, as imported from Moodle) earns the sum of the chosen options'
  weights, floored at 0 and capped at 100% (Moodle's multiple-response rule);
- fill-in ``{"blanks": ["text", ...]}`` against ``{"blanks": [[accepted, ...], ...]}``:
  each blank earns its share of the points when it matches one accepted answer
  after trimming, collapsing inner whitespace, folding full-width characters to
  half-width (NFKC) and folding case.

A missing or empty response is unanswered and earns nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lms.exams.models import Outcome, QuestionType

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Grade:
    points: float
    max_points: float
    outcome: Outcome


def normalize_blank(text: str) -> str:
    """The comparable form of a fill-in answer: NFKC (全角→半角), trimmed, single-spaced, case-folded."""
    folded = unicodedata.normalize("NFKC", text or "")
    return _SPACES.sub(" ", folded).strip().casefold()


def is_answered(question_type: QuestionType, response: dict | None) -> bool:
    """True when ``response`` holds an actual answer (not cleared, not all blanks empty)."""
    if not response:
        return False
    if question_type == QuestionType.SINGLE:
        return isinstance(response.get("choice"), int)
    if question_type == QuestionType.MULTIPLE:
        return bool(response.get("choices"))
    if question_type == QuestionType.TRUE_FALSE:
        return isinstance(response.get("value"), bool)
    if question_type == QuestionType.FILL:
        return any(normalize_blank(str(b)) for b in response.get("blanks") or [])
    return False


def _points(share: float, max_points: float) -> float:
    return round(share * max_points, 4)


def _outcome(share: float) -> Outcome:
    if share >= 1:
        return Outcome.CORRECT
    return Outcome.PARTIAL if share > 0 else Outcome.WRONG


def _single_share(key: dict, response: dict) -> float:
    return 1.0 if response.get("choice") == key.get("choice") else 0.0


def _true_false_share(key: dict, response: dict) -> float:
    return 1.0 if response.get("value") is bool(key.get("value")) else 0.0


def _multiple_share(key: dict, response: dict, partial_credit: bool) -> float:
    right = set(key.get("choices") or [])
    chosen = set(response.get("choices") or [])
    weights = key.get("weights")
    if weights:
        total = sum(weights[c] for c in chosen if isinstance(c, int) and 0 <= c < len(weights))
        return max(0.0, min(1.0, round(total, 6) / 100))
    if chosen == right:
        return 1.0
    if partial_credit and chosen and chosen < right:
        return 0.5
    return 0.0


def _fill_share(key: dict, response: dict) -> float:
    accepted = key.get("blanks") or []
    given = list(response.get("blanks") or [])
    if not accepted:
        return 0.0
    right = 0
    for index, answers in enumerate(accepted):
        text = normalize_blank(str(given[index])) if index < len(given) else ""
        if text and text in {normalize_blank(str(a)) for a in answers}:
            right += 1
    return right / len(accepted)


def grade(
    question_type: QuestionType, key: dict, response: dict | None, max_points: float, *, partial_credit: bool = False
) -> Grade:
    """Grade one response; see the module docstring for the rule of each type."""
    if not is_answered(question_type, response):
        return Grade(0.0, max_points, Outcome.UNANSWERED)
    if question_type == QuestionType.SINGLE:
        share = _single_share(key, response)
    elif question_type == QuestionType.TRUE_FALSE:
        share = _true_false_share(key, response)
    elif question_type == QuestionType.MULTIPLE:
        share = _multiple_share(key, response, partial_credit)
    elif question_type == QuestionType.FILL:
        share = _fill_share(key, response)
    else:  # pragma: no cover - the enum has no other member
        raise ValueError(f"unknown question type {question_type}")
    return Grade(_points(share, max_points), max_points, _outcome(share))


def blank_count(key: dict) -> int:
    """How many blanks a fill-in answer key has (at least one)."""
    return max(len(key.get("blanks") or []), 1)


# Blank markers a fill-in stem may carry: {{1}} (numbered), ____ (3+ underscores,
# half- or full-width), and empty brackets （ ） / ( ).
_NUMBERED = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_PLAIN = re.compile(r"_{3,}|＿{2,}|（\s*）|\(\s*\)")


def stem_parts(stem: str, blanks: int) -> list[str | int] | None:
    """Split a fill-in stem into text and blank numbers (0-based) where its markers are.

    Numbered markers ``{{n}}`` must name exactly blanks 1..``blanks``; otherwise
    unnumbered markers are used in order and must number ``blanks``. Returns None
    when the markers do not match the key, so the caller shows the blanks below
    the stem instead.
    """
    numbered = list(_NUMBERED.finditer(stem))
    if numbered:
        numbers = [int(m.group(1)) for m in numbered]
        if sorted(numbers) != list(range(1, blanks + 1)):
            return None
        matches = [(m, int(m.group(1)) - 1) for m in numbered]
    else:
        plain = list(_PLAIN.finditer(stem))
        if len(plain) != blanks:
            return None
        matches = [(m, index) for index, m in enumerate(plain)]
    parts: list[str | int] = []
    cursor = 0
    for match, index in matches:
        parts.append(stem[cursor : match.start()])
        parts.append(index)
        cursor = match.end()
    parts.append(stem[cursor:])
    return parts
