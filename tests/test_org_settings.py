"""Organisation settings: stored with effective dates, audited, env values as defaults; 学时 by the day's rate."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from lms import audit, clock, org_settings
from lms.assessment import sources
from lms.auth.models import Role, User
from lms.courses import ledger
from lms.courses.models import StudyLedgerEntry, StudySource
from lms.extensions import db
from lms.notices import mail

NOW = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def form(**changes) -> dict:
    values = {
        "effective_from": "2026-09-01",
        "MINUTES_PER_STUDY_HOUR": "45",
        "OFFLINE_EDIT_WINDOW_DAYS": "30",
        "ASSESSMENT_REMINDER_WEEKDAY": "1",
        "ASSESSMENT_REMINDER_HOUR": "9",
        "SMTP_HOST": "",
        "SMTP_PORT": "25",
        "SMTP_USER": "",
        "SMTP_PASSWORD": "",
        "SMTP_SENDER": "vanguard@localhost",
    }
    values.update(changes)
    return values


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN, username="boss")


def set_conversion(minutes: int, effective_from: date, actor) -> None:
    org_settings.set_value("MINUTES_PER_STUDY_HOUR", minutes, effective_from, actor=actor, now=NOW)
    db.session.commit()


def test_the_environment_value_applies_until_a_dated_setting(app, admin):
    assert org_settings.minutes_per_study_hour(date(2026, 1, 1)) == 45
    set_conversion(60, date(2026, 7, 1), admin)
    assert org_settings.minutes_per_study_hour(date(2026, 6, 30)) == 45
    assert org_settings.minutes_per_study_hour(date(2026, 7, 1)) == 60
    assert ledger.seconds_to_study_hours(2700, on=date(2026, 3, 1)) == 1.0
    assert ledger.format_study_hours(3600, on=date(2026, 8, 1)) == "1.0"


def test_a_new_conversion_never_re_rates_past_days(app, admin):
    member = User(username="m", name="党员", password_hash="x")
    db.session.add(member)
    db.session.flush()
    for day, seconds in ((date(2025, 12, 1), 2700), (date(2026, 3, 1), 2700), (date(2026, 8, 1), 3600)):
        db.session.add(StudyLedgerEntry(user_id=member.id, day=day, source=StudySource.VIDEO, seconds=seconds))
    db.session.commit()
    set_conversion(60, date(2026, 7, 1), admin)
    # 2026: one 学时 at 45 minutes in March and one at 60 minutes in August; 2025 keeps its rate.
    assert ledger.study_hours_by_user([member.id], date(2026, 1, 1), date(2026, 12, 31)) == {member.id: 2.0}
    assert ledger.study_hours_by_user([member.id], date(2025, 1, 1), date(2025, 12, 31)) == {member.id: 1.0}
    users = sa.select(User.id).where(User.id == member.id)
    assert sources.study_hours_split(users, date(2026, 1, 1), date(2026, 12, 31)) == {member.id: (2.0, 0.0)}
    set_conversion(90, date(2026, 10, 1), admin)  # a third rate later changes nothing before it
    assert ledger.study_hours_by_user([member.id], date(2026, 1, 1), date(2026, 12, 31)) == {member.id: 2.0}


def test_admin_changes_settings_from_a_date_and_each_change_is_audited(client, login, admin, frozen_clock):
    frozen_clock.set(NOW)
    login(admin)
    response = client.post(
        "/admin/settings",
        data=form(MINUTES_PER_STUDY_HOUR="50", SMTP_HOST="smtp.example.com", SMTP_PASSWORD="s3cret-pass"),
    )
    assert response.status_code == 302
    assert org_settings.value("MINUTES_PER_STUDY_HOUR", date(2026, 9, 1)) == 50
    assert org_settings.value("MINUTES_PER_STUDY_HOUR", date(2026, 8, 31)) == 45
    actions = db.session.execute(sa.select(audit.AuditEntry.object_id, audit.AuditEntry.after)).all()
    assert sorted(key for key, _ in actions) == ["MINUTES_PER_STUDY_HOUR", "SMTP_HOST", "SMTP_PASSWORD"]
    assert "s3cret-pass" not in str(actions)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "s3cret-pass" not in page and "已设置" in page and "smtp.example.com" in page
    # An empty password field keeps the stored password.
    client.post("/admin/settings", data=form(MINUTES_PER_STUDY_HOUR="50", SMTP_HOST="smtp.example.com"))
    assert org_settings.value("SMTP_PASSWORD") == "s3cret-pass"
    assert db.session.scalar(sa.select(sa.func.count(audit.AuditEntry.id))) == 3


def test_bad_settings_are_refused_with_a_message_and_past_dates_are_refused(client, login, admin, frozen_clock):
    frozen_clock.set(NOW)
    login(admin)
    page = client.post("/admin/settings", data=form(MINUTES_PER_STUDY_HOUR="abc")).get_data(as_text=True)
    assert "请输入整数" in page
    page = client.post("/admin/settings", data=form(ASSESSMENT_REMINDER_HOUR="24")).get_data(as_text=True)
    assert "请输入 0 到 23 之间的数" in page
    page = client.post("/admin/settings", data=form(effective_from="2026-01-01", MINUTES_PER_STUDY_HOUR="60"))
    assert "过去的时段保留原有设置" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(org_settings.OrgSetting.id))) == 0


def test_mail_and_the_offline_window_read_the_stored_settings(app, admin, frozen_clock):
    frozen_clock.set(NOW)
    assert not mail.mail_enabled()
    today = clock.local_day(NOW)
    org_settings.set_value("SMTP_HOST", "smtp.example.com", today, actor=admin, now=NOW)
    org_settings.set_value("OFFLINE_EDIT_WINDOW_DAYS", 7, today, actor=admin, now=NOW)
    db.session.commit()
    from lms.courses import offline

    assert mail.mail_enabled()
    assert offline.edit_window_start(NOW) == date(2026, 8, 25)


def test_only_organisation_admins_reach_the_settings(client, login, make_user, make_branch):
    branch = make_branch("机关党总支")
    for role in (Role.SUBTREE_ADMIN, Role.SECRETARY, Role.LEARNER):
        login(make_user(role=role, branch=branch))
        assert client.get("/admin/settings").status_code == 403
        assert client.post("/admin/settings", data=form(MINUTES_PER_STUDY_HOUR="60")).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(org_settings.OrgSetting.id))) == 0
