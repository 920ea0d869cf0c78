"""The contest start's and submit's first read: the member's login, the contest with its quiz, in ONE statement.

2,000 members start and submit within a minute (DESIGN.md §5). Each of those requests
paid Flask-Login's ORM user load, the ORM contest with its quiz, and then its own reads.
``start_read`` and ``submit_read`` read, in one Core statement from the session's login
(``login.session_identity``): the member's row (checked here as ``load_user`` and
``force_password_change`` check it: it exists, is active, has the session's version and no
forced password change; else ``saves.StaleLogin``), the member's branch path (the audience),
every contest and quiz column the rules read (current: nothing is cached that an edit could
leave stale), and for a start the member's override and the validity check of the cached
question set (``cache``), for a submit the attempt's state and quiz. The contest and quiz come
back as plain records with the attributes ``phases``, ``audience``, ``taking`` and the
quizzes' attempt engine read; the member as ``id, status, role, branch.path``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa

from lms.auth.models import Branch, User
from lms.exams.contests import cache
from lms.exams.contests.models import Contest
from lms.exams.questions.models import Question
from lms.exams.quizzes import saves
from lms.exams.quizzes.models import Quiz as QuizModel
from lms.exams.quizzes.models import QuizAttempt, QuizOverride
from lms.raw_sql import RawStatement

_users, _branches = User.__table__.c, Branch.__table__.c
_contests, _quizzes = Contest.__table__.c, QuizModel.__table__.c
_overrides, _attempts, _questions = QuizOverride.__table__.c, QuizAttempt.__table__.c, Question.__table__.c

# Every column of the contest and its quiz but the long texts no rule reads.
_CONTEST_KEYS = [c.key for c in Contest.__table__.c if c.key not in ("prizes",)]
_QUIZ_KEYS = [c.key for c in QuizModel.__table__.c if c.key not in ("description",)]
_LOGIN = (
    _users.id.label("user_id"), _users.is_active, _users.session_version, _users.must_change_password,
    _users.locale, _users.status, _users.role, _branches.path.label("branch_path"),
    *(_contests[key].label(f"c_{key}") for key in _CONTEST_KEYS),
    *(_quizzes[key].label(f"q_{key}") for key in _QUIZ_KEYS),
)  # fmt: skip


def _base(*columns):
    # From the member's row: a row comes back whenever the member exists (their login is
    # checked first), with NULL contest columns when the contest does not exist.
    return (
        sa.select(*_LOGIN, *columns)
        .select_from(User.__table__)
        .outerjoin(Branch.__table__, _branches.id == _users.branch_id)
        .outerjoin(Contest.__table__, _contests.id == sa.bindparam("contest_id"))
        .outerjoin(QuizModel.__table__, _quizzes.id == _contests.quiz_id)
    )


_ids = sa.bindparam("question_ids", expanding=True)
_START = RawStatement(
    _base(
        _overrides.id.label("o_id"), _overrides.time_limit_seconds.label("o_time_limit_seconds"),
        _overrides.attempts_allowed.label("o_attempts_allowed"), _overrides.open_at.label("o_open_at"),
        _overrides.close_at.label("o_close_at"),
        # The cached question set's check (``cache.QuestionSet``): its questions' count and versions.
        sa.select(sa.func.count()).where(_questions.id.in_(_ids)).scalar_subquery().label("question_count"),
        sa.select(sa.func.sum(_questions.version)).where(_questions.id.in_(_ids)).scalar_subquery()
        .label("question_versions"),
        # The member's attempts at the contest (``taking.own_attempt_rows``): a row each (most have none).
        _attempts.id.label("a_id"), _attempts.number.label("a_number"), _attempts.state.label("a_state"),
        _attempts.finished_at.label("a_finished_at"),
    )
    .outerjoin(QuizOverride.__table__, sa.and_(_overrides.quiz_id == _quizzes.id, _overrides.user_id == _users.id))
    .outerjoin(QuizAttempt.__table__, sa.and_(_attempts.quiz_id == _quizzes.id, _attempts.user_id == _users.id))
    .where(_users.id == sa.bindparam("user_id"))
)  # fmt: skip
_SUBMIT = RawStatement(
    _base(
        _attempts.id.label("a_id"), _attempts.quiz_id.label("a_quiz_id"), _attempts.state.label("a_state"),
    )
    .outerjoin(QuizAttempt.__table__, sa.and_(_attempts.id == sa.bindparam("attempt_id"),
                                             _attempts.user_id == _users.id))
    .where(_users.id == sa.bindparam("user_id"))
)  # fmt: skip


@dataclass(frozen=True)
class Member:
    """The member as the audience rules read it."""

    id: int
    status: object
    role: object
    branch: SimpleNamespace | None


def _records(row, user_id: int, session_version: int):
    """(contest or None, member) from a row; StaleLogin unless the login holds."""
    saves.check_login_row(row, session_version)
    branch = SimpleNamespace(path=row.branch_path) if row.branch_path is not None else None
    member = Member(user_id, row.status, row.role, branch)
    if row.c_id is None or row.q_id is None:
        return None, member
    quiz = SimpleNamespace(**{key: getattr(row, f"q_{key}") for key in _QUIZ_KEYS})
    contest = SimpleNamespace(**{key: getattr(row, f"c_{key}") for key in _CONTEST_KEYS}, quiz=quiz)
    return contest, member


def start_read(connection, contest_id: int, user_id: int, session_version: int):
    """(contest or None, member, override or None, the cached question set if still valid or None,
    the member's attempts at the contest as rows ``id, number, state, finished_at``)."""
    cached = cache.question_set(contest_id)
    ids = list(cached.question_ids) if cached is not None else [0]
    rows = _START.rows(connection, {"contest_id": contest_id, "user_id": user_id, "question_ids": ids})
    row = rows[0] if rows else None
    contest, member = _records(row, user_id, session_version)
    override = None
    if row.o_id is not None:
        override = SimpleNamespace(time_limit_seconds=row.o_time_limit_seconds, attempts_allowed=row.o_attempts_allowed,
                                   open_at=row.o_open_at, close_at=row.o_close_at)  # fmt: skip
    valid = None
    if contest is not None and cached is not None:
        valid = cached if cached.holds(contest, row.question_count, row.question_versions) else None
    own = {
        found.a_id: SimpleNamespace(id=found.a_id, number=found.a_number, state=found.a_state,
                                    finished_at=found.a_finished_at)
        for found in rows
        if found.a_id is not None
    }  # fmt: skip
    return contest, member, override, valid, list(own.values())


def submit_read(connection, contest_id: int, attempt_id: int, user_id: int, session_version: int):
    """(contest or None, member, attempt as ``id, quiz_id, state`` or None)."""
    rows = _SUBMIT.rows(connection, {"contest_id": contest_id, "attempt_id": attempt_id, "user_id": user_id})
    row = rows[0] if rows else None
    contest, member = _records(row, user_id, session_version)
    attempt = SimpleNamespace(id=row.a_id, quiz_id=row.a_quiz_id, state=row.a_state) if row.a_id is not None else None
    return contest, member, attempt
