"""What the quiz pages show of an attempt's questions, built in one place.

The answer key and explanation enter a ``QuestionView`` only when the caller
passes ``show_answers=True`` (the attempt is final and the review policy allows
it, or an admin is looking): templates cannot leak what they are never given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from lms.exams.questions import types as grading
from lms.exams.questions.models import Outcome, QuestionType
from lms.exams.quizzes.models import AttemptQuestion
from lms.exams.quizzes.responses import shown_response

TYPE_LABELS = {
    QuestionType.SINGLE: _l("Single choice"),
    QuestionType.MULTIPLE: _l("Multiple choice"),
    QuestionType.TRUE_FALSE: _l("True or false"),
    QuestionType.FILL: _l("Fill in the blanks"),
}

OUTCOME_LABELS = {
    Outcome.CORRECT: _l("Correct"),
    Outcome.PARTIAL: _l("Partly correct"),
    Outcome.WRONG: _l("Wrong"),
    Outcome.UNANSWERED: _l("Not answered"),
}

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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


@dataclass
class QuestionView:
    position: int
    type: str
    type_label: str
    stem: str
    stem_parts: list | None  # fill-in: text and blank numbers, or None (blanks go below the stem)
    points: float
    seq: int
    answered: bool
    options: list[OptionView] = field(default_factory=list)
    blanks: list[BlankView] = field(default_factory=list)
    tf_value: bool | None = None
    tf_correct: bool | None = None  # None: not revealed
    score: float | None = None
    outcome: str | None = None
    outcome_label: str | None = None
    explanation: str | None = None
    seconds: int = 0


def question_view(question: AttemptQuestion, *, show_answers: bool, show_score: bool = False) -> QuestionView:
    """One question of an attempt as the page shows it (see the module docstring)."""
    snapshot = question.snapshot
    kind = QuestionType(snapshot.type)
    response = shown_response(question) or {}
    view = QuestionView(
        position=question.position,
        type=str(kind),
        type_label=str(TYPE_LABELS[kind]),
        stem=snapshot.stem,
        stem_parts=None,
        points=question.points,
        seq=question.client_seq,
        answered=grading.is_answered(kind, question.response),
        seconds=question.time_spent_seconds,
    )
    key = snapshot.answer if show_answers else None
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        chosen = {response.get("choice")} if kind == QuestionType.SINGLE else set(response.get("choices", []))
        right = set()
        if key is not None:
            right = {key.get("choice")} if kind == QuestionType.SINGLE else set(key.get("choices", []))
        for shown, original in enumerate(question.option_order or []):
            view.options.append(
                OptionView(
                    index=shown,
                    letter=LETTERS[shown] if shown < len(LETTERS) else str(shown + 1),
                    text=snapshot.options[original],
                    chosen=shown in chosen,
                    correct=(original in right) if key is not None else None,
                )
            )
    elif kind == QuestionType.TRUE_FALSE:
        value = response.get("value")
        view.tf_value = value if isinstance(value, bool) else None
        if key is not None:
            view.tf_correct = bool(key.get("value"))
    else:
        count = grading.blank_count(snapshot.answer)
        key_blanks = (key or {}).get("blanks") or []
        view.stem_parts = grading.stem_parts(snapshot.stem, count)
        given = list(response.get("blanks") or [])
        for index in range(count):
            value = given[index] if index < len(given) else ""
            blank = BlankView(index=index, value=value)
            if key is not None:
                accepted = [str(a) for a in key_blanks[index]] if index < len(key_blanks) else []
                normalized = {grading.normalize_blank(a) for a in accepted}
                blank.accepted = accepted
                blank.right = bool(value) and grading.normalize_blank(value) in normalized
            view.blanks.append(blank)
    if show_score or show_answers:
        view.score = question.score
        if question.outcome is not None:
            view.outcome = str(question.outcome)
            view.outcome_label = str(OUTCOME_LABELS[Outcome(question.outcome)])
    if show_answers:
        view.explanation = snapshot.explanation or ""
    return view


def question_views(questions, *, show_answers: bool, show_score: bool = False) -> list[QuestionView]:
    """Every question of an attempt, in order."""
    return [question_view(q, show_answers=show_answers, show_score=show_score) for q in questions]


def format_seconds(seconds: int | None) -> str:
    """``1:05:09`` / ``5:09`` for durations on the pages."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
