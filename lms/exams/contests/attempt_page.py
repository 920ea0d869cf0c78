"""The contest attempt page's fast path (DESIGN.md §5): the login, the contest, the attempt and the bell in one read.

Every contestant opens the attempt page right after starting (2,000 in a minute). The
ordinary request paid Flask-Login's ORM user load, the contest and its quiz as ORM objects,
the attempt's read and the bell's count: four statements in a transaction of their own
(BEGIN and ROLLBACK are round trips of their own on PostgreSQL). ``read`` fetches all of it
in ONE statement from the session's login (``login.session_identity``), outside a transaction,
and checks the login as ``load_user`` and ``force_password_change`` do: the member exists, is
active, has the session's version and no forced password change. Anything else (no such
contest, a stale login, a remember-me cookie only) returns None, and the caller takes the
ordinary path, so every refusal is the ordinary one.

The records carry what the page, the layout (``base.html``: name, role, language, large
text) and ``phases.may_see`` read, nothing more. The member's record becomes the request's
``current_user`` once the view has checked it (``login.vouch_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa

from lms.auth.models import Branch, User
from lms.db import one_statement_reads
from lms.exams.contests.board_poll import PolledBranch, PolledQuiz
from lms.exams.contests.models import Contest
from lms.exams.contests.taking import question_rows
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuestionSnapshot, Quiz, QuizAttempt
from lms.extensions import db
from lms.notices.services import unread_count_of
from lms.raw_sql import RawStatement


@dataclass(frozen=True)
class PageQuiz(PolledQuiz):
    """The poll's quiz record (what ``phases.may_see`` reads) and what the page shows of the quiz."""

    title: str = ""
    description: str | None = None
    overdue_handling: object = None


@dataclass(frozen=True)
class PageContest:
    id: int
    quiz_id: int
    quiz: PageQuiz


@dataclass(frozen=True)
class PageMember:
    """The logged-in member as the page and the layout read them (``current_user`` on the fast path)."""

    id: int
    name: str
    status: object
    role: object
    locale: str | None
    large_text: bool
    session_version: int
    branch: PolledBranch | None

    is_authenticated = True
    is_active = True
    is_anonymous = False
    must_change_password = False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"


@dataclass(frozen=True)
class AttemptPage:
    member: PageMember
    contest: PageContest
    unread_notifications: int
    attempt: SimpleNamespace | None  # id, state, deadline, finalize_after; None: no attempt in progress
    questions: list[SimpleNamespace]  # as ``taking.open_attempt_page`` gives them


_users, _branches, _contests, _quizzes = User.__table__.c, Branch.__table__.c, Contest.__table__.c, Quiz.__table__.c
_attempts, _questions, _snapshots = QuizAttempt.__table__.c, AttemptQuestion.__table__.c, QuestionSnapshot.__table__.c
_USER_ID = sa.bindparam("user_id", type_=sa.Integer)


_HEAD_COLUMNS = (  # the same on every row: converted once (RawStatement.head_and_rows)
    _users.id, _users.is_active, _users.session_version, _users.must_change_password,
    _users.name, _users.status, _users.role, _users.locale, _users.large_text, _branches.path,
    _contests.id.label("contest_id"), _contests.quiz_id,
    _quizzes.title, _quizzes.description, _quizzes.overdue_handling, _quizzes.is_published,
    _quizzes.open_at, _quizzes.close_at,
    _quizzes.audience_statuses, _quizzes.audience_roles, _quizzes.audience_branch_ids,
    unread_count_of(_USER_ID).label("unread"),
    _attempts.id.label("attempt_id"), _attempts.state, _attempts.deadline, _attempts.finalize_after,
)  # fmt: skip
_ROW_COLUMNS = (  # one row per question of the attempt in progress (one row of NULLs without one)
    _questions.position, _questions.points, _questions.option_order, _questions.response,
    _questions.client_seq, _questions.time_spent_seconds,
    _snapshots.type, _snapshots.stem, _snapshots.options, _snapshots.answer,
)  # fmt: skip
_QUERY = RawStatement(
    sa.select(*_HEAD_COLUMNS, *_ROW_COLUMNS)
    .select_from(User.__table__)
    .outerjoin(Branch.__table__, _branches.id == _users.branch_id)
    .join(Contest.__table__, _contests.id == sa.bindparam("contest_id", type_=sa.Integer))
    .join(Quiz.__table__, _quizzes.id == _contests.quiz_id)
    .outerjoin(
        QuizAttempt.__table__,
        sa.and_(
            _attempts.quiz_id == _contests.quiz_id,
            _attempts.user_id == _users.id,
            _attempts.state == sa.bindparam("in_progress", type_=QuizAttempt.__table__.c.state.type),
        ),
    )
    .outerjoin(AttemptQuestion.__table__, _questions.attempt_id == _attempts.id)
    .outerjoin(QuestionSnapshot.__table__, _snapshots.id == _questions.snapshot_id)
    .where(_users.id == _USER_ID)
    .order_by(_questions.position)
)


def _head_and_rows(values: dict) -> tuple[SimpleNamespace | None, list[SimpleNamespace]]:
    """The statement's result, read outside a transaction (on PostgreSQL no BEGIN/ROLLBACK round trips)."""
    with one_statement_reads(db.engine) as connection:
        # The raw cursor does not begin SQLAlchemy's transaction by itself: begun here, it runs
        # outside one on PostgreSQL too (lms.db: reads before a write run in autocommit).
        connection.begin()
        return _QUERY.head_and_rows(connection, values, len(_HEAD_COLUMNS))


def read(contest_id: int, identity: tuple[int, int] | None) -> AttemptPage | None:
    """The page's data for the session's login ``identity``, or None: take the ordinary path."""
    if identity is None:
        return None
    user_id, session_version = identity
    first, rows = _head_and_rows(
        {"contest_id": contest_id, "user_id": user_id, "in_progress": AttemptState.IN_PROGRESS}
    )
    if first is None:
        return None
    if not first.is_active or first.session_version != session_version or first.must_change_password:
        return None
    member = PageMember(
        first.id, first.name, first.status, first.role, first.locale, bool(first.large_text), first.session_version,
        PolledBranch(first.path) if first.path is not None else None,
    )  # fmt: skip
    quiz = PageQuiz(
        first.quiz_id, bool(first.is_published), first.open_at, first.close_at, list(first.audience_statuses or []),
        list(first.audience_roles or []), list(first.audience_branch_ids or []),
        title=first.title, description=first.description, overdue_handling=first.overdue_handling,
    )  # fmt: skip
    contest = PageContest(first.contest_id, first.quiz_id, quiz)
    if first.attempt_id is None:
        return AttemptPage(member, contest, int(first.unread or 0), None, [])
    attempt = SimpleNamespace(
        id=first.attempt_id, state=first.state, deadline=first.deadline, finalize_after=first.finalize_after
    )
    questions = question_rows(rows)
    return AttemptPage(member, contest, int(first.unread or 0), attempt, questions)
