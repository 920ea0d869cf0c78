"""Offline study pages under /admin/courses/offline (on the courses admin blueprint).

Secretaries and admins list, enter, change and delete records with their audit
trail. Attendance that waits for a second person (whoever entered the record
attended it) is confirmed here by an admin or another secretary, or from the
home page by a committee member (``render_pending_panel``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from lms import clock
from lms.auth import services as auth_services
from lms.auth.models import Branch, User
from lms.auth.permissions import branch_scope_clause, secretary_required
from lms.courses import offline
from lms.courses.forms import OfflineRecordForm
from lms.courses.models import OFFLINE_ACTIVITY_LABELS, OfflineActivity, OfflineStudyRecord
from lms.errors import DomainError, show_on_form
from lms.extensions import db
from lms.navigation import register_home_panel

PAGE_SIZE = 50


def branch_choices(viewer: User | None = None) -> list[tuple[int, str]]:
    """(id, indented name) of the branches in the viewer's scope (all without a viewer), as a tree."""
    scope = None
    if viewer is not None and not viewer.is_admin:
        scope = set(db.session.scalars(sa.select(Branch.id).where(branch_scope_clause(viewer))))
    return [
        (branch.id, "　" * branch.depth + branch.name)
        for branch in auth_services.branch_tree()
        if scope is None or branch.id in scope
    ]


@secretary_required
def offline_records():
    query = offline.scoped_records_query(current_user)
    activity = request.args.get("activity", "")
    if activity in OfflineActivity.__members__.values():
        query = query.where(OfflineStudyRecord.activity == activity)
    pagination = db.paginate(query, page=max(request.args.get("page", 1, type=int), 1), per_page=PAGE_SIZE,
                             error_out=False)  # fmt: skip
    now = clock.utcnow()
    return render_template(
        "courses/admin/offline_records.html",
        pagination=pagination,
        counts=offline.attendee_counts([record.id for record in pagination.items]),
        activity=activity,
        activities=OFFLINE_ACTIVITY_LABELS,
        window_start=offline.edit_window_start(now),
        waiting=offline.pending_for(current_user),
    )


def _offline_form(record=None) -> tuple[OfflineRecordForm, Branch | None]:
    form = OfflineRecordForm(obj=record)
    form.branch_id.choices = branch_choices(current_user)
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


def _flash_waiting(record: OfflineStudyRecord) -> None:
    if current_user.id in offline.pending_ids(record):
        flash(_l("Your own attendance waits until another committee member or an administrator confirms it."),
              "info")  # fmt: skip


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
            _flash_waiting(record)
            return redirect(url_for("courses_admin.offline_detail", record_id=record.id))
    return render_template("courses/admin/offline_form.html", form=form, branch=branch, record=None,
                           window_start=offline.edit_window_start(clock.utcnow()),
                           max_hours=offline.max_study_hours())  # fmt: skip


@secretary_required
def offline_detail(record_id: int):
    record = offline.get_record_or_404(current_user, record_id)
    attendees = db.session.scalars(
        sa.select(User).where(User.id.in_(offline.attendee_ids(record))).order_by(User.name)
    ).all()
    confirmable = {item.user_id for item in offline.pending_for(current_user) if item.record_id == record.id}
    return render_template(
        "courses/admin/offline_detail.html",
        record=record,
        attendees=attendees,
        pending=set(offline.pending_ids(record)),
        confirmable=confirmable,
        trail=offline.audit_trail(current_user, record.id),
        editable=offline.may_change_date(current_user, record.held_on, clock.utcnow()),
        labels=OFFLINE_ACTIVITY_LABELS,
    )


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
            _flash_waiting(record)
            return redirect(url_for("courses_admin.offline_detail", record_id=record.id))
    return render_template("courses/admin/offline_form.html", form=form, branch=branch, record=record,
                           window_start=offline.edit_window_start(clock.utcnow()),
                           max_hours=offline.max_study_hours())  # fmt: skip


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


@login_required
def offline_confirm(record_id: int, user_id: int):
    """A second person confirms a waiting attendance (POST; committee members come from the home page)."""
    # NotFound and Forbidden answer 404 and 403: a member without authority learns nothing.
    offline.confirm_attendance(current_user, record_id, user_id, now=clock.utcnow())
    db.session.commit()
    flash(_l("Attendance confirmed; its study hours now count."), "success")
    if current_user.is_admin or current_user.is_secretary:
        return redirect(url_for("courses_admin.offline_detail", record_id=record_id))
    return redirect(url_for("home.index"))


@secretary_required
def offline_audit():
    return render_template(
        "courses/admin/offline_audit.html", trail=offline.audit_trail(current_user), labels=OFFLINE_ACTIVITY_LABELS
    )


def render_pending_panel(user) -> str | None:
    """Home panel: offline attendance waiting for this user's confirmation (None when there is none)."""
    waiting = offline.pending_for(user)
    if not waiting:
        return None
    return render_template("courses/_offline_pending_panel.html", waiting=waiting)


def register(bp: Blueprint) -> None:
    """Add the offline study pages to the courses admin blueprint ``bp``."""
    bp.add_url_rule("/offline", view_func=offline_records)
    bp.add_url_rule("/offline/new", view_func=offline_new, methods=["GET", "POST"])
    bp.add_url_rule("/offline/<int:record_id>", view_func=offline_detail)
    bp.add_url_rule("/offline/<int:record_id>/edit", view_func=offline_edit, methods=["GET", "POST"])
    bp.add_url_rule("/offline/<int:record_id>/delete", view_func=offline_delete, methods=["POST"])
    bp.add_url_rule("/offline/<int:record_id>/confirm/<int:user_id>", view_func=offline_confirm, methods=["POST"])
    bp.add_url_rule("/offline/audit", view_func=offline_audit)


register_home_panel("offline_pending", render_pending_panel, order=15)
