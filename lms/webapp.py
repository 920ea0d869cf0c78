"""The installable web app: manifest, service worker (app shell and static files, never video) and offline page.

Also the one-tap large-text switch (大字模式) of the account, which every page's bar offers.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_compress import Compress
from flask_login import current_user, login_required

from lms.extensions import db
from lms.security import safe_next_url

bp = Blueprint("webapp", __name__)


@bp.record_once
def _compress(state) -> None:
    """Text responses (pages, CSS, scripts, JSON) compressed for weak networks, whatever serves the app."""
    state.app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    state.app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    Compress(state.app)

# Bump when the shell's file list changes: the worker drops the caches of other versions.
SHELL_VERSION = "1"
SHELL_FILES = (
    "vendor/bootstrap/bootstrap.min.css",
    "vendor/bootstrap/bootstrap.bundle.min.js",
    "css/app.css",
    "js/app.js",
    "favicon.svg",
    "icons/icon-192.png",
)


@bp.route("/manifest.webmanifest")
def manifest():
    body = {
        "name": _("Vanguard · Party member education platform"),
        "short_name": _("Vanguard"),
        "lang": "zh-CN",
        "start_url": url_for("home.index"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f7f7f9",
        "theme_color": "#c8102e",
        "icons": [
            {"src": url_for("static", filename=f"icons/icon-{size}.png"), "sizes": f"{size}x{size}",
             "type": "image/png", "purpose": "any maskable"}
            for size in (192, 512)
        ],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.cache_control.max_age = 3600
    return response


@bp.route("/sw.js")
def service_worker():
    """The service worker, served from the root so that its scope is the whole site."""
    shell = [url_for("webapp.offline")] + [url_for("static", filename=name) for name in SHELL_FILES]
    response = make_response(
        render_template("home/sw.js", version=SHELL_VERSION, shell=shell, offline=url_for("webapp.offline"))
    )
    response.mimetype = "text/javascript"
    # Browsers check for a new worker at least daily; never let a cache keep an old one longer.
    response.cache_control.no_cache = True
    return response


@bp.route("/offline")
def offline():
    return render_template("home/offline.html")


@bp.route("/account/large-text", methods=["POST"])
@login_required
def toggle_large_text():
    """Switch 大字模式 on or off for this account (every device), then go back to the page."""
    current_user.large_text = not current_user.large_text
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=True, large_text=current_user.large_text)
    return redirect(safe_next_url(request.form.get("next", "")) or url_for("home.index"))


@bp.app_context_processor
def webapp_context():
    large = bool(getattr(current_user, "is_authenticated", False) and getattr(current_user, "large_text", False))
    return {"large_text": large, "service_worker": current_app.config.get("SERVICE_WORKER", True)}
