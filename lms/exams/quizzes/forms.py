"""Forms of the quiz pages (admin settings, draw rules, overrides, error reports)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from lms import clock
from lms.auth.forms import AudienceFieldsMixin
from lms.exams.quizzes.models import KeptGrade, OverdueHandling, ReportStatus, ReviewPolicy
from lms.inputs import SaneDate

KEPT_GRADE_LABELS = {KeptGrade.HIGHEST: _l("Highest attempt"), KeptGrade.LAST: _l("Last attempt")}
REVIEW_POLICY_LABELS = {
    ReviewPolicy.AFTER_SUBMIT: _l("Score, answers and explanations after submitting"),
    ReviewPolicy.AFTER_CLOSE: _l("Score after submitting; answers after the quiz closes"),
    ReviewPolicy.SCORE_ONLY: _l("Score only"),
}
OVERDUE_LABELS = {
    OverdueHandling.AUTO_SUBMIT: _l("Submit automatically with the saved answers"),
    OverdueHandling.GRACE_PERIOD: _l("Grace period: may still submit, not change answers"),
    OverdueHandling.NOT_COUNTED: _l("Not counted unless submitted before time runs out"),
}
REPORT_STATUS_LABELS = {
    ReportStatus.OPEN: _l("Open"),
    ReportStatus.RESOLVED: _l("Resolved (the question was corrected)"),
    ReportStatus.DISMISSED: _l("Dismissed (the question is right)"),
}


def local_to_utc(value: datetime | None) -> datetime | None:
    """A naive datetime typed in the organisation's time zone, as aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=clock.local_zone()).astimezone(UTC)


def utc_to_local(value: datetime | None) -> datetime | None:
    """An aware datetime as the naive local time a datetime-local input shows."""
    if value is None:
        return None
    return value.astimezone(clock.local_zone()).replace(tzinfo=None, second=0, microsecond=0)


def _choices(labels) -> list[tuple[str, object]]:
    return [(str(key), label) for key, label in labels.items()]


class QuizForm(AudienceFieldsMixin, FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Instructions for members"), validators=[Optional(), Length(max=5000)])
    is_practice = BooleanField(
        _l("Practice mode"), description=_l("Untimed, unlimited attempts, never counted in results.")
    )
    time_limit_minutes = IntegerField(
        _l("Time limit (minutes)"),
        validators=[Optional(), NumberRange(min=1, max=24 * 60)],
        description=_l("Empty: no time limit."),
    )
    open_at = DateTimeLocalField(_l("Opens at"), validators=[Optional(), SaneDate()])
    close_at = DateTimeLocalField(_l("Closes at"), validators=[Optional(), SaneDate()])
    attempts_allowed = IntegerField(
        _l("Attempts allowed"),
        default=1,
        validators=[Optional(), NumberRange(min=0, max=100)],
        description=_l("0: unlimited."),
    )
    pass_percent = DecimalField(
        _l("Pass score (%)"), default=60, places=1, validators=[Optional(), NumberRange(min=0, max=100)]
    )
    kept_grade = SelectField(_l("Grade kept"), choices=_choices(KEPT_GRADE_LABELS), default=KeptGrade.HIGHEST)
    shuffle_questions = BooleanField(_l("Shuffle the questions"))
    shuffle_options = BooleanField(_l("Shuffle the options of choice questions"))
    partial_credit = BooleanField(
        _l("Partial credit for multiple choice"),
        description=_l("Missing a right option earns half the points; choosing a wrong one earns nothing."),
    )
    review_policy = SelectField(
        _l("After submitting, members see"), choices=_choices(REVIEW_POLICY_LABELS), default=ReviewPolicy.AFTER_SUBMIT
    )
    wait_minutes = IntegerField(
        _l("Wait between attempts (minutes)"), default=0, validators=[Optional(), NumberRange(min=0, max=60 * 24 * 30)]
    )
    overdue_handling = SelectField(
        _l("When time runs out"), choices=_choices(OVERDUE_LABELS), default=OverdueHandling.AUTO_SUBMIT
    )
    grace_period_minutes = IntegerField(
        _l("Grace period (minutes)"), default=0, validators=[Optional(), NumberRange(min=0, max=24 * 60)]
    )


class DrawRuleForm(FlaskForm):
    bank_id = SelectField(_l("Question bank"), coerce=int)
    question_type = SelectField(_l("Question type"))
    tag = StringField(_l("Knowledge point"), validators=[Optional(), Length(max=100)])
    count = IntegerField(_l("Number of questions"), default=5, validators=[DataRequired(), NumberRange(min=1, max=500)])
    points = DecimalField(
        _l("Points each"), default=1, places=1, validators=[DataRequired(), NumberRange(min=0.1, max=1000)]
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.question_type.choices = [("", _l("Any type"))] + [(str(t), label) for t, label in _type_labels().items()]


def _type_labels():
    from lms.exams.questions.types import type_labels

    return type_labels()


class QuestionPointsForm(FlaskForm):
    points = DecimalField(_l("Points"), places=1, validators=[Optional(), NumberRange(min=0.1, max=1000)])


class OverrideForm(FlaskForm):
    login = StringField(
        _l("Member"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("Username, mobile number or ID number."),
    )
    time_limit_minutes = IntegerField(_l("Time limit (minutes)"), validators=[Optional(), NumberRange(min=1, max=1440)])
    attempts_allowed = IntegerField(_l("Attempts allowed"), validators=[Optional(), NumberRange(min=0, max=100)])
    open_at = DateTimeLocalField(_l("Opens at"), validators=[Optional(), SaneDate()])
    close_at = DateTimeLocalField(_l("Closes at"), validators=[Optional(), SaneDate()])
    note = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class ResolveReportForm(FlaskForm):
    status = SelectField(_l("Outcome"), choices=_choices(REPORT_STATUS_LABELS))
    resolution = TextAreaField(_l("Note to the member"), validators=[Optional(), Length(max=1000)])
