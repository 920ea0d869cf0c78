"""Organisation pages: the audit log (with its Excel export) and the organisation settings.

Admins see the whole log; secretaries and subtree admins the rows of their
branch subtree (one prefix match on ``branch_path``). Settings are for
organisation admins only; every change is audited by ``lms.org_settings``.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_datetime, lazy_pgettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, DateField, PasswordField, StringField
from wtforms.validators import DataRequired, Optional

from lms import audit, clock, org_settings
from lms.auth.audit_fields import field_label
from lms.auth.models import User
from lms.auth.permissions import admin_required, audit_scope, secretary_required
from lms.errors import ValidationFailed
from lms.extensions import db
from lms.inputs import SaneDate, page_arg
from lms.spreadsheets import XLSX_MIMETYPE, xlsx_bytes

bp = Blueprint("org_admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50
EXPORT_BATCH = 1000

OBJECT_TYPE_LABELS = {
    "user": _l("Account"),
    "member_import": _l("Member import"),
    "branch": _l("Branch"),
    "setting": _l("Setting"),
    "quiz": _l("Quiz"),
    "contest": _l("Contest"),
    "attempt": _l("Quiz attempt"),
    "target": _l("Learning target"),
    "assessment_run": _l("Score computation"),
    "offline_record": _l("Offline study record"),
    "announcement": _l("Announcement"),
    "export": _l("Export of personal data"),
    "meeting": _l("Meeting"),
    "meeting_kind": _l("Meeting kind"),
    "outgoing_mail": _l("Outgoing mail"),
}


# What was done, by the last part of the action code ("user.update"); the object is in its own column.
ACTION_VERBS = {
    "create": lazy_pgettext("audit action", "Created"),
    "new": lazy_pgettext("audit action", "Created"),
    "update": lazy_pgettext("audit action", "Changed"),
    "edit": lazy_pgettext("audit action", "Changed"),
    "change": lazy_pgettext("audit action", "Changed"),
    "delete": lazy_pgettext("audit action", "Deleted"),
    "move": lazy_pgettext("audit action", "Moved"),
    "password_reset": lazy_pgettext("audit action", "Password reset"),
    "import": lazy_pgettext("audit action", "Imported"),
    "recompute": lazy_pgettext("audit action", "Recomputed"),
    "resolve": lazy_pgettext("audit action", "Resolved"),
    "confirm": lazy_pgettext("audit action", "Confirmed"),
    "publish": lazy_pgettext("audit action", "Published"),
    "unpublish": lazy_pgettext("audit action", "Unpublished"),
    "finalize": lazy_pgettext("audit action", "Finalised"),
    "add_questions": lazy_pgettext("audit action", "Questions added"),
    "remove_question": lazy_pgettext("audit action", "Question removed"),
    "move_question": lazy_pgettext("audit action", "Question moved"),
    "question_points": lazy_pgettext("audit action", "Points changed"),
    "add_rule": lazy_pgettext("audit action", "Draw rule added"),
    "remove_rule": lazy_pgettext("audit action", "Draw rule removed"),
    "delete_override": lazy_pgettext("audit action", "Extra time removed"),
    "schedule": lazy_pgettext("audit action", "Scheduled"),
    "cancel": lazy_pgettext("audit action", "Cancelled"),
    "close": lazy_pgettext("audit action", "Closed"),
    "lock": lazy_pgettext("audit action", "Locked"),
    "minutes": lazy_pgettext("audit action", "Minutes changed"),
    "file_add": lazy_pgettext("audit action", "File added"),
    "file_delete": lazy_pgettext("audit action", "File removed"),
    "sign_in_by_hand": lazy_pgettext("audit action", "Signed in by hand"),
    "attendance": lazy_pgettext("audit action", "Attendance changed"),
    "leave_approve": lazy_pgettext("audit action", "Leave approved"),
    "leave_refuse": lazy_pgettext("audit action", "Leave refused"),
    "retry": lazy_pgettext("audit action", "Queued to send again"),
    "discard": lazy_pgettext("audit action", "Discarded"),
}
# What was exported ("export.archives").
EXPORT_KINDS = {
    "archive": _l("Learning archive"),
    "archive_print": _l("Printed learning archive"),
    "archives": _l("Branch learning archives"),
    "report": _l("Assessment report"),
    "report_print": _l("Printed assessment report"),
    "probation": _l("Probation report"),
    "probation_member": _l("Probation record of a member"),
    "quiz_results": _l("Quiz results"),
    "contest_standings": _l("Contest standings"),
    "contest_certificates": _l("Contest certificates"),
    "audit_log": _l("Audit log"),
}


def action_label(action: str) -> str | None:
    """The action in words ("Changed", "Exported: Learning archive"), or None for an unknown code."""
    kind, _, verb = action.rpartition(".")
    if kind == "export":
        what = EXPORT_KINDS.get(verb)
        return str(_l("Exported: %(what)s", what=what)) if what is not None else None
    label = ACTION_VERBS.get(verb)
    return str(label) if label is not None else None


def action_choice(action: str) -> str:
    """The action filter's option text: the object and what was done ("Account · Changed")."""
    label = action_label(action)
    kind = action.rpartition(".")[0]
    if label is None or kind == "export":
        return label or action
    obj = OBJECT_TYPE_LABELS.get(kind) or OBJECT_TYPE_LABELS.get(kind.removesuffix("s"))
    return f"{obj} · {label}" if obj is not None else label


