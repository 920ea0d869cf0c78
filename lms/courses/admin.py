"""Admin and secretary pages under /admin/courses.

Admins: the course and lesson editor (reorder, pick a ready video, publish),
course statistics and required study. Secretaries and admins: offline study
records with their audit trail, required-study progress and the learning
archives of the members in their scope.
"""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.auth.audience import audience_clause
from lms.auth.auditing import record_export
from lms.auth.forms import fill_audience_choices
from lms.auth.models import MemberStatus, User
from lms.auth.permissions import admin_required, member_scope_clause, secretary_required
from lms.courses import archive as archives
from lms.courses import ledger, offline_admin, services, stats
from lms.courses.completion import course_completers
from lms.courses.forms import CourseForm, LessonForm, RequirementForm
from lms.courses.models import (
    Course,
    CourseRequirement,
    Lesson,
    LessonKind,
    StudySource,
)
from lms.errors import DomainError, show_on_form
from lms.extensions import db
from lms.inputs import json_object, page_arg
from lms.spreadsheets import XLSX_MIMETYPE, xlsx_bytes

bp = Blueprint("courses_admin", __name__, url_prefix="/admin/courses")


PAGE_SIZE = 50


def _audience(form) -> dict:
    statuses, roles, branch_ids = form.audience_values()
    return {"audience_statuses": statuses, "audience_roles": roles, "audience_branch_ids": branch_ids}


def _get_course(course_id: int) -> Course:
    return db.get_or_404(Course, course_id)


# --- courses ---------------------------------------------------------------


@bp.route("/")
@admin_required
def courses():
    query_text = request.args.get("q", "").strip()
    query = sa.select(Course).order_by(Course.updated_at.desc(), Course.id.desc())
    if query_text:
        query = query.where(Course.title.contains(query_text, autoescape=True))
    pagination = db.paginate(query, page=page_arg(), per_page=PAGE_SIZE,
                             error_out=False)  # fmt: skip
    counts = dict(
        db.session.execute(
            sa.select(Lesson.course_id, sa.func.count())
            .where(Lesson.course_id.in_([course.id for course in pagination.items]))
            .group_by(Lesson.course_id)
        ).all()
    )
    return render_template("courses/admin/courses.html", pagination=pagination, counts=counts, q=query_text)


def _course_fields(form: CourseForm) -> services.CourseFields:
    return services.CourseFields(
        title=form.title.data,
        summary_html=form.summary_html.data,
        category=form.category.data,
        tags=services.parse_tags(form.tags.data),
        credit_note=form.credit_note.data,
        presence_checks=bool(form.presence_checks.data),
        **_audience(form),
    )


def _save_cover(course: Course, form: CourseForm) -> None:
    from lms.courses.images import read_image_upload

    upload = form.cover.data
    if upload and getattr(upload, "filename", ""):
        services.set_course_cover(course, read_image_upload(upload.stream))
    elif form.remove_cover.data:
        services.remove_course_cover(course)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def course_new():
    form = CourseForm()
    fill_audience_choices(form)
    if form.validate_on_submit():
        try:
            course = services.create_course(_course_fields(form), actor=current_user, now=clock.utcnow())
            _save_cover(course, form)
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error, {"image": "cover"})
        else:
            db.session.commit()
            flash(_l("Course created. Add its lessons, then publish it."), "success")
            return redirect(url_for("courses_admin.course_detail", course_id=course.id))
    return render_template("courses/admin/course_form.html", form=form, course=None)


@bp.route("/<int:course_id>/edit", methods=["GET", "POST"])
@admin_required
def course_edit(course_id: int):
    course = _get_course(course_id)
    form = CourseForm(obj=course)
    fill_audience_choices(form)
    if not isinstance(form.tags.data, str):  # the list from ``obj``: on a GET, or a POST without the field
        form.tags.data = ", ".join(course.tags or [])
    if request.method == "GET":
        form.load_audience(course)
    if form.validate_on_submit():
        try:
            services.update_course(course, _course_fields(form), now=clock.utcnow())
            _save_cover(course, form)
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error, {"image": "cover"})
        else:
            db.session.commit()
            flash(_l("Changes saved."), "success")
            return redirect(url_for("courses_admin.course_detail", course_id=course.id))
    return render_template("courses/admin/course_form.html", form=form, course=course)


