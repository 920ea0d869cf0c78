"""Offline study records become closed meetings with nothing lost; the old pages lead to them."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from lms import clock
from lms.courses import ledger, offline
from lms.courses.archive import learning_archive
from lms.courses.models import OfflineActivity, OfflineRecordAudit, OfflineStudyRecord, StudyLedgerEntry, StudySource
from lms.extensions import db
from lms.meetings.models import AttendanceStatus, CheckinMethod, Meeting, MeetingAttendance, MeetingStatus
from lms.meetings.offline_import import IMPORT_REASON, import_offline_records


def _record(org, activity=OfflineActivity.PARTY_LECTURE, hours=1.5, attendees=None, held_on=None):
    fields = offline.OfflineRecordFields(
        branch_id=org.branch.id, activity=activity, held_on=held_on or date(2026, 2, 20), study_hours=hours,
        topic="书记讲党课", notes="学习党章第一章", attendee_ids=[u.id for u in (attendees or [org.alice, org.bob])],
    )  # fmt: skip
    record = offline.record_offline_study(org.secretary, fields, now=clock.utcnow())
    db.session.commit()
    return record


def _ledger():
    return {
        row.id: (row.user_id, row.day, row.seconds)
        for row in db.session.scalars(sa.select(StudyLedgerEntry).order_by(StudyLedgerEntry.id))
    }


def test_records_become_closed_meetings_with_the_same_ledger_rows(org, frozen_clock):
    record = _record(org)
    other = _record(org, activity=OfflineActivity.OTHER, hours=3, attendees=[org.carol], held_on=date(2026, 2, 1))
    before = _ledger()
    totals = {u.id: ledger.study_seconds(u.id, *ledger.year_bounds(2026)) for u in (org.alice, org.bob, org.carol)}
    archive_before = learning_archive(org.alice, 2026, now=frozen_clock.now)

    assert import_offline_records(now=frozen_clock.now) == 2
    db.session.commit()

    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.offline_record_id == record.id))
    assert (meeting.status, meeting.kind.code, meeting.topic, meeting.agenda, meeting.study_hours) == (
        MeetingStatus.CLOSED, "party_lecture", "书记讲党课", "学习党章第一章", 1.5)  # fmt: skip
    assert clock.local_day(meeting.starts_at) == date(2026, 2, 20)
    assert (meeting.created_by_id, meeting.closed_by_id) == (org.secretary.id, org.secretary.id)
    rows = db.session.scalars(sa.select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting.id)).all()
    assert {r.user_id for r in rows} == {org.alice.id, org.bob.id}
    assert all((r.status, r.checkin_method, r.manual_by_id, r.manual_reason) == (
        AttendanceStatus.PRESENT, CheckinMethod.MANUAL, org.secretary.id, IMPORT_REASON) for r in rows)  # fmt: skip
    assert db.session.scalar(sa.select(Meeting).where(Meeting.offline_record_id == other.id)).kind.code == (
        "other_activity")  # fmt: skip

    # The same ledger rows: ids, members, days and seconds, now credited by the meetings.
    assert _ledger() == before
    for row in db.session.scalars(sa.select(StudyLedgerEntry)):
        assert (row.source, row.offline_record_id) == (StudySource.MEETING, None) and row.meeting_id is not None
    assert totals == {u.id: ledger.study_seconds(u.id, *ledger.year_bounds(2026)) for u in (org.alice, org.bob,
                                                                                            org.carol)}  # fmt: skip
    archive_after = learning_archive(org.alice, 2026, now=frozen_clock.now)
    assert archive_after.total_seconds == archive_before.total_seconds
    assert [(line.held_on, line.topic) for line in archive_after.offline] == [(date(2026, 2, 20), "书记讲党课")]
    # The records and their audit trail stay as the history of the entry.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OfflineStudyRecord)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OfflineRecordAudit)) == 2


def test_importing_again_changes_nothing(org, frozen_clock):
    _record(org)
    import_offline_records(now=frozen_clock.now)
    db.session.commit()
    before = (_ledger(), db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)))
    assert import_offline_records(now=frozen_clock.now + timedelta(days=1)) == 0
    assert (_ledger(), db.session.scalar(sa.select(sa.func.count()).select_from(Meeting))) == before


def test_the_old_offline_pages_lead_to_the_meeting(org, client, login, frozen_clock):
    record = _record(org)
    login(org.secretary)
    assert client.get("/admin/courses/offline").location.endswith("/meetings/")
    response = client.get(f"/admin/courses/offline/{record.id}", follow_redirects=True)
    assert response.status_code == 200 and "书记讲党课" in response.text
    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.offline_record_id == record.id))
    assert response.request.path == f"/meetings/{meeting.id}"
    login(org.alice)
    assert client.get(f"/meetings/from-offline/{record.id}").status_code == 403
