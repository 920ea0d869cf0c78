"""The course editor: the list, settings and cover, publishing, deleting, article images, statistics."""

from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.actions import run_action
from lms.auth.forms import fill_audience_choices
from lms.auth.permissions import admin_required
from lms.courses import services, stats
from lms.courses.admin.common import PAGE_SIZE, audience_fields, bp, course_url, get_course
from lms.courses.forms import CourseForm
from lms.courses.models import Course, CourseRequirement, Lesson, LessonKind
from lms.errors import DomainError
from lms.extensions import db
from lms.inputs import page_arg


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
        **audience_fields(form),
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

        def create():
            course = services.create_course(_course_fields(form), actor=current_user, now=clock.utcnow())
            _save_cover(course, form)
            return course

        done = run_action(
            create,
            form=form,
            aliases={"image": "cover"},
            to=lambda course: course_url(course.id),
            success=_l("Course created. Add its lessons, then publish it."),
        )
        if done:
            return done
    return render_template("courses/admin/course_form.html", form=form, course=None)


@bp.route("/<int:course_id>/edit", methods=["GET", "POST"])
@admin_required
def course_edit(course_id: int):
    course = get_course(course_id)
    form = CourseForm(obj=course)
    fill_audience_choices(form)
    if not isinstance(form.tags.data, str):  # the list from ``obj``: on a GET, or a POST without the field
        form.tags.data = ", ".join(course.tags or [])
    if request.method == "GET":
        form.load_audience(course)
    if form.validate_on_submit():

        def save():
            services.update_course(course, _course_fields(form), now=clock.utcnow())
            _save_cover(course, form)

        done = run_action(
            save, form=form, aliases={"image": "cover"}, to=course_url(course.id), success=_l("Changes saved.")
        )
        if done:
            return done
    return render_template("courses/admin/course_form.html", form=form, course=course)


@bp.route("/<int:course_id>")
@admin_required
def course_detail(course_id: int):
    course = get_course(course_id)
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
    course = get_course(course_id)
    if request.form.get("publish") == "1":
        return run_action(
            lambda: services.publish_course(course, now=clock.utcnow()),
            to=course_url(course.id),
            success=_l("The course is published: its audience can see it now."),
        )
    return run_action(
        lambda: services.unpublish_course(course),
        to=course_url(course.id),
        success=_l("The course is hidden from learners again."),
    )


@bp.route("/<int:course_id>/delete", methods=["POST"])
@admin_required
def course_delete(course_id: int):
    course = get_course(course_id)
    return run_action(
        lambda: services.delete_course(course),
        to=url_for("courses_admin.courses"),
        failed_to=course_url(course_id),
        success=_l("Course deleted."),
    )


@bp.route("/<int:course_id>/images", methods=["POST"])
@admin_required
def article_image_upload(course_id: int):
    """Upload an image for an article of the course (JSON); answers the URL to put in the text."""
    from lms.courses.images import read_image_upload

    course = get_course(course_id)
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
    course = get_course(course_id)
    return render_template("courses/admin/stats.html", course=course, stats=stats.course_statistics(course))
