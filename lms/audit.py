"""The append-only audit log every domain writes to (DESIGN.md §12); the lowest layer.

``record(action, obj_type, obj_id, before=, after=)`` adds one row: who (the
logged-in user of the request unless ``actor`` is given), when (``now``), from
where (the request's address; ``ProxyFix`` has already put the client's own
address there when ``LMS_TRUSTED_PROXIES`` is set), what, and for edits the
fields that changed. Password hashes and secrets never enter a row.

Each row carries ``branch_path``, the materialised path of the affected
member's branch (or of the branch an object is scoped to), so a secretary's or
subtree admin's view of the log is one prefix match. Nothing in the code
updates or deletes rows, and a database trigger refuses it (see the migration
and ``_install_triggers``).

This module imports nothing from the domains: callers pass plain values.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Mapped, mapped_column

from lms import clock
from lms.extensions import db

# Field names whose values never enter the log: only the fact that they changed.
SECRET_MARKERS = ("password", "secret", "token")
CHANGED_SECRET = "******"  # noqa: S105 (a mask, not a password)


class AuditEntry(db.Model):
    """One administrative action. Rows are only ever inserted."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The actor's name at the time, so the row still reads right after a rename.
    actor_name: Mapped[str] = mapped_column(sa.String(80), default="")
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(40))
    object_label: Mapped[str] = mapped_column(sa.String(200), default="")
    # Path of the affected member's (or object's) branch; None for organisation-wide objects.
    branch_path: Mapped[str | None] = mapped_column(sa.String(500), index=True)
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)

    __table_args__ = (sa.Index("ix_audit_log_object", "object_type", "object_id"),)


# Refuse UPDATE and DELETE in the database itself (also for tables made by create_all in tests).
SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def trigger_statements(dialect: str) -> tuple[str, ...]:
    """The statements that make ``audit_log`` append-only on ``dialect``."""
    if dialect == "postgresql":
        return POSTGRES_TRIGGERS
    if dialect == "sqlite":
        return SQLITE_TRIGGERS
    return ()


@sa.event.listens_for(AuditEntry.__table__, "after_create")
def _install_triggers(target, connection, **kw) -> None:
    for statement in trigger_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a column value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)


def is_secret(field: str) -> bool:
    """True for fields whose values are never logged (passwords, hashes, tokens)."""
    lowered = field.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The current values of ``fields`` of ``obj``, JSON-friendly; secrets masked."""
    values = {}
    for field in fields:
        value = getattr(obj, field, None)
        values[field] = CHANGED_SECRET if is_secret(field) and value else _plain(value)
    return values


def row_snapshot(obj: Any, exclude: Iterable[str] = ("created_at", "updated_at")) -> dict[str, Any]:
    """Every mapped column of ``obj`` (but ``exclude``), for before/after of an edit; secrets masked."""
    skipped = set(exclude)
    return snapshot(obj, [c.key for c in sa.inspect(obj).mapper.column_attrs if c.key not in skipped])


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> tuple[dict | None, dict | None]:
    """Only the fields whose values differ, as (before, after); secrets shown as a mask."""
    if before is None or after is None:
        return (_masked(before), _masked(after))
    old, new = {}, {}
    for key in sorted(set(before) | set(after)):
        left, right = _plain(before.get(key)), _plain(after.get(key))
        if left != right:
            old[key] = CHANGED_SECRET if is_secret(key) and left else left
            new[key] = CHANGED_SECRET if is_secret(key) and right else right
    return old, new


def _masked(values: Mapping[str, Any] | None) -> dict | None:
    if values is None:
        return None
    return {k: (CHANGED_SECRET if is_secret(k) and v else _plain(v)) for k, v in values.items()}


def common_path(paths: Iterable[str | None]) -> str | None:
    """The deepest branch path shared by all ``paths`` (``/1/4/9/`` and ``/1/4/10/`` give ``/1/4/``).

    None when a path is missing or they share no root: such rows are organisation-wide.
    """
    parts_list = []
    for path in paths:
        if not path:
            return None
        parts_list.append([p for p in path.split("/") if p])
    if not parts_list:
        return None
    shared = []
    for segments in zip(*parts_list, strict=False):
        if len(set(segments)) != 1:
            break
        shared.append(segments[0])
    return "/" + "/".join(shared) + "/" if shared else None


def _request_actor():
    if not has_request_context():
        return None
    from flask_login import current_user

    return current_user if getattr(current_user, "is_authenticated", False) else None


def record(
    action: str,
    obj_type: str,
    obj_id: Any = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    *,
    actor: Any = None,
    ip: str | None = None,
    now: datetime | None = None,
    label: str = "",
    branch_path: str | None = None,
    only_changes: bool = True,
) -> AuditEntry | None:
    """Append one audit row; flushes, never commits (the view's commit keeps it with the action).

    ``actor`` (a user) and ``ip`` default to the request's; ``before``/``after``
    are reduced to the changed fields when both are given (``only_changes``).
    An edit that changed nothing writes no row and returns None.
    """
    actor = actor if actor is not None else _request_actor()
    if ip is None and has_request_context():
        ip = request.remote_addr
    if before is not None and after is not None and only_changes:
        before, after = changes(before, after)
        if not before and not after:
            return None
    else:
        before, after = _masked(before), _masked(after)
    entry = AuditEntry(
        at=now or clock.utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_name=(getattr(actor, "name", "") or "")[:80],
        ip=(ip or None) and ip[:45],
        action=action[:60],
        object_type=obj_type[:40],
        object_id=None if obj_id is None else str(obj_id)[:40],
        object_label=(label or "")[:200],
        branch_path=branch_path,
        before=before,
        after=after,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def entries_query(
    *,
    scope_path: str | None = None,
    org_wide: bool = True,
    actor_id: int | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> sa.Select:
    """A SELECT of audit rows, newest first, filtered.

    ``org_wide`` (full admins) sees every row; otherwise only rows whose
    ``branch_path`` starts with ``scope_path`` (none when it is missing).
    ``action`` matches a prefix ("user." finds every user action).
    """
    query = sa.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if not org_wide:
        query = query.where(AuditEntry.branch_path.startswith(scope_path) if scope_path else sa.false())
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == str(object_id))
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    if end is not None:
        query = query.where(AuditEntry.at < end)
    return query


def known_actions() -> list[str]:
    """Every action name in the log, for the filter's choices. One query."""
    return list(db.session.scalars(sa.select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def known_object_types() -> list[str]:
    """Every object type in the log, for the filter's choices. One query."""
    return list(db.session.scalars(sa.select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)))
