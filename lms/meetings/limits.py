"""The most 学时 one meeting credits: ``LMS_OFFLINE_MAX_HOURS``, as for offline records (issue #11).

A leaf module (kinds and scheduling both check it; neither imports the other at module level).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lms.courses.offline import max_study_hours
from lms.errors import ValidationFailed


def check_study_hours(hours: float | None, field: str = "study_hours") -> None:
    """Refuse 学时 below 0 or above what one meeting may credit (``LMS_OFFLINE_MAX_HOURS``)."""
    most = max_study_hours()
    if hours is None or not 0 <= hours <= most:
        raise ValidationFailed(
            _l("Study hours must be between 0 and %(n)s: one meeting credits at most %(n)s study hours.",
               n=format(most, "g")),
            field,
        )  # fmt: skip
