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
from lms.exams.questions.types import BlankView, OptionView
from lms.exams.quizzes.models import AttemptQuestion

OUTCOME_LABELS = {
    Outcome.CORRECT: _l("Correct"),
    Outcome.PARTIAL: _l("Partly correct"),
    Outcome.WRONG: _l("Wrong"),
    Outcome.UNANSWERED: _l("Not answered"),
}


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


def shown_response(question: AttemptQuestion) -> dict | None:
    """The stored response in the order the member sees the options (for the page and JSON)."""
    return grading.to_shown_order(QuestionType(question.snapshot.type), question.option_order or [], question.response)


def question_view(question: AttemptQuestion, *, show_answers: bool, show_score: bool = False) -> QuestionView:
    """One question of an attempt as the page shows it (see the module docstring)."""
    snapshot = question.snapshot
    kind = QuestionType(snapshot.type)
    rules = grading.kind_of(kind)
    response = shown_response(question) or {}
    view = QuestionView(
        position=question.position,
        type=str(kind),
        type_label=str(rules.label),
        stem=snapshot.stem,
        stem_parts=None,
        points=question.points,
        seq=question.client_seq,
        answered=grading.is_answered(kind, question.response),
        seconds=question.time_spent_seconds,
    )
    key = snapshot.answer if show_answers else None
    rules.show(
        view,
        stem=snapshot.stem,
        options=snapshot.options,
        option_order=question.option_order or [],
        response=response,
        key=key,
        answer=snapshot.answer,
    )
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
