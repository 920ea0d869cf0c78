"""Account, branch and import forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from lms.auth.models import BRANCH_KIND_LABELS, MEMBER_STATUS_LABELS, ROLE_LABELS
from lms.inputs import SaneDate


class LoginForm(FlaskForm):
    login = StringField(_l("Username, mobile number or ID number"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
    )


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[("zh_Hans", "简体中文"), ("en", "English")])
    next = HiddenField()


def _choices(labels) -> list[tuple[str, object]]:
    return [(str(key), label) for key, label in labels.items()]


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    id_number = StringField(_l("ID number"), validators=[Optional(), Length(max=32)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    branch_id = SelectField(_l("Branch"), coerce=int)
    status = SelectField(_l("Member status"), choices=_choices(MEMBER_STATUS_LABELS))
    role = SelectField(_l("Role"), choices=_choices(ROLE_LABELS))
    is_committee_member = BooleanField(_l("Branch committee member"))
    admitted_on = DateField(_l("Admission date"), validators=[Optional(), SaneDate()])
    probation_end = DateField(_l("Probation end date"), validators=[Optional(), SaneDate()])
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), Length(min=8, max=200)],
        description=_l("Only when creating; the member must change it at first login."),
    )


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(_l("Temporary password"), validators=[DataRequired(), Length(min=8, max=200)])


class BranchForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=_choices(BRANCH_KIND_LABELS))
    parent_id = SelectField(_l("Parent"), coerce=int)


class BranchMoveForm(FlaskForm):
    parent_id = SelectField(_l("New parent"), coerce=int)


class MemberImportForm(FlaskForm):
    file = FileField(_l("File (.xlsx or .csv)"), validators=[FileRequired()])
    default_password = PasswordField(
        _l("Initial password for rows without one"),
        validators=[Optional(), Length(min=8, max=200)],
    )


class ConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class AudienceFieldsMixin:
    """Three multi-selects for an audience (see lms.auth.audience); empty means anyone.

    Call ``fill_audience_choices(form)`` before validating and
    ``form.audience_values()`` to read (statuses, roles, branch_ids).
    """

    audience_statuses = SelectMultipleField(
        _l("Member statuses"), choices=_choices(MEMBER_STATUS_LABELS), validators=[Optional()]
    )
    audience_roles = SelectMultipleField(_l("Roles"), choices=_choices(ROLE_LABELS), validators=[Optional()])
    audience_branch_ids = SelectMultipleField(
        _l("Branches (with their sub-branches)"), coerce=int, validators=[Optional()]
    )

    def audience_values(self) -> tuple[list[str], list[str], list[int]]:
        return (
            list(self.audience_statuses.data or []),
            list(self.audience_roles.data or []),
            list(self.audience_branch_ids.data or []),
        )

    def load_audience(self, obj) -> None:
        self.audience_statuses.data = list(obj.audience_statuses or [])
        self.audience_roles.data = list(obj.audience_roles or [])
        self.audience_branch_ids.data = list(obj.audience_branch_ids or [])


def fill_audience_choices(form, branches=None) -> None:
    """Offer every branch (or ``branches``) in tree order, indented by depth."""
    from lms.auth.services import branch_tree

    form.audience_branch_ids.choices = [
        (branch.id, "　" * branch.depth + branch.name)
        for branch in (branches if branches is not None else branch_tree())
    ]
