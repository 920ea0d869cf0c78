"""Offline study (三会一课, 主题党日, training) entered by secretaries, with an audit trail.

A record's attendees each get one ledger row (source=offline, the record's
date, its 学时 converted to seconds), so offline time is summed by the same
query as online time and counted exactly once. Creating, changing and deleting
a record writes an audit row (who, when, before and after). A secretary may
enter or change only records of their branch subtree dated within the last
``LMS_OFFLINE_EDIT_WINDOW_DAYS`` days; an admin may do so any time. A record
credits at most ``LMS_OFFLINE_MAX_HOURS`` 学时.

Nobody credits themselves alone: when whoever enters or changes a record is
among its attendees, their attendance waits (``OfflinePendingAttendance``, no
ledger row, no credit) until a second person confirms it: an administrator, or
another secretary or committee member whose branch holds the record's branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import abort, current_app
from flask_babel import lazy_gettext as _l

from lms import audit, clock, org_settings
from lms.auth.models import Branch, User
from lms.auth.permissions import branch_scope_clause
from lms.courses.ledger import study_hours_to_seconds
from lms.courses.models import (
    OfflineActivity,
    OfflinePendingAttendance,
    OfflineRecordAudit,
    OfflineStudyRecord,
    StudyLedgerEntry,
    StudySource,
)
from lms.errors import Forbidden, NotFound, ValidationFailed
from lms.extensions import db


def max_study_hours() -> float:
    """The most 学时 one offline record may credit (``LMS_OFFLINE_MAX_HOURS``)."""
    return float(current_app.config["OFFLINE_MAX_HOURS"])


@dataclass
class OfflineRecordFields:
    branch_id: int
    activity: OfflineActivity
    held_on: date
    study_hours: float
    topic: str
    notes: str = ""
    attendee_ids: list[int] = field(default_factory=list)


def edit_window_start(now: datetime) -> date:
    """The earliest date a secretary may still enter or change (today minus the window)."""
    return clock.local_day(now) - timedelta(days=int(org_settings.value("OFFLINE_EDIT_WINDOW_DAYS")))


def may_change_date(viewer: User, held_on: date, now: datetime) -> bool:
    """True when ``viewer`` may enter or change a record dated ``held_on``."""
    return viewer.is_admin or held_on >= edit_window_start(now)


def scoped_records_query(viewer: User) -> sa.Select:
    """Offline records of the branches in the viewer's scope, newest first."""
    return (
        sa.select(OfflineStudyRecord)
        .join(Branch, Branch.id == OfflineStudyRecord.branch_id)
        .where(branch_scope_clause(viewer))
        .order_by(OfflineStudyRecord.held_on.desc(), OfflineStudyRecord.id.desc())
    )


def get_record_or_404(viewer: User, record_id: int) -> OfflineStudyRecord:
    """A record within the viewer's scope; any other id looks missing (404)."""
    record = db.session.scalar(scoped_records_query(viewer).where(OfflineStudyRecord.id == record_id))
    if record is None:
        abort(404)
    return record


def eligible_attendees(branch: Branch) -> list[User]:
    """Active members of ``branch`` and the branches under it, by name."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Branch, Branch.id == User.branch_id)
            .where(Branch.path.startswith(branch.path), User.is_active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def _attendance(record_ids):
    """(record id, user id) of every attendee, credited or waiting for confirmation."""
    credited = sa.select(StudyLedgerEntry.offline_record_id.label("record_id"), StudyLedgerEntry.user_id).where(
        StudyLedgerEntry.offline_record_id.in_(record_ids)
    )
    pending = sa.select(OfflinePendingAttendance.record_id, OfflinePendingAttendance.user_id).where(
        OfflinePendingAttendance.record_id.in_(record_ids)
    )
    return sa.union_all(credited, pending).subquery()


def attendee_ids(record: OfflineStudyRecord) -> list[int]:
    """The ids of the record's attendees (credited, and those waiting for confirmation)."""
    attendance = _attendance([record.id])
    return list(db.session.scalars(sa.select(attendance.c.user_id).order_by(attendance.c.user_id)))


def pending_ids(record: OfflineStudyRecord) -> list[int]:
    """The ids of the record's attendees whose credit waits for a second person's confirmation."""
    return list(
        db.session.scalars(
            sa.select(OfflinePendingAttendance.user_id)
            .where(OfflinePendingAttendance.record_id == record.id)
            .order_by(OfflinePendingAttendance.user_id)
        )
    )


def attendee_counts(record_ids: list[int]) -> dict[int, int]:
    """How many attendees each record has (one query)."""
    if not record_ids:
        return {}
    attendance = _attendance(record_ids)
    rows = db.session.execute(sa.select(attendance.c.record_id, sa.func.count()).group_by(attendance.c.record_id))
    return dict(rows.all())