@bp.route("/<int:course_id>")
@admin_required
def course_detail(course_id: int):
    course = _get_course(course_id)
    assets = {lesson.media_asset_id for lesson in course.lessons if lesson.media_asset_id}
    return render_template(
        "courses/admin/course_detail.html",
        course=course,
        asset_titles=services.asset_titles(assets),
        requirements=db.session.scalars(
            sa.select(CourseRequirement).where(CourseRequirement.course_id == course.id)
        ).all(),
        kinds=list(LessonKind),
    )


@bp.route("/<int:course_id>/publish", methods=["POST"])
@admin_required
def course_publish(course_id: int):
    course = _get_course(course_id)
    try:
        if request.form.get("publish") == "1":
            services.publish_course(course, now=clock.utcnow())
            message = _l("The course is published: its audience can see it now.")
        else:
            services.unpublish_course(course)
            message = _l("The course is hidden from learners again.")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("courses_admin.course_detail", course_id=course.id))


@bp.route("/<int:course_id>/delete", methods=["POST"])
@admin_required
def course_delete(course_id: int):
    course = _get_course(course_id)
    try:
        services.delete_course(course)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("courses_admin.course_detail", course_id=course_id))
    db.session.commit()
    flash(_l("Course deleted."), "success")
    return redirect(url_for("courses_admin.courses"))


@bp.route("/<int:course_id>/images", methods=["POST"])
@admin_required
def article_image_upload(course_id: int):
    """Upload an image for an article of the course (JSON); answers the URL to put in the text."""
    from lms.courses.images import read_image_upload

    course = _get_course(course_id)
    upload = request.files.get("image")
    if upload is None:
        return jsonify(ok=False, error=str(_l("Choose an image file."))), 422
    try:
        name = services.add_article_image(course, read_image_upload(upload.stream))
    except DomainError as error:
        return jsonify(ok=False, error=str(error.message)), error.status_code
    return jsonify(ok=True, url=url_for("courses.article_image", course_id=course.id, name=name))


@bp.route("/<int:course_id>/stats")
@admin_required
def course_stats(course_id: int):
    course = _get_course(course_id)
    return render_template("courses/admin/stats.html", course=course, stats=stats.course_statistics(course))


# --- lessons ---------------------------------------------------------------


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
    course = _get_course(course_id)
    form = _lesson_form(request.args.get("kind"))
    if form.validate_on_submit():
        try:
            services.add_lesson(course, _lesson_fields(form), now=clock.utcnow())
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_l("Lesson added."), "success")
            return redirect(url_for("courses_admin.course_detail", course_id=course.id))
    return render_template("courses/admin/lesson_form.html", form=form, course=course, lesson=None)


@bp.route("/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@admin_required
def lesson_edit(lesson_id: int):
    lesson = db.get_or_404(Lesson, lesson_id)
    form = _lesson_form(obj=lesson)
    if form.validate_on_submit():
        try:
            services.update_lesson(lesson, _lesson_fields(form), now=clock.utcnow())
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_l("Changes saved."), "success")
            return redirect(url_for("courses_admin.course_detail", course_id=lesson.course_id))
    return render_template("courses/admin/lesson_form.html", form=form, course=lesson.course, lesson=lesson)


