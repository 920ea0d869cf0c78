"""Fixtures for assessment tests: ``study`` (rows of study time, completions, results) and ``make_target``.

The factories live in ``tests.factories.assessment``.
"""

from __future__ import annotations

import pytest

from tests.factories.assessment import SECONDS_PER_HOUR, StudyData, create_target

__all__ = ["SECONDS_PER_HOUR", "StudyData"]

    def meeting(self, branch_id: int, starts_at: datetime, attendance: dict, *, status: str = "closed",
                waiting: tuple = ()):  # fmt: skip
        """A meeting of ``branch_id`` with ``attendance`` {user or id: state}; ``waiting``: own credits unconfirmed."""
        import secrets
        from datetime import timedelta

        from lms.meetings.models import Meeting, MeetingAttendance, MeetingCreditConfirmation, MeetingKind

        kind = db.session.scalar(sa.select(MeetingKind).where(MeetingKind.code == "assessment-test"))
        if kind is None:
            kind = MeetingKind(code="assessment-test", name="主题党日", cadence="monthly", attendee_rule="members",
                               study_hours=2.0)  # fmt: skip
            db.session.add(kind)
            db.session.flush()
        meeting = Meeting(branch_id=branch_id, kind_id=kind.id, topic="学习", starts_at=starts_at,
                          ends_at=starts_at + timedelta(hours=2), status=status, study_hours=2.0,
                          checkin_key=secrets.token_hex(8))  # fmt: skip
        db.session.add(meeting)
        db.session.flush()
        ids = {getattr(user, "id", user): state for user, state in attendance.items()}
        if ids:
            db.session.execute(sa.insert(MeetingAttendance),
                               [{"meeting_id": meeting.id, "user_id": i, "status": state} for i, state in ids.items()])
        for user in waiting:
            db.session.add(MeetingCreditConfirmation(meeting_id=meeting.id, user_id=getattr(user, "id", user),
                                                     requested_at=starts_at))  # fmt: skip
        db.session.flush()
        return meeting


@pytest.fixture
def study(app) -> StudyData:
    return StudyData()


@pytest.fixture
def make_target(app):
    """A target: ``make_target(required_hours=32, statuses=["full"], courses=[course], quizzes=[(quiz, 80)])``."""
    return create_target
