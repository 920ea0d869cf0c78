"""The learning target form: period, audience, hours, required courses and quizzes, weights, grade bands."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms.assessment.models import LEADER_RULE_LABELS, PERIOD_KIND_LABELS, LeaderRule, PeriodKind
from lms.assessment.sources import CatalogueItem
from lms.assessment.targets import RequiredCourse, RequiredQuiz, TargetFields
from lms.auth.forms import AudienceFieldsMixin
from lms.inputs import SaneDate

BLANK_ROWS = 3


class CourseRowForm(Form):
    item_id = SelectField(_l("Course"), coerce=int, default=0)
    due_days = IntegerField(
        _l("Due after (days)"), validators=[Optional(), NumberRange(min=0, max=3660)], render_kw={"min": 0}
    )


class QuizRowForm(Form):
    item_id = SelectField(_l("Quiz"), coerce=int, default=0)
    pass_percent = FloatField(
        _l("Pass score (%)"), validators=[Optional(), NumberRange(min=1, max=100)], render_kw={"min": 1, "max": 100}
    )
    due_days = IntegerField(
        _l("Due after (days)"), validators=[Optional(), NumberRange(min=0, max=3660)], render_kw={"min": 0}
    )


def _number(label, default, **kw):
    return FloatField(label, default=default, validators=[InputRequired(), NumberRange(min=0, max=100)], **kw)


class TargetForm(AudienceFieldsMixin, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    is_active = BooleanField(_l("Active (scored, shown to members and used for reminders)"), default=True)
    period_kind = SelectField(
        _l("Period"), choices=[(str(k), label) for k, label in PERIOD_KIND_LABELS.items()], default="year"
    )
    year = IntegerField(
        _l("Year"),
        validators=[Optional(), NumberRange(min=2000, max=2100)],
        description=_l("Empty: every year (or every quarter) again."),
    )
    quarter = SelectField(
        _l("Quarter"), coerce=int, choices=[(0, "—"), (1, "Q1"), (2, "Q2"), (3, "Q3"), (4, "Q4")], default=0
    )
    starts_on = DateField(_l("First day"), validators=[Optional(), SaneDate()])
    ends_on = DateField(_l("Last day"), validators=[Optional(), SaneDate()])
    leader_rule = SelectField(
        _l("Branch secretaries and committee members"),
        choices=[(str(k), label) for k, label in LEADER_RULE_LABELS.items()],
        default="any",
    )
    required_hours = FloatField(
        _l("Required study hours (学时)"),
        validators=[Optional(), NumberRange(min=0.1, max=1000)],
        description=_l("Empty: this target does not score hours."),
    )
    offline_cap_hours = FloatField(
        _l("At most this many offline study hours count"),
        validators=[Optional(), NumberRange(min=0, max=1000)],
        description=_l("Empty: all offline study counts."),
    )
    weight_hours = _number(_l("Weight of study hours"), 0.5, render_kw={"step": "0.05", "max": 1})
    weight_courses = _number(_l("Weight of required courses"), 0.3, render_kw={"step": "0.05", "max": 1})
    weight_quizzes = _number(_l("Weight of required quizzes"), 0.2, render_kw={"step": "0.05", "max": 1})
    score_attendance = BooleanField(
        _l("Score attendance at meetings"),
        description=_l(
            "The share of the meetings each member was listed for that they attended (present, late or leaving "
            "early); meetings on approved leave are left out."
        ),
    )
    # Optional: a form sent without it (older clients) keeps the default weight.
    weight_attendance = FloatField(
        _l("Weight of attendance at meetings"),
        default=0.2,
        validators=[Optional(), NumberRange(min=0, max=100)],
        render_kw={"step": "0.05", "max": 1},
    )
    excellent_min = _number(_l("Excellent from"), 90.0)
    good_min = _number(_l("Good from"), 80.0)
    pass_min = _number(_l("Qualified from"), 60.0)
    courses = FieldList(FormField(CourseRowForm), min_entries=0)
    quizzes = FieldList(FormField(QuizRowForm), min_entries=0)

    def load(self, fields: TargetFields) -> None:
        """Fill the form from a target's settings (GET)."""
        for name in (
            "name",
            "description",
            "is_active",
            "year",
            "starts_on",
            "ends_on",
            "required_hours",
            "offline_cap_hours",
            "weight_hours",
            "weight_courses",
            "weight_quizzes",
            "score_attendance",
            "weight_attendance",
            "excellent_min",
            "good_min",
            "pass_min",
        ):
            getattr(self, name).data = getattr(fields, name)
        self.period_kind.data = str(fields.period_kind)
        self.quarter.data = fields.quarter or 0
        self.leader_rule.data = str(fields.leader_rule)
        self.audience_statuses.data = fields.statuses
        self.audience_roles.data = fields.roles
        self.audience_branch_ids.data = fields.branch_ids
        for course in fields.courses:
            self.courses.append_entry({"item_id": course.course_id, "due_days": course.due_days})
        for quiz in fields.quizzes:
            self.quizzes.append_entry(
                {"item_id": quiz.quiz_id, "pass_percent": quiz.pass_percent, "due_days": quiz.due_days}
            )

    def prepare_rows(self, courses: list[CatalogueItem], quizzes: list[CatalogueItem], blank: int = BLANK_ROWS) -> None:
        """Offer the catalogue in every row, with ``blank`` empty rows for adding items."""
        filled = sum(1 for entry in self.courses if entry.item_id.data)
        while len(self.courses) < filled + blank:
            self.courses.append_entry()
        filled = sum(1 for entry in self.quizzes if entry.item_id.data)
        while len(self.quizzes) < filled + blank:
            self.quizzes.append_entry()
        unpublished = _l("(not published)")
        course_choices = [(0, "—")] + [(c.id, c.title if c.published else f"{c.title} {unpublished}") for c in courses]
        quiz_choices = [(0, "—")] + [
            (q.id, f"{q.title} ({q.pass_percent:g}%)" if q.published else f"{q.title} {unpublished}") for q in quizzes
        ]
        for entry in self.courses:
            entry.item_id.choices = course_choices
        for entry in self.quizzes:
            entry.item_id.choices = quiz_choices

    def to_fields(self) -> TargetFields:
        """The submitted settings (rows without a course or quiz are ignored)."""
        statuses, roles, branch_ids = self.audience_values()
        return TargetFields(
            name=self.name.data or "",
            description=self.description.data or "",
            is_active=bool(self.is_active.data),
            period_kind=PeriodKind(self.period_kind.data),
            year=self.year.data,
            quarter=self.quarter.data or None,
            starts_on=self.starts_on.data,
            ends_on=self.ends_on.data,
            statuses=statuses,
            roles=roles,
            branch_ids=branch_ids,
            leader_rule=LeaderRule(self.leader_rule.data),
            required_hours=self.required_hours.data,
            offline_cap_hours=self.offline_cap_hours.data,
            weight_hours=self.weight_hours.data,
            weight_courses=self.weight_courses.data,
            weight_quizzes=self.weight_quizzes.data,
            score_attendance=bool(self.score_attendance.data),
            weight_attendance=0.2 if self.weight_attendance.data is None else self.weight_attendance.data,
            excellent_min=self.excellent_min.data,
            good_min=self.good_min.data,
            pass_min=self.pass_min.data,
            courses=[
                RequiredCourse(entry.item_id.data, entry.due_days.data) for entry in self.courses if entry.item_id.data
            ],
            quizzes=[
                RequiredQuiz(entry.item_id.data, entry.pass_percent.data, entry.due_days.data)
                for entry in self.quizzes
                if entry.item_id.data
            ],
        )
