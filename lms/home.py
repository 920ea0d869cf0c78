"""The home page: a member's "my learning", built from the panels the domains register."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms.navigation import home_panels_for, nav_for, register_nav

bp = Blueprint("home", __name__)


def init_app(app) -> None:
    """The home page's navigation entry."""
    register_nav("home.index", _l("Home"), order=10)


@bp.app_context_processor
def navigation_context():
    # Every page's breadcrumb <nav> is named with this (a screen reader announces it).
    return {"nav_for": nav_for, "breadcrumb_label": _l("Breadcrumb")}


@bp.route("/")
@login_required
def index():
    return render_template("home/index.html", panels=home_panels_for(current_user))


@bp.route("/healthz")
def healthz():
    """Liveness for load balancers: no login, no database."""
    return {"ok": True}


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every site, whatever the page links to."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )
