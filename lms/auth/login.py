"""Flask-Login wiring: revocable sessions and the forced first-login password change."""

from __future__ import annotations

from flask import Flask, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.auth.models import User
from lms.extensions import db, login_manager

# Endpoints a user who must change the password may still reach.
_ALLOWED_BEFORE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "auth.set_language", "static"}
# Endpoints that check the login themselves without loading the user (the heartbeat's
# fast path: ``session_identity`` plus one query of the member's row, which must enforce
# what ``load_user`` and ``force_password_change`` enforce).
SELF_CHECKED_ENDPOINTS: set[str] = set()


def parse_login_id(user_id: str) -> tuple[int, int] | None:
    """(user id, session version) from Flask-Login's id "<id>.<session_version>", or None."""
    user_pk, _, version = str(user_id).partition(".")
    if not user_pk.isdigit() or not version.isdigit():
        return None
    return int(user_pk), int(version)


def session_identity() -> tuple[int, int] | None:
    """The (user id, session version) the session cookie is logged in as, without loading the user.

    None when the session holds no login (anonymous, or only a remember-me cookie:
    use ``current_user`` then). The caller must still check the member's row:
    it exists, is active, has this session version and no forced password change.
    """
    value = session.get("_user_id")
    return parse_login_id(value) if isinstance(value, str) else None


def vouch_for(user) -> bool:
    """Make ``user`` the request's ``current_user`` without Flask-Login loading it; False: do not.

    ``user`` is a record a fast path read for the session's login (``session_identity``) and
    checked as ``load_user`` and ``force_password_change`` do. Flask-Login's session protection
    runs as for a loaded user (a changed address or browser marks the session not fresh; in
    "strong" mode it logs out, and then this returns False: take the ordinary path).
    """
    if login_manager._session_protection_failed():
        return False
    login_manager._update_request_context_with_user(user)
    return True


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "warning"
    # Protect sessions against cookie theft across networks/browsers.
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # The session id is "<id>.<session_version>": a bumped version (logout elsewhere,
        # password change, deactivation) makes every older session anonymous at once.
        identity = parse_login_id(user_id)
        if identity is None:
            return None
        user = db.session.get(User, identity[0])
        if user is None or not user.is_active or user.session_version != identity[1]:
            return None
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        from lms.errors import wants_json

        if wants_json():
            from flask import jsonify

            return jsonify(ok=False, error=str(_l("Please log in again."))), 401
        from flask import flash

        flash(login_manager.login_message, login_manager.login_message_category)
        next_url = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=next_url))

    @app.before_request
    def force_password_change():
        if request.endpoint in SELF_CHECKED_ENDPOINTS:
            return None
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in _ALLOWED_BEFORE_PASSWORD_CHANGE
        ):
            return redirect(url_for("auth.change_password"))
        return None
