"""Weekly reminders and digests: who gets them, what they say, and never more than one a week."""

import socket
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.assessment import reminders
from lms.assessment.models import ReminderKind, SentReminder
from lms.auth.models import Role
from lms.extensions import db
from lms.notices import outbox
from lms.notices.models import Notification

pytestmark = pytest.mark.postgres  # at most one reminder a week (unique rows)

MONDAY_10AM = datetime(2026, 7, 6, 2, 0, tzinfo=UTC)  # Monday 6 July 2026, 10:00 in Shanghai


def notifications(user, kind="reminder"):
    return list(
        db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id, Notification.kind == kind))
    )


@pytest.fixture
def branch_with_members(make_branch, make_user, make_target, study):
    branch = make_branch("第一党支部")
    behind = make_user(name="落后党员", branch=branch, email="behind@example.com")
    on_track = make_user(name="按时党员", branch=branch)
    secretary = make_user(name="王书记", role=Role.SECRETARY, branch=branch, email="sec@example.com")
    target = make_target("年度学习", required_hours=32, statuses=["full"])
    study.study(on_track, date(2026, 6, 1), 20)
    study.study(secretary, date(2026, 6, 1), 20)
    study.study(behind, date(2026, 6, 1), 2)
    db.session.commit()
    return {"branch": branch, "behind": behind, "on_track": on_track, "secretary": secretary, "target": target}


def test_a_member_behind_pace_is_reminded_with_their_numbers(branch_with_members):
    batch = reminders.send_weekly_reminders(MONDAY_10AM)
    db.session.commit()
    behind = branch_with_members["behind"]
    [note] = notifications(behind)
    assert "2.0" in note.body and "32.0" in note.body and note.link == "/assessment/"
    assert notifications(branch_with_members["on_track"]) == []
    assert batch.reminders == 1


def test_never_more_than_one_reminder_per_member_per_week(branch_with_members):
    behind = branch_with_members["behind"]
    for hours in range(0, 24 * 6, 7):  # the job runs many times during the week
        reminders.send_weekly_reminders(MONDAY_10AM + timedelta(hours=hours))
        db.session.commit()
    assert len(notifications(behind)) == 1
    reminders.send_weekly_reminders(MONDAY_10AM + timedelta(days=7))
    db.session.commit()
    assert len(notifications(behind)) == 2


def test_the_weekly_cap_is_a_database_constraint(branch_with_members, frozen_clock):
    behind = branch_with_members["behind"]
    db.session.add(
        SentReminder(user_id=behind.id, iso_week="2026-W28", kind=ReminderKind.REMINDER, sent_at=MONDAY_10AM)
    )
    db.session.flush()
    db.session.add(
        SentReminder(user_id=behind.id, iso_week="2026-W28", kind=ReminderKind.REMINDER, sent_at=MONDAY_10AM)
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_reminders_wait_for_the_configured_weekday_and_hour(branch_with_members):
    sunday_night = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)  # Sunday 20:00 in Shanghai, week 27
    monday_early = datetime(2026, 7, 5, 23, 0, tzinfo=UTC)  # Monday 07:00
    assert reminders.is_reminder_time(sunday_night)  # Sunday is later in week 27 than its Monday
    assert not reminders.is_reminder_time(monday_early)
    assert reminders.send_weekly_reminders(monday_early).skipped
    assert notifications(branch_with_members["behind"]) == []


def test_required_items_due_within_fourteen_days_trigger_a_reminder(make_user, make_target, study):
    member = make_user()
    course = study.course("党章党规")
    make_target("专题学习", courses=[(course, 190)])  # due 10 July 2026, four days after the reminder
    db.session.commit()
    reminders.send_weekly_reminders(MONDAY_10AM)
    db.session.commit()
    [note] = notifications(member)
    assert "党章党规" in note.body and "2026-07-10" in note.body


def test_secretaries_get_one_weekly_digest_of_their_branch_only(branch_with_members, make_branch, make_user, study):
    other_branch = make_branch("第二党支部")
    other_secretary = make_user(role=Role.SECRETARY, branch=other_branch)
    make_user(branch=other_branch)  # behind, in the other branch
    db.session.commit()
    reminders.send_weekly_reminders(MONDAY_10AM)
    reminders.send_weekly_reminders(MONDAY_10AM + timedelta(hours=3))
    db.session.commit()
    [digest] = notifications(branch_with_members["secretary"], kind="digest")
    assert "第一党支部" in digest.title
    assert "3" in digest.body and "1" in digest.body  # 3 members assessed, 1 behind
    [other] = notifications(other_secretary, kind="digest")
    assert "第二党支部" in other.title


def test_reminders_are_emailed_when_smtp_is_configured(app, branch_with_members):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
        batch = reminders.send_weekly_reminders(MONDAY_10AM)
        db.session.commit()
        assert received == []  # queued: the reminder job does not wait on the SMTP server
        assert outbox.send_outbox(MONDAY_10AM) == 2
    finally:
        controller.stop()
    assert sorted(e.rcpt_tos[0] for e in received) == ["behind@example.com", "sec@example.com"]
    assert batch.emails == 2
    assert outbox.send_outbox(MONDAY_10AM) == 0  # sent once
    assert db.session.scalar(sa.select(SentReminder.emailed).where(SentReminder.kind == ReminderKind.REMINDER))


def test_inactive_members_are_not_reminded(branch_with_members):
    behind = branch_with_members["behind"]
    behind.is_active = False
    db.session.commit()
    reminders.send_weekly_reminders(MONDAY_10AM)
    db.session.commit()
    assert notifications(behind) == []
