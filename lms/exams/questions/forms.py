"""Forms of the question bank admin pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lms.exams.questions.banks import DIFFICULTY_LABELS
from lms.exams.questions.types import LETTERS, type_labels


class BankForm(FlaskForm):
    name = StringField(lazy_pgettext("question bank", "Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])


class QuestionForm(FlaskForm):
    """A question in the words of the import template (the same parser reads both)."""

    type = SelectField(_l("Question type"), choices=[(str(key), label) for key, label in type_labels().items()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)], description=_l("Optional short name."))
    stem = TextAreaField(
        _l("Stem (question text)"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("Fill-in: mark each blank with ____ or （ ） (or {{1}}, {{2}} …), in the order of the answers."),
    )
    option_a = StringField("A", validators=[Optional(), Length(max=1000)])
    option_b = StringField("B", validators=[Optional(), Length(max=1000)])
    option_c = StringField("C", validators=[Optional(), Length(max=1000)])
    option_d = StringField("D", validators=[Optional(), Length(max=1000)])
    option_e = StringField("E", validators=[Optional(), Length(max=1000)])
    option_f = StringField("F", validators=[Optional(), Length(max=1000)])
    option_g = StringField("G", validators=[Optional(), Length(max=1000)])
    option_h = StringField("H", validators=[Optional(), Length(max=1000)])
    answer = StringField(
        _l("Answer"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l(
            "Choice: the letters (B or ABD). True/false: 正确 or 错误. Fill-in: the answers of the blanks "
            "separated by |, accepted alternatives of one blank by / (e.g. 1921|上海/上海市)."
        ),
    )
    explanation = TextAreaField(_l("Explanation (解析)"), validators=[Optional(), Length(max=10000)])
    points = StringField(_l("Points"), default="1", validators=[Optional(), Length(max=10)])
    difficulty = SelectField(
        _l("Difficulty"), choices=[(str(key), label) for key, label in DIFFICULTY_LABELS.items()], default="3"
    )
    tags = StringField(
        _l("Knowledge points"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Separated by commas or 、, e.g. 党史、党章."),
    )

    def option_fields(self):
        return [getattr(self, f"option_{letter.lower()}") for letter in LETTERS]


class QuestionImportForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()])
    format = SelectField(
        _l("Format"),
        choices=[
            ("", _l("From the file name")),
            ("xlsx", _l("Excel template (.xlsx)")),
            ("csv", _l("CSV template (.csv)")),
            ("gift", _l("Moodle GIFT")),
            ("aiken", _l("Aiken")),
            ("moodle_xml", _l("Moodle XML")),
            ("json", _l("JSON (this platform's export)")),
        ],
        default="",
        validators=[Optional()],
    )


class ImportConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class QuestionStateForm(FlaskForm):
    disabled = HiddenField(validators=[DataRequired()])
