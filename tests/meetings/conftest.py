"""Fixtures for the meetings tests: the default kinds, a branch with its secretary and members, meetings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.auth.models import BranchKind, MemberStatus, Role, User
from lms.extensions import db
from lms.meetings import kinds, scheduling
from lms.meetings.models import Meeting, MeetingKind

# 2026-03-10 14:00 in Shanghai.
START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


@dataclass
class Org:
    branch: object
    other_branch: object
    secretary: User
    alice: User
    bob: User
    carol: User
    outsider: User  # a member of another branch
    admin: User


@pytest.fixture
def org(app, make_branch, make_user) -> Org:
    kinds.seed_defaults()
    db.session.commit()
    committee = make_branch("党委", kind=BranchKind.COMMITTEE)
    branch = make_branch("第一党支部", parent=committee)
    other = make_branch("第二党支部", parent=committee)
    return Org(
        branch=branch,
        other_branch=other,
        secretary=make_user(role=Role.SECRETARY, branch=branch, name="王书记", is_committee_member=True),
        alice=make_user(branch=branch, name="李明"),
        bob=make_user(branch=branch, name="赵婷", status=MemberStatus.PROBATIONARY),
        carol=make_user(branch=branch, name="孙磊"),
        outsider=make_user(branch=other, name="周洁"),
        admin=make_user(role=Role.ADMIN, branch=committee, name="管理员"),
    )


def kind(code: str) -> MeetingKind:
    return db.session.scalar(sa.select(MeetingKind).where(MeetingKind.code == code))


@pytest.fixture
def make_meeting(org):
    """Schedule a meeting of ``org.branch`` (theme party day, 14:00-16:00 on START's day by default)."""

    def factory(code: str = "theme_party_day", starts_at: datetime = START, hours: float = 2, attendees=None,
                now: datetime | None = None, **overrides) -> Meeting:  # fmt: skip
        fields = scheduling.MeetingFields(
            branch_id=org.branch.id,
            kind_id=kind(code).id,
            topic=overrides.pop("topic", "重温入党誓词"),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=hours),
            place=overrides.pop("place", "党员活动室"),
            attendee_ids=[u.id for u in (attendees or [org.secretary, org.alice, org.bob])],
            **overrides,
        )
        meeting = scheduling.schedule_meeting(org.secretary, fields, now=now or starts_at - timedelta(days=3))
        db.session.commit()
        return meeting

    return factory
