"""Quizzes and attempts (DESIGN.md §4).

A Quiz takes its questions from fixed picks (QuizQuestion) and draw rules
(QuizDrawRule). Each QuizAttempt freezes what the member sees: one
AttemptQuestion per question, pointing at an immutable QuestionSnapshot
(stem, options and key as they were when drawn) plus the attempt's own option
order, points, response and grade. Editing or deleting a bank question never
changes a taken attempt.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.auth.audience import AudienceMixin
from lms.auth.models import User
from lms.db import TimestampMixin, str_enum, utcnow_default
from lms.exams.questions.models import Outcome, Question, QuestionBank, QuestionType
from lms.extensions import db


class QuizKind(enum.StrEnum):
    QUIZ = "quiz"
    NOTEBOOK = "notebook"  # the system quiz behind every member's wrong-answer practice (错题练习)
    CONTEST = "contest"  # the questions, timing and attempts of a knowledge contest (知识竞赛)


class KeptGrade(enum.StrEnum):
    HIGHEST = "highest"
    LAST = "last"


class ReviewPolicy(enum.StrEnum):
    SCORE_ONLY = "score_only"
    AFTER_SUBMIT = "after_submit"  # answers and explanations once the attempt is final
    AFTER_CLOSE = "after_close"  # score at once, answers once the quiz has closed for everyone


class OverdueHandling(enum.StrEnum):
    AUTO_SUBMIT = "auto_submit"  # graded at the deadline with what was saved (the default)
    GRACE_PERIOD = "grace_period"  # may still be submitted (not changed) for a while; else not counted
    NOT_COUNTED = "not_counted"  # must be submitted by the deadline, else not counted


class AttemptState(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"  # graded
    ABANDONED = "abandoned"  # time ran out under grace_period/not_counted: never graded, never counted


class FinishReason(enum.StrEnum):
    SUBMITTED = "submitted"
    TIME_UP = "time_up"
    ABANDONED = "abandoned"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Quiz(AudienceMixin, TimestampMixin, db.Model):
    """A quiz or exam: its questions, window, timing, grading and review rules."""

    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[QuizKind] = mapped_column(str_enum(QuizKind), default=QuizKind.QUIZ, index=True)
    # Names the system quizzes (the wrong-answer practice); NULL for quizzes admins make.
    system_key: Mapped[str | None] = mapped_column(sa.String(50), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    is_published: Mapped[bool] = mapped_column(default=False, index=True)
    is_practice: Mapped[bool] = mapped_column(default=False)  # untimed, unlimited, not counted
    time_limit_seconds: Mapped[int | None]
    open_at: Mapped[datetime | None]
    close_at: Mapped[datetime | None]
    attempts_allowed: Mapped[int] = mapped_column(default=1)  # 0: unlimited
    pass_percent: Mapped[float] = mapped_column(default=60.0)
    kept_grade: Mapped[KeptGrade] = mapped_column(str_enum(KeptGrade), default=KeptGrade.HIGHEST)
    shuffle_questions: Mapped[bool] = mapped_column(default=False)
    shuffle_options: Mapped[bool] = mapped_column(default=False)
    partial_credit: Mapped[bool] = mapped_column(default=False)  # multiple choice: 少选得一半, 错选不得分
    review_policy: Mapped[ReviewPolicy] = mapped_column(str_enum(ReviewPolicy), default=ReviewPolicy.AFTER_SUBMIT)
    wait_seconds: Mapped[int] = mapped_column(default=0)  # between the end of one attempt and the next
    overdue_handling: Mapped[OverdueHandling] = mapped_column(
        str_enum(OverdueHandling), default=OverdueHandling.AUTO_SUBMIT
    )
    grace_period_seconds: Mapped[int] = mapped_column(default=0)  # only with OverdueHandling.GRACE_PERIOD
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    fixed_questions: Mapped[list[QuizQuestion]] = relationship(
        back_populates="quiz", order_by="QuizQuestion.position", cascade="all, delete-orphan"
    )
    draw_rules: Mapped[list[QuizDrawRule]] = relationship(
        back_populates="quiz", order_by="QuizDrawRule.position", cascade="all, delete-orphan"
    )
    overrides: Mapped[list[QuizOverride]] = relationship(back_populates="quiz", cascade="all, delete-orphan")

    @property
    def is_timed(self) -> bool:
        return bool(self.time_limit_seconds) and not self.is_practice

    def __repr__(self) -> str:
        return f"<Quiz {self.id} {self.title}>"


class QuizQuestion(db.Model):
    """A question every attempt of the quiz gets (``points`` NULL: the question's own points)."""

    __tablename__ = "quiz_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    points: Mapped[float | None]

    quiz: Mapped[Quiz] = relationship(back_populates="fixed_questions")
    question: Mapped[Question] = relationship()

    __table_args__ = (sa.UniqueConstraint("quiz_id", "question_id"),)


class QuizDrawRule(db.Model):
    """Draw ``count`` enabled questions (of ``question_type``, tagged ``tag``, of ``difficulty``,
    from ``bank``) at ``points`` each."""

    __tablename__ = "quiz_draw_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("question_banks.id", ondelete="CASCADE"), index=True)
    question_type: Mapped[QuestionType | None] = mapped_column(str_enum(QuestionType))
    tag: Mapped[str] = mapped_column(sa.String(100), default="")
    difficulty: Mapped[int | None]  # 1..5; NULL: any difficulty
    count: Mapped[int] = mapped_column(default=1)
    points: Mapped[float] = mapped_column(default=1.0)

    quiz: Mapped[Quiz] = relationship(back_populates="draw_rules")
    bank: Mapped[QuestionBank | None] = relationship()


class QuizOverride(db.Model):
    """One member's own time limit, attempts or dates for a quiz (NULL: the quiz's setting)."""

    __tablename__ = "quiz_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    time_limit_seconds: Mapped[int | None]
    attempts_allowed: Mapped[int | None]
    open_at: Mapped[datetime | None]
    close_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(sa.String(200), default="")

    quiz: Mapped[Quiz] = relationship(back_populates="overrides")
    user: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("quiz_id", "user_id"),)


