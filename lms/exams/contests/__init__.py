"""Knowledge contests (知识竞赛) and challenge mode (挑战答题), built on quizzes (DESIGN.md §5).

Modules, lowest first: ``models``, ``ranking`` (the pure ranking rules), ``phases``,
``setup``, ``banner``, ``board`` (ranking query, cached live board, frozen standings),
``taking``, ``closing`` (schedule job, standings, export, certificates), ``challenge``;
then ``forms``, ``views`` (blueprint ``contests``), ``admin`` (blueprint ``contest_admin``),
``demo``.
"""


def init_app(app) -> None:
    """Navigation entries, the home panel, and the hooks contests hang on the quizzes below them."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.exams.contests.views import attempt_links, home_panel
    from lms.exams.quizzes.models import QuizKind
    from lms.exams.quizzes.views import register_attempt_links
    from lms.navigation import register_home_panel, register_nav

    register_nav("contests.index", _l("Contests"), order=35)
    register_nav("contest_admin.index", _l("Contests"), roles=(Role.ADMIN, Role.SECRETARY), order=46, section="manage")
    register_home_panel("contests", home_panel, order=25)
    register_attempt_links(QuizKind.CONTEST, attempt_links)
