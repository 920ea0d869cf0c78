"""Knowledge contests and challenge mode (DESIGN.md §5).

A Contest is a Quiz of kind CONTEST (its questions, window, audience, time limit
and attempts live on the quiz, so attempts are ordinary QuizAttempts) plus what a
contest adds: the banner, how questions are drawn, the board's visibility,
prizes, and, once it has closed, the frozen standings (ContestStanding and
ContestBranchStanding: copies, never recomputed). ContestEntry records each
contest attempt with its fair-play counters. Challenge mode (挑战答题) is a
separate always-open game: Challenge and ChallengeRun.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, str_enum, utcnow_default
from lms.exams.quizzes.models import Quiz
from lms.extensions import db


class BoardVisibility(enum.StrEnum):
    LIVE = "live"  # the board is public and live for the whole contest
    FROZEN = "frozen"  # public, but frozen for the last ``freeze_minutes`` (as CTFd's freeze)
    HIDDEN = "hidden"  # hidden until the final standings are out


class DrawMode(enum.StrEnum):
    SAME = "same"  # one set for everyone, drawn once when the contest is published
    PER_MEMBER = "per_member"  # drawn for each member by the draw rules (the same mix of difficulty)


class Contest(TimestampMixin, db.Model):
    """A knowledge contest (知识竞赛): a contest quiz and its board, prizes and final standings."""

    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(sa.ForeignKey("quizzes.id", ondelete="CASCADE"), unique=True)
    banner_name: Mapped[str | None] = mapped_column(sa.String(60))  # generated file name under MEDIA_ROOT
    draw_mode: Mapped[DrawMode] = mapped_column(str_enum(DrawMode), default=DrawMode.SAME)
    # SAME: the set every attempt gets, as [[question_id, points], ...] in order (drawn at publishing).
    frozen_draw: Mapped[list] = mapped_column(sa.JSON, default=list)
    board_visibility: Mapped[BoardVisibility] = mapped_column(str_enum(BoardVisibility), default=BoardVisibility.LIVE)
    freeze_minutes: Mapped[int] = mapped_column(default=0)
    board_size: Mapped[int] = mapped_column(default=20)  # rows of the public board (a member always sees their own)
    certificate_top_n: Mapped[int] = mapped_column(default=3)
    prizes: Mapped[str] = mapped_column(sa.Text, default="")
    # Set by the scheduler job: when the audience was told the contest is open, and when
    # the contest was closed (open attempts finalized, standings frozen).
    opened_at: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None] = mapped_column(index=True)

    quiz: Mapped[Quiz] = relationship(lazy="joined", innerjoin=True)

    def __repr__(self) -> str:
        return f"<Contest {self.id} quiz={self.quiz_id}>"


class ContestEntry(db.Model):
    """One attempt at a contest, with its fair-play counters.

    ``once_slot`` is 1 in a contest that allows one attempt and NULL otherwise:
    the unique (contest, user, once_slot) constraint lets the database itself
    refuse a member's second attempt at a one-attempt contest.
    """

    __tablename__ = "contest_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(sa.ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("quiz_attempts.id", ondelete="CASCADE"), unique=True)
    once_slot: Mapped[int | None]
    hidden_count: Mapped[int] = mapped_column(default=0)  # page hidden (tab switched, app left) while answering
    last_hidden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow_default)

    __table_args__ = (
        sa.UniqueConstraint("contest_id", "user_id", "once_slot"),
        sa.CheckConstraint("once_slot IS NULL OR once_slot = 1", name="once_slot_is_one"),
    )


class ContestStanding(db.Model):
    """A row of a contest's final standings, copied at close: later edits change nothing here."""

    __tablename__ = "contest_standings"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(sa.ForeignKey("contests.id", ondelete="CASCADE"))
    rank: Mapped[int]
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("quiz_attempts.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(sa.String(100))
    username: Mapped[str] = mapped_column(sa.String(80), default="")
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id", ondelete="SET NULL"))
    branch_name: Mapped[str] = mapped_column(sa.String(200), default="")
    score: Mapped[float]
    max_score: Mapped[float]
    score_percent: Mapped[float]
    time_used_seconds: Mapped[int]
    submitted_at: Mapped[datetime]
    hidden_count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("contest_id", "user_id"),
        sa.Index("ix_contest_standings_contest_id_rank", "contest_id", "rank"),
    )


class ContestBranchStanding(db.Model):
    """A row of a contest's final branch board, copied at close."""

    __tablename__ = "contest_branch_standings"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(sa.ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id", ondelete="SET NULL"))
    branch_name: Mapped[str] = mapped_column(sa.String(200))
    participants: Mapped[int]
    eligible: Mapped[int]
    # Sum of scores / eligible members (non-participants count 0): what ranks (ranking.rank_branches).
    member_mean: Mapped[float] = mapped_column(default=0.0, server_default="0")
    mean_score: Mapped[float]  # mean of participants: shown beside it
    participation_rate: Mapped[float]


class Challenge(TimestampMixin, db.Model):
    """An always-open practice game (挑战答题): questions one at a time until the first mistake."""

    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    bank_ids: Mapped[list] = mapped_column(sa.JSON, default=list)  # empty: every bank
    tag: Mapped[str] = mapped_column(sa.String(100), default="")
    seconds_per_question: Mapped[int] = mapped_column(default=30)
    is_active: Mapped[bool] = mapped_column(default=False, index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class ChallengeEnd(enum.StrEnum):
    WRONG = "wrong"
    TIMEOUT = "timeout"
    CLEARED = "cleared"  # answered every question the banks have
    ABANDONED = "abandoned"  # a new run was started instead


class ChallengeRun(db.Model):
    """One go at a challenge: the current question (its key stays on the server) and the streak.

    ``open_slot`` is 1 while the run goes on and NULL afterwards: one running game
    per member and challenge is a database constraint, so a second tab resumes it.
    """

    __tablename__ = "challenge_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(sa.ForeignKey("challenges.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id", ondelete="SET NULL"))
    week_start: Mapped[date]  # local Monday of the start: the weekly board's week
    open_slot: Mapped[int | None] = mapped_column(default=1)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    end_reason: Mapped[ChallengeEnd | None] = mapped_column(str_enum(ChallengeEnd))
    streak: Mapped[int] = mapped_column(default=0)  # questions answered right in a row
    time_used_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # answering time of the streak
    question_number: Mapped[int] = mapped_column(default=0)  # 1, 2, ... the question being asked
    question_id: Mapped[int | None] = mapped_column(sa.ForeignKey("questions.id", ondelete="SET NULL"))
    option_order: Mapped[list] = mapped_column(sa.JSON, default=list)
    issued_at: Mapped[datetime | None]
    question_deadline: Mapped[datetime | None]
    asked_ids: Mapped[list] = mapped_column(sa.JSON, default=list)

    __table_args__ = (
        sa.UniqueConstraint("challenge_id", "user_id", "open_slot"),
        sa.Index("ix_challenge_runs_board", "challenge_id", "week_start", "branch_id"),
    )

    @property
    def is_open(self) -> bool:
        return self.open_slot is not None
