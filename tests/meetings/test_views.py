"""The meeting pages: scheduling by form, the sign-in screen and its code, the scan, leave, close, exports."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from openpyxl import load_workbook

from lms.courses.models import StudyLedgerEntry
from lms.extensions import db
from lms.meetings import checkin
from lms.meetings.models import AttendanceStatus, Meeting, MeetingAttendance
from tests.meetings.conftest import START, kind


def _scan_path(meeting, now) -> str:
    return f"/meetings/{meeting.id}/scan/{checkin.make_token(meeting, checkin.SIGN_IN, now)}"


def test_a_secretary_schedules_a_meeting_through_the_form(org, client, login):
    login(org.secretary)
    page = client.get(f"/meetings/new?branch_id={org.branch.id}&kind_id={kind('general_meeting').id}")
    assert page.status_code == 200
    assert f'value="{org.alice.id}" id="attendee_ids-' in page.text
    response = client.post("/meetings/new", data={
        "branch_id": org.branch.id, "kind_id": kind("general_meeting").id, "topic": "学习党章",
        "starts_at": "2026-03-10T14:00", "ends_at": "2026-03-10T16:00", "place": "三楼会议室",
        "attendee_ids": [org.alice.id, org.bob.id],
    })  # fmt: skip
    assert response.status_code == 302
    meeting = db.session.scalar(sa.select(Meeting))
    assert meeting.starts_at == START  # 14:00 in Shanghai
    assert meeting.study_hours == kind("general_meeting").study_hours


def test_bad_form_input_is_shown_on_the_form(org, client, login):
    login(org.secretary)
    response = client.post("/meetings/new", data={
        "branch_id": org.branch.id, "kind_id": kind("general_meeting").id, "topic": "学习党章",
        "starts_at": "2026-03-10T14:00", "ends_at": "2026-03-10T13:00", "place": "会议室",
        "attendee_ids": [org.alice.id],
    })  # fmt: skip
    assert response.status_code == 200
    assert "结束时间必须晚于开始时间" in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 0


def test_members_cannot_schedule_or_open_the_sign_in_screen(org, make_meeting, client, login):
    meeting = make_meeting()
    login(org.alice)
    assert client.get("/meetings/new").status_code == 403
    assert client.get(f"/meetings/{meeting.id}/checkin-screen").status_code == 403
    assert client.get(f"/meetings/{meeting.id}/checkin-code").status_code == 403
    login(org.outsider)
    assert client.get(f"/meetings/{meeting.id}").status_code == 404


def test_the_screen_carries_a_code_that_signs_a_member_in(org, make_meeting, client, login, app, frozen_clock):
    meeting = make_meeting()
    frozen_clock.set(START - timedelta(minutes=10))
    login(org.secretary)
    screen = client.get(f"/meetings/{meeting.id}/checkin-screen")
    assert screen.status_code == 200
    url = re.search(r'data-checkin-url="([^"]+)"', screen.text)[1]
    assert 'src="data:image/svg+xml' in screen.text
    code = client.get(f"/meetings/{meeting.id}/checkin-code").get_json()
    assert code["url"] == url and code["listed"] == 3 and code["signed"] == 0

    member = app.test_client()
    login(org.alice, on=member)
    landing = member.get(urlsplit(url).path)
    assert landing.status_code == 200 and "确认签到" in landing.text
    scan_pass = re.search(r'name="scan_pass" type="hidden" value="([^"]+)"', landing.text)[1]
    done = member.post(f"/meetings/{meeting.id}/scan", data={"scan_pass": scan_pass}, follow_redirects=True)
    assert "签到成功" in done.text
    again = member.get(urlsplit(url).path)
    assert "您已签到" in again.text
    row = db.session.scalar(sa.select(MeetingAttendance).where(MeetingAttendance.user_id == org.alice.id))
    assert row.status == AttendanceStatus.PRESENT
    assert client.get(f"/meetings/{meeting.id}/checkin-code").get_json()["signed"] == 1


def test_a_logged_out_scan_goes_through_login_and_back(org, make_meeting, client, frozen_clock):
    meeting = make_meeting()
    frozen_clock.set(START - timedelta(minutes=10))
    path = _scan_path(meeting, frozen_clock.now)
    response = client.get(path)
    assert response.status_code == 302
    assert "/auth/login" in response.location and "next=" in response.location


def test_refused_scans_say_why(org, make_meeting, client, login, frozen_clock):
    meeting = make_meeting()
    frozen_clock.set(START - timedelta(minutes=10))
    path = _scan_path(meeting, frozen_clock.now)
    login(org.outsider)
    response = client.get(path)
    assert response.status_code == 403 and "不在本次会议的参会名单中" in response.text
    assert "重温入党誓词" not in response.text  # the topic stays hidden from members not listed
    login(org.alice)
    frozen_clock.advance(120)
    response = client.get(path)
    assert response.status_code == 403 and "二维码已过期" in response.text
    response = client.get(f"/meetings/{meeting.id}/scan/{meeting.id}-i1-AAAAAAAAAAAAAAAAAAAAAA")
    assert response.status_code == 403 and "签到码无效" in response.text
    response = client.post(f"/meetings/{meeting.id}/scan", data={"scan_pass": "forged"})
    assert response.status_code == 403 and "签到码无效" in response.text
    assert db.session.scalar(sa.select(sa.func.count()).where(MeetingAttendance.signed_in_at.is_not(None))) == 0


def test_leave_close_and_register_exports(org, make_meeting, client, login, app, frozen_clock):
    meeting = make_meeting()
    member = app.test_client()
    login(org.bob, on=member)
    frozen_clock.set(START - timedelta(days=1))
    assert member.post(f"/meetings/{meeting.id}/leave", data={"reason": "出差"}).status_code == 302
    login(org.secretary)
    response = client.post(f"/meetings/{meeting.id}/leave/decide",
                           data={"user_id": org.bob.id, "decision": "approve", "note": "同意"})  # fmt: skip
    assert response.status_code == 302
    frozen_clock.set(START)
    checkin.sign_in(meeting, org.alice, now=START)
    db.session.commit()
    response = client.post(f"/meetings/{meeting.id}/attendance",
                           data={"user_id": org.secretary.id, "status": "present", "reason": "主持会议"})  # fmt: skip
    assert response.status_code == 302
    frozen_clock.set(meeting.ends_at)
    assert client.post(f"/meetings/{meeting.id}/close").status_code == 302
    credited = set(
        db.session.scalars(sa.select(StudyLedgerEntry.user_id).where(StudyLedgerEntry.meeting_id == meeting.id))
    )
    # The secretary took their own attendance by hand and closed: their credit waits for a second person.
    assert credited == {org.alice.id}
    assert "等待第二人确认" in client.get(f"/meetings/{meeting.id}").text

    page = client.get(f"/meetings/register?branch_id={org.branch.id}&year=2026")
    assert page.status_code == 200 and "重温入党誓词" in page.text
    export = client.get(f"/meetings/register.xlsx?branch_id={org.branch.id}&year=2026")
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.data))
    rows = list(book.worksheets[2].iter_rows(values_only=True))
    by_member = {row[3]: row for row in rows[1:]}
    assert by_member[org.alice.name][4] == "出席" and by_member[org.alice.name][-1] == meeting.study_hours
    assert by_member[org.bob.name][4] == "请假" and by_member[org.bob.name][-1] == 0
    assert by_member[org.secretary.name][7] == "主持会议" and by_member[org.secretary.name][-1] == 0
    pdf = client.get(f"/meetings/register.pdf?branch_id={org.branch.id}&year=2026")
    assert pdf.status_code in (200, 302)
    if pdf.status_code == 200:
        assert pdf.data.startswith(b"%PDF")


def test_the_register_of_another_branch_is_out_of_scope(org, client, login):
    login(org.secretary)
    assert client.get(f"/meetings/register?branch_id={org.other_branch.id}").status_code == 404
    login(org.alice)
    assert client.get("/meetings/register").status_code == 403


def test_admin_pages(org, client, login):
    login(org.admin)
    assert "支部党员大会" in client.get("/meetings/kinds").text
    assert client.get("/meetings/compliance?year=2026").status_code == 200
    target = kind("theme_party_day")
    response = client.post(f"/meetings/kinds/{target.id}/edit", data={
        "name": "主题党日", "cadence": "monthly", "level": "branch", "attendee_rule": "members", "study_hours": "3",
        "is_active": "y",
    })  # fmt: skip
    assert response.status_code == 302
    db.session.refresh(target)
    assert target.study_hours == 3.0
    login(org.secretary)
    assert client.get("/meetings/kinds").status_code == 403
    assert client.get("/meetings/compliance").status_code == 403


def test_the_calendar_and_home_panel(org, make_meeting, client, login, frozen_clock):
    meeting = make_meeting()
    frozen_clock.set(START - timedelta(days=1))
    login(org.alice)
    page = client.get("/meetings/?month=2026-03")
    assert page.status_code == 200 and f'data-meeting-id="{meeting.id}"' in page.text
    assert "重温入党誓词" in client.get("/").text
    assert client.get("/meetings/?month=garbage").status_code == 200
