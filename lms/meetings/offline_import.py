"""Offline study records become meetings (DESIGN.md §10), with nothing lost.

Each ``OfflineStudyRecord`` not yet imported becomes a closed meeting of its
branch: the kind from its activity, its date (at 09:00 local, the time was
never recorded), topic, notes as the agenda, its 学时, who entered it and when.
Its attendees become attendance rows (present, entered by hand by the record's
author, with the reason saying where they came from), and its ledger rows are
moved, not rewritten: the same rows, seconds and days, now with
source=meeting and the meeting's id. An attendance that waited for a second
person's confirmation (the author's own) keeps waiting, now as the meeting's
``MeetingCreditConfirmation``. The record and its audit trail stay where
they are (the trail is the history of the entry). Run by `flask lms init` (an
INIT module) and before the demo meetings; running it again changes nothing.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from lms import clock
from lms.courses.models import (
    OfflineActivity,
    OfflinePendingAttendance,
    OfflineStudyRecord,
    StudyLedgerEntry,
    StudySource,
)
from lms.extensions import db
from lms.meetings.models import (
    AttendanceStatus,
    AttendeeRule,
    Cadence,
    CheckinMethod,
    KindLevel,
    Meeting,
    MeetingAttendance,
    MeetingCreditConfirmation,
    MeetingKind,
    MeetingStatus,
)

KIND_OF_ACTIVITY = {
    OfflineActivity.BRANCH_GENERAL_MEETING: "general_meeting",
    OfflineActivity.BRANCH_COMMITTEE_MEETING: "committee_meeting",
    OfflineActivity.PARTY_GROUP_MEETING: "group_meeting",
    OfflineActivity.PARTY_LECTURE: "party_lecture",
    OfflineActivity.THEME_PARTY_DAY: "theme_party_day",
    OfflineActivity.TRAINING: "training_day",
    OfflineActivity.OTHER: "other_activity",
}
IMPORT_REASON = "由线下学习记录迁移"


def _kinds() -> dict[str, MeetingKind]:
    from lms.meetings.kinds import seed_defaults

    seed_defaults()
    found = {kind.code: kind for kind in db.session.scalars(sa.select(MeetingKind))}
    if "other_activity" not in found:
        other = MeetingKind(code="other_activity", name="其他组织生活", cadence=Cadence.NONE, level=KindLevel.BRANCH,
                            attendee_rule=AttendeeRule.GROUP, audience_statuses=[], study_hours=1.0,
                            is_active=False, position=99)  # fmt: skip
        db.session.add(other)
        db.session.flush()
        found[other.code] = other
    return found


def import_offline_records(*, now: datetime) -> int:
    """Turn every offline record without a meeting into a closed meeting; returns how many were imported."""
    imported = sa.select(Meeting.offline_record_id).where(Meeting.offline_record_id.is_not(None))
    records = db.session.scalars(
        sa.select(OfflineStudyRecord).where(OfflineStudyRecord.id.not_in(imported)).order_by(OfflineStudyRecord.id)
    ).all()
    if not records:
        return 0
    kinds = _kinds()
    for record in records:
        kind = kinds[KIND_OF_ACTIVITY.get(OfflineActivity(record.activity), "other_activity")]
        starts = clock.local_midnight(record.held_on) + timedelta(hours=9)
        meeting = Meeting(
            branch_id=record.branch_id, kind_id=kind.id, topic=record.topic, starts_at=starts,
            ends_at=starts + timedelta(hours=min(max(record.study_hours, 1.0), 12.0)), place="", online_url="",
            agenda=record.notes or "", lesson_ids=[], status=MeetingStatus.CLOSED, study_hours=record.study_hours,
            needs_sign_out=False, checkin_opens_minutes=0, checkin_key=secrets.token_hex(16),
            created_by_id=record.recorded_by_id, created_at=record.created_at, updated_at=now,
            closed_at=record.updated_at, closed_by_id=record.recorded_by_id, offline_record_id=record.id,
        )  # fmt: skip
        db.session.add(meeting)
        db.session.flush()
        credited = list(
            db.session.scalars(
                sa.select(StudyLedgerEntry.user_id).where(StudyLedgerEntry.offline_record_id == record.id)
            )
        )
        waiting = db.session.execute(
            sa.select(OfflinePendingAttendance.user_id, OfflinePendingAttendance.requested_at).where(
                OfflinePendingAttendance.record_id == record.id, OfflinePendingAttendance.user_id.not_in(credited)
            )
        ).all()
        attendees = credited + [user_id for user_id, _ in waiting]
        if attendees:
            db.session.execute(
                sa.insert(MeetingAttendance),
                [{"meeting_id": meeting.id, "user_id": user_id, "status": AttendanceStatus.PRESENT,
                  "signed_in_at": starts, "checkin_method": CheckinMethod.MANUAL,
                  "manual_by_id": record.recorded_by_id, "manual_at": record.created_at,
                  "manual_reason": IMPORT_REASON} for user_id in attendees],
            )  # fmt: skip
        if waiting:
            db.session.execute(
                sa.insert(MeetingCreditConfirmation),
                [{"meeting_id": meeting.id, "user_id": user_id, "requested_at": requested_at, "reason": "attendance"}
                 for user_id, requested_at in waiting],
            )  # fmt: skip
            moved = sa.delete(OfflinePendingAttendance).where(OfflinePendingAttendance.record_id == record.id)
            db.session.execute(moved)
        db.session.execute(
            sa.update(StudyLedgerEntry)
            .where(StudyLedgerEntry.offline_record_id == record.id)
            .values(source=StudySource.MEETING, meeting_id=meeting.id, offline_record_id=None)
        )
    db.session.flush()
    return len(records)


def seed_defaults() -> list[str]:
    """`flask lms init`: import the offline records entered before meetings existed."""
    count = import_offline_records(now=clock.utcnow())
    return [f"Offline study records moved into meetings: {count}."] if count else []
