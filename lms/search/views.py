"""The search page: one box for courses, lessons, articles and announcements (admins also questions)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from lms import clock
from lms.auth.audience import audience_includes
from lms.courses import services as course_services
from lms.courses.models import Course, Lesson
from lms.extensions import db, limiter
from lms.notices import services as notice_services
from lms.notices.models import Announcement
from lms.search import query
from lms.search.index import install
from lms.search.models import SearchDocument

bp = Blueprint("search", __name__, url_prefix="/search")

PAGE_SIZE = 30
KIND_LABELS = {
    "course": _l("Course"),
    "lesson": _l("Lesson"),
    "article": _l("Article"),
    "announcement": _l("Announcement"),
    "question": _l("Question"),
}


def _question_row(question_id: int):
    table = SearchDocument.metadata.tables.get("questions")
    if table is None:
        return None
    return db.session.execute(table.select().where(table.c.id == question_id)).first()


def _open(document: SearchDocument, user, today):
    """The URL of a hit if ``user`` may open it, else None."""
    if document.kind == "course":
        course = db.session.get(Course, document.object_id)
        if course and course_services.course_visible_to(course, user):
            return url_for("courses.course", course_id=course.id)
    elif document.kind in ("lesson", "article"):
        lesson = db.session.get(Lesson, document.object_id)
        if lesson and course_services.lesson_visible_to(lesson, user):
            return url_for("courses.lesson", lesson_id=lesson.id)
    elif document.kind == "announcement":
        item = db.session.get(Announcement, document.object_id)
        if item is None:
            return None
        live = item.is_published and (item.expires_on is None or item.expires_on >= today)
        if notice_services.can_edit_announcement(user, item) or (live and audience_includes(item, user)):
            return url_for("notices.announcement", announcement_id=item.id)
    elif document.kind == "question" and user.is_admin and _question_row(document.object_id) is not None:
        try:
            return url_for("banks.question", question_id=document.object_id)
        except BuildError:
            return None
    return None


def search_for(user, text: str, limit: int = PAGE_SIZE) -> list[dict]:
    """Hits for ``user``: what they may open, best first, at most ``limit``."""
    terms = query.terms_of(text)
    today = clock.local_day(clock.utcnow())
    hits = []
    for document in query.candidates(text):
        link = _open(document, user, today)
        if link:
            hits.append({
                "kind": document.kind,
                "kind_label": KIND_LABELS.get(document.kind, document.kind),
                "title": document.title,
                "snippet": query.snippet(document.body, terms),
                "url": link,
            })
            if len(hits) >= limit:
                break
    return hits


@bp.route("/")
@login_required
@limiter.limit("60 per minute")
def results():
    text = request.args.get("q", "").strip()[: query.MAX_QUERY]
    hits = search_for(current_user, text) if text else []
    return render_template("search/results.html", text=text, hits=hits, terms=query.terms_of(text))


# Every session of the app keeps the index in step with the content it writes.
install(Session)
