"""Default learning targets, following the Party's rules on member education (run by `flask lms init`).

- Full members: at least 32 学时 a year.
- Branch secretaries and branch committee members: at least 56 学时 a year.
- Probationary members: required courses and a quiz before the probation end;
  seeded inactive, because the courses and the quiz are the organisation's own
  choice: an admin adds them in /admin/targets and activates the target.

Each default carries a ``system_key``, so running init again changes nothing,
and an admin's later edits are kept.
"""

from __future__ import annotations

import sqlalchemy as sa

from lms import clock
from lms.assessment.models import LeaderRule, LearningTarget, PeriodKind
from lms.auth.models import MemberStatus, Role
from lms.extensions import db

DEFAULT_TARGETS = (
    {
        "system_key": "full-members-yearly",
        "name": "正式党员年度学习",
        "description": "正式党员每年集中学习培训不少于32学时。",
        "period_kind": PeriodKind.YEAR,
        "required_hours": 32.0,
        "leader_rule": LeaderRule.EXCLUDE,
        "statuses": [MemberStatus.FULL],
        "roles": [Role.LEARNER],
        "is_active": True,
    },
    {
        "system_key": "leaders-yearly",
        "name": "支部书记和支委年度学习",
        "description": "党支部书记和支部委员每年集中学习培训不少于56学时。",
        "period_kind": PeriodKind.YEAR,
        "required_hours": 56.0,
        "leader_rule": LeaderRule.ONLY,
        "statuses": [MemberStatus.FULL],
        "roles": [Role.LEARNER, Role.SECRETARY],
        "is_active": True,
    },
    {
        "system_key": "probation",
        "name": "预备党员预备期学习",
        "description": "预备期内完成规定的必修课程并通过测试。请在此添加必修课程和测验后启用。",
        "period_kind": PeriodKind.PROBATION,
        "required_hours": None,
        "leader_rule": LeaderRule.ANY,
        "statuses": [MemberStatus.PROBATIONARY],
        "roles": [Role.LEARNER],
        "is_active": False,
    },
)


def seed_defaults() -> list[str]:
    """Create the default targets that do not exist yet; return the lines to print."""
    existing = set(
        db.session.scalars(sa.select(LearningTarget.system_key).where(LearningTarget.system_key.is_not(None)))
    )
    lines = []
    now = clock.utcnow()
    for spec in DEFAULT_TARGETS:
        if spec["system_key"] in existing:
            continue
        target = LearningTarget(
            system_key=spec["system_key"],
            name=spec["name"],
            description=spec["description"],
            period_kind=spec["period_kind"],
            required_hours=spec["required_hours"],
            leader_rule=spec["leader_rule"],
            is_active=spec["is_active"],
            created_at=now,
        )
        target.set_audience(spec["statuses"], spec["roles"], [])
        db.session.add(target)
        lines.append(f"Learning target created: {spec['name']}")
    if lines:
        db.session.flush()
        lines.append("Add the probation target's required courses and quiz in /admin/targets, then activate it.")
    return lines