def _identifier(text: str) -> Markup:
    """A code or field name as it is stored: not text in any language (``lang="zxx"``)."""
    return Markup('<code lang="zxx" translate="no">%s</code>') % text


@bp.app_template_filter("audit_action")
def audit_action_filter(action: str) -> Markup:
    label = action_label(action or "")
    return escape(label) if label is not None else _identifier(action or "")


def _parse_day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _filters() -> dict:
    """The page's filters from the query string; bad values are ignored, never an error."""
    start, end = _parse_day("start"), _parse_day("end")
    return {
        "actor_id": request.args.get("actor", type=int),
        "action": request.args.get("action", "").strip()[:60] or None,
        "object_type": request.args.get("object_type", "").strip()[:40] or None,
        "object_id": request.args.get("object_id", "").strip()[:40] or None,
        "start": clock.local_midnight(start) if start else None,
        "end": clock.local_midnight(end + timedelta(days=1)) if end else None,
    }


def _query():
    return audit.entries_query(**audit_scope(current_user), **_filters())


def _changes_text(entry: audit.AuditEntry) -> str:
    """``field: old → new`` per changed field, for the page and the export."""
    before, after = entry.before or {}, entry.after or {}
    parts = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key in before and key in after:
            parts.append(f"{_field_text(key, entry.object_type)}: {old} → {new}")
        elif key in after:
            parts.append(f"{_field_text(key, entry.object_type)}: {new}")
        else:
            parts.append(f"{_field_text(key, entry.object_type)}: {old} →")
    return "; ".join(parts)


@bp.app_template_filter("audit_changes")
def audit_changes_filter(entry) -> Markup:
    """The changes for the page: fields by their names (identifiers when unnamed), values as stored."""
    before, after = entry.before or {}, entry.after or {}
    parts = []
    for key in sorted(set(before) | set(after)):
        if key in before and key in after:
            change = Markup("%s → %s") % (_audit_value(before[key]), _audit_value(after[key]))
        elif key in after:
            change = _audit_value(after[key])
        else:
            change = Markup("%s →") % (_audit_value(before[key]),)
        label = field_label(key, entry.object_type)
        parts.append(Markup("%s: %s") % (label if label is not None else _identifier(key), change))
    return Markup("; ").join(parts)


def _field_text(key: str, object_type: str) -> str:
    """A field's name for the export: its label, else the identifier."""
    label = field_label(key, object_type)
    return str(label) if label is not None else key


_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _audit_value(value) -> Markup:
    """A stored value for the page: yes/no in words, codes (``scheduled``) as the identifiers they are."""
    if isinstance(value, bool):
        return escape(str(_l("yes") if value else _l("no")))
    if isinstance(value, str) and _CODE.match(value):
        return _identifier(value)
    return escape(value)


@bp.route("/audit")
@secretary_required
def audit_log():
    """The audit log in the viewer's scope, filtered, newest first."""
    page = page_arg()
    pagination = db.paginate(_query(), page=page, per_page=PAGE_SIZE, error_out=False)
    actors = db.session.execute(
        sa.select(User.id, User.name)
        .where(User.id.in_(sa.select(audit.AuditEntry.actor_id).distinct()))
        .order_by(User.name)
    ).all()
    return render_template(
        "admin/audit_log.html",
        pagination=pagination,
        actors=actors,
        actions=[(action, action_choice(action)) for action in audit.known_actions()],
        object_types=audit.known_object_types(),
        type_labels=OBJECT_TYPE_LABELS,
        args={k: v for k, v in request.args.items() if k != "page"},
    )


