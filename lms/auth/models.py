"""Users and branches."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms import clock
from lms.db import TimestampMixin, str_enum
from lms.extensions import db


class BranchKind(enum.StrEnum):
    COMMITTEE = "committee"  # 党委
    GENERAL_BRANCH = "general_branch"  # 党总支
    BRANCH = "branch"  # 党支部

    @property
    def label(self) -> str:
        return str(BRANCH_KIND_LABELS[self])


BRANCH_KIND_LABELS = {
    BranchKind.COMMITTEE: _l("Party committee"),
    BranchKind.GENERAL_BRANCH: _l("General Party branch"),
    BranchKind.BRANCH: _l("Party branch"),
}


class MemberStatus(enum.StrEnum):
    FULL = "full"  # 正式党员
    PROBATIONARY = "probationary"  # 预备党员
    ACTIVIST = "activist"  # 入党积极分子

    @property
    def label(self) -> str:
        return str(MEMBER_STATUS_LABELS[self])


MEMBER_STATUS_LABELS = {
    MemberStatus.FULL: _l("Full member"),
    MemberStatus.PROBATIONARY: _l("Probationary member"),
    MemberStatus.ACTIVIST: _l("Activist"),
}


class Role(enum.StrEnum):
    ADMIN = "admin"
    # An admin whose powers stop at the subtree of their own branch (党总支, 二级党委).
    SUBTREE_ADMIN = "subtree_admin"
    SECRETARY = "secretary"
    LEARNER = "learner"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SUBTREE_ADMIN: _l("Subtree administrator"),
    Role.SECRETARY: _l("Branch secretary"),
    Role.LEARNER: _l("Learner"),
}


class Branch(TimestampMixin, db.Model):
    """A node of the organisation tree (党委 > 党总支 > 党支部).

    ``path`` is the materialised path of ids (``/1/4/9/``): a subtree is one
    indexed prefix match, so every scoped query stays a single statement.
    """

    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[BranchKind] = mapped_column(str_enum(BranchKind))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(500), index=True, default="")
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped[Branch | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Branch]] = relationship(back_populates="parent", order_by="Branch.position, Branch.name")

    __table_args__ = (sa.UniqueConstraint("parent_id", "name"),)

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def __repr__(self) -> str:
        return f"<Branch {self.id} {self.name}>"


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Login names are stored normalised (NFKC, trimmed, case-folded); see auth.services.
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    id_number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    name: Mapped[str] = mapped_column(sa.String(80))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    status: Mapped[MemberStatus] = mapped_column(str_enum(MemberStatus), default=MemberStatus.FULL, index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role), default=Role.LEARNER, index=True)
    # 支委委员: branch committee members share the secretaries' higher study target.
    is_committee_member: Mapped[bool] = mapped_column(default=False)
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id"), index=True)
    # 入党/发展日期: the day the member was admitted (probationary) or became an activist.
    admitted_on: Mapped[date | None]
    probation_end: Mapped[date | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Bumped on logout, password change and deactivation: every other session carries
    # the old number and is refused on its next request.
    session_version: Mapped[int] = mapped_column(default=1)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    # 大字模式: larger text, larger tap targets and simpler member pages, on every device.
    large_text: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    last_login_at: Mapped[datetime | None]

    branch: Mapped[Branch | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_subtree_admin(self) -> bool:
        return self.role == Role.SUBTREE_ADMIN

    @property
    def is_manager(self) -> bool:
        """An admin of the whole organisation or of a branch subtree."""
        return self.role in (Role.ADMIN, Role.SUBTREE_ADMIN)

    @property
    def is_secretary(self) -> bool:
        return self.role == Role.SECRETARY

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


__all__ = [
    "BRANCH_KIND_LABELS",
    "MEMBER_STATUS_LABELS",
    "ROLE_LABELS",
    "Branch",
    "BranchKind",
    "MemberStatus",
    "Role",
    "User",
    "clock",
]
