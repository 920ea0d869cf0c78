"""Learner pages: catalogue, course, lesson player and article, micro-course feed, learning archive.

Also the study-time JSON endpoints (session start and heartbeat), the "My
learning" home panel, and the media access hook that lets a course's audience
stream its videos.
"""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from lms import clock
from lms.auth import login
from lms.auth.auditing import record_export
from lms.auth.login import session_identity
from lms.auth.models import MEMBER_STATUS_LABELS, ROLE_LABELS, Branch
from lms.auth.permissions import get_member_or_404
from lms.courses import archive as archives
from lms.courses import beat_commit, certificates, images, ledger, presence, resume, services, tracking
from lms.courses.completion import completed_lesson_ids
from lms.courses.models import Course, LessonKind, StudySource
from lms.extensions import csrf, db, limiter
from lms.inputs import BadInput, body_limit, checks_own_body, json_object
from lms.media import services as media_services
from lms.media.models import MediaAsset
from lms.spreadsheets import XLSX_MIMETYPE, xlsx_bytes

bp = Blueprint("courses", __name__, url_prefix="/courses")


MAX_HEARTBEAT_BYTES = 4096


# --- template helpers ------------------------------------------------------


@bp.app_template_filter("study_hours")
def study_hours_filter(seconds) -> str:
    """Seconds as 学时 ("12.3", or "under 0.1" for a little study): ``ledger.format_study_hours``."""
    return ledger.format_study_hours(seconds or 0)


@bp.app_template_filter("hours_text")
def hours_text_filter(hours) -> str:
    """学时 shown the same way as ``study_hours`` shows seconds: ``ledger.format_hours``."""
    return ledger.format_hours(hours or 0)


@bp.app_template_filter("hms")
def duration_filter(seconds) -> str:
    return ledger.format_duration(seconds or 0)


@bp.app_template_global()
def courses_poster_url(asset_id: int | None) -> str | None:
    """The poster of a media asset, when the media domain serves posters."""
    if asset_id and "media.poster" in current_app.view_functions:
        return url_for("media.poster", asset_id=asset_id)
    return None


@bp.app_template_global()
def course_cover_url(course: Course) -> str | None:
    """The uploaded cover, else the poster of the course's first published video lesson."""
    if course.cover_filename:
        return url_for("courses.cover", course_id=course.id, name=course.cover_filename)
    for lesson in course.published_lessons:
        asset = _asset(lesson.media_asset_id)
        if asset is not None and asset.is_ready:
            return courses_poster_url(asset.id)
    return None


@bp.app_template_global()
def courses_branch_names() -> dict[int, str]:
    """Branch names by id (to show audiences)."""
    return dict(db.session.execute(sa.select(Branch.id, Branch.name)).all())


@bp.app_template_global()
def courses_status_label(value: str) -> str:
    return str(MEMBER_STATUS_LABELS.get(value, value))


@bp.app_template_global()
def courses_role_label(value: str) -> str:
    return str(ROLE_LABELS.get(value, value))


def _asset(asset_id: int | None) -> MediaAsset | None:
    return media_services.get_asset(asset_id) if asset_id else None


# --- home panel ------------------------------------------------------------


def render_home_panel(user) -> str | None:
    """My learning: required courses (due dates, progress), then courses in progress, then the catalogue."""
    required = services.required_courses_for(user)
    progress = services.course_progress(user.id, [item.course.id for item in required])
    in_progress = services.courses_in_progress(user, exclude=progress.keys())
    now = clock.utcnow()
    today = clock.local_day(now)
    year_hours = ledger.member_study_totals(user.id, *ledger.year_bounds(today.year)).total_hours
    return render_template(
        "courses/_home_panel.html",
        required=[(item, progress[item.course.id]) for item in required],
        in_progress=in_progress,
        today=today,
        year_hours=year_hours,
        catalogue_size=len(services.visible_courses(user)),
        resume=resume.continue_lesson(user),
    )




# --- catalogue and course pages -------------------------------------------


@bp.route("/")
@login_required
def catalogue():
    wanted = services.CatalogueFilter(
        query=request.args.get("q", "")[:100],
        category=request.args.get("category", ""),
        tag=request.args.get("tag", ""),
    )
    courses = services.catalogue(current_user, wanted)
    categories, tags = services.catalogue_facets(services.visible_courses(current_user))
    progress = services.course_progress(current_user.id, [course.id for course in courses])
    return render_template(
        "courses/catalogue.html", courses=courses, wanted=wanted, categories=categories, tags=tags, progress=progress
    )


