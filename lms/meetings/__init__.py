"""组织生活 (DESIGN.md §10): meeting kinds, scheduling, QR sign-in, leave, minutes, the 台账.

Depends on courses (the study ledger it credits), notices and auth; nothing
below imports it. Modules:

- ``models``: MeetingKind, Meeting, MeetingAttendance, MeetingCreditConfirmation, MeetingFile,
  MeetingDueWarning.
- ``kinds``: the default kinds (``seed_defaults``, run by `flask lms init`) and the admin's edits.
- ``scheduling``: scope (who sees and manages a meeting), attendees by the kind's
  rule, schedule / change / cancel with notifications, the month calendar, reminders.
- ``checkin``: rotating signed QR tokens, sign-in and sign-out windows, the
  scan pass, sign-in by hand (who, when, why), leave requests and decisions.
- ``closing``: closing (absentees, 学时 credited with source=meeting through
  ``lms.courses.ledger.replace_meeting_credits``), the lock, the minutes, and
  the meeting lines of the learning archive (``courses.archive.register_offline_lines``).
- ``confirmations``: a second person confirms a member's own held credit (issue #11): who may,
  what waits (home panel, meeting page), confirming (ledger row and audit row).
- ``rates``: members' attendance counts for assessment's attendance component (one query).
- ``auditing``: the audit rows of the administrative actions (``lms.audit``).
- ``files``: attachments sniffed by content, stored under generated names.
- ``register``: the 支部台账 (cadence compliance, attendance rates, repeated
  absences), the all-branches overview and the 事前提醒 warnings.
- ``export``: the register as Excel and PDF.
- ``jobs``: ``meeting_reminders`` and ``due_meeting_warnings`` (both idempotent).

Configuration: the ``MEETING_*`` keys in ``lms.config`` (sign-in window, lateness,
sign-out, token rotation, lock days, reminder and warning lead times, file size).
"""


def init_app(app) -> None:
    """Navigation entries, the home panels, and the meeting lines of the courses' learning archive."""
    from flask_babel import lazy_gettext as _l

    from lms.auth.models import Role
    from lms.courses.archive import register_offline_lines
    from lms.meetings import closing
    from lms.meetings.views import render_confirmations_panel, render_home_panel
    from lms.navigation import register_home_panel, register_nav

    register_nav("meetings.calendar", _l("Meetings"), order=35)
    register_offline_lines("meetings", closing.archive_lines)
    register_home_panel("meetings", render_home_panel, order=15)
    register_home_panel("meeting_confirmations", render_confirmations_panel, order=14)
    register_nav("meetings_admin.register_page", _l("Branch register (台账)"), roles=(Role.ADMIN, Role.SECRETARY),
                 order=52, section="manage")  # fmt: skip
    register_nav("meetings_admin.compliance", _l("Meeting compliance"), roles=(Role.ADMIN,), order=53, section="manage")
    register_nav("meetings_admin.kinds_list", _l("Meeting kinds"), roles=(Role.ADMIN,), order=54, section="manage")
