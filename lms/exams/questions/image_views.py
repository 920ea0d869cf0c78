"""The images of questions written in HTML (``question_html``), and the ``qtext`` template filter.

Images are served to any signed-in user: members see them in quizzes, contests,
reviews and their notebook. Their names are SHA-256 digests of the stored bytes,
so a name can be neither guessed nor reach another file, and a file never changes.
That any signed-in user may fetch a name they know is a decision, not an oversight:
see docs/DEVELOPING.md "Translations" (question images).
"""

from __future__ import annotations

from flask import Blueprint, abort, send_file
from flask_login import login_required

from lms.exams.questions import question_html

bp = Blueprint("question_images", __name__, url_prefix="/question-images")


@bp.app_template_filter("qtext")
def qtext_filter(text):
    """An option or explanation of a question: cleaned HTML for an HTML question, else escaped text."""
    return question_html.render(text)


@bp.route("/<name>")
@login_required
def image(name: str):
    path = question_html.image_path(name)
    if path is None:
        abort(404)
    mimetype = "image/png" if name.endswith(".png") else "image/jpeg"
    response = send_file(path, mimetype=mimetype, max_age=86400, conditional=True)
    response.cache_control.private = True
    response.cache_control.public = False
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