def _validated(viewer: User, fields: OfflineRecordFields, now: datetime) -> tuple[Branch, list[int]]:
    branch = db.session.scalar(sa.select(Branch).where(Branch.id == fields.branch_id, branch_scope_clause(viewer)))
    if branch is None:
        raise ValidationFailed(_l("Pick a branch you manage."), "branch_id")
    try:
        OfflineActivity(fields.activity)
    except ValueError as error:
        raise ValidationFailed(_l("Pick the kind of activity."), "activity") from error
    if fields.held_on is None:
        raise ValidationFailed(_l("Give the date of the activity."), "held_on")
    if fields.held_on > clock.local_day(now):
        raise ValidationFailed(_l("The date cannot be in the future."), "held_on")
    if not may_change_date(viewer, fields.held_on, now):
        raise ValidationFailed(
            _l(
                "Records older than %(days)d days can only be entered or changed by an administrator.",
                days=int(org_settings.value("OFFLINE_EDIT_WINDOW_DAYS")),
            ),
            "held_on",
        )
    hours = fields.study_hours
    if hours is None or not 0 < hours <= max_study_hours():
        raise ValidationFailed(
            _l("Study hours must be more than 0 and at most %(n)s.", n=format(max_study_hours(), "g")), "study_hours"
        )
    if not (fields.topic or "").strip():
        raise ValidationFailed(_l("Give the topic."), "topic")
    wanted = sorted({int(i) for i in fields.attendee_ids})
    if not wanted:
        raise ValidationFailed(_l("Choose at least one attendee."), "attendee_ids")
    allowed = {user.id for user in eligible_attendees(branch)}
    if not set(wanted) <= allowed:
        raise ValidationFailed(_l("Attendees must be active members of the chosen branch."), "attendee_ids")
    return branch, wanted


def _snapshot(record: OfflineStudyRecord, attendees: list[int]) -> dict:
    names = dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(attendees))).all())
    return {
        "branch_id": record.branch_id,
        "branch": record.branch.name if record.branch else "",
        "activity": str(record.activity),
        "held_on": record.held_on.isoformat(),
        "study_hours": record.study_hours,
        "topic": record.topic,
        "notes": record.notes,
        "attendee_ids": attendees,
        "attendees": [names.get(i, str(i)) for i in attendees],
    }


def _audit(record: OfflineStudyRecord, action: str, actor: User, now: datetime, before, after) -> None:
    db.session.add(
        OfflineRecordAudit(
            record_id=record.id,
            branch_id=record.branch_id,
            action=action,
            actor_id=actor.id,
            at=now,
            before=before,
            after=after,
        )
    )
    path = record.branch.path if record.branch else None
    audit.record(f"offline_record.{action}", "offline_record", record.id, before, after, actor=actor, now=now,
                 label=record.topic, branch_path=path)


def _ledger_row(record: OfflineStudyRecord, user_id: int) -> dict:
    return {
        "user_id": user_id,
        "day": record.held_on,
        "source": StudySource.OFFLINE,
        "lesson_id": None,
        "offline_record_id": record.id,
        "seconds": study_hours_to_seconds(record.study_hours, record.held_on),
        "updated_at": record.updated_at,
    }


def _write_attendance(record: OfflineStudyRecord, attendees: list[int], actor: User, now: datetime) -> None:
    """Credit the attendees, except the actor's own attendance and any still unconfirmed: those wait."""
    waiting = (set(pending_ids(record)) | {actor.id}) & set(attendees)
    # Replace the rows in statements of their own: the ORM would insert before deleting.
    db.session.execute(sa.delete(StudyLedgerEntry).where(StudyLedgerEntry.offline_record_id == record.id))
    db.session.execute(sa.delete(OfflinePendingAttendance).where(OfflinePendingAttendance.record_id == record.id))
    credited = [user_id for user_id in attendees if user_id not in waiting]
    if credited:
        db.session.execute(sa.insert(StudyLedgerEntry), [_ledger_row(record, user_id) for user_id in credited])
    if waiting:
        db.session.execute(
            sa.insert(OfflinePendingAttendance),
            [{"record_id": record.id, "user_id": user_id, "requested_by_id": actor.id, "requested_at": now}
             for user_id in sorted(waiting)],
        )  # fmt: skip


def _apply(record: OfflineStudyRecord, fields: OfflineRecordFields, branch: Branch) -> None:
    record.branch_id = branch.id
    record.branch = branch
    record.activity = OfflineActivity(fields.activity)
    record.held_on = fields.held_on
    record.study_hours = round(float(fields.study_hours), 2)
    record.topic = fields.topic.strip()[:200]
    record.notes = (fields.notes or "").strip()


def record_offline_study(viewer: User, fields: OfflineRecordFields, *, now: datetime) -> OfflineStudyRecord:
    """Enter an offline activity and credit each attendee its 学时 (source=offline).

    Raises ValidationFailed (with the field) for a branch outside the viewer's
    scope, a future date or one outside the secretary's window, hours out of
    range, a missing topic, or attendees outside the branch.
    """
    branch, attendees = _validated(viewer, fields, now)
    record = OfflineStudyRecord(recorded_by_id=viewer.id, created_at=now, updated_at=now)
    _apply(record, fields, branch)
    db.session.add(record)
    db.session.flush()
    _write_attendance(record, attendees, viewer, now)
    _audit(record, "create", viewer, now, None, _snapshot(record, attendees))
    return record


