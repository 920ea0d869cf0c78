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
from lms.auth import services as auth_services
from lms.auth.audience import audience_clause
from lms.auth.forms import fill_audience_choices
from lms.auth.models import Branch, MemberStatus, Role, User
from lms.auth.permissions import admin_required, branch_scope_clause, member_scope_clause, secretary_required
from lms.courses import archive as archives
from lms.courses import ledger, offline, services, stats
from lms.courses.completion import course_completers
from lms.courses.forms import CourseForm, LessonForm, OfflineRecordForm, RequirementForm
from lms.courses.models import (
    OFFLINE_ACTIVITY_LABELS,
    Course,
    CourseRequirement,
    Lesson,
    LessonKind,
    OfflineActivity,
    OfflineStudyRecord,
    StudySource,
)
from lms.errors import DomainError, show_on_form
from lms.extensions import db
from lms.inputs import json_object, page_arg
from lms.navigation import register_nav
from lms.spreadsheets import XLSX_MIMETYPE, xlsx_bytes

bp = Blueprint("courses_admin", __name__, url_prefix="/admin/courses")

register_nav("courses_admin.courses", _l("Courses"), roles=(Role.ADMIN,), order=40, section="manage")
register_nav("courses_admin.requirements", _l("Required study"), roles=(Role.ADMIN, Role.SECRETARY), order=45,
             section="manage")  # fmt: skip
register_nav("courses_admin.offline_records", _l("Offline study"), roles=(Role.ADMIN, Role.SECRETARY), order=50,
             section="manage")  # fmt: skip
register_nav("courses_admin.archives_list", _l("Learning archives"), roles=(Role.ADMIN, Role.SECRETARY), order=55,
             section="manage")  # fmt: skip

PAGE_SIZE = 50


def _branch_choices(viewer: User | None = None) -> list[tuple[int, str]]:
    scope = None
    if viewer is not None and not viewer.is_admin:
        scope = set(db.session.scalars(sa.select(Branch.id).where(branch_scope_clause(viewer))))
    return [
        (branch.id, "　" * branch.depth + branch.name)
        for branch in auth_services.branch_tree()
        if scope is None or branch.id in scope
    ]


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


# --- offline study ---------------------------------------------------------


@bp.route("/offline")
@secretary_required
def offline_records():
    query = offline.scoped_records_query(current_user)
    activity = request.args.get("activity", "")
    if activity in OfflineActivity.__members__.values():
        query = query.where(OfflineStudyRecord.activity == activity)
    pagination = db.paginate(query, page=page_arg(), per_page=PAGE_SIZE,
                             error_out=False)  # fmt: skip
    now = clock.utcnow()
    return render_template(
        "courses/admin/offline_records.html",
        pagination=pagination,
        counts=offline.attendee_counts([record.id for record in pagination.items]),
        activity=activity,
        activities=OFFLINE_ACTIVITY_LABELS,
        window_start=offline.edit_window_start(now),
    )


def _offline_form(record=None) -> tuple[OfflineRecordForm, Branch | None]:
    form = OfflineRecordForm(obj=record)
    form.branch_id.choices = _branch_choices(current_user)
    allowed = {branch_id for branch_id, _ in form.branch_id.choices}
    if request.method == "POST":
        branch_id = form.branch_id.data
    else:
        branch_id = request.args.get("branch_id", type=int) or (record.branch_id if record else None)
        if branch_id is None and current_user.branch_id in allowed:
            branch_id = current_user.branch_id
        if branch_id is None and allowed:
            branch_id = form.branch_id.choices[0][0]
        form.branch_id.data = branch_id
    branch = db.session.get(Branch, branch_id) if branch_id in allowed else None
    form.attendee_ids.choices = [(user.id, user.name) for user in offline.eligible_attendees(branch)] if branch else []
    if request.method == "GET" and record is not None:
        form.activity.data = str(record.activity)
        if record.branch_id == branch_id:
            form.attendee_ids.data = offline.attendee_ids(record)
    return form, branch


