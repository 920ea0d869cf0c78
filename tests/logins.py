"""Test helpers for the login fast paths (saves, contest start/submit, the attempt page)."""

from __future__ import annotations

from flask_login.utils import encode_cookie


def remember_me_only(app, client, member, session_login: str) -> None:
    """Leave ``client`` logged in by Flask-Login's remember-me cookie alone: the session holds no
    login (``session_login="none"``) or a stale one (``"stale"``: another session version)."""
    with client.session_transaction() as session:
        if session_login == "none":
            session.clear()
        else:
            session["_user_id"] = f"{member.id}.{member.session_version + 7}"
    with app.test_request_context():
        client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), encode_cookie(member.get_id()))