@bp.route("/lessons/<int:lesson_id>/move", methods=["POST"])
@admin_required
def lesson_move(lesson_id: int):
    lesson = db.get_or_404(Lesson, lesson_id)
    services.move_lesson(lesson, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return redirect(url_for("courses_admin.course_detail", course_id=lesson.course_id, _anchor=f"lesson-{lesson.id}"))


@bp.route("/<int:course_id>/order", methods=["POST"])
@admin_required
def lesson_order(course_id: int):
    """Save a whole new lesson order (drag and drop in the editor). JSON: {"lesson_ids": [...]}."""
    course = _get_course(course_id)
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
    course_id = lesson.course_id
    try:
        services.delete_lesson(lesson)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        db.session.commit()
        flash(_l("Lesson deleted."), "success")
    return redirect(url_for("courses_admin.course_detail", course_id=course_id))


# --- required study --------------------------------------------------------


@bp.route("/required", methods=["GET", "POST"])
@secretary_required
def requirements():
    form = RequirementForm()
    form.course_id.choices = [
        (course.id, course.title + ("" if course.is_published else f" ({course.status.label})"))
        for course in db.session.scalars(sa.select(Course).order_by(Course.title))
    ]
    fill_audience_choices(form)
    if request.method == "POST":
        if not current_user.is_admin:
            abort(403)
        if form.validate_on_submit():
            fields = services.RequirementFields(
                course_id=form.course_id.data,
                due_rule=form.due_rule.data,
                due_on=form.due_on.data,
                note=form.note.data,
                **_audience(form),
            )
            try:
                services.create_requirement(fields, actor=current_user, now=clock.utcnow())
            except DomainError as error:
                db.session.rollback()
                show_on_form(form, error)
            else:
                db.session.commit()
                flash(_l("Required study assigned."), "success")
                return redirect(url_for("courses_admin.requirements"))
    elif not form.due_rule.data:
        form.due_rule.data = "fixed_date"
    items = db.session.scalars(
        sa.select(CourseRequirement).order_by(CourseRequirement.created_at.desc(), CourseRequirement.id.desc())
    ).all()
    return render_template("courses/admin/requirements.html", form=form, items=items,
                           statuses=MemberStatus)  # fmt: skip


@bp.route("/required/<int:requirement_id>")
@secretary_required
def requirement_detail(requirement_id: int):
    """Who in the viewer's scope must take the course, by when, and who has completed it."""
    requirement = db.get_or_404(CourseRequirement, requirement_id)
    members = db.session.scalars(
        sa.select(User)
        .where(audience_clause(requirement), audience_clause(requirement.course), member_scope_clause(current_user))
        .order_by(User.name, User.id)
    ).all()
    completers = course_completers(requirement.course_id, [member.id for member in members])
    today = clock.local_day(clock.utcnow())
    rows = [(member, requirement.due_for(member), member.id in completers) for member in members]
    return render_template("courses/admin/requirement_detail.html", requirement=requirement, rows=rows, today=today)


@bp.route("/required/<int:requirement_id>/delete", methods=["POST"])
@admin_required
def requirement_delete(requirement_id: int):
    requirement = db.get_or_404(CourseRequirement, requirement_id)
    services.delete_requirement(requirement)
    db.session.commit()
    flash(_l("Requirement withdrawn."), "success")
    return redirect(url_for("courses_admin.requirements"))


# --- offline study (its pages live in offline_admin) -------------------------

offline_admin.register(bp)


# --- learning archives -----------------------------------------------------


def _archive_members(year_query: str):
    query = sa.select(User).where(member_scope_clause(current_user), User.is_active.is_(True))
    if year_query:
        query = query.where(User.name.contains(year_query, autoescape=True))
    return query.order_by(User.name, User.id)


def _year() -> int:
    current = clock.local_day(clock.utcnow()).year
    year = request.args.get("year", type=int)
    return year if year and 2000 <= year <= current + 1 else current


@bp.route("/archives")
@secretary_required
def archives_list():
    year = _year()
    query_text = request.args.get("q", "").strip()[:80]
    members_query = _archive_members(query_text)
    pagination = db.paginate(members_query, page=page_arg(),
                             per_page=PAGE_SIZE, error_out=False)  # fmt: skip
    totals = archives.archive_totals([member.id for member in pagination.items], year)
    current = clock.local_day(clock.utcnow()).year
    return render_template(
        "courses/admin/archives.html",
        pagination=pagination,
        totals=totals,
        year=year,
        years=list(range(current, current - 6, -1)),
        q=query_text,
        sources=StudySource,
    )


@bp.route("/archives.xlsx")
@secretary_required
def archives_export():
    year = _year()
    members = db.session.scalars(_archive_members("")).all()
    totals = archives.archive_totals(sa.select(User.id).where(member_scope_clause(current_user)), year)
    empty = ledger.StudyTotals()
    rows = [
        [member.name, member.username, member.branch.name if member.branch else "", member.status.label,
         *(round(hours, 1) for hours in (sums.online_hours, sums.offline_hours, sums.total_hours))]
        for member in members
        for sums in [totals.get(member.id, empty)]
    ]  # fmt: skip
    header = [str(_l("Full name")), str(_l("Username")), str(_l("Branch")), str(_l("Member status")),
              str(_l("Online study hours")), str(_l("Offline study hours")), str(_l("Total study hours"))]  # fmt: skip
    payload = xlsx_bytes([(str(_l("Learning archives")) + f" {year}", header, rows)])
    record_export("archives", year)
    return send_file(io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"learning-archives-{year}.xlsx")  # fmt: skip
