"""Self-service password reset tokens: signed, expiring and single-use.

A token names the account and a fingerprint of its current password hash and
session version; once the password changes (by this reset or any other way) the
fingerprint no longer matches, so a token works once. It expires after
``PASSWORD_RESET_MINUTES``. Nothing is stored: the signature is the proof.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lms.auth.models import User
from lms.extensions import db

SALT = "lms.password-reset"
DEFAULT_MINUTES = 30


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    material = f"{user.id}:{user.password_hash}:{user.session_version}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def lifetime_minutes() -> int:
    return int(current_app.config.get("PASSWORD_RESET_MINUTES") or DEFAULT_MINUTES)


def make_token(user: User) -> str:
    """A reset token for ``user``, valid for ``lifetime_minutes()`` and until the password changes."""
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_token(token: str) -> User | None:
    """The active account a token was made for, if it is genuine, unexpired and unused; else None."""
    try:
        payload = _serializer().loads(token or "", max_age=lifetime_minutes() * 60)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        return None
    user = db.session.get(User, payload["u"])
    if user is None or not user.is_active or payload.get("f") != _fingerprint(user):
        return None
    return user
