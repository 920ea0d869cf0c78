"""The 支部台账: cadence compliance, attendance rates, repeated absences, the overview and 事前提醒."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from lms.extensions import db
from lms.meetings import checkin, closing, register
from lms.meetings.models import Cadence
from lms.notices.models import Notification
from tests.meetings.conftest import kind


def _hold(org, make_meeting, starts, code="committee_meeting", present=(), attendees=None):
    meeting = make_meeting(code=code, starts_at=starts, attendees=attendees or [org.secretary, org.alice, org.bob])
    for user in present:
        checkin.sign_in(meeting, user, now=starts)
    closing.close_meeting(org.secretary, meeting, now=meeting.ends_at)
    db.session.commit()
    return meeting


def test_periods_of_each_cadence():
    assert [p.key for p in register.periods_of_year(Cadence.QUARTERLY, 2026)] == ["2026-Q1", "2026-Q2", "2026-Q3",
                                                                                  "2026-Q4"]  # fmt: skip
    months = register.periods_of_year(Cadence.MONTHLY, 2026)
    assert (months[1].start, months[1].end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert register.periods_of_year(Cadence.YEARLY, 2026)[0].end == date(2026, 12, 31)
    assert register.period_of(Cadence.HALF_YEARLY, date(2026, 7, 1)).key == "2026-H2"
    assert register.periods_of_year(Cadence.NONE, 2026) == []


def test_the_register_counts_held_meetings_against_the_cadence(org, make_meeting):
    _hold(org, make_meeting, datetime(2026, 1, 8, 6, tzinfo=UTC), present=[org.secretary, org.alice])
    _hold(org, make_meeting, datetime(2026, 3, 5, 6, tzinfo=UTC), present=[org.secretary])
    book = register.branch_register(org.branch, 2026, now=datetime(2026, 4, 10, tzinfo=UTC))
    committee = next(item for item in book.compliance if item.kind.code == "committee_meeting")
    assert (committee.required, committee.due_so_far, committee.held) == (12, 3, 2)
    assert [p.key for p in committee.missed] == ["2026-02"]
    assert committee.behind and book.behind
    lecture = next(item for item in book.compliance if item.kind.code == "party_lecture")
    assert [p.key for p in lecture.missed] == ["2026-Q1"]
    assert "training_day" not in {item.kind.code for item in book.compliance}


def test_attendance_rates_and_repeated_absences(org, make_meeting):
    _hold(org, make_meeting, datetime(2026, 1, 8, 6, tzinfo=UTC), present=[org.secretary, org.alice])
    second = make_meeting(code="committee_meeting", starts_at=datetime(2026, 2, 8, 6, tzinfo=UTC),
                          attendees=[org.secretary, org.alice, org.bob])  # fmt: skip
    checkin.request_leave(second, org.alice, "出差", now=second.starts_at - timedelta(days=1))
    checkin.decide_leave(org.secretary, second, org.alice.id, True, now=second.starts_at - timedelta(days=1))
    checkin.sign_in(second, org.secretary, now=second.starts_at)
    closing.close_meeting(org.secretary, second, now=second.ends_at)
    db.session.commit()
    book = register.branch_register(org.branch, 2026, now=datetime(2026, 3, 1, tzinfo=UTC))
    # attended 2 + 1 of expected 3 + 2 (alice on leave in February)
    assert book.attendance_rate == 3 / 5
    assert [m.user.id for m in book.repeatedly_absent] == [org.bob.id]
    alice = next(m for m in book.members if m.user.id == org.alice.id)
    assert (alice.listed, alice.attended, alice.rate) == (2, 1, 1.0)


def test_the_overview_puts_branches_behind_first(org, make_meeting):
    for month in (1, 2, 3):
        _hold(org, make_meeting, datetime(2026, month, 8, 6, tzinfo=UTC), code="theme_party_day", present=[org.alice])
    overview = register.compliance_overview(org.admin, 2026, now=datetime(2026, 4, 2, tzinfo=UTC))
    assert overview[0].branch.id == org.other_branch.id
    first = next(item for item in overview if item.branch.id == org.branch.id)
    other = next(item for item in overview if item.branch.id == org.other_branch.id)
    assert other.missed > first.missed
    assert first.behind and [entry.kind.code for entry in first.compliance if not entry.behind] == [
        "theme_party_day",
        "organisational_life",
    ]


def test_due_warnings_reach_the_secretary_once_per_period(org, make_meeting, app):
    near_end = datetime(2026, 3, 25, 2, tzinfo=UTC)  # 6 days before March ends
    sent = register.send_due_warnings(near_end)
    again = register.send_due_warnings(near_end + timedelta(hours=1))
    db.session.commit()
    titles = list(db.session.scalars(sa.select(Notification.title).where(Notification.user_id == org.secretary.id)))
    assert sent > 0 and again == 0
    assert len(titles) == sent
    warned = {
        code
        for code in (
            "committee_meeting",
            "group_meeting",
            "theme_party_day",
            "general_meeting",
            "party_lecture",
            "organisational_life",
        )
        if any(kind(code).name in t for t in titles)
    }
    assert warned == {"committee_meeting", "group_meeting", "theme_party_day", "general_meeting", "party_lecture"}
    assert sent == 5


def test_no_warning_when_the_meeting_is_scheduled(org, make_meeting):
    make_meeting(code="theme_party_day", starts_at=datetime(2026, 3, 28, 6, tzinfo=UTC))
    register.send_due_warnings(datetime(2026, 3, 25, 2, tzinfo=UTC))
    titles = list(db.session.scalars(sa.select(Notification.title).where(Notification.user_id == org.secretary.id)))
    assert not any(t.startswith("提醒") and "主题党日" in t for t in titles)
    assert any(t.startswith("提醒") and "支部委员会" in t for t in titles)


def test_the_register_sheet_lists_missed_periods_in_the_ui_language(org, make_meeting, app):
    from flask_babel import force_locale

    from lms.meetings.export import register_sheets

    book = register.branch_register(org.branch, 2026, now=datetime(2026, 4, 10, tzinfo=UTC))
    for lang, expected in (("zh_Hans", "2026-01、2026-02和2026-03"), ("en", "2026-01, 2026-02, and 2026-03")):
        with app.test_request_context(), force_locale(lang):
            compliance = register_sheets(book)[0][2]
            name = next(item.kind.name for item in book.compliance if item.kind.code == "committee_meeting")
            assert next(row for row in compliance if row[0] == name)[-1] == expected