@bp.route("/audit.xlsx")
@secretary_required
def audit_export():
    """The filtered log as Excel, written row by row (openpyxl's write-only mode)."""

    def rows():
        result = db.session.execute(_query().execution_options(yield_per=EXPORT_BATCH)).scalars()
        for entry in result:
            yield [
                format_datetime(entry.at, "yyyy-MM-dd HH:mm:ss"),
                entry.actor_name,
                entry.ip or "",
                action_label(entry.action) or entry.action,
                str(OBJECT_TYPE_LABELS.get(entry.object_type, entry.object_type)),
                entry.object_id or "",
                entry.object_label,
                _changes_text(entry),
            ]

    header = [
        _l("Time"),
        _l("Who"),
        _l("IP address"),
        _l("Action"),
        _l("Object"),
        _l("Object id"),
        _l("Name"),
        _l("Changes"),
    ]
    payload = xlsx_bytes([("audit", [str(h) for h in header], rows())])
    # Exporting the log is itself an action on personal data.
    audit.record("export.audit_log", "export", None, after=dict(request.args.items()))
    db.session.commit()
    stamp = clock.local_day(clock.utcnow()).isoformat()
    return send_file(
        io.BytesIO(payload), mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=f"audit-log-{stamp}.xlsx"
    )


class SettingsForm(FlaskForm):
    """All settings at once; each changed value is stored from ``effective_from`` on."""

    effective_from = DateField(_l("Effective from"), validators=[DataRequired(), SaneDate()])
    MINUTES_PER_STUDY_HOUR = StringField(_l("Minutes of study per study hour"), validators=[DataRequired()])
    OFFLINE_EDIT_WINDOW_DAYS = StringField(_l("Days to enter or change offline records"), validators=[DataRequired()])
    ASSESSMENT_REMINDER_WEEKDAY = StringField(_l("Reminder day of the week (1 = Monday)"), validators=[DataRequired()])
    ASSESSMENT_REMINDER_HOUR = StringField(_l("Reminder hour (local time)"), validators=[DataRequired()])
    SMTP_HOST = StringField(_l("SMTP server"), validators=[Optional()])
    SMTP_PORT = StringField(_l("SMTP port"), validators=[DataRequired()])
    SMTP_USER = StringField(_l("SMTP user"), validators=[Optional()])
    SMTP_PASSWORD = PasswordField(
        _l("SMTP password"), validators=[Optional()], description=_l("Leave empty to keep the stored password.")
    )
    clear_smtp_password = BooleanField(_l("Remove the stored SMTP password"))
    SMTP_SENDER = StringField(_l("Sender address"), validators=[Optional()])
    SMTP_TLS = BooleanField(_l("Use STARTTLS"))


def _fill(form: SettingsForm, today: date) -> None:
    for key in org_settings.SPECS:
        if org_settings.SPECS[key].secret:
            continue
        field = getattr(form, key)
        current = org_settings.value(key, today)
        field.data = bool(current) if isinstance(field, BooleanField) else ("" if current is None else str(current))
    form.effective_from.data = today


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings():
    """Organisation settings with their dated history; the environment's values are the defaults."""
    now = clock.utcnow()
    today = clock.local_day(now)
    form = SettingsForm()
    if request.method == "GET":
        _fill(form, today)
    elif form.validate_on_submit() and form.effective_from.data < today:
        form.effective_from.errors = [str(_l("Changes take effect today or later; past periods keep their settings."))]
    elif form.validate_on_submit():
        changed = 0
        try:
            for key, spec in org_settings.SPECS.items():
                field = getattr(form, key)
                if spec.secret:
                    if form.clear_smtp_password.data:
                        new = ""
                    elif field.data:
                        new = field.data
                    else:
                        continue
                else:
                    new = field.data
                changed += org_settings.set_value(key, new, form.effective_from.data, actor=current_user, now=now)
        except ValidationFailed as error:
            db.session.rollback()
            org_settings.forget_cache()
            getattr(form, error.field).errors = [error.message]
        else:
            db.session.commit()
            flash(_l("%(n)d settings changed.", n=changed) if changed else _l("Nothing changed."), "success")
            return redirect(url_for(".settings"))
    rows = []
    for key, spec in org_settings.SPECS.items():
        history = org_settings.history(key)
        current = org_settings.value(key, today)
        upcoming = [(day, value) for day, value in history if day > today]
        rows.append(
            {
                "label": spec.label,
                "env": f"LMS_{key}",
                "current": _shown(spec, current),
                "default": _shown(spec, _config_default(key)),
                "history": [(day, _shown(spec, value)) for day, value in history],
                "upcoming": bool(upcoming),
            }
        )
    return render_template("admin/settings.html", form=form, rows=rows, today=today)


def _config_default(key: str):
    from flask import current_app

    return current_app.config.get(key, org_settings.SPECS[key].default)


def _shown(spec: org_settings.SettingSpec, value) -> str:
    """A setting's value for the page; secrets only say whether one is set."""
    if spec.secret:
        return str(_l("set") if value else _l("not set"))
    if spec.kind is bool:
        return str(_l("yes") if value else _l("no"))
    return "—" if value in (None, "") else str(value)


@bp.app_template_global("minutes_per_study_hour")
def minutes_per_study_hour_global(on: date | None = None) -> float:
    """Templates show the conversion in force on ``on`` (default today), not the environment's."""
    return org_settings.minutes_per_study_hour(on)
