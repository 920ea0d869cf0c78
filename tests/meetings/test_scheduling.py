"""Scheduling: kinds, attendees, validation, notifications, the calendar and reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.errors import ValidationFailed
from lms.extensions import db
from lms.meetings import checkin, kinds, scheduling
from lms.meetings.models import MeetingKind
from lms.notices.models import Notification
from tests.meetings.conftest import START, kind


def _notes(user) -> list[str]:
    return list(db.session.scalars(sa.select(Notification.title).where(Notification.user_id == user.id)))


def test_default_kinds_are_seeded_once(app):
    assert kinds.seed_defaults()
    assert kinds.seed_defaults() == []
    names = [k.name for k in kinds.all_kinds()]
    assert names[:6] == ["支部党员大会", "支部委员会", "党小组会", "党课", "主题党日", "组织生活会"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MeetingKind)) == len(kinds.DEFAULT_KINDS)


def test_attendees_default_from_the_kinds_rule(org):
    committee = scheduling.default_attendee_ids(kind("committee_meeting"), org.branch)
    members = scheduling.default_attendee_ids(kind("general_meeting"), org.branch)
    assert committee == [org.secretary.id]
    assert set(members) == {org.secretary.id, org.alice.id, org.bob.id, org.carol.id}
    assert scheduling.default_attendee_ids(kind("group_meeting"), org.branch) == []


def test_scheduling_notifies_the_attendees_only(org, make_meeting):
    make_meeting(attendees=[org.alice, org.bob])
    assert _notes(org.alice) and _notes(org.bob)
    assert "主题党日" in _notes(org.alice)[0]
    assert _notes(org.carol) == [] and _notes(org.outsider) == []


def test_a_meeting_recorded_after_it_was_held_notifies_nobody(org, make_meeting):
    make_meeting(now=START + timedelta(days=2))
    assert _notes(org.alice) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"topic": " "}, "topic"),
        ({"ends_at": START}, "ends_at"),
        ({"ends_at": START + timedelta(hours=25)}, "ends_at"),
        ({"place": "", "online_url": ""}, "place"),
        ({"online_url": "javascript:alert(1)"}, "online_url"),
        ({"attendee_ids": []}, "attendee_ids"),
        ({"lesson_ids": [999]}, "lesson_ids"),
    ],
)
def test_bad_meeting_input_is_refused_with_its_field(org, change, field):
    fields = scheduling.MeetingFields(branch_id=org.branch.id, kind_id=kind("theme_party_day").id, topic="学习",
                                      starts_at=START, ends_at=START + timedelta(hours=2), place="会议室",
                                      attendee_ids=[org.alice.id])  # fmt: skip
    for key, value in change.items():
        setattr(fields, key, value)
    with pytest.raises(ValidationFailed) as caught:
        scheduling.schedule_meeting(org.secretary, fields, now=START - timedelta(days=1))
    assert caught.value.field == field


def test_members_of_another_branch_cannot_be_listed(org):
    fields = scheduling.MeetingFields(branch_id=org.branch.id, kind_id=kind("theme_party_day").id, topic="学习",
                                      starts_at=START, ends_at=START + timedelta(hours=2), place="会议室",
                                      attendee_ids=[org.alice.id, org.outsider.id])  # fmt: skip
    with pytest.raises(ValidationFailed, match="在册党员"):
        scheduling.schedule_meeting(org.secretary, fields, now=START)


def test_a_secretary_cannot_schedule_for_another_branch_or_a_leadership_kind(org):
    base = {"topic": "学习", "starts_at": START, "ends_at": START + timedelta(hours=2), "place": "会议室",
                "attendee_ids": [org.outsider.id]}  # fmt: skip
    other = scheduling.MeetingFields(branch_id=org.other_branch.id, kind_id=kind("theme_party_day").id, **base)
    with pytest.raises(ValidationFailed, match="您管理的支部"):
        scheduling.schedule_meeting(org.secretary, other, now=START)
    leadership = scheduling.MeetingFields(branch_id=org.branch.id, kind_id=kind("democratic_life").id,
                                          **{**base, "attendee_ids": [org.alice.id]})  # fmt: skip
    with pytest.raises(ValidationFailed, match="管理员"):
        scheduling.schedule_meeting(org.secretary, leadership, now=START)


def test_an_attendee_who_signed_in_stays_on_the_list(org, make_meeting):
    meeting = make_meeting()
    checkin.sign_in(meeting, org.alice, now=START)
    fields = scheduling.MeetingFields(branch_id=org.branch.id, kind_id=meeting.kind_id, topic=meeting.topic,
                                      starts_at=START, ends_at=meeting.ends_at, place="会议室",
                                      attendee_ids=[org.bob.id])  # fmt: skip
    with pytest.raises(ValidationFailed, match="已签到"):
        scheduling.update_meeting(org.secretary, meeting, fields, now=START)


def test_the_calendar_shows_members_only_their_meetings(org, make_meeting):
    meeting = make_meeting(attendees=[org.alice])
    assert scheduling.month_meetings(org.alice, 2026, 3) == [meeting]
    assert scheduling.month_meetings(org.secretary, 2026, 3) == [meeting]
    assert scheduling.month_meetings(org.bob, 2026, 3) == []
    assert scheduling.month_meetings(org.alice, 2026, 4) == []


def test_reminders_go_out_once_and_skip_members_on_leave(org, make_meeting):
    meeting = make_meeting(now=START - timedelta(days=5))
    checkin.request_leave(meeting, org.bob, "出差", now=START - timedelta(days=3))
    checkin.decide_leave(org.secretary, meeting, org.bob.id, True, now=START - timedelta(days=3))
    before = {u.id: len(_notes(u)) for u in (org.alice, org.bob)}
    assert scheduling.send_reminders(START - timedelta(days=2)) == 0  # too early
    assert scheduling.send_reminders(START - timedelta(hours=3)) == 1
    assert scheduling.send_reminders(START - timedelta(hours=2)) == 0
    db.session.commit()
    assert len(_notes(org.alice)) == before[org.alice.id] + 1
    assert len(_notes(org.bob)) == before[org.bob.id]
