"""Forgotten password: a reset link by e-mail when SMTP is configured, else the login page says whom to ask.

Lives in ``notices`` because it sends e-mail; the token rules are in ``lms.auth.password_reset``
and the new password goes through the same service (and rules) as a password change.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from lms import clock
from lms.auth import password_reset, services
from lms.auth.forms import PasswordChangeForm
from lms.auth.models import User
from lms.errors import ValidationFailed, show_on_form
from lms.extensions import db, limiter
from lms.notices.mail import mail_enabled
from lms.notices.outbox import queue_mail

bp = Blueprint("password_reset", __name__, url_prefix="/auth/forgot")


class ForgotForm(FlaskForm):
    login = StringField(_l("Username, mobile number or e-mail"), validators=[DataRequired(), Length(max=254)])


class ResetForm(PasswordChangeForm):
    current_password = None  # the e-mailed link stands in for it


@bp.app_context_processor
def password_reset_context():
    return {"password_reset_by_mail": mail_enabled}


def _account_for(login: str) -> User | None:
    user = services.find_user_by_login(login)
    if user is None and "@" in login:
        user = db.session.scalar(
            sa.select(User).where(sa.func.lower(User.email) == login.strip().lower(), User.is_active.is_(True)).limit(1)
        )
    return user if user is not None and user.is_active and user.email else None


def _login_key() -> str:
    return "reset-account:" + services.normalize_login(request.form.get("login", ""))


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config.get("PASSWORD_RESET_LIMIT_PER_IP", "10 per hour"), methods=["POST"],
               scope="reset-ip")
@limiter.limit(lambda: current_app.config.get("PASSWORD_RESET_LIMIT_PER_ACCOUNT", "3 per hour"), methods=["POST"],
               key_func=_login_key, scope="reset-account")
def forgot():
    """Ask for a reset link. The answer is the same whether or not the account exists.

    The mail is queued (``lms.notices.outbox``), never sent here: no SMTP server
    delays the answer, so its time does not tell whether the account exists.
    """
    if current_user.is_authenticated:
        return redirect(url_for("auth.change_password"))
    if not mail_enabled():
        return render_template("notices/forgot_password.html", form=None)
    form = ForgotForm()
    if form.validate_on_submit():
        user = _account_for(form.login.data)
        if user is not None:
            link = url_for("password_reset.reset", token=password_reset.make_token(user), _external=True)
            body = _(
                "%(name)s, to set a new password for Vanguard open this link within %(n)d minutes:\n\n%(link)s\n\n"
                "If you did not ask for it, ignore this message: your password stays as it is.",
                name=user.name, n=password_reset.lifetime_minutes(), link=link,
            )
            now = clock.utcnow()
            expires = now + timedelta(minutes=password_reset.lifetime_minutes())
            queue_mail(user.email, _("Vanguard: set a new password"), body, now=now, expires_at=expires)
        db.session.commit()  # either way, and no SMTP: the answer's time tells nothing about the account
        flash(_l("If the account has an e-mail address, a link to set a new password is on its way."), "info")
        return redirect(url_for("auth.login"))
    return render_template("notices/forgot_password.html", form=form)


@bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"], scope="reset-token")
def reset(token: str):
    user = password_reset.user_for_token(token)
    if user is None:
        return render_template("notices/reset_password.html", form=None), 400
    form = ResetForm()
    if form.validate_on_submit():
        try:
            services.set_own_password(user, form.new_password.data)
        except ValidationFailed as error:
            show_on_form(form, error, {"password": "new_password"})
        else:
            db.session.commit()
            flash(_l("Your password has been changed. Log in with the new one."), "success")
            return redirect(url_for("auth.login"))
    return render_template("notices/reset_password.html", form=form)
