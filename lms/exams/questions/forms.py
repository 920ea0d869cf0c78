"""Forms of the question bank admin pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lms.exams.questions.banks import DIFFICULTY_LABELS
from lms.exams.questions.importers.common import MAX_HTML_CHARS
from lms.exams.questions.types import LETTERS, type_labels


class BankForm(FlaskForm):
    name = StringField(lazy_pgettext("question bank", "Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])


INDEFINITE = "indefinite"  # the form's type for 不定项 (multiple choice, one or more correct)
WEIGHTED = "weighted"  # the scoring mode of a choice question scored by per-option weights
SHOWN_OPTIONS = 8  # option fields shown at first; the others (I–Z) are folded away until used


def _type_choices() -> list[tuple[str, object]]:
    choices = [(str(key), label) for key, label in type_labels().items()]
    at = [key for key, _ in choices].index("multiple") + 1
    choices.insert(at, (INDEFINITE, _l("Multiple choice, one or more correct (不定项)")))
    return choices


class QuestionForm(FlaskForm):
    """A question in the words of the import template (the same parser reads both)."""

    type = SelectField(_l("Question type"), choices=_type_choices())
    text_format = SelectField(
        _l("Text format"),
        choices=[("", _l("Plain text")), ("html", _l("HTML"))],
        default="",
        description=_l(
            "HTML: the stem, options and explanation may use bold, lists, tables, sub/superscripts, links and "
            "images embedded as data: URIs; anything else is removed."
        ),
    )
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)], description=_l("Optional short name."))
    stem = TextAreaField(
        _l("Stem (question text)"),
        validators=[DataRequired(), Length(max=MAX_HTML_CHARS)],
        description=_l("Fill-in: mark each blank with ____ or （ ） (or {{1}}, {{2}} …), in the order of the answers."),
    )
    scoring = SelectField(
        _l("Scoring"),
        choices=[("", _l("By the right letters")), (WEIGHTED, _l("By option weights"))],
        default="",
        description=_l(
            "By option weights: give each option its weight in percent next to it; a member scores the sum of "
            "the weights of the options they choose (at least 0). The positive weights add up to 100."
        ),
    )
    answer = StringField(
        _l("Answer"),
        validators=[Optional(), Length(max=2000)],
        description=_l(
            "Choice: the letters (B or ABD). True/false: 正确 or 错误. Fill-in: the answers of the blanks "
            "separated by |, accepted alternatives of one blank by / (e.g. 1921|上海/上海市)."
        ),
    )
    explanation = TextAreaField(_l("Explanation (解析)"), validators=[Optional(), Length(max=MAX_HTML_CHARS)])
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

    def weight_fields(self):
        return [getattr(self, f"weight_{letter.lower()}") for letter in LETTERS]

    def weighted(self) -> bool:
        """Whether the form is (to be) scored by option weights: a multiple-choice type and that mode."""
        return self.type.data in ("multiple", INDEFINITE) and self.scoring.data == WEIGHTED

    def shown_options(self) -> int:
        """How many option fields to show unfolded: the template's 8, or up to the last one filled."""
        filled = [number for number, field in enumerate(self.option_fields(), start=1) if (field.data or "").strip()]
        return max([SHOWN_OPTIONS, *filled])


for _letter in LETTERS:  # option_a … option_z, weight_a … weight_z
    setattr(
        QuestionForm,
        f"option_{_letter.lower()}",
        StringField(_letter, validators=[Optional(), Length(max=MAX_HTML_CHARS)]),
    )
    weight = StringField(_l("Weight %"), validators=[Optional(), Length(max=12)])
    setattr(QuestionForm, f"weight_{_letter.lower()}", weight)


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
