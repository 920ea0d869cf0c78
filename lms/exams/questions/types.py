"""The question-type registry: one class per type (DESIGN.md §4), the only place that knows a type.

Each ``QuestionKind`` has the type's label, and turns a posted response into the stored form
(``parse``), numbers a stored response as shown (``shown``), tells whether it is answered
(``is_answered``), grades it (``share``), fills the page's view of it (``show``) and gives its
key for export (``export_answers``). ``kind_of(question_type)`` returns the registered one; a new
type (ordering, matching, short essay) is one new subclass registered with ``register``, plus
its ``QuestionType`` value.

The grading rules, as pure functions: one response against one answer key.

Responses and keys use the JSON shapes of ``lms.exams.questions.models`` (indices into the
question's own option list, never the shuffled order):

- single ``{"choice": 2}``, true/false ``{"value": true}``: all or nothing;
- multiple ``{"choices": [0, 3]}``: all or nothing, or with partial credit
  (少选得一半, 错选不得分): a non-empty strict subset of the right options with
  no wrong one earns half the points; a key with per-option ``weights`` (percent, as
  imported from Moodle) earns the sum of the chosen options' weights, floored at 0 and
  capped at 100% (Moodle's multiple-response rule);
- fill-in ``{"blanks": ["text", ...]}`` against ``{"blanks": [[accepted, ...], ...]}``:
  each blank earns its share of the points when it matches one accepted answer
  after trimming, collapsing inner whitespace, folding full-width characters to
  half-width (NFKC) and folding case.

A missing or empty response is unanswered and earns nothing.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from lms.errors import ValidationFailed
from lms.exams.questions import question_html
from lms.exams.questions.models import Outcome, QuestionType

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


MAX_BLANK_CHARS = 500
# Option letters as shown: a question has 2 to 26 options, A to Z. The one definition
# of the letters (the importers, the forms and the exports read them from here).
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_OPTIONS = len(LETTERS)

_INVALID = _l("This answer does not fit the question.")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def letter(shown: int) -> str:
    """The letter of the option shown at ``shown`` (0-based)."""
    return LETTERS[shown] if 0 <= shown < len(LETTERS) else str(shown + 1)


@dataclass
class OptionView:
    index: int  # position as shown
    letter: str
    text: str
    chosen: bool
    correct: bool | None = None  # None: not revealed


@dataclass
class BlankView:
    index: int
    value: str
    accepted: list[str] | None = None  # None: not revealed
    right: bool | None = None


class QuestionKind(ABC):
    """What one question type does; subclasses override what differs."""

    type: QuestionType
    label = _l("Question")
    has_options = False  # members choose among the question's options (shuffled per attempt)

    def blanks(self, answer: dict) -> int:
        """How many blanks a member fills in (0: none)."""
        return 0

    def reveal(self, key: dict, position: dict[int, int]) -> dict:
        """The key as shown to a member once answered (choices numbered as shown)."""
        return self.shown(key, position)

    def parse(self, raw: dict, option_order: list[int], blanks: int) -> dict:
        """A posted answer (choices by shown position) in the stored form; ValidationFailed if it does not fit."""
        raise ValidationFailed(_INVALID)

    def shown(self, response: dict, position: dict[int, int]) -> dict:
        """A stored response with choices numbered as shown (``position``: original -> shown)."""
        return dict(response)

    @abstractmethod
    def is_answered(self, response: dict) -> bool:
        """Whether the member gave an answer (an empty or partial response counts as not answered)."""

    @abstractmethod
    def share(self, key: dict, response: dict, *, partial_credit: bool) -> float:
        """The share of the points an answered response earns (0 to 1)."""

    @abstractmethod
    def show(
        self,
        view,
        *,
        stem: str,
        options: list[str],
        option_order: list[int],
        response: dict,
        key: dict | None,
        answer: dict,
    ) -> None:
        """Fill the page's view (``options``, ``blanks``, ``tf_value``...) of one question; ``key`` None: hidden."""

    @abstractmethod
    def export_answers(self, answer: dict) -> list:
        """The answer key as the JSON export writes it."""


