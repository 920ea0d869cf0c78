"""Audit rows of the meetings' administrative actions (DESIGN.md §12), through ``lms.audit``.

Every row of a meeting has object type ``meeting`` and the meeting's id, so the
audit page filtered on one meeting shows its whole history; it is scoped to the
meeting's branch, so the secretaries over that branch read it. Kinds are
organisation-wide (no branch path).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lms import audit
from lms.auth.models import User
from lms.extensions import db
from lms.meetings.models import Meeting, MeetingKind
from lms.richtext import plain_text

# The fields of a meeting an edit can change (attendees are added as names and ids).
MEETING_FIELDS = (
    "branch_id", "kind_id", "topic", "starts_at", "ends_at", "place", "online_url", "agenda", "lesson_ids",
    "study_hours", "needs_sign_out", "checkin_opens_minutes", "status",
)  # fmt: skip
MINUTES_EXCERPT = 2000


def meeting_label(meeting: Meeting) -> str:
    kind = meeting.kind.name if meeting.kind is not None else ""
    return f"{kind} · {meeting.topic}" if kind else meeting.topic


def member_names(user_ids: Iterable[int]) -> dict[int, str]:
    """Names of the members ``user_ids`` (one query)."""
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def meeting_snapshot(meeting: Meeting, attendee_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """The meeting's editable fields, and its attendees (ids and names) when given."""
    values = audit.snapshot(meeting, MEETING_FIELDS)
    if attendee_ids is not None:
        names = member_names(attendee_ids)
        values["attendee_ids"] = sorted(names)
        values["attendees"] = [names[i] for i in sorted(names)]
    return values


def minutes_snapshot(html: str) -> dict[str, Any]:
    """What the log keeps of the minutes: their length, a digest and the start of the text (not all 200,000 chars)."""
    text = plain_text(html or "").strip()
    return {
        "chars": len(text),
        "sha256": hashlib.sha256((html or "").encode()).hexdigest()[:16],
        "text": text[:MINUTES_EXCERPT],
    }


def record_meeting(
    action: str,
    meeting: Meeting,
    *,
    actor: User,
    now: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Append ``meeting.<action>`` for ``meeting``, scoped to its branch (flushes, never commits)."""
    branch = meeting.branch
    audit.record(
        f"meeting.{action}",
        "meeting",
        meeting.id,
        before,
        after,
        actor=actor,
        now=now,
        label=meeting_label(meeting),
        branch_path=branch.path if branch is not None else None,
    )


def record_kind(action: str, kind: MeetingKind, *, actor: User | None, now: datetime, before=None, after=None) -> None:
    """Append ``meeting_kind.<action>`` (kinds are organisation-wide)."""
    audit.record(f"meeting_kind.{action}", "meeting_kind", kind.id, before, after, actor=actor, now=now,
                 label=kind.name)  # fmt: skip
