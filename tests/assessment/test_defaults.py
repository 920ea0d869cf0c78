"""`flask lms init` seeds the default learning targets once, following the Party's rules."""

from datetime import UTC, datetime

import sqlalchemy as sa

from lms import create_app
from lms.assessment import defaults, jobs, services, targets
from lms.assessment.models import LearningTarget
from lms.auth.models import MemberStatus, Role
from lms.extensions import db
from lms.jobs import scheduled_jobs


def test_init_seeds_the_default_targets_once(tmp_path):
    app = create_app({"SECRET_KEY": "x", "TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'init.sqlite3'}"})
    with app.app_context():
        runner = app.test_cli_runner()
        first = runner.invoke(args=["lms", "init", "--no-admin"])
        assert first.exit_code == 0, first.output
        assert "正式党员年度学习" in first.output
        second = runner.invoke(args=["lms", "init", "--no-admin"])
        assert "正式党员年度学习" not in second.output
        seeded = {t.system_key: t for t in db.session.scalars(sa.select(LearningTarget))}
        assert set(seeded) == {"full-members-yearly", "leaders-yearly", "probation"}
        assert seeded["full-members-yearly"].required_hours == 32
        assert seeded["leaders-yearly"].required_hours == 56
        assert not seeded["probation"].is_active
        db.session.remove()
        db.engine.dispose()


def test_defaults_give_members_32_and_secretaries_and_committee_members_56_hours(app, make_user):
    defaults.seed_defaults()
    db.session.commit()
    member = make_user()
    secretary = make_user(role=Role.SECRETARY)
    committee = make_user(is_committee_member=True)
    probationary = make_user(status=MemberStatus.PROBATIONARY)
    admin_only = make_user(role=Role.ADMIN)

    def hours(user):
        return sorted(t.required_hours for t in targets.targets_for(user))

    assert hours(member) == [32]
    assert hours(secretary) == [56] and hours(committee) == [56]
    assert hours(probationary) == [] and hours(admin_only) == []


def test_the_assessment_jobs_are_scheduled_and_safe_to_run_twice(app, make_user, frozen_clock):
    names = {spec.name for spec in scheduled_jobs()}
    assert {"assessment-nightly", "assessment-reminders"} <= names
    defaults.seed_defaults()
    make_user()
    db.session.commit()
    night = datetime(2026, 7, 1, 19, 0, tzinfo=UTC)  # 03:00 in Shanghai
    assert jobs.nightly_results(night) == 2  # the two active yearly targets
    db.session.commit()
    assert jobs.nightly_results(night) == 0
    full = db.session.scalar(sa.select(LearningTarget.id).where(LearningTarget.system_key == "full-members-yearly"))
    assert services.latest_run(full, "2026").member_count == 1
