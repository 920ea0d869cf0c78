"""Login, logout, password change and language choice."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

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


def _failed(response) -> bool:
    # Only failed attempts count towards the limits: a successful login redirects.
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_failed, scope="login-ip"
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_account_key,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-account",
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.login.data, form.password.data)
        except ValidationFailed as error:
            form.form_errors.append(str(error.message))
        else:
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
