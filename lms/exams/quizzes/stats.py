"""Results of a quiz for admins and secretaries: the members' table, item statistics, Excel export.

Everything is filtered to the viewer's scope (``member_scope_clause``): a
secretary sees the members of their branch subtree and statistics over them.

Item statistics follow classical test theory over each member's first counted
attempt (later attempts have seen the questions before):

- facility index: the mean share of the points earned on the question (0..1);
- discrimination index: among the attempts that had the question, ranked by
  their total score, the mean share earned by the top 27% minus that of the
  bottom 27% (-1..1). Good questions discriminate at 0.3 or more; near zero or
  negative means the strong do no better than the weak: a broken key, an
  ambiguous stem, or a leaked answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.auth.audience import audience_clause
from lms.auth.models import Branch, User
from lms.auth.permissions import member_scope_clause
from lms.exams.questions.models import Outcome
from lms.exams.questions.stems import stem_text
from lms.exams.quizzes.corrections import open_report_counts
from lms.exams.quizzes.models import AttemptQuestion, AttemptState, QuestionSnapshot, Quiz, QuizAttempt
from lms.exams.quizzes.results import quiz_results
from lms.extensions import db

GROUP_SHARE = 0.27
MIN_ATTEMPTS_FOR_DISCRIMINATION = 10


@dataclass
class MemberResult:
    user_id: int
    name: str
    username: str
    branch: str
    attempts: int
    in_progress: bool
    kept_percent: float | None
    passed: bool | None
    last_finished_at: datetime | None
    last_percent: float | None
    latest_attempt_id: int = 0


@dataclass
class ResultsSummary:
    audience: int
    participants: int
    passed: int
    average_percent: float | None

    @property
    def participation_percent(self) -> float | None:
        return round(100.0 * self.participants / self.audience, 1) if self.audience else None

    @property
    def pass_percent(self) -> float | None:
        return round(100.0 * self.passed / self.participants, 1) if self.participants else None


def _scoped_attempts(quiz: Quiz, viewer: User):
    return db.session.execute(
        sa.select(QuizAttempt, User.name, User.username, Branch.name)
        .join(User, User.id == QuizAttempt.user_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
        .where(QuizAttempt.quiz_id == quiz.id, member_scope_clause(viewer))
        .order_by(QuizAttempt.user_id, QuizAttempt.number)
    ).all()


def results_table(quiz: Quiz, viewer: User) -> tuple[list[MemberResult], ResultsSummary]:
    """One row per member in scope who attempted the quiz, and the summary over the audience."""
    kept = quiz_results([quiz.id], member_scope_clause(viewer))
    rows: dict[int, MemberResult] = {}
    for attempt, name, username, branch in _scoped_attempts(quiz, viewer):
        row = rows.get(attempt.user_id)
        if row is None:
            percent, passed = kept.get((attempt.user_id, quiz.id), (None, None))
            row = rows[attempt.user_id] = MemberResult(
                attempt.user_id, name, username, branch or "", 0, False, percent, passed, None, None
            )
        row.attempts += 1
        row.latest_attempt_id = attempt.id
        row.in_progress = row.in_progress or attempt.state == AttemptState.IN_PROGRESS
        if attempt.state == AttemptState.FINISHED:
            row.last_finished_at = attempt.finished_at
            row.last_percent = attempt.score_percent
    results = sorted(rows.values(), key=lambda r: (-(r.kept_percent if r.kept_percent is not None else -1), r.name))
    audience = (
        db.session.scalar(sa.select(sa.func.count(User.id)).where(audience_clause(quiz), member_scope_clause(viewer)))
        or 0
    )
    graded = [r.kept_percent for r in results if r.kept_percent is not None]
    summary = ResultsSummary(
        audience=audience,
        participants=len(results),
        passed=sum(1 for r in results if r.passed),
        average_percent=round(sum(graded) / len(graded), 1) if graded else None,
    )
    return results, summary


@dataclass
class ItemStat:
    question_id: int | None
    stem: str
    type: str
    shown: int = 0
    answered: int = 0
    correct: int = 0
    facility: float | None = None
    discrimination: float | None = None
    average_seconds: float | None = None
    open_reports: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def correct_share(self) -> float | None:
        return self.correct / self.shown if self.shown else None


def _first_attempts(quiz: Quiz, viewer: User) -> dict[int, float]:
    """attempt id -> total percent, for each member's first graded attempt (practice counts on practice quizzes)."""
    query = (
        sa.select(QuizAttempt.id, QuizAttempt.user_id, QuizAttempt.score_percent)
        .join(User, User.id == QuizAttempt.user_id)
        .where(
            QuizAttempt.quiz_id == quiz.id,
            QuizAttempt.state == AttemptState.FINISHED,
            member_scope_clause(viewer),
        )
        .order_by(QuizAttempt.user_id, QuizAttempt.number)
    )
    if not quiz.is_practice:
        query = query.where(QuizAttempt.is_practice.is_(False))
    first: dict[int, tuple[int, float]] = {}
    for attempt_id, user_id, percent in db.session.execute(query):
        first.setdefault(user_id, (attempt_id, percent or 0.0))
    return dict(first.values())


def _flags(stat: ItemStat, enough: bool) -> list[str]:
    flags = []
    if stat.open_reports:
        flags.append(str(_l("Open error reports")))
    if stat.facility is None:
        return flags
    if stat.facility >= 0.95 and enough and (stat.discrimination is None or stat.discrimination < 0.1):
        flags.append(str(_l("Almost everyone gets it right: too easy, or the answer has leaked")))
    if stat.facility <= 0.2 and enough:
        flags.append(str(_l("Few get it right: check the answer key and the wording")))
    if stat.discrimination is not None:
        if stat.discrimination < 0:
            flags.append(str(_l("Weaker members do better than stronger ones: check the answer key")))
        elif stat.discrimination < 0.2 and stat.facility < 0.95:
            flags.append(str(_l("Separates strong and weak members poorly")))
    return flags


