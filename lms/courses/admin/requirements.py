"""Required study: assign a course to an audience with a due date, see who completed it, withdraw it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import clock
from lms.actions import run_action
from lms.auth.audience import audience_clause
from lms.auth.forms import fill_audience_choices
from lms.auth.models import MemberStatus, User
from lms.auth.permissions import admin_required, member_scope_clause, secretary_required
from lms.courses import services
from lms.courses.admin.common import audience_fields, bp
from lms.courses.completion import course_completers
from lms.courses.forms import RequirementForm
from lms.courses.models import Course, CourseRequirement
from lms.extensions import db


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
                **audience_fields(form),
            )
            done = run_action(
                lambda: services.create_requirement(fields, actor=current_user, now=clock.utcnow()),
                form=form,
                to=url_for("courses_admin.requirements"),
                success=_l("Required study assigned."),
            )
            if done:
                return done
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
