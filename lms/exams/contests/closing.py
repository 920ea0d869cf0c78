"""Closing a contest (DESIGN.md §5): the schedule job, frozen standings, export, certificates, results.

The scheduler job (``run_contest_schedule``, every 30 s) tells the audience when a contest
opens, and once ``close + QUIZ_GRACE_SECONDS`` has passed finalizes the attempts still open
with their saved answers and stores the standings (``finalize_contest``; the next page that
needs them does it too if the job did not run). The stored rows are copies: later edits to
questions, attempts or members change nothing in them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from lms.auth.models import Branch, User
from lms.errors import InvalidState
from lms.exams.contests.board import (
    branch_rows,
    branch_standings,
    eligible_by_branch,
    invalidate_board,
    ranked_rows,
    standings,
)
from lms.exams.contests.models import (
    Contest,
    ContestBranchStanding,
    ContestEntry,
    ContestStanding,
)
from lms.exams.contests.phases import eligible_clause, finalizable_at
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes import timing
from lms.exams.quizzes.models import (
    AttemptState,
    FinishReason,
    Quiz,
    QuizAttempt,
)
from lms.extensions import db

log = logging.getLogger(__name__)


# --- Closing -----------------------------------------------------------------------------------------


def finalize_contest(contest: Contest, now: datetime) -> bool:
    """Close the contest for good: finalize open attempts with their saved answers and store
    the standings (individual and branch) as copies. Idempotent: returns False when it
    was done already. Raises InvalidState before ``close + QUIZ_GRACE_SECONDS``.
    """
    locked = db.session.scalar(
        sa.select(Contest).where(Contest.id == contest.id).with_for_update().execution_options(populate_existing=True)
    )
    if locked.finalized_at is not None:
        return False
    if now < finalizable_at(locked):
        raise InvalidState(_l("The contest has not closed yet."))
    open_attempts = db.session.scalars(
        sa.select(QuizAttempt).where(
            QuizAttempt.quiz_id == locked.quiz_id, QuizAttempt.state == AttemptState.IN_PROGRESS
        )
    ).all()
    for attempt in open_attempts:
        quiz_attempts.finalize_attempt(attempt, now, FinishReason.TIME_UP)
    rows = ranked_rows(locked)
    hidden = dict(
        db.session.execute(
            sa.select(ContestEntry.user_id, sa.func.sum(ContestEntry.hidden_count))
            .where(ContestEntry.contest_id == locked.id)
            .group_by(ContestEntry.user_id)
        ).all()
    )
    db.session.add_all(
        ContestStanding(
            contest_id=locked.id,
            rank=row.rank,
            user_id=row.user_id,
            attempt_id=row.attempt_id,
            name=row.name,
            username=row.username,
            branch_id=row.branch_id,
            branch_name=row.branch_name,
            score=row.score,
            max_score=row.max_score,
            score_percent=row.score_percent,
            time_used_seconds=row.time_used_seconds,
            submitted_at=row.submitted_at,
            hidden_count=int(hidden.get(row.user_id) or 0),
        )
        for row in rows
    )
    db.session.add_all(
        ContestBranchStanding(
            contest_id=locked.id,
            rank=b.rank,
            branch_id=b.branch_id,
            branch_name=b.branch_name,
            participants=b.participants,
            eligible=b.eligible,
            member_mean=b.member_mean,
            mean_score=b.mean_score,
            participation_rate=b.participation_rate,
        )
        for b in branch_rows(rows, eligible_by_branch(locked))
    )
    locked.finalized_at = now
    db.session.flush()
    invalidate_board(locked)
    log.info("contest %s finalized: %d open attempts closed, %d ranked", locked.id, len(open_attempts), len(rows))
    return True


def ensure_final(contest: Contest, now: datetime) -> bool:
    """Freeze the standings now if they are due and the job has not done it; True when it did."""
    if contest.finalized_at is not None or not contest.quiz.is_published or now < finalizable_at(contest):
        return False
    return finalize_contest(contest, now)


def run_contest_schedule(now: datetime) -> int:
    """The scheduler job (every 30 s): announce contests that opened, close those that are due.

    Safe to run twice or in two processes: the opening notice is claimed with a
    conditional UPDATE and finalizing locks the contest row. Returns how many
    contests were announced or finalized.
    """
    done = 0
    opening = (
        db.session.execute(
            sa.select(Contest.id)
            .join(Quiz, Quiz.id == Contest.quiz_id)
            .where(Quiz.is_published.is_(True), Contest.opened_at.is_(None), Quiz.open_at <= now, Quiz.close_at > now)
        )
        .scalars()
        .all()
    )
    for contest_id in opening:
        claimed = db.session.execute(
            sa.update(Contest).where(Contest.id == contest_id, Contest.opened_at.is_(None)).values(opened_at=now)
        )
        if claimed.rowcount == 1:
            announce_opening(db.session.get(Contest, contest_id), now)
            done += 1
    due = (
        db.session.execute(
            sa.select(Contest.id)
            .join(Quiz, Quiz.id == Contest.quiz_id)
            .where(
                Quiz.is_published.is_(True),
                Contest.finalized_at.is_(None),
                Quiz.close_at <= now - timing.network_grace(),
            )
        )
        .scalars()
        .all()
    )
    for contest_id in due:
        try:
            with db.session.begin_nested():
                done += finalize_contest(db.session.get(Contest, contest_id), now)
        except Exception:
            log.exception("contest %s could not be finalized", contest_id)
    return done


def announce_opening(contest: Contest, now: datetime) -> int:
    """Tell the contest's audience in their notifications that it is open."""
    from flask import url_for

    from lms.notices.services import notify_users

    try:
        link = url_for("contests.lobby", contest_id=contest.id)
    except RuntimeError:  # no request context and no SERVER_NAME: a relative link by hand
        link = f"/contests/{contest.id}"
    return notify_users(
        sa.select(User.id).where(eligible_clause(contest)),
        kind="contest",
        # Lazy strings: each member reads them in their own language (lms.notices.messages).
        title=_l("The contest “%(title)s” is open", title=contest.quiz.title),
        body=_l("It closes at %(when)s. Good luck!", when=contest.quiz.close_at),
        link=link,
        now=now,
    )


