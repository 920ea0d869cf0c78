"""Study integrity (反刷课): the anomaly list secretaries and admins review.

It reads the study ledger and the per-day counters that ``courses`` keeps, and
quiz attempts from ``exams`` (read-only), so it sits above both in the
dependency order; nothing imports it.
"""


def init_app(app) -> None:
    """The navigation entry of the anomaly list."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.navigation import register_nav

    register_nav("integrity.anomalies", _l("Study anomalies"), roles=(Role.ADMIN, Role.SECRETARY), order=56,
                 section="manage")  # fmt: skip