class QuestionSnapshot(db.Model):
    """A question's content as drawn into attempts; never changed once written.

    Attempts that drew the same content share one row (unique by question and
    content hash), so a bank used by thousands of attempts stores each version once.
    """

    __tablename__ = "question_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("questions.id", ondelete="SET NULL"), index=True)
    question_version: Mapped[int] = mapped_column(default=1)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    type: Mapped[QuestionType] = mapped_column(str_enum(QuestionType))
    stem: Mapped[str] = mapped_column(sa.Text)
    options: Mapped[list] = mapped_column(sa.JSON, default=list)
    answer: Mapped[dict] = mapped_column(sa.JSON)
    explanation: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_default)

    __table_args__ = (sa.UniqueConstraint("question_id", "content_hash"),)


class QuizAttempt(db.Model):
    """One member's attempt at a quiz.

    ``open_slot`` is 1 while the attempt is in progress and NULL afterwards; the
    unique (quiz, user, open_slot) constraint lets the database itself refuse a
    second open attempt (NULLs never collide, on SQLite and PostgreSQL alike).
    """

    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(default=1)  # 1, 2, ... per member and quiz
    state: Mapped[AttemptState] = mapped_column(str_enum(AttemptState), default=AttemptState.IN_PROGRESS)
    open_slot: Mapped[int | None] = mapped_column(default=1)
    is_practice: Mapped[bool] = mapped_column(default=False)  # practice attempts never count
    started_at: Mapped[datetime]
    deadline: Mapped[datetime | None]  # min(started_at + time limit, close); NULL: untimed and no close
    # When the finalizing job may close it: the deadline plus the network grace (and
    # the quiz's grace period under OverdueHandling.GRACE_PERIOD).
    finalize_after: Mapped[datetime | None]
    last_activity_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    finish_reason: Mapped[FinishReason | None] = mapped_column(str_enum(FinishReason))
    score: Mapped[float | None]
    max_score: Mapped[float] = mapped_column(default=0.0)
    score_percent: Mapped[float | None]
    time_used_seconds: Mapped[int | None]

    quiz: Mapped[Quiz] = relationship()
    user: Mapped[User] = relationship()
    questions: Mapped[list[AttemptQuestion]] = relationship(
        back_populates="attempt", order_by="AttemptQuestion.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("quiz_id", "user_id", "open_slot"),
        sa.UniqueConstraint("quiz_id", "user_id", "number"),
        sa.Index("ix_quiz_attempts_state_finalize_after", "state", "finalize_after"),
    )

    @property
    def is_open(self) -> bool:
        return self.state == AttemptState.IN_PROGRESS

    @property
    def counted(self) -> bool:
        return self.state == AttemptState.FINISHED and not self.is_practice

    def __repr__(self) -> str:
        return f"<QuizAttempt {self.id} quiz={self.quiz_id} user={self.user_id} {self.state}>"


class AttemptQuestion(db.Model):
    """A question as placed in one attempt: order, points, the member's response and its grade.

    ``option_order`` lists the snapshot's option indices in the order shown;
    ``response`` is kept in the snapshot's own index space. ``client_seq`` is the
    newest save applied: an older or replayed save never overwrites a newer one.
    """

    __tablename__ = "attempt_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("quiz_attempts.id", ondelete="CASCADE"))
    position: Mapped[int]  # 1-based, as shown
    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("question_snapshots.id"), index=True)
    question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("questions.id", ondelete="SET NULL"), index=True)
    points: Mapped[float] = mapped_column(default=1.0)
    option_order: Mapped[list] = mapped_column(sa.JSON, default=list)
    response: Mapped[dict | None] = mapped_column(sa.JSON)
    client_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    saved_at: Mapped[datetime | None]
    time_spent_seconds: Mapped[int] = mapped_column(default=0)
    score: Mapped[float | None]
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome))

    attempt: Mapped[QuizAttempt] = relationship(back_populates="questions")
    snapshot: Mapped[QuestionSnapshot] = relationship()

    __table_args__ = (sa.UniqueConstraint("attempt_id", "position"),)


class QuestionReport(TimestampMixin, db.Model):
    """A member's report of an error in a question (纠错), and the admin's resolution."""

    __tablename__ = "question_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("questions.id", ondelete="SET NULL"), index=True)
    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("question_snapshots.id"))
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("quiz_attempts.id", ondelete="SET NULL"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ReportStatus] = mapped_column(str_enum(ReportStatus), default=ReportStatus.OPEN, index=True)
    resolution: Mapped[str] = mapped_column(sa.Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]

    snapshot: Mapped[QuestionSnapshot] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])


class WrongAnswer(db.Model):
    """An entry of a member's wrong-answer notebook (错题本): one per (member, question).

    Points at the member's latest wrong attempt question (what they saw and
    answered); ``mastered_at`` is set when they answer it right in practice or
    remove it, and cleared when they get it wrong again.
    """

    __tablename__ = "wrong_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(sa.ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    attempt_question_id: Mapped[int] = mapped_column(sa.ForeignKey("attempt_questions.id", ondelete="CASCADE"))
    wrong_count: Mapped[int] = mapped_column(default=1)
    last_wrong_at: Mapped[datetime]
    mastered_at: Mapped[datetime | None]

    attempt_question: Mapped[AttemptQuestion] = relationship()

    __table_args__ = (sa.UniqueConstraint("user_id", "question_id"),)
