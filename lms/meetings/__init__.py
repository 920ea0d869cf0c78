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
