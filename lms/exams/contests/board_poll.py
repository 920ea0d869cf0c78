"""The live board's polling fast path (DESIGN.md §5): one query, no ORM objects.

Thousands of viewers poll ``board.json`` every few seconds while a contest runs, so each
poll is most of the contest's requests. The board itself is cached (``board.board_snapshot``);
what a poll still paid was loading the viewer (Flask-Login's ORM user load) and the contest
with its quiz as ORM objects. ``poll_view`` reads both in ONE Core query from the session's
login (``login.session_identity``) and checks the login as ``load_user`` and
``force_password_change`` do: the member exists, is active, has the session's version and
no forced password change. Anything else (no such contest, a stale login, a remember-me
cookie only) returns None and the caller takes the ordinary path, so every refusal is the
ordinary one.

The returned contest and viewer are plain frozen records with the attributes ``phases``,
``audience`` and ``board`` read (``quiz.open_at``, ``board_size``, ``branch.path``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from lms.auth.models import Branch, User
from lms.db import one_statement_reads
from lms.exams.contests.models import BoardVisibility, Contest
from lms.exams.quizzes.models import Quiz
from lms.extensions import db


@dataclass(frozen=True)
class PolledQuiz:
    id: int
    is_published: bool
    open_at: datetime
    close_at: datetime
    audience_statuses: list
    audience_roles: list
    audience_branch_ids: list


@dataclass(frozen=True)
class PolledContest:
    id: int
    quiz_id: int
    created_at: datetime
    finalized_at: datetime | None
    board_visibility: BoardVisibility
    freeze_minutes: int
    board_size: int
    quiz: PolledQuiz


@dataclass(frozen=True)
class PolledBranch:
    path: str


@dataclass(frozen=True)
class PolledViewer:
    id: int
    status: object
    role: object
    branch: PolledBranch | None


_users, _branches = User.__table__.c, Branch.__table__.c
_contests, _quizzes = Contest.__table__.c, Quiz.__table__.c
# Table columns (not ORM attributes): the statement runs on a connection, without the ORM's layer.
_QUERY = (
    sa.select(
        _users.id,
        _users.is_active,
        _users.session_version,
        _users.must_change_password,
        _users.status,
        _users.role,
        _branches.path,
        _contests.id.label("contest_id"),
        _contests.quiz_id,
        _contests.created_at,
        _contests.finalized_at,
        _contests.board_visibility,
        _contests.freeze_minutes,
        _contests.board_size,
        _quizzes.is_published,
        _quizzes.open_at,
        _quizzes.close_at,
        _quizzes.audience_statuses,
        _quizzes.audience_roles,
        _quizzes.audience_branch_ids,
    )
    .select_from(User.__table__)
    .outerjoin(Branch.__table__, _branches.id == _users.branch_id)
    .join(Contest.__table__, _contests.id == sa.bindparam("contest_id"))
    .join(Quiz.__table__, _quizzes.id == _contests.quiz_id)
    .where(_users.id == sa.bindparam("user_id"))
)


def poll_view(contest_id: int, identity: tuple[int, int] | None) -> tuple[PolledContest, PolledViewer] | None:
    """(contest, viewer) for a poll by the session's login ``identity``, or None: take the ordinary path."""
    if identity is None:
        return None
    user_id, session_version = identity
    # A connection of its own, outside a transaction: the request opens no ORM session (nor
    # closes one) for a poll, and on PostgreSQL the read is one round trip (no BEGIN, no ROLLBACK).
    with one_statement_reads(db.engine) as connection:
        row = connection.execute(_QUERY, {"contest_id": contest_id, "user_id": user_id}).first()
    if row is None or not row.is_active or row.session_version != session_version or row.must_change_password:
        return None
    quiz = PolledQuiz(
        row.quiz_id,
        bool(row.is_published),
        row.open_at,
        row.close_at,
        list(row.audience_statuses or []),
        list(row.audience_roles or []),
        list(row.audience_branch_ids or []),
    )
    contest = PolledContest(
        row.contest_id,
        row.quiz_id,
        row.created_at,
        row.finalized_at,
        row.board_visibility,
        row.freeze_minutes or 0,
        row.board_size,
        quiz,
    )
    branch = PolledBranch(row.path) if row.path is not None else None
    return contest, PolledViewer(row.id, row.status, row.role, branch)
