"""Weekly reminders to members who fall behind, and weekly digests to secretaries.

A member gets a reminder when, in the newest run of a target that applies to
them, they are behind pace (below 80% of the hours expected by today) or have
required items overdue or due within 14 days. The reminder is an in-app
notification, plus an e-mail when SMTP is configured (``LMS_SMTP_*``), queued in the
mail outbox (``lms.notices.outbox``) and sent by its job.

"At most one per week" is data, not timing: each reminder and digest sent is a
row of ``assessment_reminders`` unique per (member, ISO week, kind), so a job
run twice, or by two processes, cannot remind anyone twice in a week. The job
may run hourly; it sends from ``LMS_ASSESSMENT_REMINDER_HOUR`` (9:00 local time)
on ``LMS_ASSESSMENT_REMINDER_WEEKDAY`` (1 = Monday) or later in the week.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from lms import clock, org_settings
from lms.assessment import services
from lms.assessment.models import AssessmentResult, AssessmentRun, ReminderKind, SentReminder
from lms.assessment.periods import current_period, iso_week_key
from lms.assessment.targets import active_targets
from lms.auth.models import Branch, Role, User
from lms.extensions import db
from lms.notices.mail import mail_enabled
from lms.notices.outbox import queue_mails
from lms.notices.services import notify_each

log = logging.getLogger(__name__)

MEMBER_LINK = "/assessment/"
DIGEST_LINK = "/admin/reports"


def _setting(name: str, default: int) -> int:
    value = org_settings.value(name)
    return int(default if value is None else value)


def is_reminder_time(now: datetime) -> bool:
    """True from the configured weekday and hour (local time) to the end of that ISO week."""
    local = now.astimezone(clock.local_zone())
    weekday = _setting("ASSESSMENT_REMINDER_WEEKDAY", 1)
    hour = _setting("ASSESSMENT_REMINDER_HOUR", 9)
    return (local.isoweekday(), local.hour) >= (weekday, hour)


def current_runs(today: date) -> list[AssessmentRun]:
    """The newest stored run of each active target's current period."""
    runs = []
    for target in active_targets():
        period = current_period(target, today)
        if period is None:
            continue
        run = services.latest_run(target.id, period.key)
        if run is not None:
            runs.append(run)
    return runs


def needs_reminder_clause(today: date):
    """A WHERE clause on ``AssessmentResult``: behind pace, or required items overdue or due soon,
    in a period that has not ended."""
    return sa.and_(
        AssessmentResult.period_end >= today,
        AssessmentResult.period_start <= today,
        sa.or_(AssessmentResult.behind.is_(True), AssessmentResult.due_soon > 0, AssessmentResult.overdue > 0),
    )


@dataclass
class ReminderBatch:
    reminders: int = 0
    digests: int = 0
    emails: int = 0  # queued in the mail outbox
    week: str = ""
    skipped: str = ""


def _member_lines(rows: list[tuple[AssessmentResult, str]], today: date) -> list[str]:
    lines = []
    for result, target_name in rows:
        if result.behind and result.required_hours:
            lines.append(
                _(
                    "%(target)s: %(hours).1f of %(required).1f study hours; %(expected).1f expected by today.",
                    target=target_name,
                    hours=result.hours,
                    required=result.required_hours,
                    expected=result.expected_hours,
                )
            )
        for item in result.items or []:
            if item.get("done"):
                continue
            due = date.fromisoformat(item["due"])
            days = (due - today).days
            kind = _("Required course") if item["kind"] == "course" else _("Required quiz")
            if days < 0:
                lines.append(_("%(kind)s «%(title)s» was due on %(due)s.", kind=kind, title=item["title"], due=due))
            elif days <= 14:
                lines.append(
                    _(
                        "%(kind)s «%(title)s» is due on %(due)s (%(days)d days left).",
                        kind=kind,
                        title=item["title"],
                        due=due,
                        days=days,
                    )
                )
    return lines


def send_weekly_reminders(now: datetime, *, force: bool = False) -> ReminderBatch:
    """The weekly job: remind members who are behind or have items due, and send secretaries their digest.

    Reads the newest run of each active target (refreshing runs not yet
    computed today first). Never more than one reminder per member and one
    digest per secretary per ISO week; ``force`` skips only the weekday/hour check.
    """
    today = clock.local_day(now)
    week = iso_week_key(today)
    batch = ReminderBatch(week=week)
    if not force and not is_reminder_time(now):
        batch.skipped = "not yet"
        return batch
    services.nightly_snapshots(now)
    runs = current_runs(today)
    if runs:
        _remind_members(runs, today, week, now, batch)
    _send_digests(runs, today, week, now, batch)
    log.info(
        "reminders for %s: %d reminders, %d digests, %d e-mails", week, batch.reminders, batch.digests, batch.emails
    )
    return batch


