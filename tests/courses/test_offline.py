"""Offline study: ledger rows counted once, audit trail, the secretaries' editing window, scope."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from lms import clock
from lms.auth.models import Role
from lms.courses import ledger, offline
from lms.courses.models import OfflineActivity, OfflineRecordAudit, OfflineStudyRecord, StudyLedgerEntry, StudySource
from lms.errors import Forbidden, NotFound, ValidationFailed
from lms.extensions import db

pytestmark = pytest.mark.postgres  # bulk ledger inserts, counted once


@pytest.fixture
def org(make_branch, make_user, frozen_clock):
    """Two branches under one committee, a secretary and members in each, and an admin."""
    from lms.auth.models import BranchKind

    committee = make_branch("党委", kind=BranchKind.COMMITTEE)
    first = make_branch("第一支部", parent=committee)
    second = make_branch("第二支部", parent=committee)
    return {
        "first": first,
        "second": second,
        "secretary": make_user(role=Role.SECRETARY, branch=first, username="sec1"),
        "secretary2": make_user(role=Role.SECRETARY, branch=second, username="sec2"),
        "a": make_user(branch=first, username="a"),
        "b": make_user(branch=first, username="b"),
        "c": make_user(branch=second, username="c"),
        "admin": make_user(role=Role.ADMIN, branch=committee, username="boss"),
    }


def fields(org, **changes) -> offline.OfflineRecordFields:
    values = {
        "branch_id": org["first"].id,
        "activity": OfflineActivity.BRANCH_GENERAL_MEETING,
        "held_on": clock.local_day(clock.utcnow()) - timedelta(days=2),
        "study_hours": 2,
        "topic": "学习党章",
        "notes": "",
        "attendee_ids": [org["a"].id, org["b"].id],
    }
    values.update(changes)
    return offline.OfflineRecordFields(**values)


def year_seconds(user) -> float:
    return ledger.study_seconds(user.id, *ledger.year_bounds(clock.local_day(clock.utcnow()).year))


def test_offline_record_credits_each_attendee_once(org):
    offline.record_offline_study(org["secretary"], fields(org), now=clock.utcnow())
    db.session.commit()
    assert year_seconds(org["a"]) == 2 * 45 * 60
    assert year_seconds(org["b"]) == 2 * 45 * 60
    assert year_seconds(org["secretary"]) == 0
    rows = db.session.scalars(sa.select(StudyLedgerEntry)).all()
    assert len(rows) == 2 and {row.source for row in rows} == {StudySource.OFFLINE}


def test_duplicate_attendees_are_counted_once(org):
    offline.record_offline_study(
        org["secretary"], fields(org, attendee_ids=[org["a"].id, org["a"].id, org["a"].id]), now=clock.utcnow()
    )
    db.session.commit()
    assert year_seconds(org["a"]) == 2 * 45 * 60


def test_editing_a_record_replaces_its_time_instead_of_adding(org):
    record = offline.record_offline_study(org["secretary"], fields(org), now=clock.utcnow())
    db.session.commit()
    offline.update_offline_record(
        org["secretary"], record, fields(org, study_hours=3, attendee_ids=[org["a"].id]), now=clock.utcnow()
    )
    db.session.commit()
    assert year_seconds(org["a"]) == 3 * 45 * 60
    assert year_seconds(org["b"]) == 0


def test_deleting_a_record_removes_its_time(org):
    record = offline.record_offline_study(org["secretary"], fields(org), now=clock.utcnow())
    db.session.commit()
    offline.delete_offline_record(org["secretary"], record, now=clock.utcnow())
    db.session.commit()
    assert year_seconds(org["a"]) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OfflineStudyRecord)) == 0


def test_audit_trail_keeps_who_when_before_and_after(org, frozen_clock):
    secretary = org["secretary"]
    record = offline.record_offline_study(secretary, fields(org), now=clock.utcnow())
    db.session.commit()
    record_id = record.id
    frozen_clock.advance(3600)
    offline.update_offline_record(secretary, record, fields(org, topic="重温入党誓词"), now=clock.utcnow())
    db.session.commit()
    frozen_clock.advance(3600)
    offline.delete_offline_record(secretary, record, now=clock.utcnow())
    db.session.commit()
    trail = offline.audit_trail(secretary, record_id)
    assert [entry.action for entry in trail] == ["delete", "update", "create"]
    delete, update, create = trail
    assert all(entry.actor_id == secretary.id for entry in trail)
    assert update.at == create.at + timedelta(hours=1)
    assert update.before["topic"] == "学习党章" and update.after["topic"] == "重温入党誓词"
    assert create.before is None and create.after["attendee_ids"] == sorted([org["a"].id, org["b"].id])
    assert delete.after is None and delete.before["topic"] == "重温入党誓词"
    assert delete.before["attendees"] == [org["a"].name, org["b"].name]


def test_unchanged_save_writes_no_audit_row(org):
    record = offline.record_offline_study(org["secretary"], fields(org), now=clock.utcnow())
    db.session.commit()
    offline.update_offline_record(org["secretary"], record, fields(org), now=clock.utcnow())
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OfflineRecordAudit)) == 1


def test_secretary_cannot_enter_a_record_older_than_the_window(org):
    too_old = clock.local_day(clock.utcnow()) - timedelta(days=31)
    with pytest.raises(ValidationFailed) as error:
        offline.record_offline_study(org["secretary"], fields(org, held_on=too_old), now=clock.utcnow())
    assert error.value.field == "held_on"


def test_secretary_may_enter_a_record_exactly_at_the_window_edge(org):
    edge = clock.local_day(clock.utcnow()) - timedelta(days=30)
    offline.record_offline_study(org["secretary"], fields(org, held_on=edge), now=clock.utcnow())


def test_window_is_configuration(app, org):
    app.config["OFFLINE_EDIT_WINDOW_DAYS"] = 7
    with pytest.raises(ValidationFailed):
        offline.record_offline_study(
            org["secretary"], fields(org, held_on=clock.local_day(clock.utcnow()) - timedelta(days=8)),
            now=clock.utcnow(),
        )  # fmt: skip


def test_record_becomes_locked_for_the_secretary_once_the_window_passes(org, frozen_clock):
    record = offline.record_offline_study(org["secretary"], fields(org), now=clock.utcnow())
    db.session.commit()
    frozen_clock.advance(40 * 86400)
    with pytest.raises(Forbidden):
        offline.update_offline_record(org["secretary"], record, fields(org, topic="改"), now=clock.utcnow())
    with pytest.raises(Forbidden):
        offline.delete_offline_record(org["secretary"], record, now=clock.utcnow())


def test_admin_may_enter_and_change_old_records(org, frozen_clock):
    old = clock.local_day(clock.utcnow()) - timedelta(days=200)
    record = offline.record_offline_study(org["admin"], fields(org, held_on=old), now=clock.utcnow())
    db.session.commit()
    offline.update_offline_record(org["admin"], record, fields(org, held_on=old, study_hours=8), now=clock.utcnow())
    offline.delete_offline_record(org["admin"], record, now=clock.utcnow())


def test_future_dates_are_refused(org):
    tomorrow = clock.local_day(clock.utcnow()) + timedelta(days=1)
    with pytest.raises(ValidationFailed) as error:
        offline.record_offline_study(org["admin"], fields(org, held_on=tomorrow), now=clock.utcnow())
    assert error.value.field == "held_on"


@pytest.mark.parametrize("hours", [0, -1, 101])
def test_hours_out_of_range_are_refused(org, hours):
    with pytest.raises(ValidationFailed) as error:
        offline.record_offline_study(org["secretary"], fields(org, study_hours=hours), now=clock.utcnow())
    assert error.value.field == "study_hours"


def test_secretary_cannot_record_for_another_branch(org):
    with pytest.raises(ValidationFailed) as error:
        offline.record_offline_study(
            org["secretary"], fields(org, branch_id=org["second"].id, attendee_ids=[org["c"].id]), now=clock.utcnow()
        )
    assert error.value.field == "branch_id"


def test_attendees_must_belong_to_the_branch(org):
    with pytest.raises(ValidationFailed) as error:
        offline.record_offline_study(
            org["secretary"], fields(org, attendee_ids=[org["a"].id, org["c"].id]), now=clock.utcnow()
        )
    assert error.value.field == "attendee_ids"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StudyLedgerEntry)) == 0


def test_no_attendee_or_topic_is_refused(org):
    with pytest.raises(ValidationFailed):
        offline.record_offline_study(org["secretary"], fields(org, attendee_ids=[]), now=clock.utcnow())
    with pytest.raises(ValidationFailed):
        offline.record_offline_study(org["secretary"], fields(org, topic="  "), now=clock.utcnow())


def test_scope_secretaries_see_only_their_branches_records(org):
    mine = offline.record_offline_study(org["secretary"], fields(org), now=clock.utcnow())
    theirs = offline.record_offline_study(
        org["secretary2"], fields(org, branch_id=org["second"].id, attendee_ids=[org["c"].id]), now=clock.utcnow()
    )
    db.session.commit()
    visible = db.session.scalars(offline.scoped_records_query(org["secretary"])).all()
    assert visible == [mine]
    assert set(db.session.scalars(offline.scoped_records_query(org["admin"]))) == {mine, theirs}
    assert [entry.record_id for entry in offline.audit_trail(org["secretary"])] == [mine.id]


def test_offline_time_is_on_the_record_date_not_the_entry_date(org):
    held = date.fromordinal(clock.local_day(clock.utcnow()).toordinal() - 5)
    offline.record_offline_study(org["secretary"], fields(org, held_on=held), now=clock.utcnow())
    db.session.commit()
    assert ledger.study_seconds(org["a"].id, held, held) == 2 * 2700


# --- no self-credit without a second person; at most LMS_OFFLINE_MAX_HOURS -----------


@pytest.mark.parametrize("hours", [8.5, 9, 24])
def test_hours_above_the_configured_maximum_are_refused(org, hours):
    with pytest.raises(ValidationFailed) as error:
        offline.record_offline_study(org["secretary"], fields(org, study_hours=hours), now=clock.utcnow())
    assert error.value.field == "study_hours" and "8" in str(error.value.message)


def test_maximum_hours_are_configuration(app, org):
    app.config["OFFLINE_MAX_HOURS"] = 16
    offline.record_offline_study(org["secretary"], fields(org, study_hours=16), now=clock.utcnow())
    db.session.commit()
    assert year_seconds(org["a"]) == 16 * 45 * 60


def self_credit(org):
    record = offline.record_offline_study(
        org["secretary"], fields(org, attendee_ids=[org["a"].id, org["secretary"].id]), now=clock.utcnow()
    )
    db.session.commit()
    return record


def test_a_secretary_crediting_themselves_waits_for_a_second_person(org):
    record = self_credit(org)
    assert year_seconds(org["secretary"]) == 0  # pending: no ledger credit
    assert year_seconds(org["a"]) == 2 * 45 * 60  # the other attendees are credited at once
    assert offline.pending_ids(record) == [org["secretary"].id]
    assert set(offline.attendee_ids(record)) == {org["a"].id, org["secretary"].id}
    assert offline.attendee_counts([record.id]) == {record.id: 2}


def test_the_secretary_cannot_confirm_their_own_attendance(org):
    record = self_credit(org)
    with pytest.raises(Forbidden):
        offline.confirm_attendance(org["secretary"], record.id, org["secretary"].id, now=clock.utcnow())
    assert offline.pending_for(org["secretary"]) == []


def test_an_admin_confirms_and_the_credit_counts(org):
    record = self_credit(org)
    assert [p.user_id for p in offline.pending_for(org["admin"])] == [org["secretary"].id]
    offline.confirm_attendance(org["admin"], record.id, org["secretary"].id, now=clock.utcnow())
    db.session.commit()
    assert year_seconds(org["secretary"]) == 2 * 45 * 60
    assert offline.pending_ids(record) == []
    confirm = db.session.scalar(sa.select(OfflineRecordAudit).where(OfflineRecordAudit.action == "confirm"))
    assert confirm.actor_id == org["admin"].id and confirm.after["confirmed_user_id"] == org["secretary"].id
    with pytest.raises(NotFound):  # twice: nothing waits any more
        offline.confirm_attendance(org["admin"], record.id, org["secretary"].id, now=clock.utcnow())


def test_a_committee_member_of_the_branch_may_confirm(org, make_user):
    record = self_credit(org)
    committee = make_user(branch=org["first"], username="zhiwei", is_committee_member=True)
    outsider = make_user(branch=org["second"], username="zhiwei2", is_committee_member=True)
    plain = org["b"]
    assert offline.pending_for(plain) == [] and offline.pending_for(outsider) == []
    for stranger in (plain, outsider, org["secretary2"]):
        with pytest.raises(Forbidden):
            offline.confirm_attendance(stranger, record.id, org["secretary"].id, now=clock.utcnow())
    offline.confirm_attendance(committee, record.id, org["secretary"].id, now=clock.utcnow())
    db.session.commit()
    assert year_seconds(org["secretary"]) == 2 * 45 * 60


def test_changing_a_record_one_attended_needs_confirming_again(org):
    record = self_credit(org)
    offline.confirm_attendance(org["admin"], record.id, org["secretary"].id, now=clock.utcnow())
    db.session.commit()
    offline.update_offline_record(
        org["secretary"], record, fields(org, study_hours=6, attendee_ids=[org["a"].id, org["secretary"].id]),
        now=clock.utcnow(),
    )  # fmt: skip
    db.session.commit()
    assert year_seconds(org["secretary"]) == 0 and offline.pending_ids(record) == [org["secretary"].id]
    # Someone else's edit keeps it waiting rather than confirming it by the way.
    offline.update_offline_record(
        org["admin"], record, fields(org, study_hours=5, attendee_ids=[org["a"].id, org["secretary"].id]),
        now=clock.utcnow(),
    )  # fmt: skip
    db.session.commit()
    assert year_seconds(org["secretary"]) == 0


def test_deleting_a_record_drops_its_waiting_attendance(org):
    record = self_credit(org)
    offline.delete_offline_record(org["secretary"], record, now=clock.utcnow())
    db.session.commit()
    assert offline.pending_for(org["admin"]) == []
