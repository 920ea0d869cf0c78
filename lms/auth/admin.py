"""Admin and secretary pages: members, branches and bulk member import."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms import audit
from lms.actions import run_action
from lms.auth import importer, services
from lms.auth.forms import (
    BranchForm,
    BranchMoveForm,
    ConfirmForm,
    MemberImportForm,
    PasswordResetForm,
    UserForm,
)
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.auth.permissions import (
    admin_required,
    branch_scope_clause,
    get_branch_or_404,
    get_member_or_404,
    manager_required,
    member_scope_clause,
    secretary_required,
)
from lms.errors import DomainError, ValidationFailed, show_on_form
from lms.extensions import db
from lms.inputs import clean_filename, page_arg
from lms.spreadsheets import XLSX_MIMETYPE, read_upload, xlsx_bytes

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50
# What the audit log keeps of an account (never the password hash).
USER_AUDIT_FIELDS = (
    "username",
    "name",
    "phone",
    "id_number",
    "email",
    "status",
    "role",
    "branch_id",
    "admitted_on",
    "probation_end",
    "is_committee_member",
    "is_active",
)


def audit_user(action: str, member: User, before: dict | None = None, after: dict | None = None) -> None:
    """Record an action on an account, scoped to the member's branch."""
    audit.record(
        action,
        "user",
        member.id,
        before,
        after,
        label=member.name,
        branch_path=member.branch.path if member.branch is not None else None,
    )


def _branch_choices(include_none: bool, none_label=None) -> list[tuple[int, str]]:
    """Branches the viewer may assign, in tree order; subtree admins get only their subtree and no "none"."""
    scoped = not current_user.is_admin
    choices = [(0, str(none_label or _l("(none)")))] if include_none and not scoped else []
    allowed = set(db.session.scalars(sa.select(Branch.id).where(branch_scope_clause(current_user)))) if scoped else None
    for branch in services.branch_tree():
        if allowed is None or branch.id in allowed:
            choices.append((branch.id, "　" * branch.depth + branch.name))
    return choices


def _limit_roles(form: UserForm) -> None:
    """A subtree admin cannot make organisation admins."""
    if not current_user.is_admin:
        form.role.choices = [c for c in form.role.choices if c[0] != Role.ADMIN.value]


@bp.route("/users")
@secretary_required
def users():
    """Members in the viewer's scope, searchable and filterable."""
    query_text = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    role = request.args.get("role", "")
    active = request.args.get("active", "1")
    page = page_arg()
    query = sa.select(User).where(member_scope_clause(current_user)).order_by(User.name, User.id)
    if query_text:
        like = f"%{query_text}%"
        key = services.normalize_login(query_text)
        query = query.where(sa.or_(User.name.like(like), User.username.like(f"%{key}%"), User.phone.like(f"%{key}%")))
    if status in MemberStatus.__members__.values():
        query = query.where(User.status == status)
    if role in Role.__members__.values():
        query = query.where(User.role == role)
    if active in ("0", "1"):
        query = query.where(User.is_active.is_(active == "1"))
    pagination = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template(
        "admin/users.html",
        pagination=pagination,
        q=query_text,
        status=status,
        role=role,
        active=active,
        statuses=list(MemberStatus),
        roles=list(Role),
    )


@bp.route("/users/<int:user_id>")
@secretary_required
def user_detail(user_id: int):
    member = get_member_or_404(current_user, user_id)
    return render_template("admin/user_detail.html", member=member, reset_form=PasswordResetForm())