class ChoiceKind(QuestionKind):
    has_options = True

    @abstractmethod
    def _chosen(self, response: dict) -> set:
        """The chosen option indexes of a response or key."""

    def show(self, view, *, stem, options, option_order, response, key, answer) -> None:
        chosen = self._chosen(response)
        right = self._chosen(key) if key is not None else set()
        for shown, original in enumerate(option_order or []):
            view.options.append(
                OptionView(
                    index=shown,
                    letter=letter(shown),
                    text=options[original],
                    chosen=shown in chosen,
                    correct=(original in right) if key is not None else None,
                )
            )


class SingleChoice(ChoiceKind):
    """All or nothing: ``{"choice": 2}``."""

    type = QuestionType.SINGLE
    label = _l("Single choice")

    def parse(self, raw, option_order, blanks):
        choice = raw.get("choice")
        if not is_int(choice) or not 0 <= choice < len(option_order):
            raise ValidationFailed(_INVALID)
        return {"choice": option_order[choice]}

    def shown(self, response, position):
        if response.get("choice") in position:
            return {"choice": position[response["choice"]]}
        return dict(response)

    def _chosen(self, response):
        return {response.get("choice")}

    def is_answered(self, response):
        return isinstance(response.get("choice"), int)

    def share(self, key, response, *, partial_credit):
        return 1.0 if response.get("choice") == key.get("choice") else 0.0

    def export_answers(self, answer):
        return [LETTERS[answer["choice"]]]


class MultipleChoice(ChoiceKind):
    """``{"choices": [0, 3]}``: all or nothing, or half for a strict subset with partial credit."""

    type = QuestionType.MULTIPLE
    label = _l("Multiple choice")

    def parse(self, raw, option_order, blanks):
        choices = raw.get("choices")
        if not isinstance(choices, list) or len(choices) > len(option_order):
            raise ValidationFailed(_INVALID)
        if any(not is_int(c) or not 0 <= c < len(option_order) for c in choices) or len(set(choices)) != len(choices):
            raise ValidationFailed(_INVALID)
        return {"choices": sorted(option_order[c] for c in choices)}

    def shown(self, response, position):
        return {"choices": sorted(position[c] for c in response.get("choices", []) if c in position)}

    def _chosen(self, response):
        return set(response.get("choices", []))

    def is_answered(self, response):
        return bool(response.get("choices"))

    def share(self, key, response, *, partial_credit):
        right = set(key.get("choices") or [])
        chosen = set(response.get("choices") or [])
        weights = key.get("weights")
        if weights:  # per-option percent (Moodle's multiple response): the chosen weights' sum in 0..100%
            total = sum(weights[c] for c in chosen if isinstance(c, int) and 0 <= c < len(weights))
            return max(0.0, min(1.0, round(total, 6) / 100))
        if chosen == right:
            return 1.0
        if partial_credit and chosen and chosen < right:
            return 0.5
        return 0.0

    def export_answers(self, answer):
        return [LETTERS[i] for i in answer["choices"]]


class TrueFalse(QuestionKind):
    """All or nothing: ``{"value": true}``."""

    type = QuestionType.TRUE_FALSE
    label = _l("True or false")

    def parse(self, raw, option_order, blanks):
        value = raw.get("value")
        if not isinstance(value, bool):
            raise ValidationFailed(_INVALID)
        return {"value": value}

    def is_answered(self, response):
        return isinstance(response.get("value"), bool)

    def reveal(self, key, position):
        return {"value": bool(key.get("value"))}

    def share(self, key, response, *, partial_credit):
        return 1.0 if response.get("value") is bool(key.get("value")) else 0.0

    def show(self, view, *, stem, options, option_order, response, key, answer) -> None:
        value = response.get("value")
        view.tf_value = value if isinstance(value, bool) else None
        if key is not None:
            view.tf_correct = bool(key.get("value"))

    def export_answers(self, answer):
        return [answer["value"]]


