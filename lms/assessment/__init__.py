"""Learning targets, scoring, reports, exports and reminders."""


def init_app(app) -> None:
    """Navigation entries of the learning record, reports, probation and targets pages, and the home panel."""
    from flask_babel import lazy_gettext as _l

    from lms.assessment.views import render_home_panel
    from lms.auth.models import Role
    from lms.navigation import register_home_panel, register_nav

    register_nav("assessment.my_record", _l("Learning record"), order=75)
    register_home_panel("assessment", render_home_panel, order=2)
    manage = (Role.ADMIN, Role.SECRETARY)
    register_nav("assessment_admin.reports", _l("Learning reports"), roles=manage, order=40, section="manage")
    register_nav("assessment_admin.probation", _l("Probationary members"), roles=manage, order=45, section="manage")
    register_nav("assessment_admin.targets_list", _l("Learning targets"), roles=(Role.ADMIN, Role.SUBTREE_ADMIN),
                 order=50, section="manage")  # fmt: skip