def update_offline_record(
    viewer: User, record: OfflineStudyRecord, fields: OfflineRecordFields, *, now: datetime
) -> OfflineStudyRecord:
    """Change a record (and its attendees' ledger rows), keeping the before/after in the audit trail."""
    if not may_change_date(viewer, record.held_on, now):
        raise Forbidden(_l("This record is older than the editing window; only an administrator can change it."))
    branch, attendees = _validated(viewer, fields, now)
    before = _snapshot(record, attendee_ids(record))
    _apply(record, fields, branch)
    record.updated_at = now
    db.session.flush()
    _write_attendance(record, attendees, viewer, now)
    after = _snapshot(record, attendees)
    if after != before:
        _audit(record, "update", viewer, now, before, after)
    return record


def delete_offline_record(viewer: User, record: OfflineStudyRecord, *, now: datetime) -> None:
    """Delete a record and its attendees' study time; the audit trail keeps what it was."""
    if not may_change_date(viewer, record.held_on, now):
        raise Forbidden(_l("This record is older than the editing window; only an administrator can delete it."))
    _audit(record, "delete", viewer, now, _snapshot(record, attendee_ids(record)), None)
    db.session.execute(sa.delete(StudyLedgerEntry).where(StudyLedgerEntry.offline_record_id == record.id))
    db.session.execute(sa.delete(OfflinePendingAttendance).where(OfflinePendingAttendance.record_id == record.id))
    db.session.delete(record)


def audit_trail(viewer: User, record_id: int | None = None, limit: int = 200) -> list[OfflineRecordAudit]:
    """Audit rows of the viewer's branches (or of one record), newest first."""
    query = (
        sa.select(OfflineRecordAudit)
        .outerjoin(Branch, Branch.id == OfflineRecordAudit.branch_id)
        .order_by(OfflineRecordAudit.at.desc(), OfflineRecordAudit.id.desc())
        .limit(limit)
    )
    if not viewer.is_admin:
        query = query.where(branch_scope_clause(viewer))
    if record_id is not None:
        query = query.where(OfflineRecordAudit.record_id == record_id)
    return list(db.session.scalars(query))


# --- confirming one's own attendance (a second person) -----------------------------


def may_confirm(viewer: User, pending: OfflinePendingAttendance) -> bool:
    """True when ``viewer`` may confirm ``pending``: a second person with authority over the record's branch.

    Never the member credited, nor whoever entered it; an administrator, or a
    secretary or committee member whose own branch holds the record's branch.
    """
    if viewer.id in (pending.user_id, pending.requested_by_id):
        return False
    if viewer.is_admin:
        return True
    if not (viewer.is_secretary or viewer.is_committee_member) or viewer.branch is None:
        return False
    branch = pending.record.branch
    return branch is not None and branch.path.startswith(viewer.branch.path)


def pending_for(viewer: User) -> list[OfflinePendingAttendance]:
    """The waiting attendances ``viewer`` may confirm, oldest first."""
    if not (viewer.is_admin or viewer.is_secretary or viewer.is_committee_member):
        return []
    query = (
        sa.select(OfflinePendingAttendance)
        .join(OfflineStudyRecord, OfflineStudyRecord.id == OfflinePendingAttendance.record_id)
        .join(Branch, Branch.id == OfflineStudyRecord.branch_id)
        .where(OfflinePendingAttendance.user_id != viewer.id)
        .where(
            sa.or_(
                OfflinePendingAttendance.requested_by_id.is_(None),
                OfflinePendingAttendance.requested_by_id != viewer.id,
            )
        )  # fmt: skip
        .order_by(OfflinePendingAttendance.requested_at, OfflinePendingAttendance.record_id)
    )
    if not viewer.is_admin:
        if viewer.branch is None:
            return []
        query = query.where(Branch.path.startswith(viewer.branch.path))
    return list(db.session.scalars(query))


def confirm_attendance(viewer: User, record_id: int, user_id: int, *, now: datetime) -> OfflineStudyRecord:
    """A second person confirms a waiting attendance: it becomes a ledger row and is audited.

    Raises NotFound when nothing waits (or the viewer may not see it), Forbidden
    when the viewer is the member credited, whoever entered it, or has no
    authority over the record's branch.
    """
    pending = db.session.get(OfflinePendingAttendance, (record_id, user_id))
    if pending is None:
        raise NotFound(_l("Nothing waits for confirmation here."))
    if not may_confirm(viewer, pending):
        raise Forbidden(_l("Someone other than the member and whoever entered the record must confirm it."))
    record = pending.record
    db.session.delete(pending)
    db.session.flush()
    db.session.execute(sa.insert(StudyLedgerEntry), [_ledger_row(record, user_id)])
    name = db.session.scalar(sa.select(User.name).where(User.id == user_id)) or str(user_id)
    _audit(record, "confirm", viewer, now, None, {"confirmed_user_id": user_id, "confirmed": name})
    return record