def _fields_from(form: UserForm) -> services.UserFields:
    return services.UserFields(
        username=form.username.data,
        name=form.name.data,
        phone=form.phone.data,
        id_number=form.id_number.data,
        email=form.email.data,
        status=MemberStatus(form.status.data),
        role=Role(form.role.data),
        branch_id=form.branch_id.data or None,
        admitted_on=form.admitted_on.data,
        probation_end=form.probation_end.data,
        is_committee_member=form.is_committee_member.data,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@manager_required
def user_new():
    form = UserForm()
    form.branch_id.choices = _branch_choices(True)
    _limit_roles(form)
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors = [str(_l("An initial password is required."))]
        else:

            def create():
                user = services.create_user(_fields_from(form), form.password.data, must_change_password=True)
                audit_user("user.create", user, after=audit.snapshot(user, USER_AUDIT_FIELDS))
                return user

            done = run_action(
                create,
                form=form,
                to=lambda user: url_for("admin.user_detail", user_id=user.id),
                success=lambda user: _l("Account %(name)s created.", name=user.name),
            )
            if done:
                return done
    return render_template("admin/user_form.html", form=form, member=None)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@manager_required
def user_edit(user_id: int):
    member = get_member_or_404(current_user, user_id)
    if member.is_admin and not current_user.is_admin:
        abort(403)
    form = UserForm(obj=member)
    form.branch_id.choices = _branch_choices(True)
    _limit_roles(form)
    if request.method == "GET":
        form.branch_id.data = member.branch_id or 0
        form.status.data = str(member.status)
        form.role.data = str(member.role)
    del form.password
    if form.validate_on_submit():
        before = audit.snapshot(member, USER_AUDIT_FIELDS)

        def save():
            services.update_user(member, _fields_from(form))
            db.session.flush()
            audit_user("user.update", member, before, audit.snapshot(member, USER_AUDIT_FIELDS))

        done = run_action(
            save, form=form, to=url_for("admin.user_detail", user_id=member.id), success=_l("Changes saved.")
        )
        if done:
            return done
    return render_template("admin/user_form.html", form=form, member=member)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@manager_required
def user_set_active(user_id: int):
    member = get_member_or_404(current_user, user_id)
    if member.is_admin and not current_user.is_admin:
        abort(403)
    active = request.form.get("active") == "1"

    def change():
        services.set_active(member, active, actor=current_user)
        audit_user(
            "user.reactivate" if active else "user.deactivate",
            member,
            {"is_active": not active},
            {"is_active": active},
        )

    return run_action(
        change,
        to=url_for("admin.user_detail", user_id=member.id),
        success=_l("Account reactivated.") if active else _l("Account deactivated; its sessions have ended."),
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@manager_required
def user_reset_password(user_id: int):
    member = get_member_or_404(current_user, user_id)
    if member.is_admin and not current_user.is_admin:
        abort(403)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            services.reset_password(member, form.new_password.data)
        except ValidationFailed as error:
            flash(error.message, "danger")
        else:
            audit_user("user.password_reset", member)
            db.session.commit()
            flash(_l("Temporary password set; the member must change it at next login."), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
    return redirect(url_for("admin.user_detail", user_id=member.id))


def audit_branch(action: str, branch: Branch, before: dict | None = None, after: dict | None = None) -> None:
    audit.record(action, "branch", branch.id, before, after, label=branch.name, branch_path=branch.path)


BRANCH_AUDIT_FIELDS = ("name", "kind", "parent_id", "path")


@bp.route("/branches", methods=["GET", "POST"])
@manager_required
def branches():
    form = BranchForm()
    form.parent_id.choices = _branch_choices(True, _l("(top level)"))
    if form.validate_on_submit():

        def create():
            branch = services.create_branch(form.name.data, BranchKind(form.kind.data), form.parent_id.data or None)
            audit_branch("branch.create", branch, after=audit.snapshot(branch, BRANCH_AUDIT_FIELDS))
            return branch

        done = run_action(
            create,
            form=form,
            to=url_for("admin.branches"),
            success=lambda branch: _l("Branch %(name)s created.", name=branch.name),
        )
        if done:
            return done
    tree = services.branch_tree()
    if not current_user.is_admin:
        allowed = {choice[0] for choice in form.parent_id.choices}
        tree = [branch for branch in tree if branch.id in allowed]
    counts = dict(
        db.session.execute(
            sa.select(User.branch_id, sa.func.count()).where(User.is_active.is_(True)).group_by(User.branch_id)
        ).all()
    )
    return render_template("admin/branches.html", tree=tree, form=form, counts=counts)


@bp.route("/branches/<int:branch_id>", methods=["GET", "POST"])
@manager_required
def branch_edit(branch_id: int):
    branch = get_branch_or_404(current_user, branch_id)
    if not current_user.is_admin and branch.id == current_user.branch_id:
        abort(403)  # a subtree admin's own root belongs to the level above
    before = audit.snapshot(branch, BRANCH_AUDIT_FIELDS)
    form = BranchForm(obj=branch, prefix="edit")
    del form.parent_id
    move_form = BranchMoveForm(prefix="move")
    inside = set(db.session.scalars(services.subtree_ids_query(branch)))
    move_form.parent_id.choices = [c for c in _branch_choices(True, _l("(top level)")) if c[0] not in inside]
    if request.method == "GET":
        form.kind.data = str(branch.kind)
        move_form.parent_id.data = branch.parent_id or 0
    try:
        if "edit-name" in request.form and form.validate_on_submit():
            services.rename_branch(branch, form.name.data, BranchKind(form.kind.data))
            audit_branch("branch.update", branch, before, audit.snapshot(branch, BRANCH_AUDIT_FIELDS))
            db.session.commit()
            flash(_l("Changes saved."), "success")
            return redirect(url_for("admin.branches"))
        if "move-parent_id" in request.form and move_form.validate_on_submit():
            services.move_branch(branch, move_form.parent_id.data or None)
            branch = db.session.get(Branch, branch_id)
            audit_branch("branch.move", branch, before, audit.snapshot(branch, BRANCH_AUDIT_FIELDS))
            db.session.commit()
            flash(_l("Branch moved."), "success")
            return redirect(url_for("admin.branches"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    return render_template("admin/branch_edit.html", branch=branch, form=form, move_form=move_form)


@bp.route("/import", methods=["GET", "POST"])
@admin_required
def import_members():
    form = MemberImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            payload = read_upload(upload.stream, current_app.config["MAX_IMPORT_MB"] * 1024 * 1024)
            report = importer.prepare_import(
                clean_filename(upload.filename), payload, form.default_password.data or None, admin=current_user
            )
        except ValidationFailed as error:
            show_on_form(form, error)
    return render_template(
        "admin/import_members.html",
        form=form,
        report=report,
        confirm_form=ConfirmForm(token=report.token if report else ""),
        columns=importer.TEMPLATE_COLUMNS,
        max_mb=current_app.config["MAX_IMPORT_MB"],
    )


@bp.route("/import/confirm", methods=["POST"])
@admin_required
def import_members_confirm():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)

    def confirm():
        report = importer.confirm_import(form.token.data, admin=current_user)
        audit.record(
            "user.import", "member_import", None, after={"created": report.valid_count, "skipped": report.invalid_count}
        )
        return report

    return run_action(
        confirm,
        to=url_for("admin.users"),
        failed_to=url_for("admin.import_members"),
        success=lambda report: _l(
            "%(n)d accounts created; %(m)d rows skipped.", n=report.valid_count, m=report.invalid_count
        ),
    )


@bp.route("/import/template.xlsx")
@admin_required
def import_members_template():
    header = [header for _, header, _ in importer.TEMPLATE_COLUMNS]
    example = [
        "张三",
        "",
        "13800000001",
        "",
        "zhangsan@example.com",
        "第一党支部",
        "正式党员",
        "党员",
        "否",
        "2015-07-01",
        "",
        "Welcome2026",
    ]
    payload = xlsx_bytes([("members", header, [example])])
    return send_file(
        io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True, download_name="member-import-template.xlsx"
    )
