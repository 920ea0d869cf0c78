"""Forms of the meetings domain."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms import clock
from lms.auth.models import MEMBER_STATUS_LABELS
from lms.inputs import SaneDate
from lms.meetings.models import (
    ATTENDANCE_STATUS_LABELS,
    ATTENDEE_RULE_LABELS,
    CADENCE_LABELS,
    KIND_LEVEL_LABELS,
    AttendanceStatus,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _choices(labels) -> list[tuple[str, object]]:
    return [(str(key), label) for key, label in labels.items()]


def to_utc(local: datetime | None) -> datetime | None:
    """A naive local time from a datetime-local input as an aware UTC datetime."""
    if local is None:
        return None
    return local.replace(tzinfo=clock.local_zone()).astimezone(UTC)


def to_local(moment: datetime | None) -> datetime | None:
    """An aware datetime as the naive local time a datetime-local input shows."""
    return moment.astimezone(clock.local_zone()).replace(tzinfo=None) if moment else None


class MeetingForm(FlaskForm):
    branch_id = SelectField(_l("Branch"), coerce=int, validators=[DataRequired()])
    kind_id = SelectField(_l("Kind of meeting"), coerce=int, validators=[DataRequired()])
    topic = StringField(_l("Topic"), validators=[DataRequired(), Length(max=200)])
    starts_at = DateTimeLocalField(_l("Starts at"), format=DATETIME_FORMAT, validators=[DataRequired(), SaneDate()])
    ends_at = DateTimeLocalField(_l("Ends at"), format=DATETIME_FORMAT, validators=[DataRequired(), SaneDate()])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    online_url = StringField(_l("Online meeting link"), validators=[Optional(), Length(max=500)])
    agenda = TextAreaField(_l("Agenda"), validators=[Optional(), Length(max=5000)])
    attendee_ids = SelectMultipleField(_l("Attendees"), coerce=int, validate_choice=False)
    lesson_ids = SelectMultipleField(_l("Linked lessons"), coerce=int, validate_choice=False,
                                     description=_l("Lessons to study before or at the meeting."))  # fmt: skip
    # The upper bound (LMS_OFFLINE_MAX_HOURS) is the service's, with a message that names it.
    study_hours = DecimalField(_l("Study hours credited"), places=1, validators=[Optional(), NumberRange(min=0)],
                               description=_l("Empty: the kind's study hours."))  # fmt: skip
    checkin_opens_minutes = IntegerField(_l("Sign-in opens (minutes before the start)"),
                                         validators=[Optional(), NumberRange(0, 1440)])  # fmt: skip


class LeaveForm(FlaskForm):
    reason = StringField(_l("Reason for leave"), validators=[DataRequired(), Length(max=300)])


class LeaveDecisionForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired()])
    decision = HiddenField(validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


class AttendanceForm(FlaskForm):
    user_id = SelectField(_l("Member"), coerce=int, validators=[DataRequired()])
    status = SelectField(
        _l("Attendance"),
        choices=[(str(s), ATTENDANCE_STATUS_LABELS[s]) for s in (
            AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY, AttendanceStatus.ABSENT)],
    )  # fmt: skip
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)],
                         description=_l("E.g. “no phone”; kept with your name."))  # fmt: skip


class MinutesForm(FlaskForm):
    minutes_html = TextAreaField(
        _l("Minutes"),
        validators=[Length(max=200_000)],
        description=_l("Rich text: paragraphs, headings, lists, links and bold are kept; anything else is removed."),
    )


class FileForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()],
                     description=_l("PDF, JPEG, PNG, WebP or an Office document."))  # fmt: skip
    purpose = HiddenField(default="material")


class ConfirmCreditForm(FlaskForm):
    back = HiddenField(default="meeting")  # "home" when sent from the home panel


class ScanConfirmForm(FlaskForm):
    scan_pass = HiddenField(validators=[DataRequired()])


class KindForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    cadence = SelectField(_l("Cadence"), choices=_choices(CADENCE_LABELS))
    level = SelectField(_l("Held by"), choices=_choices(KIND_LEVEL_LABELS))
    attendee_rule = SelectField(_l("Attendees"), choices=_choices(ATTENDEE_RULE_LABELS))
    audience_statuses = SelectMultipleField(_l("Member statuses (for an audience)"),
                                            choices=_choices(MEMBER_STATUS_LABELS))  # fmt: skip
    study_hours = DecimalField(_l("Study hours credited"), places=1, validators=[InputRequired(), NumberRange(min=0)])
    needs_sign_out = BooleanField(_l("Members also sign out"))
    is_active = BooleanField(_l("In use"), default=True)
