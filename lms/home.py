"""The home page: a member's "my learning", built from the panels the domains register."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms.navigation import home_panels_for, nav_for, register_nav

bp = Blueprint("home", __name__)

register_nav("home.index", _l("My learning"), order=10)


@bp.app_context_processor
def navigation_context():
    return {"nav_for": nav_for}


@bp.route("/")
@login_required
def index():
    return render_template("home/index.html", panels=home_panels_for(current_user))


@bp.route("/healthz")
def healthz():
    """Liveness for load balancers: no login, no database."""
    return {"ok": True}
