"""Forms of the media admin pages (the upload itself is a JSON chunk API driven by upload.js)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class AssetTitleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])


class ActionForm(FlaskForm):
    """A button that posts (retry, delete): only the CSRF token."""
