"""Question banks and questions.

A question's content is JSON so the four types share one table:

- ``options``: list of option texts, in the bank's order (choice types; for
  true/false ``["正确", "错误"]`` is implied and the list is empty).
- ``answer``: single ``{"choice": 2}`` (index into options); multiple
  ``{"choices": [0, 3]}``; true/false ``{"value": true}``; fill-in
  ``{"blanks": [["答案一", "别名"], ["答案二"]]}`` (accepted answers per blank).
"""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, str_enum
from lms.extensions import db


class QuestionType(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"
    FILL = "fill"


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
