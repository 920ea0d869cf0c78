"""Forms of the courses domain: course and lesson editor, required study, offline study."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from lms.auth.forms import AudienceFieldsMixin
from lms.courses.models import DUE_RULE_LABELS, LESSON_KIND_LABELS, OFFLINE_ACTIVITY_LABELS
from lms.inputs import SaneDate


def _choices(labels) -> list[tuple[str, object]]:
    return [(str(key), label) for key, label in labels.items()]


class CourseForm(AudienceFieldsMixin, FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    summary_html = TextAreaField(
        _l("Summary"),
        validators=[Length(max=20000)],
        description=_l("Rich text: paragraphs, headings, lists, links and bold are kept; anything else is removed."),
    )
    category = StringField(_l("Category"), validators=[Optional(), Length(max=80)])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=400)], description=_l("Separated by commas."))
    credit_note = StringField(
        _l("Credit note"),
        validators=[Optional(), Length(max=200)],
        description=_l('Shown to learners, e.g. "Counts towards the annual study hours".'),
    )
    presence_checks = BooleanField(
        _l("Presence checks"),
        description=_l(
            "Once in each lesson, at a random moment, learners are asked to confirm they are there; "
            "unanswered within a minute, study time stops counting until they answer."
        ),
    )
    cover = FileField(_l("Cover image"), description=_l("PNG, JPEG, WebP or GIF, at most 8 MB; shown at 16:9."))
    remove_cover = BooleanField(_l("Remove the current cover"))


class LessonForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=_choices(LESSON_KIND_LABELS))
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    summary = TextAreaField(_l("Short description"), validators=[Optional(), Length(max=500)])
    media_asset_id = SelectField(
        _l("Video"),
        coerce=int,
        default=0,
        validate_choice=False,  # the service checks the asset (ready, a video, short enough)
        description=_l(
            "Only videos that have finished processing can be picked. A micro-course is at most 10 minutes."
        ),
    )
    body_html = TextAreaField(_l("Text"), validators=[Length(max=200000)])
    reading_minutes = IntegerField(
        _l("Reading time (minutes)"),
        validators=[Optional(), NumberRange(min=1, max=600)],
        description=_l("The most study time a member earns by reading this article (while the page is visible)."),
    )
    is_published = BooleanField(_l("Published (visible to learners when the course is published)"), default=True)


class RequirementForm(AudienceFieldsMixin, FlaskForm):
    course_id = SelectField(_l("Course"), coerce=int, validators=[DataRequired()])
    due_rule = SelectField(_l("Due"), choices=_choices(DUE_RULE_LABELS))
    due_on = DateField(
        _l("Due date"),
        validators=[Optional(), SaneDate()],
        description=_l('With "by the member\'s probation end", used for members without a probation end date.'),
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class OfflineRecordForm(FlaskForm):
    branch_id = SelectField(_l("Branch"), coerce=int)
    activity = SelectField(_l("Activity"), choices=_choices(OFFLINE_ACTIVITY_LABELS))
    held_on = DateField(_l("Date"), validators=[DataRequired(message=_l("Give the date of the activity.")), SaneDate()])
    study_hours = DecimalField(
        _l("Study hours"),
        places=1,
        validators=[DataRequired(message=_l("Give the study hours.")), NumberRange(min=0.1)],
        description=_l("For example 1 for an hour of branch study, 8 for a training day."),
    )
    topic = StringField(_l("Topic"), validators=[DataRequired(), Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    attendee_ids = SelectMultipleField(_l("Attendees"), coerce=int)
