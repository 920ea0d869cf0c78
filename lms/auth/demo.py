"""The demo organisation: branches and an account of each kind (idempotent)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from lms import clock
from lms.auth import services
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.extensions import db

DEMO_PASSWORD = "Vanguard2026"

# (username, name, role, status, branch key, extra)
DEMO_ACCOUNTS = [
    ("admin", "系统管理员", Role.ADMIN, MemberStatus.FULL, "committee", {}),
    (
        "secretary",
        "王书记",
        Role.SECRETARY,
        MemberStatus.FULL,
        "branch1",
        {"is_committee_member": True, "phone": "13800000002"},
    ),
    ("member", "李明", Role.LEARNER, MemberStatus.FULL, "branch1", {"phone": "13800000003"}),
    ("probationary", "赵婷", Role.LEARNER, MemberStatus.PROBATIONARY, "branch1", {"probation": True}),
    ("activist", "孙磊", Role.LEARNER, MemberStatus.ACTIVIST, "branch1", {}),
    ("member2", "周洁", Role.LEARNER, MemberStatus.FULL, "branch2", {}),
    ("secretary2", "陈书记", Role.SECRETARY, MemberStatus.FULL, "branch2", {"is_committee_member": True}),
    ("member3", "吴强", Role.LEARNER, MemberStatus.FULL, "branch3", {}),
]


def _branch(name: str, kind: BranchKind, parent: Branch | None) -> Branch:
    parent_clause = Branch.parent_id.is_(None) if parent is None else Branch.parent_id == parent.id
    existing = db.session.scalar(sa.select(Branch).where(Branch.name == name, parent_clause))
    return existing or services.create_branch(name, kind, parent.id if parent else None)


def demo_branches() -> dict[str, Branch]:
    """The demo tree: 党委 > 党总支 > two 党支部, plus a branch directly under the 党委."""
    committee = _branch("先锋集团党委", BranchKind.COMMITTEE, None)
    general = _branch("生产党总支", BranchKind.GENERAL_BRANCH, committee)
    return {
        "committee": committee,
        "general": general,
        "branch1": _branch("第一党支部", BranchKind.BRANCH, general),
        "branch2": _branch("第二党支部", BranchKind.BRANCH, general),
        "branch3": _branch("机关党支部", BranchKind.BRANCH, committee),
    }


def seed_demo() -> list[str]:
    """Create the demo branches and accounts once; return the lines to print."""
    branches = demo_branches()
    today = clock.local_day(clock.utcnow())
    # On the platform since the start of last year (targets are pro-rated from the day an account is made).
    since = clock.local_midnight(date(today.year - 1, 1, 1))
    password_hash = None
    lines = [f"Demo accounts (password for all: {DEMO_PASSWORD}):"]
    for username, name, role, status, branch_key, extra in DEMO_ACCOUNTS:
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            password_hash = password_hash or services.hash_password(DEMO_PASSWORD)
            user = User(
                username=username,
                name=name,
                role=role,
                status=status,
                branch_id=branches[branch_key].id,
                phone=extra.get("phone"),
                is_committee_member=extra.get("is_committee_member", False),
                admitted_on=today - timedelta(days=300) if extra.get("probation") else date(2012, 7, 1),
                probation_end=today + timedelta(days=65) if extra.get("probation") else None,
                password_hash=password_hash,
                created_at=since,
                updated_at=since,
            )
            db.session.add(user)
        lines.append(f"  {username:<14} {name}  ({role.label}, {status.label}, {branches[branch_key].name})")
    db.session.flush()
    return lines
