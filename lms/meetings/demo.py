"""Demo meetings: a year of branch life for each demo 党支部, and one meeting coming up.

Past meetings are scheduled, attended and closed through the services, so the
demo obeys the rules: only closed meetings credit 学时, and only to members who
were there; leave is asked and approved before the meeting; members who never
signed in are absent. Sign-ins are those a QR scan would have made. One branch
skips two committee meetings (it shows as behind), and one member misses two
meetings (absent repeatedly). Idempotent: a branch that has meetings is skipped.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from lms import clock
from lms.auth.models import Branch, BranchKind, Role, User
from lms.extensions import db
from lms.meetings import checkin, closing, scheduling
from lms.meetings.models import (
    AttendanceStatus,
    CheckinMethod,
    LeaveStatus,
    Meeting,
    MeetingAttendance,
    MeetingKind,
)

TOPICS = {
    "general_meeting": ["学习贯彻党的二十大精神", "讨论发展党员工作", "半年工作总结", "年度工作部署"],
    "committee_meeting": ["研究本月支部工作", "讨论主题党日安排", "研究党员教育培训计划", "分析党员思想状况"],
    "party_lecture": ["党章党规专题党课", "党史学习专题党课", "廉洁自律专题党课", "新时代党员先锋作用"],
    "theme_party_day": ["重温入党誓词", "志愿服务进社区", "参观革命纪念馆", "学习先进典型事迹", "植树活动"],
    "organisational_life": ["年度组织生活会暨民主评议党员"],
    "group_meeting": ["学习交流心得体会", "讨论小组学习计划", "学习身边榜样"],
}
LEAVE_REASONS = ["出差", "家中有事", "身体不适", "外出培训"]
MANUAL_REASON = "手机没电，由书记代为签到"


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return clock.local_midnight(day) + timedelta(hours=hour, minutes=minute)


def _plan(today: date) -> list[tuple[str, date, int]]:
    """(kind code, day, index) of the past year's meetings, oldest first."""
    plan = []
    first = date(today.year - 1, today.month, 1)
    for step in range(12):
        month = date(first.year + (first.month + step - 1) // 12, (first.month + step - 1) % 12 + 1, 1)
        plan.append(("committee_meeting", month.replace(day=5), step))
        plan.append(("theme_party_day", month.replace(day=18), step))
        plan.append(("group_meeting", month.replace(day=22), step))
        if month.month in (1, 4, 7, 10):
            plan.append(("general_meeting", month.replace(day=12), step))
            plan.append(("party_lecture", month.replace(day=25), step))
        if month.month == 12:
            plan.append(("organisational_life", month.replace(day=20), step))
    return sorted(plan, key=lambda item: item[1])


def _manager(branch: Branch) -> User:
    secretary = db.session.scalar(
        sa.select(User).where(User.branch_id == branch.id, User.role == Role.SECRETARY).order_by(User.id)
    )
    return secretary or db.session.scalar(sa.select(User).where(User.role == Role.ADMIN).order_by(User.id))


def _held(meeting: Meeting, manager: User, rng: random.Random, absentees: set[int]) -> None:
    """Attendance a real meeting would have: leave asked before, QR sign-ins, a hand sign-in, absences."""
    rows = db.session.scalars(sa.select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting.id)).all()
    for row in rows:
        roll = rng.random()
        if row.user_id in absentees or 0.18 <= roll < 0.21:
            continue  # never signs in: absent when the meeting closes
        if roll < 0.08:
            asked = meeting.starts_at - timedelta(days=2)
            row.leave_status, row.leave_reason, row.leave_requested_at = LeaveStatus.APPROVED, rng.choice(
                LEAVE_REASONS), asked  # fmt: skip
            row.leave_decided_by_id, row.leave_decided_at = manager.id, asked + timedelta(hours=3)
            row.status = AttendanceStatus.LEAVE
        elif roll < 0.14:
            row.status, row.signed_in_at = AttendanceStatus.LATE, meeting.starts_at + timedelta(minutes=12)
            row.checkin_method = CheckinMethod.QR
        elif roll < 0.18:
            row.status, row.signed_in_at = AttendanceStatus.PRESENT, meeting.starts_at - timedelta(minutes=3)
            row.checkin_method, row.manual_by_id = CheckinMethod.MANUAL, manager.id
            row.manual_at, row.manual_reason = row.signed_in_at, MANUAL_REASON
        else:
            row.status = AttendanceStatus.PRESENT
            row.signed_in_at = meeting.starts_at - timedelta(minutes=rng.randint(1, 20))
            row.checkin_method = CheckinMethod.QR
    db.session.flush()
    minutes = (f"<p>会议由{manager.name}主持，围绕“{meeting.topic}”进行了学习和讨论。</p>"
               "<ul><li>传达学习上级有关精神；</li><li>党员结合实际交流发言；</li>"
               "<li>部署下一步工作。</li></ul>")  # fmt: skip
    closing.save_minutes(manager, meeting, minutes, now=meeting.ends_at)
    closing.close_meeting(manager, meeting, now=meeting.ends_at + timedelta(minutes=30))


