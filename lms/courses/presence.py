"""Presence checks (DESIGN.md §3): "are you still there?" once in each lesson of a course that asks for it.

The moment is a share of the lesson (between 20% and 80% of its study time) derived
from the secret key, the member and the lesson, so the member cannot know it and
restarting the player does not move it. The heartbeat that takes the member's
progress past it issues a check (a random token, stored on the member's progress
row); the player shows a dialog and sends the token back. Left unanswered for
``PRESENCE_ANSWER_SECONDS``, the check stops credit until it is answered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.courses.models import LessonProgress
from lms.courses.services import get_visible_lesson
from lms.errors import ValidationFailed
from lms.extensions import db

EARLIEST_SHARE = 0.2
LATEST_SHARE = 0.8


def check_point(user_id: int, lesson_id: int, duration: float) -> float:
    """The study seconds of the lesson after which the member's check is issued."""
    key = str(current_app.secret_key or "").encode()
    digest = hmac.new(key, f"presence:{user_id}:{lesson_id}".encode(), hashlib.sha256).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return duration * (EARLIEST_SHARE + (LATEST_SHARE - EARLIEST_SHARE) * fraction)


def new_token() -> str:
    """A server-issued, unguessable check token."""
    return secrets.token_urlsafe(16)


def answer_seconds() -> int:
    """How long a member has to answer a check before credit stops."""
    return int(current_app.config["PRESENCE_ANSWER_SECONDS"])


def is_overdue(issued_at: datetime | None, passed_at: datetime | None, now: datetime) -> bool:
    """True when a check was issued, is unanswered, and its time to answer has run out."""
    if issued_at is None or passed_at is not None:
        return False
    return (now - issued_at).total_seconds() > answer_seconds()


def pending_check(token: str | None, issued_at: datetime | None, passed_at: datetime | None, now: datetime):
    """What the player needs to show an unanswered check: its token and the seconds left (or None)."""
    if not token or issued_at is None or passed_at is not None:
        return None
    left = answer_seconds() - (now - issued_at).total_seconds()
    return {"token": token, "seconds_left": max(0, int(left))}


def answer_check(user: User, lesson_id: int, token: object, *, now: datetime) -> None:
    """Record the member's answer to the lesson's presence check; credit resumes with the next beat.

    Raises NotFound for a lesson the member may not open, ValidationFailed for a
    token that is not the lesson's issued check. Answering twice is harmless.
    """
    get_visible_lesson(user, lesson_id)
    row = db.session.scalar(
        sa.select(LessonProgress)
        .where(LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson_id)
        .with_for_update()
    )
    issued = row.presence_token if row is not None else None
    if not issued or not isinstance(token, str) or not hmac.compare_digest(issued, token):
        raise ValidationFailed(_l("This check is no longer valid. Reload the page to continue."), "token")
    if row.presence_passed_at is None:
        row.presence_passed_at = now
        db.session.flush()
