"""Members' responses: parsing what a page sends, and the order options are shown in."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions.models import QuestionType
from lms.exams.quizzes.models import (
    AttemptQuestion,
)

MAX_BLANK_CHARS = 500


_INVALID = _l("This answer does not fit the question.")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_response(question_type: QuestionType, option_order: list[int], blanks: int, raw) -> dict | None:
    """Turn a posted answer (choices by shown position) into the stored form (the
    snapshot's own option indices). ``None`` or ``{}`` clears the answer.
    Raises ValidationFailed for anything that does not fit the question."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ValidationFailed(_INVALID)
    if question_type == QuestionType.SINGLE:
        choice = raw.get("choice")
        if not is_int(choice) or not 0 <= choice < len(option_order):
            raise ValidationFailed(_INVALID)
        return {"choice": option_order[choice]}
    if question_type == QuestionType.MULTIPLE:
        choices = raw.get("choices")
        if not isinstance(choices, list) or len(choices) > len(option_order):
            raise ValidationFailed(_INVALID)
        if any(not is_int(c) or not 0 <= c < len(option_order) for c in choices) or len(set(choices)) != len(choices):
            raise ValidationFailed(_INVALID)
        return {"choices": sorted(option_order[c] for c in choices)}
    if question_type == QuestionType.TRUE_FALSE:
        value = raw.get("value")
        if not isinstance(value, bool):
            raise ValidationFailed(_INVALID)
        return {"value": value}
    if question_type == QuestionType.FILL:
        texts = raw.get("blanks")
        if not isinstance(texts, list) or len(texts) != blanks or any(not isinstance(t, str) for t in texts):
            raise ValidationFailed(_INVALID)
        if any(len(t) > MAX_BLANK_CHARS for t in texts):
            raise ValidationFailed(_l("An answer is longer than %(n)d characters.", n=MAX_BLANK_CHARS))
        return {"blanks": texts}
    raise ValidationFailed(_INVALID)  # pragma: no cover


def to_shown_order(question_type: QuestionType, option_order: list[int], response: dict | None) -> dict | None:
    """A stored response with choices numbered as the member sees the options."""
    if not response:
        return None
    position = {original: shown for shown, original in enumerate(option_order or [])}
    if question_type == QuestionType.SINGLE and response.get("choice") in position:
        return {"choice": position[response["choice"]]}
    if question_type == QuestionType.MULTIPLE:
        return {"choices": sorted(position[c] for c in response.get("choices", []) if c in position)}
    return dict(response)


def shown_response(question: AttemptQuestion) -> dict | None:
    """The stored response in the order the member sees the options (for the page and JSON)."""
    return to_shown_order(QuestionType(question.snapshot.type), question.option_order or [], question.response)