def _seed_branch(branch: Branch, kinds: dict[str, MeetingKind], now: datetime, rng: random.Random,
                 skip_committee: set[int]) -> int:  # fmt: skip
    manager = _manager(branch)
    today = clock.local_day(now)
    made = 0
    for code, day, step in _plan(today):
        kind = kinds.get(code)
        if kind is None or (code == "committee_meeting" and step in skip_committee):
            continue
        starts = _local(day, 14, 30)
        ends = starts + timedelta(hours=2 if kind.study_hours >= 2 else 1)
        if ends >= now - timedelta(hours=1):
            continue
        attendees = scheduling.default_attendee_ids(kind, branch)
        if code == "group_meeting":  # the demo branches are one 党小组 each: its members are chosen by hand
            attendees = scheduling.default_attendee_ids(kinds["general_meeting"], branch)
        if not attendees:
            continue
        topics = TOPICS.get(code, [kind.name])
        fields = scheduling.MeetingFields(
            branch_id=branch.id, kind_id=kind.id, topic=topics[step % len(topics)], starts_at=starts, ends_at=ends,
            place="党员活动室", agenda="1. 学习\n2. 讨论\n3. 部署工作", attendee_ids=attendees,
        )  # fmt: skip
        meeting = scheduling.schedule_meeting(manager, fields, now=now)  # over already: nobody is notified
        others = [user_id for user_id in attendees if user_id != manager.id]
        # The same member misses two theme days: the register lists them as absent repeatedly.
        absentees = {max(others)} if others and code == "theme_party_day" and step in (3, 8) else set()
        _held(meeting, manager, rng, absentees)
        made += 1
    kind = kinds.get("theme_party_day")
    attendees = scheduling.default_attendee_ids(kind, branch) if kind else []
    if attendees:
        starts = _local(today + timedelta(days=6), 9, 0)
        fields = scheduling.MeetingFields(
            branch_id=branch.id, kind_id=kind.id, topic="参观红色教育基地", starts_at=starts,
            ends_at=starts + timedelta(hours=3), place="市革命历史纪念馆",
            agenda="1. 参观学习\n2. 重温入党誓词\n3. 交流心得",
            attendee_ids=attendees,
        )  # fmt: skip
        meeting = scheduling.schedule_meeting(manager, fields, now=now)
        leaving = next((uid for uid in attendees if uid != manager.id), None)
        if leaving is not None:
            member = db.session.get(User, leaving)
            checkin.request_leave(meeting, member, "当天在外地出差", now=now)
        made += 1
    return made


def seed_demo() -> list[str]:
    """A year of meetings for each demo 党支部 that has none yet; returns the lines to print."""
    now = clock.utcnow()
    from lms.meetings.offline_import import import_offline_records

    imported = import_offline_records(now=now)  # the courses demo's offline records
    kinds = {kind.code: kind for kind in db.session.scalars(sa.select(MeetingKind))}
    if not kinds:
        return []
    branches = db.session.scalars(sa.select(Branch).where(Branch.kind == BranchKind.BRANCH).order_by(Branch.id)).all()
    total = 0
    for index, branch in enumerate(branches):
        own = sa.select(Meeting.id).where(Meeting.branch_id == branch.id, Meeting.offline_record_id.is_(None))
        if db.session.scalar(own.limit(1)) is not None:
            continue
        if not db.session.scalar(sa.select(sa.func.count()).where(User.branch_id == branch.id)):
            continue
        rng = random.Random(f"meetings-{branch.name}")
        skip = {2, 6} if index == 1 else set()  # the second branch skipped two committee meetings
        total += _seed_branch(branch, kinds, now, rng, skip)
    db.session.flush()
    lines = [f"Meetings: {total} demo meetings added."] if total else []
    return lines + ([f"Meetings: {imported} offline records moved into meetings."] if imported else [])
