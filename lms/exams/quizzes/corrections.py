"""Error reports on questions (纠错): members report, admins resolve.

A report points at the snapshot the member saw (so the admin reads exactly the
text in question) and at the bank question it came from (so the admin can fix it).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import NotFound, ValidationFailed
from lms.exams.quizzes.models import AttemptQuestion, QuestionReport, QuizAttempt, ReportStatus
from lms.extensions import db

log = logging.getLogger(__name__)

MIN_TEXT = 2
MAX_TEXT = 1000


def report_question(user: User, attempt_id: int, position: int, text: str, now: datetime) -> QuestionReport:
    """The member reports an error in question ``position`` of their own attempt.

    A member has at most one open report per question: reporting again adds to it.
    Raises ValidationFailed for an empty or too long text, NotFound for a question
    that is not in the member's attempt.
    """
    text = (text or "").strip()
    if len(text) < MIN_TEXT:
        raise ValidationFailed(_l("Describe the error in a few words."), "text")
    if len(text) > MAX_TEXT:
        raise ValidationFailed(_l("Keep the description under %(n)d characters.", n=MAX_TEXT), "text")
    question = db.session.scalar(
        sa.select(AttemptQuestion)
        .join(QuizAttempt, QuizAttempt.id == AttemptQuestion.attempt_id)
        .where(QuizAttempt.id == attempt_id, QuizAttempt.user_id == user.id, AttemptQuestion.position == position)
    )
    if question is None:
        raise NotFound(_l("This question is not part of the attempt."))
    open_clause = sa.and_(QuestionReport.user_id == user.id, QuestionReport.status == ReportStatus.OPEN)
    if question.question_id is not None:
        same = QuestionReport.question_id == question.question_id
    else:
        same = QuestionReport.snapshot_id == question.snapshot_id
    report = db.session.scalar(sa.select(QuestionReport).where(open_clause, same))
    if report is not None:
        report.text = (report.text + "\n\n" + text)[-4 * MAX_TEXT :]
        report.updated_at = now
    else:
        report = QuestionReport(
            question_id=question.question_id,
            snapshot_id=question.snapshot_id,
            attempt_id=attempt_id,
            user_id=user.id,
            text=text,
            created_at=now,
            updated_at=now,
        )
        db.session.add(report)
    db.session.flush()
    log.info("question %s reported by user %s", question.question_id, user.id)
    return report


def resolve_report(report_id: int, admin: User, status: ReportStatus, resolution: str, now: datetime) -> QuestionReport:
    """Close a report as resolved (the question was fixed) or dismissed (it was right), with a note."""
    report = db.session.get(QuestionReport, report_id)
    if report is None:
        raise NotFound(_l("This report does not exist."))
    if status not in (ReportStatus.RESOLVED, ReportStatus.DISMISSED, ReportStatus.OPEN):
        raise ValidationFailed(_l("Choose how the report was handled."), "status")
    report.status = status
    report.resolution = (resolution or "").strip()[:MAX_TEXT]
    if status == ReportStatus.OPEN:
        report.resolved_by_id, report.resolved_at = None, None
    else:
        report.resolved_by_id, report.resolved_at = admin.id, now
    report.updated_at = now
    db.session.flush()
    return report


def open_report_counts(question_ids) -> dict[int, int]:
    """Open reports per question id (for the item statistics)."""
    ids = list(question_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(QuestionReport.question_id, sa.func.count(QuestionReport.id))
        .where(QuestionReport.question_id.in_(ids), QuestionReport.status == ReportStatus.OPEN)
        .group_by(QuestionReport.question_id)
    )
    return dict(rows.all())


def count_open_reports() -> int:
    """How many reports wait for an admin."""
    return (
        db.session.scalar(sa.select(sa.func.count(QuestionReport.id)).where(QuestionReport.status == ReportStatus.OPEN))
        or 0
    )


def reports_of(user: User) -> list[QuestionReport]:
    """The member's own reports, newest first."""
    return list(
        db.session.scalars(
            sa.select(QuestionReport).where(QuestionReport.user_id == user.id).order_by(QuestionReport.id.desc())
        )
    )
