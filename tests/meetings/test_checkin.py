"""QR sign-in: tokens, windows, the attendee list, the pass, sign-out, sign-in by hand and leave."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lms.errors import DomainError, Forbidden, InvalidState, ValidationFailed
from lms.extensions import db
from lms.meetings import checkin
from lms.meetings.models import AttendanceStatus, CheckinMethod, LeaveStatus, MeetingAttendance
from tests.meetings.conftest import START


def _row(meeting, user) -> MeetingAttendance:
    return db.session.query(MeetingAttendance).filter_by(meeting_id=meeting.id, user_id=user.id).one()


def test_a_fresh_token_and_the_previous_windows_token_are_accepted(org, make_meeting):
    meeting = make_meeting()
    issued = START - timedelta(minutes=5)
    token = checkin.make_token(meeting, checkin.SIGN_IN, issued)
    assert checkin.read_token(meeting, token, issued) == checkin.SIGN_IN
    assert checkin.read_token(meeting, token, issued + timedelta(seconds=30)) == checkin.SIGN_IN


def test_a_token_two_windows_old_is_refused_as_expired(org, make_meeting):
    meeting = make_meeting()
    issued = START - timedelta(minutes=5)
    token = checkin.make_token(meeting, checkin.SIGN_IN, issued)
    with pytest.raises(checkin.CheckinRefused, match="已过期"):
        checkin.read_token(meeting, token, issued + timedelta(seconds=61))


def test_a_forged_or_mangled_token_is_refused(org, make_meeting):
    meeting = make_meeting()
    now = START - timedelta(minutes=5)
    token = checkin.make_token(meeting, checkin.SIGN_IN, now)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, "garbage", "", token.replace("-i", "-o", 1)):
        with pytest.raises(checkin.CheckinRefused, match="签到码无效"):
            checkin.read_token(meeting, bad, now)


def test_a_token_of_another_meeting_is_refused(org, make_meeting):
    first = make_meeting()
    second = make_meeting(topic="另一个会")
    now = START - timedelta(minutes=5)
    with pytest.raises(checkin.CheckinRefused, match="其他会议"):
        checkin.read_token(second, checkin.make_token(first, checkin.SIGN_IN, now), now)


def test_a_new_checkin_key_voids_the_codes_already_shown(org, make_meeting):
    meeting = make_meeting()
    now = START - timedelta(minutes=5)
    token = checkin.make_token(meeting, checkin.SIGN_IN, now)
    meeting.checkin_key = "rotated"
    with pytest.raises(checkin.CheckinRefused, match="签到码无效"):
        checkin.read_token(meeting, token, now)


def test_a_member_not_on_the_list_cannot_sign_in(org, make_meeting):
    meeting = make_meeting()
    now = START - timedelta(minutes=5)
    token = checkin.make_token(meeting, checkin.SIGN_IN, now)
    for stranger in (org.outsider, org.carol):
        with pytest.raises(checkin.CheckinRefused, match="参会名单中"):
            checkin.check_scan(meeting, stranger, token, now)
    assert db.session.query(MeetingAttendance).filter_by(user_id=org.outsider.id).count() == 0


def test_signing_in_twice_is_harmless(org, make_meeting):
    meeting = make_meeting()
    first = checkin.sign_in(meeting, org.alice, now=START - timedelta(minutes=3))
    again = checkin.sign_in(meeting, org.alice, now=START + timedelta(minutes=30))
    db.session.commit()
    assert again.signed_in_at == START - timedelta(minutes=3)
    assert first.status == again.status == AttendanceStatus.PRESENT
    assert _row(meeting, org.alice).checkin_method == CheckinMethod.QR


def test_signing_in_after_the_grace_is_late(org, make_meeting):
    meeting = make_meeting()
    on_time = checkin.sign_in(meeting, org.alice, now=START + timedelta(minutes=5))
    late = checkin.sign_in(meeting, org.bob, now=START + timedelta(minutes=5, seconds=1))
    assert on_time.status == AttendanceStatus.PRESENT
    assert late.status == AttendanceStatus.LATE


def test_sign_in_outside_the_window_is_refused(org, make_meeting):
    meeting = make_meeting()
    with pytest.raises(checkin.CheckinRefused, match="签到尚未开始"):
        checkin.sign_in(meeting, org.alice, now=START - timedelta(minutes=31))
    with pytest.raises(checkin.CheckinRefused, match="签到已结束"):
        checkin.sign_in(meeting, org.alice, now=meeting.ends_at + timedelta(seconds=1))
    checkin.sign_in(meeting, org.alice, now=START - timedelta(minutes=30))
    assert _row(meeting, org.alice).signed_in_at == START - timedelta(minutes=30)


def test_the_pass_is_bound_to_the_member_and_the_meeting(org, make_meeting):
    meeting = make_meeting()
    other = make_meeting(topic="另一个会")
    now = START - timedelta(minutes=5)
    value = checkin.make_pass(meeting, org.alice, checkin.SIGN_IN, now)
    with pytest.raises(checkin.CheckinRefused):
        checkin.confirm_scan(meeting, org.bob, value, now=now)
    with pytest.raises(checkin.CheckinRefused):
        checkin.confirm_scan(other, org.alice, value, now=now)
    with pytest.raises(checkin.CheckinRefused):
        checkin.confirm_scan(meeting, org.alice, value + "x", now=now)
    action, row = checkin.confirm_scan(meeting, org.alice, value, now=now)
    assert action == checkin.SIGN_IN and row.status == AttendanceStatus.PRESENT
    assert _row(meeting, org.bob).signed_in_at is None


def test_a_stale_pass_is_refused(org, make_meeting, frozen_clock):
    meeting = make_meeting()
    frozen_clock.set(START - timedelta(minutes=20))
    value = checkin.make_pass(meeting, org.alice, checkin.SIGN_IN, frozen_clock.now)
    frozen_clock.advance(checkin.PASS_SECONDS + 5)
    with pytest.raises(checkin.CheckinRefused, match="重新扫码"):
        checkin.confirm_scan(meeting, org.alice, value, now=frozen_clock.now)


def test_signing_out_early_marks_left_early_and_needs_a_sign_in(org, make_meeting):
    meeting = make_meeting(code="party_lecture")
    assert meeting.needs_sign_out
    with pytest.raises(checkin.CheckinRefused, match="尚未签到"):
        checkin.sign_out(meeting, org.alice, now=START + timedelta(minutes=10))
    checkin.sign_in(meeting, org.alice, now=START)
    checkin.sign_in(meeting, org.bob, now=START)
    early = checkin.sign_out(meeting, org.alice, now=meeting.ends_at - timedelta(minutes=30))
    on_time = checkin.sign_out(meeting, org.bob, now=meeting.ends_at - timedelta(minutes=5))
    assert early.status == AttendanceStatus.LEFT_EARLY
    assert on_time.status == AttendanceStatus.PRESENT


def test_a_kind_without_sign_out_refuses_it(org, make_meeting):
    meeting = make_meeting()
    checkin.sign_in(meeting, org.alice, now=START)
    with pytest.raises(checkin.CheckinRefused, match="无需签退"):
        checkin.sign_out(meeting, org.alice, now=START + timedelta(minutes=10))


def test_sign_in_by_hand_keeps_who_when_and_why(org, make_meeting):
    meeting = make_meeting()
    now = START + timedelta(minutes=20)
    with pytest.raises(ValidationFailed, match="原因"):
        checkin.set_attendance(org.secretary, meeting, org.bob.id, AttendanceStatus.PRESENT, "  ", now=now)
    with pytest.raises(Forbidden):
        checkin.set_attendance(org.alice, meeting, org.bob.id, AttendanceStatus.PRESENT, "没带手机", now=now)
    row = checkin.set_attendance(org.secretary, meeting, org.bob.id, AttendanceStatus.PRESENT, "没带手机", now=now)
    db.session.commit()
    row = _row(meeting, org.bob)
    assert (row.status, row.checkin_method, row.manual_by_id, row.manual_at, row.manual_reason) == (
        AttendanceStatus.PRESENT, CheckinMethod.MANUAL, org.secretary.id, now, "没带手机",
    )  # fmt: skip


def test_by_hand_a_member_off_the_list_is_refused(org, make_meeting):
    meeting = make_meeting()
    with pytest.raises(ValidationFailed, match="参会名单中"):
        checkin.set_attendance(org.secretary, meeting, org.outsider.id, AttendanceStatus.PRESENT, "x",
                               now=START)  # fmt: skip


def test_leave_is_asked_before_the_start_and_decided_by_the_secretary(org, make_meeting):
    meeting = make_meeting()
    before = START - timedelta(days=1)
    with pytest.raises(ValidationFailed):
        checkin.request_leave(meeting, org.alice, "", now=before)
    checkin.request_leave(meeting, org.alice, "出差", now=before)
    checkin.request_leave(meeting, org.bob, "家中有事", now=before)
    with pytest.raises(Forbidden):
        checkin.decide_leave(org.alice, meeting, org.bob.id, True, now=before)
    checkin.decide_leave(org.secretary, meeting, org.alice.id, True, "同意", now=before)
    checkin.decide_leave(org.secretary, meeting, org.bob.id, False, "会议重要，请参加", now=before)
    db.session.commit()
    alice, bob = _row(meeting, org.alice), _row(meeting, org.bob)
    assert (alice.status, alice.leave_status, alice.leave_decided_by_id, alice.leave_note) == (
        AttendanceStatus.LEAVE,
        LeaveStatus.APPROVED,
        org.secretary.id,
        "同意",
    )
    assert (bob.status, bob.leave_status, bob.leave_reason) == (
        AttendanceStatus.EXPECTED, LeaveStatus.REFUSED, "家中有事")  # fmt: skip
    with pytest.raises(InvalidState, match="没有待审批的请假"):
        checkin.decide_leave(org.secretary, meeting, org.alice.id, False, now=before)


def test_leave_cannot_be_asked_once_the_meeting_started(org, make_meeting):
    meeting = make_meeting()
    with pytest.raises(InvalidState, match="会议已开始"):
        checkin.request_leave(meeting, org.alice, "出差", now=START)


def test_refusals_are_domain_errors_with_a_message(org, make_meeting):
    meeting = make_meeting()
    with pytest.raises(DomainError) as caught:
        checkin.check_scan(meeting, org.outsider, "nonsense", START)
    assert str(caught.value.message)