def item_statistics(quiz: Quiz, viewer: User) -> list[ItemStat]:
    """Per-question statistics of the quiz (see the module docstring), most suspicious first."""
    totals = _first_attempts(quiz, viewer)
    if not totals:
        return []
    rows = db.session.execute(
        sa.select(
            AttemptQuestion.attempt_id,
            AttemptQuestion.question_id,
            AttemptQuestion.snapshot_id,
            AttemptQuestion.score,
            AttemptQuestion.points,
            AttemptQuestion.outcome,
            AttemptQuestion.time_spent_seconds,
        ).where(AttemptQuestion.attempt_id.in_(list(totals)))
    ).all()
    by_question: dict[int | None, list] = defaultdict(list)
    snapshot_of: dict[int | None, int] = {}
    for row in rows:
        key = row.question_id if row.question_id is not None else -row.snapshot_id
        by_question[key].append(row)
        snapshot_of[key] = max(snapshot_of.get(key, 0), row.snapshot_id)
    snapshots = {
        s.id: s
        for s in db.session.scalars(
            sa.select(QuestionSnapshot).where(QuestionSnapshot.id.in_(set(snapshot_of.values())))
        )
    }
    reports = open_report_counts([k for k in by_question if k and k > 0])
    stats = []
    for key, items in by_question.items():
        snapshot = snapshots[snapshot_of[key]]
        stat = ItemStat(question_id=key if key > 0 else None, stem=snapshot.stem, type=str(snapshot.type))
        stat.shown = len(items)
        stat.answered = sum(1 for r in items if r.outcome != Outcome.UNANSWERED)
        stat.correct = sum(1 for r in items if r.outcome == Outcome.CORRECT)
        shares = {r.attempt_id: (r.score or 0.0) / r.points if r.points else 0.0 for r in items}
        stat.facility = round(sum(shares.values()) / len(shares), 3)
        stat.average_seconds = round(sum(r.time_spent_seconds for r in items) / len(items), 1)
        enough = len(items) >= MIN_ATTEMPTS_FOR_DISCRIMINATION
        if enough:
            ranked = sorted(shares, key=lambda attempt_id: totals[attempt_id])
            size = max(1, round(GROUP_SHARE * len(ranked)))
            lower = [shares[a] for a in ranked[:size]]
            upper = [shares[a] for a in ranked[-size:]]
            stat.discrimination = round(sum(upper) / size - sum(lower) / size, 3)
        stat.open_reports = reports.get(key, 0)
        stat.flags = _flags(stat, enough)
        stats.append(stat)
    stats.sort(
        key=lambda s: (-len(s.flags), s.discrimination if s.discrimination is not None else 2, s.question_id or 0)
    )
    return stats


def _local(moment: datetime | None):
    if moment is None:
        return None
    return moment.astimezone(clock.local_zone()).replace(tzinfo=None)


def export_results(quiz: Quiz, viewer: User) -> bytes:
    """The results, every attempt and the item statistics as an Excel workbook."""
    from lms.spreadsheets import xlsx_bytes

    results, _summary = results_table(quiz, viewer)
    yes, no = str(_l("Passed")), str(_l("Not passed"))
    result_rows = [
        (
            r.name,
            r.username,
            r.branch,
            r.attempts,
            r.kept_percent,
            yes if r.passed else (no if r.passed is False else ""),
            _local(r.last_finished_at),
        )
        for r in results
    ]
    attempt_rows = [
        (
            name,
            username,
            branch or "",
            a.number,
            str(a.state),
            _local(a.started_at),
            _local(a.finished_at),
            a.score,
            a.max_score,
            a.score_percent,
            a.time_used_seconds,
            "✓" if a.is_practice else "",
        )
        for a, name, username, branch in _scoped_attempts(quiz, viewer)
    ]
    item_rows = [
        (
            s.question_id,
            s.type,
            stem_text(s.stem)[:500],
            s.shown,
            s.correct_share,
            s.facility,
            s.discrimination,
            s.average_seconds,
            s.open_reports,
            "; ".join(s.flags),
        )
        for s in item_statistics(quiz, viewer)
    ]
    return xlsx_bytes(
        [
            (
                str(_l("Results")),
                [
                    _l("Full name"),
                    _l("Username"),
                    _l("Branch"),
                    _l("Attempts"),
                    _l("Kept score (%)"),
                    _l("Result"),
                    _l("Last finished"),
                ],
                result_rows,
            ),
            (
                str(_l("Attempts")),
                [
                    _l("Full name"),
                    _l("Username"),
                    _l("Branch"),
                    _l("Attempt"),
                    _l("State"),
                    _l("Started"),
                    _l("Finished"),
                    _l("Score"),
                    _l("Out of"),
                    _l("Score (%)"),
                    _l("Time used (s)"),
                    _l("Practice"),
                ],
                attempt_rows,
            ),
            (
                str(_l("Item statistics")),
                [
                    _l("Question ID"),
                    _l("Type"),
                    _l("Question"),
                    _l("Times shown"),
                    _l("Share correct"),
                    _l("Facility index"),
                    _l("Discrimination index"),
                    _l("Average time (s)"),
                    _l("Open error reports"),
                    _l("Warnings"),
                ],
                item_rows,
            ),
        ]
    )
