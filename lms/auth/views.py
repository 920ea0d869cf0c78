"""Login, logout, password change and language choice."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.strategies import FixedWindowRateLimiter

from lms.auth import services
from lms.auth.forms import LanguageForm, LoginForm, PasswordChangeForm
from lms.errors import ValidationFailed, show_on_form
from lms.extensions import db, limiter
from lms.security import safe_next_url

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _login_account_key() -> str:
    """The per-account limit's key: the account the typed name resolves to.

    A member can log in with the username, the phone or the ID number; keyed on
    the typed text, each would have its own 5 guesses. An unknown name is keyed
    on itself (so guessing at non-accounts is limited too, and per address).
    """
    if "login_limit_key" not in g:
        typed = request.form.get("login", "")
        user = services.find_user_by_login(typed) if "\x00" not in typed else None
        g.login_limit_key = f"login-account:{user.id}" if user else "login-name:" + services.normalize_login(typed)
    return g.login_limit_key


def _login_limits() -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    """The two login limits with their keys: per client address and per resolved account."""
    return [
        (parse_limit(current_app.config["LOGIN_LIMIT_PER_IP"]), ("login-ip", get_remote_address())),
        (parse_limit(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]), ("login-account", _login_account_key())),
    ]


def _count_login_attempt() -> list | None:
    """Count this attempt against both limits *before* the password is checked.

    Each count is one atomic increment in the limiter's storage (memory, or Redis
    shared by every process), so a concurrent burst cannot all pass a check made
    before any of them is counted. Returns what was counted (to give back when the
    login succeeds: only failures count), or None when a limit is spent.
    """
    if not (limiter.enabled and current_app.config.get("RATELIMIT_ENABLED", True)):
        return []
    counter = FixedWindowRateLimiter(limiter.limiter.storage)  # a negative cost gives an attempt back
    counted = []
    for item, key in _login_limits():
        within = counter.hit(item, *key)
        counted.append((item, key))
        if not within:
            _give_back(counted)  # a refused attempt is not checked, so it costs nothing either
            return None
    return counted


def _give_back(counted: list) -> None:
    if not counted:  # limits off: nothing was counted
        return
    counter = FixedWindowRateLimiter(limiter.limiter.storage)
    for item, key in counted:
        counter.hit(item, *key, cost=-1)


@bp.route("/login", methods=["GET", "POST"])
@limiter.exempt
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        counted = _count_login_attempt()
        if counted is None:
            abort(429)
        try:
            user = services.authenticate(form.login.data, form.password.data)
        except ValidationFailed as error:
            form.form_errors.append(str(error.message))
        else:
            _give_back(counted)
            db.session.commit()
            login_user(user, remember=form.remember.data)
            if user.locale:
                session["locale"] = user.locale
            return redirect(safe_next_url(form.next.data) or url_for("home.index"))
    return render_template("auth/login.html", form=form), 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Logging out ends every session of this account, on every device.
    services.end_other_sessions(current_user)
    db.session.commit()
    logout_user()
    flash(_l("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            show_on_form(form, error, {"password": "new_password"})
        else:
            db.session.commit()
            # Stay logged in here with the new session version; other sessions end.
            login_user(current_user._get_current_object(), remember=False)
            flash(_l("Your password has been changed."), "success")
            return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", form=form, forced=current_user.must_change_password)


@bp.route("/language", methods=["POST"])
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    return redirect(safe_next_url(form.next.data) or url_for("home.index"))


@bp.route("/profile")
@login_required
def profile():
    return render_template("auth/profile.html", user=current_user)