def _remind_members(runs: list[AssessmentRun], today: date, week: str, now: datetime, batch: ReminderBatch) -> None:
    names = {run.id: run.target_name for run in runs}
    already = sa.select(SentReminder.user_id).where(
        SentReminder.iso_week == week, SentReminder.kind == ReminderKind.REMINDER
    )
    rows = db.session.execute(
        sa.select(AssessmentResult, User.email, User.locale)
        .join(User, User.id == AssessmentResult.user_id)
        .where(
            AssessmentResult.run_id.in_(names),
            needs_reminder_clause(today),
            User.is_active.is_(True),
            AssessmentResult.user_id.not_in(already),
        )
        .order_by(AssessmentResult.user_id, AssessmentResult.run_id)
    ).all()
    by_member: dict[int, list] = defaultdict(list)
    contact: dict[int, tuple[str | None, str | None]] = {}
    for result, email, locale in rows:
        by_member[result.user_id].append((result, names[result.run_id]))
        contact[result.user_id] = (email, locale)
    if not by_member:
        return
    emailing = mail_enabled()
    db.session.execute(
        sa.insert(SentReminder),
        [
            {
                "user_id": user_id,
                "iso_week": week,
                "kind": ReminderKind.REMINDER,
                "sent_at": now,
                "emailed": emailing and bool(contact[user_id][0]),
            }
            for user_id in by_member
        ],
    )
    messages, mails = [], []
    for user_id, member_rows in by_member.items():
        email, locale = contact[user_id]
        with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            title = _("Learning reminder: you have study to catch up on")
            body = " ".join(_member_lines(member_rows, today)) or _("Some of your learning targets need attention.")
            body += " " + _("See “My learning” for the details.")
        messages.append((user_id, title, body))
        if emailing and email:
            mails.append((email, title, body))
    batch.reminders = notify_each(messages, kind="reminder", link=MEMBER_LINK, now=now)
    db.session.flush()
    batch.emails += queue_mails(mails, now=now)


@dataclass
class _BranchTally:
    members: int = 0
    behind: int = 0
    due: int = 0
    overdue: int = 0
    names: list[str] = field(default_factory=list)


def _send_digests(runs: list[AssessmentRun], today: date, week: str, now: datetime, batch: ReminderBatch) -> None:
    already = sa.select(SentReminder.user_id).where(
        SentReminder.iso_week == week, SentReminder.kind == ReminderKind.DIGEST
    )
    secretaries = db.session.execute(
        sa.select(User.id, User.email, User.locale, Branch.id, Branch.path, Branch.name)
        .join(Branch, Branch.id == User.branch_id)
        .where(User.role == Role.SECRETARY, User.is_active.is_(True), User.id.not_in(already))
    ).all()
    if not secretaries or not runs:
        return
    run_ids = [run.id for run in runs]
    current = sa.and_(AssessmentResult.period_end >= today, AssessmentResult.period_start <= today)
    # One grouped query: per branch, distinct members scored and those needing attention.
    tallies_rows = db.session.execute(
        sa.select(
            AssessmentResult.branch_id,
            sa.func.count(sa.distinct(AssessmentResult.user_id)),
            sa.func.count(sa.distinct(sa.case((AssessmentResult.behind.is_(True), AssessmentResult.user_id)))),
            sa.func.count(sa.distinct(sa.case((AssessmentResult.due_soon > 0, AssessmentResult.user_id)))),
            sa.func.count(sa.distinct(sa.case((AssessmentResult.overdue > 0, AssessmentResult.user_id)))),
        )
        .where(AssessmentResult.run_id.in_(run_ids), current)
        .group_by(AssessmentResult.branch_id)
    ).all()
    paths = dict(db.session.execute(sa.select(Branch.id, Branch.path)).all())
    subtree: dict[int, _BranchTally] = defaultdict(_BranchTally)
    for branch_id, members, behind, due, overdue in tallies_rows:
        if branch_id not in paths:
            continue
        for ancestor in (int(p) for p in paths[branch_id].strip("/").split("/") if p):
            tally = subtree[ancestor]
            tally.members += members
            tally.behind += behind
            tally.due += due
            tally.overdue += overdue
    messages, mails, sent_rows = [], [], []
    emailing = mail_enabled()
    for user_id, email, locale, branch_id, _path, branch_name in secretaries:
        tally = subtree.get(branch_id)
        if tally is None or tally.members == 0:
            continue
        with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            title = _("Weekly learning digest: %(branch)s", branch=branch_name)
            body = _(
                "%(members)d members are assessed; %(behind)d are behind pace, %(due)d have required items due "
                "within 14 days and %(overdue)d have items overdue. Open the reports for the names.",
                members=tally.members,
                behind=tally.behind,
                due=tally.due,
                overdue=tally.overdue,
            )
        messages.append((user_id, title, body))
        sent_rows.append(
            {
                "user_id": user_id,
                "iso_week": week,
                "kind": ReminderKind.DIGEST,
                "sent_at": now,
                "emailed": emailing and bool(email),
            }
        )
        if emailing and email:
            mails.append((email, title, body))
    if not sent_rows:
        return
    db.session.execute(sa.insert(SentReminder), sent_rows)
    batch.digests = notify_each(messages, kind="digest", link=DIGEST_LINK, now=now)
    db.session.flush()
    batch.emails += queue_mails(mails, now=now)
