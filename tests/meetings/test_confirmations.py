"""Issue #11 in meetings: nobody credits themselves alone, and a meeting credits at most LMS_OFFLINE_MAX_HOURS."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from lms import audit
from lms.auth.models import Role
from lms.courses import offline
from lms.courses.models import OfflineActivity, OfflinePendingAttendance, StudyLedgerEntry
from lms.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from lms.extensions import db
from lms.meetings import checkin, closing, confirmations, kinds, scheduling
from lms.meetings.models import AttendanceStatus, Meeting, MeetingCreditConfirmation
from lms.meetings.offline_import import import_offline_records
from tests.meetings.conftest import START, kind


def _credited(meeting) -> set[int]:
    return set(db.session.scalars(sa.select(StudyLedgerEntry.user_id).where(StudyLedgerEntry.meeting_id == meeting.id)))


@pytest.fixture
def dave(org, make_user):
    """A committee member (支委委员) of the branch, who is not listed for the meeting."""
    return make_user(branch=org.branch, name="钱委员", is_committee_member=True)


def _held(org, make_meeting):
    meeting = make_meeting(attendees=[org.secretary, org.alice, org.bob])
    checkin.sign_in(meeting, org.secretary, now=START - timedelta(minutes=5))
    checkin.sign_in(meeting, org.alice, now=START)
    db.session.commit()
    return meeting


def test_the_closers_own_credit_waits_until_a_second_person_confirms(org, make_meeting, dave):
    meeting = _held(org, make_meeting)
    assert closing.close_meeting(org.secretary, meeting, now=meeting.ends_at) == 1
    db.session.commit()
    # Alice signed herself in by QR: credited at once. The secretary closed: her own credit waits.
    assert _credited(meeting) == {org.alice.id}
    assert closing.waiting_user_ids(meeting) == [org.secretary.id]
    later = meeting.ends_at + timedelta(hours=1)
    with pytest.raises(Forbidden):
        confirmations.confirm_credit(org.secretary, meeting, org.secretary.id, now=later)
    with pytest.raises(Forbidden):
        confirmations.confirm_credit(org.alice, meeting, org.secretary.id, now=later)  # not a committee member
    with pytest.raises(NotFound):
        confirmations.confirm_credit(dave, meeting, org.alice.id, now=later)  # nothing of hers waits
    db.session.rollback()
    assert _credited(meeting) == {org.alice.id}

    confirmations.confirm_credit(dave, meeting, org.secretary.id, now=later)
    db.session.commit()
    assert _credited(meeting) == {org.alice.id, org.secretary.id}
    assert closing.waiting_user_ids(meeting) == []
    row = db.session.scalar(sa.select(audit.AuditEntry).where(audit.AuditEntry.action == "meeting.confirm_credit"))
    assert row.actor_id == dave.id and row.after["member_id"] == org.secretary.id
    assert row.branch_path == org.branch.path and row.object_id == str(meeting.id)
    with pytest.raises(NotFound):  # twice: nothing waits any more
        confirmations.confirm_credit(dave, meeting, org.secretary.id, now=later)


def test_a_closer_who_was_not_there_holds_nothing_and_members_need_no_confirmation(org, make_meeting):
    meeting = make_meeting(attendees=[org.secretary, org.alice, org.bob])
    checkin.sign_in(meeting, org.alice, now=START)
    checkin.sign_in(meeting, org.bob, now=START)
    closing.close_meeting(org.secretary, meeting, now=meeting.ends_at)  # the secretary never signed in: absent
    db.session.commit()
    assert _credited(meeting) == {org.alice.id, org.bob.id}
    assert closing.waiting_user_ids(meeting) == []
    assert confirmations.waiting_on(meeting) == []


def test_taking_attendance_by_hand_holds_the_takers_own_credit(org, make_meeting, dave):
    meeting = make_meeting(attendees=[org.secretary, org.alice, org.bob])
    # At the meeting the secretary signs herself and Bob in by hand; the admin (not listed) closes.
    checkin.set_attendance(org.secretary, meeting, org.secretary.id, AttendanceStatus.PRESENT, "主持会议", now=START)
    checkin.set_attendance(org.secretary, meeting, org.bob.id, AttendanceStatus.PRESENT, "手机没电", now=START)
    checkin.sign_in(meeting, org.alice, now=START)
    closing.close_meeting(org.admin, meeting, now=meeting.ends_at)
    db.session.commit()
    assert _credited(meeting) == {org.alice.id, org.bob.id}
    assert closing.waiting_user_ids(meeting) == [org.secretary.id]
    hold = db.session.get(MeetingCreditConfirmation, (meeting.id, org.secretary.id))
    assert hold.reason == "attendance"

    later = meeting.ends_at + timedelta(hours=1)
    confirmations.confirm_credit(dave, meeting, org.secretary.id, now=later)
    db.session.commit()
    assert org.secretary.id in _credited(meeting)
    # Correcting someone else's attendance keeps her confirmation; changing her own row makes it wait again.
    checkin.set_attendance(org.secretary, meeting, org.bob.id, AttendanceStatus.LATE, "核对签到表", now=later)
    assert org.secretary.id in _credited(meeting)
    checkin.set_attendance(org.secretary, meeting, org.secretary.id, AttendanceStatus.LATE, "更正", now=later)
    db.session.commit()
    assert _credited(meeting) == {org.alice.id, org.bob.id}
    assert closing.waiting_user_ids(meeting) == [org.secretary.id]


def test_who_may_confirm(org, make_meeting, make_user, dave):
    meeting = _held(org, make_meeting)
    closing.close_meeting(org.secretary, meeting, now=meeting.ends_at)
    db.session.commit()
    other_secretary = make_user(role=Role.SECRETARY, branch=org.other_branch, name="别的书记")
    other_committee = make_user(branch=org.other_branch, name="别的委员", is_committee_member=True)
    above = make_user(role=Role.SUBTREE_ADMIN, branch_id=org.branch.parent_id, name="党委组织员")
    allowed = {user.name for user in (org.admin, dave, above, org.secretary, org.alice, other_secretary,
                                      other_committee) if confirmations.may_confirm(user, meeting, org.secretary.id)}
    assert allowed == {org.admin.name, dave.name, above.name}
    assert [item.user_id for item in confirmations.waiting_for(dave)] == [org.secretary.id]
    assert confirmations.waiting_for(org.secretary) == []  # never one's own
    assert confirmations.waiting_for(other_secretary) == [] and confirmations.waiting_for(org.alice) == []


def test_nobody_decides_their_own_leave(org, make_meeting):
    meeting = make_meeting()
    checkin.request_leave(meeting, org.secretary, "出差", now=START - timedelta(days=1))
    with pytest.raises(Forbidden, match="本人的请假须由他人审批"):
        checkin.decide_leave(org.secretary, meeting, org.secretary.id, True, now=START - timedelta(days=1))
    checkin.decide_leave(org.admin, meeting, org.secretary.id, True, now=START - timedelta(days=1))


def test_the_home_panel_and_the_meeting_page_show_waiting_credits(
    org, make_meeting, dave, client, login, frozen_clock
):
    meeting = _held(org, make_meeting)
    login(org.secretary)
    frozen_clock.set(meeting.ends_at)
    page = client.post(f"/meetings/{meeting.id}/close", follow_redirects=True).text
    assert "会议已结束" in page and "您本人在本次会议的学时须待" in page
    assert _credited(meeting) == {org.alice.id}
    page = client.get(f"/meetings/{meeting.id}").text
    assert 'data-testid="my-credit-waits"' in page and "等待确认" in page
    assert 'data-testid="confirm-credit"' not in page  # she cannot confirm her own
    assert 'data-testid="home-credit-confirmations"' not in client.get("/").text
    login(org.alice)
    assert 'data-testid="home-credit-confirmations"' not in client.get("/").text
    assert client.post(f"/meetings/{meeting.id}/credits/{org.secretary.id}/confirm").status_code == 302
    assert org.secretary.id not in _credited(meeting)

    login(dave)  # not listed for the meeting, yet may open it to see what he confirms
    home = client.get("/").text
    assert 'data-testid="home-credit-confirmations"' in home and "待确认的学时" in home and org.secretary.name in home
    page = client.get(f"/meetings/{meeting.id}")
    assert page.status_code == 200 and 'data-testid="confirm-credit"' in page.text
    response = client.post(f"/meetings/{meeting.id}/credits/{org.secretary.id}/confirm", data={"back": "home"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    assert org.secretary.id in _credited(meeting)
    assert 'data-testid="home-credit-confirmations"' not in client.get("/").text
    assert client.get(f"/meetings/{meeting.id}").status_code == 404  # nothing left to confirm there


def test_a_meeting_credits_at_most_the_configured_hours(org, make_meeting, app, client, login):
    with pytest.raises(ValidationFailed, match="最多计 8 学时"):
        make_meeting(study_hours=9)
    db.session.rollback()
    theme = kind("theme_party_day")
    fields = kinds.KindFields(name="主题党日", cadence=theme.cadence, level=theme.level,
                              attendee_rule=theme.attendee_rule, study_hours=8.5)  # fmt: skip
    with pytest.raises(ValidationFailed, match="最多计 8 学时"):
        kinds.update_kind(theme, fields, now=START)
    db.session.rollback()
    login(org.admin)
    response = client.post(f"/meetings/kinds/{theme.id}/edit", data={
        "name": "主题党日", "cadence": "monthly", "level": "branch", "attendee_rule": "members", "study_hours": "30",
        "is_active": "y",
    })  # fmt: skip
    assert response.status_code == 200 and "最多计 8 学时" in response.text
    db.session.refresh(theme)
    assert theme.study_hours == 2.0

    # Lowered below a kind's hours, the cap refuses scheduling with the kind's default and closing an older meeting.
    held = make_meeting(study_hours=6)
    app.config["OFFLINE_MAX_HOURS"] = 4
    with pytest.raises(ValidationFailed, match="最多计 4 学时"):
        make_meeting(code="training_day")
    db.session.rollback()
    with pytest.raises(InvalidState, match="超过一次会议最多可计的 4 学时"):
        closing.close_meeting(org.admin, held, now=held.ends_at)


def test_an_offline_records_waiting_attendance_keeps_waiting_as_the_meetings(org, make_branch, frozen_clock):
    frozen_clock.set(START)
    record = offline.record_offline_study(
        org.secretary,
        offline.OfflineRecordFields(org.branch.id, OfflineActivity.BRANCH_GENERAL_MEETING, date(2026, 3, 9), 2,
                                    "学习党章", "", [org.secretary.id, org.alice.id]),
        now=START,
    )  # fmt: skip
    db.session.commit()
    assert import_offline_records(now=START) == 1
    db.session.commit()
    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.offline_record_id == record.id))
    assert _credited(meeting) == {org.alice.id}
    assert closing.waiting_user_ids(meeting) == [org.secretary.id]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OfflinePendingAttendance)) == 0
    confirmations.confirm_credit(org.admin, meeting, org.secretary.id, now=START)
    assert _credited(meeting) == {org.alice.id, org.secretary.id}


def test_schedule_scope_is_unchanged_for_confirmers(org, make_meeting, dave):
    """A committee member who may confirm does not thereby manage the meeting."""
    meeting = _held(org, make_meeting)
    closing.close_meeting(org.secretary, meeting, now=meeting.ends_at)
    db.session.commit()
    assert not scheduling.may_manage(dave, meeting)
