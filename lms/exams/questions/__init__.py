"""Question banks, the question-type registry, importers and exports (the lowest part of exams)."""


def init_app(app) -> None:
    """Navigation entries of the bank pages; the route of question images and the ``qtext`` filter."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.exams.questions import image_views
    from lms.navigation import register_nav

    app.register_blueprint(image_views.bp)

    register_nav("banks.index", _l("Question banks"), roles=(Role.ADMIN,), order=40, section="manage")
