"""Meeting kinds: the defaults `flask lms init` seeds, and the admin's edits.

The defaults follow the usual rules of branch life (三会一课, 主题党日, 组织生活会,
民主生活会); an organisation changes the cadence, attendees and 学时 of each on
the kinds page. A kind in use is never deleted, only switched off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lms import audit
from lms.auth.models import MemberStatus, User
from lms.errors import ValidationFailed
from lms.extensions import db
from lms.meetings.auditing import record_kind
from lms.meetings.limits import check_study_hours
from lms.meetings.models import AttendeeRule, Cadence, KindLevel, MeetingKind

# code, name, cadence, level, attendee rule, audience statuses, 学时, needs sign-out
DEFAULT_KINDS = (
    ("general_meeting", "支部党员大会", Cadence.QUARTERLY, KindLevel.BRANCH, AttendeeRule.MEMBERS, [], 2.0, False),
    ("committee_meeting", "支部委员会", Cadence.MONTHLY, KindLevel.BRANCH, AttendeeRule.COMMITTEE, [], 1.0, False),
    ("group_meeting", "党小组会", Cadence.MONTHLY, KindLevel.BRANCH, AttendeeRule.GROUP, [], 1.0, False),
    ("party_lecture", "党课", Cadence.QUARTERLY, KindLevel.BRANCH, AttendeeRule.MEMBERS, [], 2.0, True),
    ("theme_party_day", "主题党日", Cadence.MONTHLY, KindLevel.BRANCH, AttendeeRule.MEMBERS, [], 2.0, False),
    ("organisational_life", "组织生活会", Cadence.YEARLY, KindLevel.BRANCH, AttendeeRule.MEMBERS, [], 3.0, False),
    ("democratic_life", "民主生活会", Cadence.YEARLY, KindLevel.LEADERSHIP, AttendeeRule.COMMITTEE, [], 4.0, False),
    ("training_day", "集中培训", Cadence.NONE, KindLevel.BRANCH, AttendeeRule.AUDIENCE,
     [MemberStatus.FULL.value, MemberStatus.PROBATIONARY.value, MemberStatus.ACTIVIST.value], 8.0, True),
)  # fmt: skip


def seed_defaults() -> list[str]:
    """Add the default kinds that are missing (by code); never changes an existing kind."""
    existing = set(db.session.scalars(sa.select(MeetingKind.code)))
    added = []
    for position, (code, name, cadence, level, rule, statuses, hours, sign_out) in enumerate(DEFAULT_KINDS):
        if code in existing:
            continue
        db.session.add(
            MeetingKind(
                code=code, name=name, cadence=cadence, level=level, attendee_rule=rule,
                audience_statuses=list(statuses), study_hours=hours, needs_sign_out=sign_out, position=position,
            )
        )  # fmt: skip
        added.append(name)
    db.session.flush()
    return [f"Meeting kinds added: {', '.join(added)}."] if added else []


def all_kinds(active_only: bool = False) -> list[MeetingKind]:
    """Kinds in their display order."""
    query = sa.select(MeetingKind).order_by(MeetingKind.position, MeetingKind.id)
    if active_only:
        query = query.where(MeetingKind.is_active.is_(True))
    return list(db.session.scalars(query))


@dataclass
class KindFields:
    name: str
    cadence: Cadence
    level: KindLevel
    attendee_rule: AttendeeRule
    study_hours: float
    needs_sign_out: bool = False
    is_active: bool = True
    audience_statuses: list[str] = field(default_factory=list)


def _validated(fields: KindFields, kind_id: int | None) -> KindFields:
    name = (fields.name or "").strip()
    if not name:
        raise ValidationFailed(_l("Give the kind a name."), "name")
    clash = sa.select(MeetingKind.id).where(MeetingKind.name == name)
    if kind_id is not None:
        clash = clash.where(MeetingKind.id != kind_id)
    if db.session.scalar(clash) is not None:
        raise ValidationFailed(_l("Another kind has this name."), "name")
    check_study_hours(fields.study_hours)
    statuses = sorted({MemberStatus(s).value for s in fields.audience_statuses})
    if AttendeeRule(fields.attendee_rule) == AttendeeRule.AUDIENCE and not statuses:
        raise ValidationFailed(_l("Choose the member statuses of the audience."), "audience_statuses")
    fields.name, fields.audience_statuses = name, statuses
    return fields


def _apply(kind: MeetingKind, fields: KindFields) -> None:
    kind.name = fields.name[:80]
    kind.cadence = Cadence(fields.cadence)
    kind.level = KindLevel(fields.level)
    kind.attendee_rule = AttendeeRule(fields.attendee_rule)
    kind.audience_statuses = fields.audience_statuses
    kind.study_hours = round(float(fields.study_hours), 2)
    kind.needs_sign_out = bool(fields.needs_sign_out)
    kind.is_active = bool(fields.is_active)


def create_kind(fields: KindFields, *, now: datetime, actor: User | None = None) -> MeetingKind:
    """Add a kind (code made from its id); raises ValidationFailed for a blank or taken name or bad hours.

    The 学时 may not exceed what one meeting credits (``LMS_OFFLINE_MAX_HOURS``). Audited.
    """
    fields = _validated(fields, None)
    position = (db.session.scalar(sa.select(sa.func.max(MeetingKind.position))) or 0) + 1
    kind = MeetingKind(code=f"custom-{now.timestamp():.0f}-{position}", position=position, created_at=now)
    _apply(kind, fields)
    db.session.add(kind)
    db.session.flush()
    record_kind("create", kind, actor=actor, now=now, after=audit.row_snapshot(kind))
    return kind


def update_kind(kind: MeetingKind, fields: KindFields, *, now: datetime, actor: User | None = None) -> MeetingKind:
    """Change a kind; meetings already scheduled keep the 学时 they were scheduled with. Audited."""
    fields = _validated(fields, kind.id)
    before = audit.row_snapshot(kind)
    _apply(kind, fields)
    kind.updated_at = now
    db.session.flush()
    record_kind("update", kind, actor=actor, now=now, before=before, after=audit.row_snapshot(kind))
    return kind
