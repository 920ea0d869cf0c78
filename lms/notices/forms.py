"""Announcement form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lms.auth.forms import AudienceFieldsMixin
from lms.inputs import SaneDate


class AnnouncementForm(AudienceFieldsMixin, FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(
        _l("Text"),
        validators=[Optional(), Length(max=50_000)],
        description=_l("Blank lines separate paragraphs; simple HTML (bold, lists, links, images) is kept."),
        render_kw={"rows": 10},
    )
    pinned = BooleanField(_l("Pin to the top"))
    expires_on = DateField(_l("Show until"), validators=[Optional(), SaneDate()])
    publish = BooleanField(_l("Publish now (notifies the audience)"), default=True)
