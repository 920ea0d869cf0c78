r"""Question banks and questions.

A question's content is JSON so the four types share one table:

- ``options``: list of option texts, in the bank's order (choice types, 2 to 26
  options, A–Z; for true/false ``["正确", "错误"]`` is implied and the list is empty;
  empty for fill-in).
- ``answer``: single ``{"choice": 2}`` (index into options); multiple
  ``{"choices": [0, 3]}`` (sorted, at least two); true/false ``{"value": true}``;
  fill-in ``{"blanks": [["答案一", "别名"], ["答案二"]]}`` (accepted answers per blank).
- Blanks in a fill-in ``stem`` are the markers ``{{1}}``, ``{{2}}``, ... : marker
  ``{{n}}`` is the input for ``answer["blanks"][n - 1]``. A fill-in stem holds
  each marker exactly once, one per blank (every way in, the importers and the
  edit form, turns ``____`` or an empty ``（ ）`` into markers and checks this);
  other question types never contain markers (their stems may show ``（ ）``
  as plain text). Render with ``re.sub(r"\{\{(\d+)\}\}", ...)``.
- ``tags`` (knowledge points) is the list shown and exported; ``QuestionTag``
  mirrors it row by row so questions can be filtered by tag with an index
  (``lms.exams.questions.banks.tag_clause``). Assigning ``question.tags`` keeps the two in
  step (the validator below); never mutate the list in place.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from lms.db import TimestampMixin, str_enum
from lms.extensions import db


class QuestionType(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"
    FILL = "fill"


class Outcome(enum.StrEnum):
    """How a response was graded."""

    CORRECT = "correct"
    PARTIAL = "partial"
    WRONG = "wrong"
    UNANSWERED = "unanswered"


class QuestionTag(db.Model):
    """One knowledge point of a question: the indexed mirror of ``Question.tags``."""

    __tablename__ = "question_tags"

    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)


class QuestionBank(TimestampMixin, db.Model):
    __tablename__ = "question_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    questions: Mapped[list[Question]] = relationship(back_populates="bank", order_by="Question.id")


class Question(TimestampMixin, db.Model):
    """A question; ``version`` grows on every edit (attempts keep their own snapshot)."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("question_banks.id", ondelete="CASCADE"), index=True)
    type: Mapped[QuestionType] = mapped_column(str_enum(QuestionType), index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    stem: Mapped[str] = mapped_column(sa.Text)
    options: Mapped[list] = mapped_column(sa.JSON, default=list)
    answer: Mapped[dict] = mapped_column(sa.JSON)
    points: Mapped[float] = mapped_column(default=1.0)
    difficulty: Mapped[int] = mapped_column(default=3)  # 1 (easy) .. 5 (hard)
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)  # knowledge points
    explanation: Mapped[str] = mapped_column(sa.Text, default="")  # 解析
    is_disabled: Mapped[bool] = mapped_column(default=False, index=True)
    version: Mapped[int] = mapped_column(default=1)

    bank: Mapped[QuestionBank] = relationship(back_populates="questions")
    tag_rows: Mapped[list[QuestionTag]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @validates("tags")
    def _mirror_tags(self, key: str, tags: list) -> list:
        """Keep ``tag_rows`` equal to ``tags`` (trimmed, without duplicates, in order)."""
        cleaned = list(dict.fromkeys(str(tag).strip()[:100] for tag in tags or () if str(tag).strip()))
        kept = [row for row in self.tag_rows if row.tag in cleaned]
        have = {row.tag for row in kept}
        self.tag_rows = kept + [QuestionTag(tag=tag) for tag in cleaned if tag not in have]
        return cleaned