def _offline_fields(form: OfflineRecordForm) -> offline.OfflineRecordFields:
    return offline.OfflineRecordFields(
        branch_id=form.branch_id.data,
        activity=form.activity.data,
        held_on=form.held_on.data,
        study_hours=float(form.study_hours.data) if form.study_hours.data is not None else None,
        topic=form.topic.data,
        notes=form.notes.data,
        attendee_ids=form.attendee_ids.data or [],
    )


@bp.route("/offline/new", methods=["GET", "POST"])
@secretary_required
def offline_new():
    form, branch = _offline_form()
    if request.method == "GET" and form.held_on.data is None:
        form.held_on.data = clock.local_day(clock.utcnow())
    if form.validate_on_submit():
        try:
            record = offline.record_offline_study(current_user, _offline_fields(form), now=clock.utcnow())
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_l("Offline study recorded for %(n)d members.", n=len(form.attendee_ids.data)), "success")
            return redirect(url_for("courses_admin.offline_detail", record_id=record.id))
    return render_template("courses/admin/offline_form.html", form=form, branch=branch, record=None,
                           window_start=offline.edit_window_start(clock.utcnow()))  # fmt: skip


@bp.route("/offline/<int:record_id>")
@secretary_required
def offline_detail(record_id: int):
    record = offline.get_record_or_404(current_user, record_id)
    attendees = db.session.scalars(
        sa.select(User).where(User.id.in_(offline.attendee_ids(record))).order_by(User.name)
    ).all()
    return render_template(
        "courses/admin/offline_detail.html",
        record=record,
        attendees=attendees,
        trail=offline.audit_trail(current_user, record.id),
        editable=offline.may_change_date(current_user, record.held_on, clock.utcnow()),
        labels=OFFLINE_ACTIVITY_LABELS,
    )


@bp.route("/offline/<int:record_id>/edit", methods=["GET", "POST"])
@secretary_required
def offline_edit(record_id: int):
    record = offline.get_record_or_404(current_user, record_id)
    if not offline.may_change_date(current_user, record.held_on, clock.utcnow()):
        flash(_l("This record is older than the editing window; only an administrator can change it."), "warning")
        return redirect(url_for("courses_admin.offline_detail", record_id=record.id))
    form, branch = _offline_form(record)
    if form.validate_on_submit():
        try:
            offline.update_offline_record(current_user, record, _offline_fields(form), now=clock.utcnow())
        except DomainError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash(_l("Changes saved."), "success")
            return redirect(url_for("courses_admin.offline_detail", record_id=record.id))
    return render_template("courses/admin/offline_form.html", form=form, branch=branch, record=record,
                           window_start=offline.edit_window_start(clock.utcnow()))  # fmt: skip


@bp.route("/offline/<int:record_id>/delete", methods=["POST"])
@secretary_required
def offline_delete(record_id: int):
    record = offline.get_record_or_404(current_user, record_id)
    try:
        offline.delete_offline_record(current_user, record, now=clock.utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("courses_admin.offline_detail", record_id=record_id))
    db.session.commit()
    flash(_l("Record deleted; the audit trail keeps what it was."), "success")
    return redirect(url_for("courses_admin.offline_records"))


@bp.route("/offline/audit")
@secretary_required
def offline_audit():
    return render_template(
        "courses/admin/offline_audit.html", trail=offline.audit_trail(current_user), labels=OFFLINE_ACTIVITY_LABELS
    )


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
    empty = dict.fromkeys(StudySource, 0.0)
    rows = []
    for member in members:
        sums = totals.get(member.id, empty)
        online = sums[StudySource.VIDEO] + sums[StudySource.READING]
        rows.append([
            member.name,
            member.username,
            member.branch.name if member.branch else "",
            member.status.label,
            float(ledger.format_study_hours(online)),
            float(ledger.format_study_hours(sums[StudySource.OFFLINE])),
            float(ledger.format_study_hours(online + sums[StudySource.OFFLINE])),
        ])  # fmt: skip
    header = [str(_l("Full name")), str(_l("Username")), str(_l("Branch")), str(_l("Member status")),
              str(_l("Online study hours")), str(_l("Offline study hours")), str(_l("Total study hours"))]  # fmt: skip
    payload = xlsx_bytes([(str(_l("Learning archives")) + f" {year}", header, rows)])
    return send_file(io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"learning-archives-{year}.xlsx")  # fmt: skip
