"""Knowledge contests (知识竞赛) and challenge mode (挑战答题), built on quizzes (DESIGN.md §5).

Modules, lowest first: ``models``, ``ranking`` (the pure ranking rules), ``phases``,
``setup``, ``banner``, ``board`` (ranking query, cached live board, frozen standings),
``taking``, ``closing`` (schedule job, standings, export, certificates), ``challenge``;
then ``forms``, ``views`` (blueprint ``contests``), ``admin`` (blueprint ``contest_admin``),
``demo``.
"""


def init_app(app) -> None:
    """Register the hooks contests hang on the quizzes below them."""
    from lms.exams.contests.views import attempt_links
    from lms.exams.quizzes.models import QuizKind
    from lms.exams.quizzes.views import register_attempt_links

    register_attempt_links(QuizKind.CONTEST, attempt_links)
