"""Forms of the contest and challenge admin pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from lms.auth.forms import AudienceFieldsMixin
from lms.exams.contests.models import BoardVisibility, DrawMode
from lms.exams.quizzes.forms import DrawRuleForm
from lms.inputs import SaneDate

DRAW_MODE_LABELS = {
    DrawMode.SAME: _l("The same questions for everyone (drawn once when published)"),
    DrawMode.PER_MEMBER: _l("Drawn for each member by the rules (the same mix of difficulty)"),
}
BOARD_LABELS = {
    BoardVisibility.LIVE: _l("Public and live during the contest"),
    BoardVisibility.FROZEN: _l("Public, frozen for the last minutes"),
    BoardVisibility.HIDDEN: _l("Hidden until the contest closes"),
}
DIFFICULTY_LABELS = {
    1: _l("1 (easiest)"),
    2: "2",
    3: "3",
    4: "4",
    5: _l("5 (hardest)"),
}


def _choices(labels) -> list[tuple[str, object]]:
    return [(str(key), label) for key, label in labels.items()]


class ContestForm(AudienceFieldsMixin, FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description and rules"), validators=[Optional(), Length(max=5000)])
    banner = FileField(
        _l("Banner image"), description=_l("PNG, JPEG, WebP or GIF, up to 8 MB; shown wide above the contest.")
    )
    remove_banner = BooleanField(_l("Remove the current banner"))
    open_at = DateTimeLocalField(
        _l("Opens at"), validators=[DataRequired(message=_l("Set when the contest opens.")), SaneDate()]
    )
    close_at = DateTimeLocalField(
        _l("Closes at"), validators=[DataRequired(message=_l("Set when the contest closes.")), SaneDate()]
    )
    time_limit_minutes = IntegerField(
        _l("Time limit per attempt (minutes)"),
        validators=[Optional(), NumberRange(min=1, max=24 * 60)],
        description=_l("Empty: until the contest closes."),
    )
    attempts_allowed = IntegerField(
        _l("Attempts allowed"),
        default=1,
        validators=[Optional(), NumberRange(min=0, max=10)],
        description=_l("Usually 1. With more, a member's best attempt counts; 0: unlimited."),
    )
    draw_mode = SelectField(_l("Questions"), choices=_choices(DRAW_MODE_LABELS), default=DrawMode.SAME)
    shuffle_questions = BooleanField(_l("Shuffle the order of the questions for each member"), default=True)
    shuffle_options = BooleanField(_l("Shuffle the options of choice questions"), default=True)
    partial_credit = BooleanField(
        _l("Partial credit for multiple choice"),
        description=_l("Missing a right option earns half the points; choosing a wrong one earns nothing."),
    )
    answers_after_close = BooleanField(
        _l("Show members the answers and explanations after the contest closes"), default=True
    )
    board_visibility = SelectField(_l("Leaderboard"), choices=_choices(BOARD_LABELS), default=BoardVisibility.LIVE)
    freeze_minutes = IntegerField(
        _l("Freeze the board for the last (minutes)"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=24 * 60)],
        description=_l("Only with a frozen board: results submitted in these last minutes show at the close."),
    )
    board_size = IntegerField(
        _l("Rows on the public board"),
        default=20,
        validators=[DataRequired(), NumberRange(min=1, max=200)],
        description=_l("Every member also sees their own rank, wherever it is."),
    )
    certificate_top_n = IntegerField(
        _l("Prize certificates for the top"),
        default=3,
        validators=[Optional(), NumberRange(min=0, max=1000)],
        description=_l("Every participant can also print a certificate of participation."),
    )
    prizes = TextAreaField(_l("Prizes and notes"), validators=[Optional(), Length(max=5000)])


class ContestRuleForm(DrawRuleForm):
    """A quiz's draw rule with a difficulty."""

    difficulty = SelectField(_l("Difficulty"), coerce=int)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.difficulty.choices = [(0, _l("Any difficulty"))] + list(DIFFICULTY_LABELS.items())


class ChallengeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    bank_ids = SelectMultipleField(_l("Question banks"), coerce=int, description=_l("None chosen: every bank."))
    tag = StringField(_l("Knowledge point"), validators=[Optional(), Length(max=100)])
    seconds_per_question = IntegerField(
        _l("Seconds per question"), default=30, validators=[DataRequired(), NumberRange(min=5, max=300)]
    )
    is_active = BooleanField(_l("Open to members"), default=True)
