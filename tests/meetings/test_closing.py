"""Closing a meeting: absentees, 学时 credited in the ledger (source=meeting), corrections, the lock, minutes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from lms.courses.archive import learning_archive
from lms.courses.ledger import study_hours_to_seconds
from lms.courses.models import StudyLedgerEntry, StudySource
from lms.errors import InvalidState
from lms.extensions import db
from lms.meetings import checkin, closing
from lms.meetings.models import AttendanceStatus, MeetingAttendance, MeetingStatus
from tests.meetings.conftest import START


def _ledger(meeting_id=None):
    query = sa.select(StudyLedgerEntry)
    if meeting_id is not None:
        query = query.where(StudyLedgerEntry.meeting_id == meeting_id)
    return {row.user_id: row for row in db.session.scalars(query)}


def _held(org, make_meeting, **kwargs):
    meeting = make_meeting(attendees=[org.secretary, org.alice, org.bob, org.carol], **kwargs)
    checkin.request_leave(meeting, org.carol, "出差", now=START - timedelta(days=1))
    checkin.decide_leave(org.secretary, meeting, org.carol.id, True, now=START - timedelta(days=1))
    checkin.sign_in(meeting, org.secretary, now=START - timedelta(minutes=10))
    checkin.sign_in(meeting, org.alice, now=START + timedelta(minutes=20))  # late
    db.session.commit()
    return meeting


def test_closing_credits_those_there_and_marks_the_rest_absent(org, make_meeting):
    meeting = _held(org, make_meeting)
    assert _ledger() == {}
    credited = closing.close_meeting(org.admin, meeting, now=meeting.ends_at)
    db.session.commit()
    assert credited == 2
    statuses = dict(db.session.execute(sa.select(MeetingAttendance.user_id, MeetingAttendance.status)).all())
    assert statuses == {org.secretary.id: AttendanceStatus.PRESENT, org.alice.id: AttendanceStatus.LATE,
                        org.bob.id: AttendanceStatus.ABSENT, org.carol.id: AttendanceStatus.LEAVE}  # fmt: skip
    rows = _ledger(meeting.id)
    assert set(rows) == {org.secretary.id, org.alice.id}
    for row in rows.values():
        assert row.source == StudySource.MEETING
        assert row.lesson_id is None and row.offline_record_id is None
        assert row.seconds == study_hours_to_seconds(meeting.study_hours)
        assert row.day == date(2026, 3, 10)


def test_closing_twice_is_refused_and_changes_nothing(org, make_meeting):
    meeting = _held(org, make_meeting)
    closing.close_meeting(org.admin, meeting, now=meeting.ends_at)
    db.session.commit()
    with pytest.raises(InvalidState, match="已经结束"):
        closing.close_meeting(org.secretary, meeting, now=meeting.ends_at + timedelta(hours=1))
    db.session.rollback()
    assert len(_ledger(meeting.id)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudyLedgerEntry)) == 2


def test_a_meeting_cannot_be_closed_before_it_starts(org, make_meeting):
    meeting = make_meeting()
    with pytest.raises(InvalidState, match="尚未开始"):
        closing.close_meeting(org.secretary, meeting, now=START - timedelta(minutes=1))
    assert meeting.status == MeetingStatus.SCHEDULED


def test_corrections_after_closing_move_the_ledger_with_them(org, make_meeting):
    meeting = _held(org, make_meeting)
    closing.close_meeting(org.admin, meeting, now=meeting.ends_at)
    later = meeting.ends_at + timedelta(days=1)
    checkin.set_attendance(org.admin, meeting, org.bob.id, AttendanceStatus.PRESENT, "签到表补录", now=later)
    checkin.set_attendance(org.admin, meeting, org.alice.id, AttendanceStatus.ABSENT, "误签", now=later)
    db.session.commit()
    assert set(_ledger(meeting.id)) == {org.secretary.id, org.bob.id}


def test_a_locked_meeting_refuses_every_change(org, make_meeting):
    meeting = _held(org, make_meeting)
    closing.close_meeting(org.admin, meeting, now=meeting.ends_at)
    db.session.commit()
    after_window = meeting.ends_at + timedelta(days=7, seconds=1)
    assert closing.is_locked(meeting, after_window)
    with pytest.raises(InvalidState, match="已锁定"):
        checkin.set_attendance(org.secretary, meeting, org.bob.id, AttendanceStatus.PRESENT, "补录", now=after_window)
    with pytest.raises(InvalidState, match="已锁定"):
        closing.save_minutes(org.secretary, meeting, "<p>改</p>", now=after_window)
    db.session.rollback()
    assert set(_ledger(meeting.id)) == {org.secretary.id, org.alice.id}


def test_locking_by_hand_ends_the_window_early(org, make_meeting):
    meeting = _held(org, make_meeting)
    with pytest.raises(InvalidState, match="只有已结束的会议"):
        closing.lock_meeting(org.secretary, meeting, now=meeting.ends_at)
    closing.close_meeting(org.secretary, meeting, now=meeting.ends_at)
    closing.lock_meeting(org.secretary, meeting, now=meeting.ends_at + timedelta(hours=1))
    with pytest.raises(InvalidState, match="已锁定"):
        closing.save_minutes(org.secretary, meeting, "<p>x</p>", now=meeting.ends_at + timedelta(hours=2))


def test_minutes_are_sanitised(org, make_meeting):
    meeting = make_meeting()
    closing.save_minutes(org.secretary, meeting, '<p onclick="x()">会议记录</p><script>alert(1)</script>', now=START)
    assert "script" not in meeting.minutes_html and "onclick" not in meeting.minutes_html
    assert "会议记录" in meeting.minutes_html


def test_the_member_archive_lists_the_meeting_and_counts_its_hours(org, make_meeting):
    meeting = _held(org, make_meeting)
    closing.close_meeting(org.admin, meeting, now=meeting.ends_at)
    db.session.commit()
    archive = learning_archive(org.alice, 2026, now=meeting.ends_at)
    assert [(line.record_id, line.activity, line.topic) for line in archive.offline] == [
        (meeting.id, "主题党日", "重温入党誓词")
    ]
    assert archive.total_seconds == study_hours_to_seconds(meeting.study_hours)
    assert learning_archive(org.bob, 2026, now=meeting.ends_at).offline == []