class FillIn(QuestionKind):
    """``{"blanks": ["text", ...]}``: each blank earns its share when it matches an accepted answer."""

    type = QuestionType.FILL
    label = _l("Fill in the blanks")

    def parse(self, raw, option_order, blanks):
        texts = raw.get("blanks")
        if not isinstance(texts, list) or len(texts) != blanks or any(not isinstance(t, str) for t in texts):
            raise ValidationFailed(_INVALID)
        if any(len(t) > MAX_BLANK_CHARS for t in texts):
            raise ValidationFailed(_l("An answer is longer than %(n)d characters.", n=MAX_BLANK_CHARS))
        return {"blanks": texts}

    def blanks(self, answer):
        return blank_count(answer)

    def reveal(self, key, position):
        return {"blanks": [list(map(str, accepted)) for accepted in key.get("blanks", [])]}

    def is_answered(self, response):
        return any(normalize_blank(str(b)) for b in response.get("blanks") or [])

    def share(self, key, response, *, partial_credit):
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

    def show(self, view, *, stem, options, option_order, response, key, answer) -> None:
        count = blank_count(answer)
        key_blanks = (key or {}).get("blanks") or []
        if question_html.is_html(stem):  # split the cleaned whole, so the pieces around the inputs stay balanced
            parts = stem_parts(str(question_html.html_of(stem)), count)
            # pieces of HTML cleaned as a whole by nh3
            view.stem_parts = [Markup(p) if isinstance(p, str) else p for p in parts] if parts else None  # noqa: S704
        else:
            view.stem_parts = stem_parts(stem, count)
        given = list(response.get("blanks") or [])
        for index in range(count):
            value = given[index] if index < len(given) else ""
            blank = BlankView(index=index, value=value)
            if key is not None:
                accepted = [str(a) for a in key_blanks[index]] if index < len(key_blanks) else []
                blank.accepted = accepted
                blank.right = bool(value) and normalize_blank(value) in {normalize_blank(a) for a in accepted}
            view.blanks.append(blank)

    def export_answers(self, answer):
        return answer["blanks"]


REGISTRY: dict[QuestionType, QuestionKind] = {}


def register(kind: QuestionKind) -> QuestionKind:
    REGISTRY[kind.type] = kind
    return kind


for _kind in (SingleChoice(), MultipleChoice(), TrueFalse(), FillIn()):
    register(_kind)


def kind_of(question_type) -> QuestionKind:
    return REGISTRY[QuestionType(question_type)]


def type_labels() -> dict[QuestionType, object]:
    """Every registered type with its label, in the enum's order (for forms and filters)."""
    return {t: REGISTRY[t].label for t in QuestionType if t in REGISTRY}


def is_answered(question_type: QuestionType, response: dict | None) -> bool:
    """True when ``response`` holds an actual answer (not cleared, not all blanks empty)."""
    if not response or question_type not in REGISTRY:
        return False
    return kind_of(question_type).is_answered(response)


def _points(share: float, max_points: float) -> float:
    return round(share * max_points, 4)


def _outcome(share: float) -> Outcome:
    if share >= 1:
        return Outcome.CORRECT
    return Outcome.PARTIAL if share > 0 else Outcome.WRONG


def grade(
    question_type: QuestionType, key: dict, response: dict | None, max_points: float, *, partial_credit: bool = False
) -> Grade:
    """Grade one response; see the module docstring for the rule of each type."""
    if not is_answered(question_type, response):
        return Grade(0.0, max_points, Outcome.UNANSWERED)
    share = kind_of(question_type).share(key, response, partial_credit=partial_credit)
    return Grade(_points(share, max_points), max_points, _outcome(share))


def parse_response(question_type: QuestionType, option_order: list[int], blanks: int, raw) -> dict | None:
    """Turn a posted answer (choices by shown position) into the stored form (the
    snapshot's own option indices). ``None`` or ``{}`` clears the answer.
    Raises ValidationFailed for anything that does not fit the question."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ValidationFailed(_INVALID)
    return kind_of(question_type).parse(raw, option_order, blanks)


def to_shown_order(question_type: QuestionType, option_order: list[int], response: dict | None) -> dict | None:
    """A stored response with choices numbered as the member sees the options."""
    if not response:
        return None
    position = {original: shown for shown, original in enumerate(option_order or [])}
    return kind_of(question_type).shown(response, position)


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