@bp.route("/<int:course_id>")
@login_required
def course(course_id: int):
    course = services.get_visible_course(current_user, course_id)
    lessons = course.lessons if current_user.is_admin else course.published_lessons
    lesson_progress = services.lesson_progress_map(current_user.id, [lesson.id for lesson in lessons])
    overall = services.course_progress(current_user.id, [course.id])[course.id]
    required = next((item for item in services.required_courses_for(current_user) if item.course.id == course.id), None)
    next_lesson = next((lesson for lesson in lessons if lesson.id not in _completed(lesson_progress)), None)
    return render_template(
        "courses/course.html",
        course=course,
        lessons=lessons,
        lesson_progress=lesson_progress,
        overall=overall,
        required=required,
        next_lesson=next_lesson or (lessons[0] if lessons else None),
    )


@bp.route("/<int:course_id>/certificate")
@login_required
def certificate(course_id: int):
    """The member's printable certificate of a completed course."""
    return render_template(
        "courses/certificate.html", c=certificates.course_certificate(current_user, course_id), course_id=course_id
    )


def _completed(progress_map) -> set[int]:
    return {lesson_id for lesson_id, row in progress_map.items() if row.completed_at}


@bp.route("/micro")
@login_required
def micro_feed():
    lessons = services.micro_course_feed(current_user)
    done = completed_lesson_ids(current_user.id, [lesson.id for lesson in lessons])
    return render_template("courses/micro_feed.html", lessons=lessons, done=done)


@bp.route("/lessons/<int:lesson_id>")
@login_required
def lesson(lesson_id: int):
    lesson = services.get_visible_lesson(current_user, lesson_id)
    course = lesson.course
    lessons = course.lessons if current_user.is_admin else course.published_lessons
    progress_map = services.lesson_progress_map(current_user.id, [item.id for item in lessons])
    progress = progress_map.get(lesson.id)
    context = {
        "lesson": lesson,
        "course": course,
        "lessons": lessons,
        "progress": progress,
        "done": _completed(progress_map),
        "watched_seconds": progress.watched_seconds if progress else 0.0,
        "heartbeat_seconds": current_app.config["HEARTBEAT_SECONDS"],
        "next_lesson": resume.next_lesson(lesson, current_user),
    }
    if lesson.kind == LessonKind.ARTICLE:
        return render_template("courses/lesson_article.html", **context)
    asset = _asset(lesson.media_asset_id)
    start_at = progress.last_position_seconds if progress else 0.0
    if start_at >= (lesson.duration_seconds or 0) - tracking.RESUME_END_MARGIN_SECONDS:
        start_at = 0.0
    return render_template("courses/lesson_video.html", asset=asset, start_at=round(start_at, 1), **context)


def _send_course_image(kind: str, course_id: int, name: str):
    course = db.session.get(Course, course_id)
    if course is None or not services.course_visible_to(course, current_user):
        abort(404)
    path = images.image_path(kind, course_id, name)
    if path is None:
        abort(404)
    mimetype = "image/png" if name.endswith(".png") else "image/jpeg"
    # Names are generated per upload, so a file never changes: cache it privately.
    response = send_file(path, mimetype=mimetype, max_age=86400, conditional=True)
    response.cache_control.private = True
    response.cache_control.public = False
    return response


@bp.route("/<int:course_id>/cover/<name>")
@login_required
def cover(course_id: int, name: str):
    return _send_course_image("cover", course_id, name)


@bp.route("/<int:course_id>/images/<name>")
@login_required
def article_image(course_id: int, name: str):
    return _send_course_image("article", course_id, name)


# --- study-time endpoints --------------------------------------------------


@bp.route("/lessons/<int:lesson_id>/session", methods=["POST"])
@login_required
def start_session(lesson_id: int):
    """Open a playback (or reading) session; the player calls it on first play. JSON."""
    started = tracking.start_session(current_user, lesson_id, now=clock.utcnow())
    db.session.commit()
    return jsonify(started.as_json())


@bp.route("/lessons/<int:lesson_id>/presence", methods=["POST"])
@login_required
def answer_presence(lesson_id: int):
    """The member answers the lesson's presence check ({"token": ...}); credit resumes. JSON."""
    token = json_object().get("token")
    presence.answer_check(current_user, lesson_id, token, now=clock.utcnow())
    db.session.commit()
    return jsonify(ok=True)


def _refused(reason: str, status: int):
    return jsonify(
        ok=False, credited=0, reason=reason, message=str(tracking.REASON_MESSAGES.get(reason, reason))
    ), status