def export_standings(contest: Contest, viewer: User) -> bytes:
    """The final standings (within the viewer's scope) and the branch board as .xlsx."""
    from lms import clock
    from lms.exams.quizzes.review import format_seconds
    from lms.spreadsheets import xlsx_bytes

    if contest.finalized_at is None:
        raise InvalidState(_l("The standings can be exported once the contest has closed."))

    def local(moment: datetime) -> str:
        return moment.astimezone(clock.local_zone()).strftime("%Y-%m-%d %H:%M:%S")

    people = [
        (
            row.rank,
            row.name,
            row.username,
            row.branch_name,
            row.score,
            row.max_score,
            row.score_percent,
            format_seconds(row.time_used_seconds),
            row.time_used_seconds,
            local(row.submitted_at),
            row.hidden_count,
        )
        for row in standings(contest, viewer)
    ]
    branches = [
        (
            b.rank,
            b.branch_name,
            b.member_mean,
            b.mean_score,
            b.participants,
            b.eligible,
            round(b.participation_rate * 100, 2),
        )
        for b in branch_standings(contest)
    ]
    return xlsx_bytes(
        [
            (
                str(_l("Standings")),
                [
                    _l("Rank"),
                    _l("Full name"),
                    _l("Username"),
                    _l("Branch"),
                    _l("Score"),
                    _l("Out of"),
                    _l("Score (%)"),
                    _l("Time used"),
                    _l("Time used (seconds)"),
                    _l("Submitted at"),
                    _l("Times the page was left"),
                ],
                people,
            ),
            (
                str(lazy_pgettext("contest board", "Branches")),
                [
                    _l("Rank"),
                    _l("Branch"),
                    _l("Score per member"),
                    _l("Mean of participants"),
                    _l("Participants"),
                    _l("Eligible members"),
                    _l("Participation (%)"),
                ],
                branches,
            ),
        ]
    )


@dataclass(frozen=True)
class Certificate:
    contest_title: str
    name: str
    branch_name: str
    rank: int
    score: float
    max_score: float
    is_award: bool  # a prize certificate for the top N; otherwise one of participation
    issued_on: datetime


def certificates(contest: Contest, *, scope: str, viewer: User) -> list[Certificate]:
    """Certificates from the final standings: ``scope`` "top" (rank within the top N) or "all",
    within the viewer's scope of members."""
    if contest.finalized_at is None:
        raise InvalidState(_l("Certificates are issued once the contest has closed."))
    rows = standings(contest, viewer)
    if scope == "top":
        rows = [row for row in rows if row.rank <= contest.certificate_top_n]
    return [certificate_for(contest, row) for row in rows]


def certificate_for(contest: Contest, row: ContestStanding) -> Certificate:
    """The certificate of one row of the final standings."""
    return Certificate(
        contest_title=contest.quiz.title,
        name=row.name,
        branch_name=row.branch_name,
        rank=row.rank,
        score=row.score,
        max_score=row.max_score,
        is_award=row.rank <= contest.certificate_top_n,
        issued_on=contest.finalized_at,
    )


def certificates_pdf(html: str, base_url: str) -> bytes:
    """Render certificate HTML to PDF with WeasyPrint (Chinese with the system's Noto CJK fonts).

    Raises ``PdfUnavailable`` when WeasyPrint or its libraries (Pango) are missing.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        raise PdfUnavailable(
            _l(
                "PDF certificates are not available on this server (WeasyPrint is not installed). "
                "Print the page instead."
            )
        ) from error
    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()


class PdfUnavailable(InvalidState):
    """WeasyPrint (or a system library it needs) is not installed."""


# --- Admin views of results -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """An attempt as the admin's results table shows it, with the fair-play counter."""

    attempt: QuizAttempt
    name: str
    branch_name: str
    hidden_count: int
    rank: int | None


def results(contest: Contest, viewer: User) -> list[ResultRow]:
    """Every attempt (in progress or final) within the viewer's scope, best first, with
    the times the page was left and the member's live rank."""
    from lms.auth.permissions import member_scope_clause

    rows = db.session.execute(
        sa.select(QuizAttempt, User.name, Branch.name, ContestEntry.hidden_count)
        .join(User, User.id == QuizAttempt.user_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
        .outerjoin(ContestEntry, ContestEntry.attempt_id == QuizAttempt.id)
        .where(QuizAttempt.quiz_id == contest.quiz_id, member_scope_clause(viewer, QuizAttempt.user_id))
    ).all()
    # Ranks are the contest's own (among everyone), also on a secretary's page of one branch.
    ranks = {row.attempt_id: row.rank for row in ranked_rows(contest)}
    if contest.finalized_at is not None:
        ranks = {row.attempt_id: row.rank for row in standings(contest, viewer) if row.attempt_id}
    result = [
        ResultRow(attempt, name, branch or "", int(hidden or 0), ranks.get(attempt.id))
        for attempt, name, branch, hidden in rows
    ]
    result.sort(
        key=lambda r: (
            r.rank is None,
            r.rank or 0,
            r.attempt.state != AttemptState.IN_PROGRESS,
            -(r.attempt.score or 0),
            r.attempt.id,
        )
    )
    return result
