"""Names of the fields the audit log records, in the reader's language.

A secretary reading "成员 · 张三: 状态 预备党员 → 正式党员" needs words, not column
names. Fields recorded by ``audit.snapshot``/``row_snapshot`` are listed here;
a field not listed (a new column, a contest's ``quiz.`` copy of a quiz field is
looked up without its prefix) falls back to its identifier, shown as code.
"""

from __future__ import annotations

from flask_babel import lazy_pgettext

# Every label carries the context "audit field", so no msgid can collide with another translation.
FIELD_LABELS = {
    # accounts
    "username": lazy_pgettext("audit field", "Username"),
    "name": lazy_pgettext("audit field", "Name"),
    "phone": lazy_pgettext("audit field", "Phone"),
    "id_number": lazy_pgettext("audit field", "ID number"),
    "email": lazy_pgettext("audit field", "E-mail"),
    "status": lazy_pgettext("audit field", "Status"),
    "role": lazy_pgettext("audit field", "Role"),
    "branch_id": lazy_pgettext("audit field", "Branch"),
    "admitted_on": lazy_pgettext("audit field", "Admitted on"),
    "probation_end": lazy_pgettext("audit field", "End of probation"),
    "is_committee_member": lazy_pgettext("audit field", "Committee member"),
    "is_active": lazy_pgettext("audit field", "Active"),
    "password": lazy_pgettext("audit field", "Password"),
    # branches
    "kind": lazy_pgettext("audit field", "Kind"),
    "parent_id": lazy_pgettext("audit field", "Parent branch"),
    "path": lazy_pgettext("audit field", "Position in the tree"),
    # content in general
    "title": lazy_pgettext("audit field", "Title"),
    "description": lazy_pgettext("audit field", "Description"),
    "body_html": lazy_pgettext("audit field", "Text"),
    "pinned": lazy_pgettext("audit field", "Pinned"),
    "published_at": lazy_pgettext("audit field", "Published at"),
    "expires_on": lazy_pgettext("audit field", "Expires on"),
    "author_id": lazy_pgettext("audit field", "Author"),
    "created_by_id": lazy_pgettext("audit field", "Created by"),
    "audience_statuses": lazy_pgettext("audit field", "Audience: statuses"),
    "audience_roles": lazy_pgettext("audit field", "Audience: roles"),
    "audience_branch_ids": lazy_pgettext("audit field", "Audience: branches"),
    "system_key": lazy_pgettext("audit field", "System key"),
    # quizzes
    "is_published": lazy_pgettext("audit field", "Published"),
    "is_practice": lazy_pgettext("audit field", "Practice"),
    "time_limit_seconds": lazy_pgettext("audit field", "Time limit (seconds)"),
    "open_at": lazy_pgettext("audit field", "Opens at"),
    "close_at": lazy_pgettext("audit field", "Closes at"),
    "attempts_allowed": lazy_pgettext("audit field", "Attempts allowed"),
    "pass_percent": lazy_pgettext("audit field", "Pass mark (%)"),
    "kept_grade": lazy_pgettext("audit field", "Grade kept"),
    "shuffle_questions": lazy_pgettext("audit field", "Shuffle questions"),
    "shuffle_options": lazy_pgettext("audit field", "Shuffle options"),
    "partial_credit": lazy_pgettext("audit field", "Partial credit"),
    "review_policy": lazy_pgettext("audit field", "Review after the attempt"),
    "wait_seconds": lazy_pgettext("audit field", "Wait between attempts (seconds)"),
    "overdue_handling": lazy_pgettext("audit field", "When time runs out"),
    "grace_period_seconds": lazy_pgettext("audit field", "Grace period (seconds)"),
    # contests
    "quiz_id": lazy_pgettext("audit field", "Quiz"),
    "banner_name": lazy_pgettext("audit field", "Banner"),
    "draw_mode": lazy_pgettext("audit field", "Question draw"),
    "frozen_draw": lazy_pgettext("audit field", "Fixed draw"),
    "board_visibility": lazy_pgettext("audit field", "Leaderboard visibility"),
    "freeze_minutes": lazy_pgettext("audit field", "Board frozen for the last minutes"),
    "board_size": lazy_pgettext("audit field", "Board size"),
    "certificate_top_n": lazy_pgettext("audit field", "Certificates for the top"),
    "prizes": lazy_pgettext("audit field", "Prizes"),
    "opened_at": lazy_pgettext("audit field", "Opened at"),
    "finalized_at": lazy_pgettext("audit field", "Finalized at"),
    # learning targets
    "leader_rule": lazy_pgettext("audit field", "Rule for branch leaders"),
    "period_kind": lazy_pgettext("audit field", "Period"),
    "year": lazy_pgettext("audit field", "Year"),
    "quarter": lazy_pgettext("audit field", "Quarter"),
    "starts_on": lazy_pgettext("audit field", "Starts on"),
    "ends_on": lazy_pgettext("audit field", "Ends on"),
    "required_hours": lazy_pgettext("audit field", "Required hours"),
    "offline_cap_hours": lazy_pgettext("audit field", "Cap on offline hours"),
    "weight_hours": lazy_pgettext("audit field", "Weight of hours"),
    "weight_courses": lazy_pgettext("audit field", "Weight of courses"),
    "weight_quizzes": lazy_pgettext("audit field", "Weight of quizzes"),
    "score_attendance": lazy_pgettext("audit field", "Score attendance"),
    "weight_attendance": lazy_pgettext("audit field", "Weight of attendance"),
    "excellent_min": lazy_pgettext("audit field", "Minimum for excellent"),
    "good_min": lazy_pgettext("audit field", "Minimum for good"),
    "pass_min": lazy_pgettext("audit field", "Minimum to pass"),
    "target_id": lazy_pgettext("audit field", "Learning target"),
    "period": lazy_pgettext("audit field", "Period"),
    # meeting kinds and meetings
    "code": lazy_pgettext("audit field", "Code"),
    "cadence": lazy_pgettext("audit field", "Cadence"),
    "level": lazy_pgettext("audit field", "Level"),
    "attendee_rule": lazy_pgettext("audit field", "Who attends"),
    "study_hours": lazy_pgettext("audit field", "Study hours"),
    "needs_sign_out": lazy_pgettext("audit field", "Sign-out required"),
    "position": lazy_pgettext("audit field", "Order"),
    # the mail outbox
    "send_after": lazy_pgettext("audit field", "Next try"),
    "sent_at": lazy_pgettext("audit field", "Sent at"),
    "failed_at": lazy_pgettext("audit field", "Given up at"),
    "attempts": lazy_pgettext("audit field", "Attempts"),
    "last_error": lazy_pgettext("audit field", "Last error"),
    # imports and exports
    "created": lazy_pgettext("audit field", "Created"),
    "skipped": lazy_pgettext("audit field", "Skipped"),
}


# Where one column name means something else on one kind of object.
OBJECT_FIELD_LABELS = {
    "user": {"status": lazy_pgettext("audit field", "Political status")},
}


def field_label(key: str, object_type: str | None = None):
    """The label of a recorded field, or None when it has none (the caller shows the identifier)."""
    label = OBJECT_FIELD_LABELS.get(object_type or "", {}).get(key) or FIELD_LABELS.get(key)
    if label is None and key.startswith("quiz."):
        label = FIELD_LABELS.get(key.removeprefix("quiz."))
    return label
