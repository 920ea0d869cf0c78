"""Lessons of a course: add, edit, reorder (buttons and drag and drop), delete."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request
from flask_babel import lazy_gettext as _l

from lms import clock
from lms.actions import run_action
from lms.auth.permissions import admin_required
from lms.courses import ledger, services
from lms.courses.admin.common import bp, course_url, get_course
from lms.courses.forms import LessonForm
from lms.courses.models import Lesson, LessonKind
from lms.extensions import db
from lms.inputs import json_object


def _lesson_form(kind: str | None = None, obj=None) -> LessonForm:
    form = LessonForm(obj=obj)
    assets = services.ready_video_assets()
    form.media_asset_id.choices = [(0, str(_l("(choose a video)")))] + [
        (asset.id, f"{asset.title} ({ledger.format_duration(asset.duration_seconds or 0)})") for asset in assets
    ]
    if request.method == "GET":
        if kind in LessonKind.__members__.values():
            form.kind.data = kind
        if obj is not None:
            form.kind.data = str(obj.kind)
            form.media_asset_id.data = obj.media_asset_id or 0
    return form


def _lesson_fields(form: LessonForm) -> services.LessonFields:
    return services.LessonFields(
        kind=LessonKind(form.kind.data),
        title=form.title.data,
        summary=form.summary.data,
        media_asset_id=form.media_asset_id.data or None,
        body_html=form.body_html.data,
        reading_minutes=form.reading_minutes.data,
        is_published=form.is_published.data,
    )


@bp.route("/<int:course_id>/lessons/new", methods=["GET", "POST"])
@admin_required
def lesson_new(course_id: int):
    course = get_course(course_id)
    form = _lesson_form(request.args.get("kind"))
    if form.validate_on_submit():
        done = run_action(
            lambda: services.add_lesson(course, _lesson_fields(form), now=clock.utcnow()),
            form=form,
            to=course_url(course.id),
            success=_l("Lesson added."),
        )
        if done:
            return done
    return render_template("courses/admin/lesson_form.html", form=form, course=course, lesson=None)


@bp.route("/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@admin_required
def lesson_edit(lesson_id: int):
    lesson = db.get_or_404(Lesson, lesson_id)
    form = _lesson_form(obj=lesson)
    if form.validate_on_submit():
        done = run_action(
            lambda: services.update_lesson(lesson, _lesson_fields(form), now=clock.utcnow()),
            form=form,
            to=course_url(lesson.course_id),
            success=_l("Changes saved."),
        )
        if done:
            return done
    return render_template("courses/admin/lesson_form.html", form=form, course=lesson.course, lesson=lesson)


@bp.route("/lessons/<int:lesson_id>/move", methods=["POST"])
@admin_required
def lesson_move(lesson_id: int):
    lesson = db.get_or_404(Lesson, lesson_id)
    services.move_lesson(lesson, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return redirect(course_url(lesson.course_id, _anchor=f"lesson-{lesson.id}"))


@bp.route("/<int:course_id>/order", methods=["POST"])
@admin_required
def lesson_order(course_id: int):
    """Save a whole new lesson order (drag and drop in the editor). JSON: {"lesson_ids": [...]}."""
    course = get_course(course_id)
    body = json_object()
    ids = body.get("lesson_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return jsonify(ok=False, error=str(_l("The lesson order could not be read."))), 400
    services.reorder_lessons(course, ids)
    db.session.commit()
    return jsonify(ok=True)


@bp.route("/lessons/<int:lesson_id>/delete", methods=["POST"])
@admin_required
def lesson_delete(lesson_id: int):
    lesson = db.get_or_404(Lesson, lesson_id)
    return run_action(
        lambda: services.delete_lesson(lesson), to=course_url(lesson.course_id), success=_l("Lesson deleted.")
    )
