"""Quizzes and attempts (DESIGN.md §4), built on questions; see docs/ARCHITECTURE.md for the modules."""


def init_app(app) -> None:
    """Navigation entries and the home panel of the quiz pages."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.exams.quizzes.views import home_panel
    from lms.navigation import register_home_panel, register_nav

    register_nav("exams.index", _l("Quizzes"), order=30)
    register_nav("exams_admin.index", _l("Quizzes"), roles=(Role.ADMIN, Role.SECRETARY), order=45, section="manage")
    register_home_panel("quizzes", home_panel, order=30)
