"""Courses, lessons (video, micro-course, article), study progress and the study ledger.

The rules of study time are DESIGN.md §3; ``progress.py`` holds them as pure
functions and ``tracking.py`` applies them to playback sessions and heartbeats.

Public interface for other domains (assessment, reports). Each is one
aggregate query whatever the number of members; ``users`` may be a select of
user ids (``sa.select(User.id).where(...)``), a WHERE clause on ``User`` (for
example ``audience_clause(target)`` or ``member_scope_clause(viewer)``), an
iterable of ids, or None for everyone. Days are local days in ``LMS_TIMEZONE``
and periods include both ends.

- ``lms.courses.ledger.study_totals(users, start_day, end_day) -> {user_id: StudyTotals}``
  (and ``member_study_totals(user_id, start_day, end_day)``, ``study_totals_each(bounds)``):
  a member's seconds by source and by course, with ``online_seconds``,
  ``offline_seconds`` and ``total_seconds``. Every page, export and score that
  shows a member's hours uses these, so the numbers agree everywhere.
- ``lms.courses.ledger.study_seconds_by_user(users, start_day, end_day, sources=None)
  -> {user_id: seconds}``: credited study (online and offline) per member;
  ``sources`` is an iterable of ``StudySource`` (video, reading, offline).
- ``lms.courses.ledger.study_seconds(user_id, start_day, end_day, sources=None) -> float``
  and ``study_seconds_by_source(user_id, start_day, end_day) -> {StudySource: seconds}``.
- ``lms.courses.ledger.seconds_to_study_hours(seconds, on=None) -> float`` (unrounded, for
  scoring), ``format_study_hours(seconds) -> "12.3"`` (shown to 0.1; a little study that
  rounds to 0.0 shows as "不足0.1"), ``format_hours(hours)`` (the same for 学时),
  ``study_hours_value(seconds)`` (the rounded number for spreadsheets),
  ``study_hours_to_seconds(hours)``, ``year_bounds(year) -> (first_day, last_day)``.
  1 学时 = the organisation's conversion in force on day ``on`` (``lms.org_settings``; default
  ``LMS_MINUTES_PER_STUDY_HOUR`` = 45 minutes); the ledger keeps seconds. For a period, use
  ``study_hours_by_user`` / ``study_hours_clause()``, which convert each ledger day at its own rate.
- ``lms.courses.completion.completed_courses_by_user(users, course_ids=None)
  -> {user_id: {course_id, ...}}``: a course is complete when every published
  lesson of it is complete (coverage >= ``LMS_COMPLETION_RATIO``).
- ``lms.courses.completion.completed_course_ids(user_id, course_ids=None) -> set``,
  ``course_completion_times(user_id, course_ids=None) -> {course_id: datetime}``,
  ``course_completers(course_id, users=None) -> set`` and
  ``completed_lesson_ids(user_id, lesson_ids=None) -> set``.
- ``lms.courses.services.required_courses_for(user) -> [RequiredCourse(course, due_on, ...)]``
  (earliest due first) and ``visible_courses(user)`` (the catalogue a member sees).
- ``lms.courses.models.Course`` (read-only queries: id, title, status) to let an
  admin pick a target's required courses.

Configuration read here (besides the §3 keys in ``lms.config``):
``HEARTBEAT_MAX_PER_MINUTE`` (default 60 per member) bounds the heartbeat
endpoint for honest players (a beat every 15 s plus pause, seek and page-hide
beats); it is counted on the member's playback-session row, which every beat
locks anyway, so it costs no statement and holds across processes.
"""


def init_app(app) -> None:
    """Navigation entries, the home panel, and the media hooks (who may stream a lesson's video)."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.courses import services
    from lms.courses.views import render_home_panel
    from lms.media.access import register_access_check, register_usage
    from lms.navigation import register_home_panel, register_nav

    register_nav("courses.catalogue", _l("Courses"), order=20)
    register_nav("courses.micro_feed", _l("Micro-courses"), order=25)
    register_nav("courses_admin.courses", _l("Courses"), roles=(Role.ADMIN,), order=40, section="manage")
    register_nav("courses_admin.requirements", _l("Required study"), roles=(Role.ADMIN, Role.SECRETARY), order=45,
                 section="manage")  # fmt: skip
    register_nav("courses_admin.archives_list", _l("Learning archives"), roles=(Role.ADMIN, Role.SECRETARY), order=55,
                 section="manage")  # fmt: skip
    register_access_check("courses", services.asset_access_check)
    register_usage("courses", services.asset_usage)
    register_home_panel("courses", render_home_panel, order=20)