@bp.route("/heartbeat", methods=["POST"])
@csrf.exempt
@body_limit(MAX_HEARTBEAT_BYTES)
@checks_own_body
@limiter.exempt  # limited per member on the member's session row instead (below)
def heartbeat():
    """Credit a heartbeat. JSON in, JSON out; rule refusals answer ok with credited=0 and a reason.

    Exempt from the site-wide CSRF header check only because ``navigator.sendBeacon``
    cannot set headers: the token is read from the ``X-CSRFToken`` header or the
    body's ``csrf_token`` and validated here, so a forged or missing token is refused.
    Rate limited per member (``HEARTBEAT_MAX_PER_MINUTE``, 60) on the member's
    session row, which every beat locks anyway: over the limit answers 429.

    The login is checked without loading the user (``login.session_identity``;
    the member's row is checked in the beat's batch: active, same session
    version, no forced password change), and the beat is group-committed with
    the process's other beats (``beat_commit``): answered once it is committed.
    """
    identity = session_identity()
    if identity is None:  # no login in the session (e.g. only a remember-me cookie): Flask-Login's path
        identity, refusal = _identity_of_current_user()
        if refusal is not None:
            return refusal
    try:
        body = json_object(force=True)  # over MAX_HEARTBEAT_BYTES: a 413 before it is read
    except BadInput:
        return _refused("malformed", 400)
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        token = request.headers.get("X-CSRFToken") or body.get("csrf_token")
        try:
            validate_csrf(token)
        except ValidationError:
            return _refused("csrf", 400)
    beat = tracking.parse_heartbeat(body)
    if beat is None:
        return _refused("malformed", 400)
    now = clock.utcnow()
    result = beat_commit.committer(current_app._get_current_object()).submit(*identity, beat, now)
    if result == beat_commit.LOGIN:
        # The session's login is stale; Flask-Login may still find a member (a remember-me cookie).
        fallback, refusal = _identity_of_current_user()
        if refusal is not None:
            return refusal
        if fallback == identity:
            return _refused("login", 401)
        identity = fallback
        result = beat_commit.committer(current_app._get_current_object()).submit(*identity, beat, now)
    if result == beat_commit.LOGIN:
        return _refused("login", 401)
    if result == beat_commit.FORCED_CHANGE:
        return redirect(url_for("auth.change_password"))
    return jsonify(result.as_json()), 429 if result.reason == "too_many_beats" else 200


login.SELF_CHECKED_ENDPOINTS.add("courses.heartbeat")


@limiter.request_filter
def _heartbeat_not_limited() -> bool:
    """Flask-Limiter skips the heartbeat at once (``limiter.exempt`` alone still resolves its limits per request)."""
    return request.endpoint == "courses.heartbeat"


def _identity_of_current_user():
    """((id, session version), None) of Flask-Login's current user, or (None, the response refusing the beat)."""
    if not current_user.is_authenticated:
        return None, _refused("login", 401)
    if current_user.must_change_password:
        return None, redirect(url_for("auth.change_password"))
    return (current_user.id, current_user.session_version), None


# --- learning archive ------------------------------------------------------


def _archive_year(now) -> int:
    year = request.args.get("year", type=int)
    current = clock.local_day(now).year
    return year if year and 2000 <= year <= current + 1 else current


@bp.route("/archive")
@login_required
def my_archive():
    return redirect(url_for("courses.archive", user_id=current_user.id, **request.args))


@bp.route("/archive/<int:user_id>")
@login_required
def archive(user_id: int):
    member = get_member_or_404(current_user, user_id)
    now = clock.utcnow()
    record = archives.learning_archive(member, _archive_year(now), now=now)
    return render_template("courses/archive.html", archive=record, sources=StudySource)


@bp.route("/archive/<int:user_id>/print")
@login_required
def archive_print(user_id: int):
    member = get_member_or_404(current_user, user_id)
    now = clock.utcnow()
    record = archives.learning_archive(member, _archive_year(now), now=now)
    if member.id != current_user.id:
        record_export("archive_print", member.id, member=member)
    return render_template("courses/archive_print.html", archive=record, printed_on=clock.local_day(now))


@bp.route("/archive/<int:user_id>/export.xlsx")
@login_required
def archive_export(user_id: int):
    member = get_member_or_404(current_user, user_id)
    now = clock.utcnow()
    record = archives.learning_archive(member, _archive_year(now), now=now)
    payload = xlsx_bytes(archives.archive_sheets(record))
    if member.id != current_user.id:
        record_export("archive", member.id, member=member)
    filename = f"learning-archive-{member.username}-{record.year}.xlsx"
    return send_file(io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename)
