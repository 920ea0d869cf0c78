"""Demo meetings: the demo's one year of organisational life, and one meeting coming up.

Meetings are how offline study is recorded (offline records became meetings),
so this is the only place the demo makes offline 学时: each demo 党支部 holds
三会一课 and a 主题党日 a month, the 党委 holds a training day for everyone and
a two-day course for secretaries and committee members (two meetings of one
day: a meeting credits at most a day's 8 学时), and a member who joined days
ago has a first lesson in the branch. Members are listed only for meetings
held after they joined.

Past meetings are scheduled, attended and closed through the services, so the
demo obeys the rules: only closed meetings credit 学时, and only to members who
were there; leave is asked and approved before the meeting; members who never
signed in are absent. Sign-ins are those a QR scan would have made. One branch
skips two committee meetings (it shows as behind), and one member misses two
meetings (absent repeatedly). How often each member comes may be given
(``seed_year(attendance=...)``: the assessment demo gives its members' paces);
the host always comes. Idempotent: a branch that has meetings is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
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
# Held by the 党委 for the whole organisation: (month, day, topic, who); "leaders" are the
# secretaries and committee members. A two-day course is two meetings of one day each.
COMMITTEE_PLAN = (
    (5, 16, "全体党员集中培训（一天）", "all"),
    (9, 8, "支部书记和支部委员培训班（第一天）", "leaders"),
    (9, 9, "支部书记和支部委员培训班（第二天）", "leaders"),
)
NEWCOMER_TOPIC = "新党员入支部第一课"
NEWCOMER_DAYS = 30  # members who joined this recently get their first lesson in the branch


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return clock.local_midnight(day) + timedelta(hours=hour, minutes=minute)


def _months(today: date) -> list[date]:
    """The first days of the twelve months up to this one (from this month last year)."""
    first = date(today.year - 1, today.month, 1)
    return [date(first.year + (first.month + step - 1) // 12, (first.month + step - 1) % 12 + 1, 1)
            for step in range(12)]  # fmt: skip


def _plan(today: date) -> list[tuple[str, date, int]]:
    """(kind code, day, index) of the past year's meetings, oldest first."""
    plan = []
    for step, month in enumerate(_months(today)):
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


def _attendees(kind: MeetingKind, branch: Branch, starts: datetime, who: str = "all") -> list[int]:
    """The kind's attendees in ``branch`` who were members when the meeting starts ("leaders": only
    secretaries and committee members); administrators' system accounts are never listed."""
    listed = set(scheduling.default_attendee_ids(kind, branch))
    return [
        user.id for user in scheduling.eligible_attendees(branch)
        if user.id in listed and user.role != Role.ADMIN and (user.created_at is None or user.created_at <= starts)
        and (who == "all" or user.role == Role.SECRETARY or user.is_committee_member)
    ]  # fmt: skip


# What becomes of an attendee: approved leave, late, signed in by hand, absent, present (QR).
LEAVE, LATE, MANUAL, ABSENT, PRESENT = "leave", "late", "manual", "absent", "present"


class _Turnout:
    """Who comes to the next meeting, for members given a share of their meetings' 学时: each meeting
    adds its 学时 times their share to what they owe, and they come when they owe half its 学时 or
    more. So their 学时 follow the share (a member with a quarter comes to about one meeting in four,
    never to none of 35), and a day of training counts for eight committee meetings."""

    def __init__(self, shares: Mapping[int, float] | None, rng: random.Random) -> None:
        self.shares = dict(shares or {})
        self.owed = {user_id: rng.random() * share for user_id, share in sorted(self.shares.items())}

    def comes(self, user_id: int, hours: float) -> bool | None:
        """True or False for a member with a share; None for others (they come most of the time)."""
        if user_id not in self.shares:
            return None
        self.owed[user_id] += self.shares[user_id] * hours
        if self.owed[user_id] >= hours / 2:
            self.owed[user_id] -= hours
            return True
        return False


def _outcome(user_id: int, hours: float, rng: random.Random, turnout: _Turnout | None) -> str:
    """Mostly present; now and then on leave, late, signed in by hand or absent. A member with a
    share of their meetings comes when it is their turn; when they do not, they asked for leave
    (most often) or stayed away (more often the fewer meetings they come to)."""
    comes = None if turnout is None else turnout.comes(user_id, hours)
    if comes is not None:
        if not comes:  # the keener the member, the likelier they asked for leave
            return ABSENT if rng.random() < 0.5 * (1 - turnout.shares[user_id]) else LEAVE
        roll = rng.random()
        return LATE if roll < 0.07 else MANUAL if roll < 0.11 else PRESENT
    roll = rng.random()
    if roll < 0.08:
        return LEAVE
    if roll < 0.14:
        return LATE
    if roll < 0.18:
        return MANUAL
    return ABSENT if roll < 0.21 else PRESENT


def _held(
    meeting: Meeting, manager: User, rng: random.Random, absentees: set[int], turnout: _Turnout | None = None
) -> None:
    """Attendance a real meeting would have: leave asked before, QR sign-ins, a hand sign-in, absences.
    Whoever hosts it is there."""
    rows = db.session.scalars(sa.select(MeetingAttendance).where(MeetingAttendance.meeting_id == meeting.id)).all()
    for row in rows:
        outcome = PRESENT if row.user_id == manager.id else _outcome(row.user_id, meeting.study_hours, rng, turnout)
        if row.user_id in absentees or outcome == ABSENT:
            continue  # never signs in: absent when the meeting closes
        if outcome == LEAVE:
            asked = meeting.starts_at - timedelta(days=2)
            row.leave_status, row.leave_reason, row.leave_requested_at = LeaveStatus.APPROVED, rng.choice(
                LEAVE_REASONS), asked  # fmt: skip
            row.leave_decided_by_id, row.leave_decided_at = manager.id, asked + timedelta(hours=3)
            row.status = AttendanceStatus.LEAVE
            continue
        if outcome == LATE:
            row.status, row.signed_in_at = AttendanceStatus.LATE, meeting.starts_at + timedelta(minutes=12)
            row.checkin_method = CheckinMethod.QR
        elif outcome == MANUAL:
            row.status, row.signed_in_at = AttendanceStatus.PRESENT, meeting.starts_at - timedelta(minutes=3)
            row.checkin_method, row.manual_by_id = CheckinMethod.MANUAL, manager.id
            row.manual_at, row.manual_reason = row.signed_in_at, MANUAL_REASON
        else:
            row.status = AttendanceStatus.PRESENT
            row.signed_in_at = meeting.starts_at - timedelta(minutes=rng.randint(1, 20))
            row.checkin_method = CheckinMethod.QR
        if meeting.needs_sign_out:
            row.signed_out_at = meeting.ends_at + timedelta(minutes=rng.randint(0, 5))
    db.session.flush()
    minutes = (f"<p>会议由{manager.name}主持，围绕“{meeting.topic}”进行了学习和讨论。</p>"
               "<ul><li>传达学习上级有关精神；</li><li>党员结合实际交流发言；</li>"
               "<li>部署下一步工作。</li></ul>")  # fmt: skip
    closing.save_minutes(manager, meeting, minutes, now=meeting.ends_at)
    closing.close_meeting(manager, meeting, now=meeting.ends_at + timedelta(minutes=30))


def _hold(manager: User, branch: Branch, kind: MeetingKind, topic: str, starts: datetime, ends: datetime,
          attendees: list[int], rng: random.Random, turnout: _Turnout | None, absentees=()) -> Meeting:  # fmt: skip
    """Schedule a meeting that is over (nobody is notified), take its attendance, write its minutes, close it."""
    fields = scheduling.MeetingFields(
        branch_id=branch.id, kind_id=kind.id, topic=topic, starts_at=starts, ends_at=ends,
        place="党员活动室", agenda="1. 学习\n2. 讨论\n3. 部署工作", attendee_ids=attendees,
    )  # fmt: skip
    meeting = scheduling.schedule_meeting(manager, fields, now=ends)  # over already: nobody is notified
    _held(meeting, manager, rng, set(absentees), turnout)
    return meeting


def _seed_branch(branch: Branch, kinds: dict[str, MeetingKind], now: datetime, rng: random.Random,
                 skip_committee: set[int], turnout: _Turnout) -> int:  # fmt: skip
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
        # The demo branches are one 党小组 each: its members are chosen by hand (the branch's members).
        attendees = _attendees(kinds["general_meeting"] if code == "group_meeting" else kind, branch, starts)
        if not attendees:
            continue
        topics = TOPICS.get(code, [kind.name])
        others = [user_id for user_id in attendees if user_id != manager.id]
        # The same member misses two theme days: the register lists them as absent repeatedly.
        absentees = {max(others)} if others and code == "theme_party_day" and step in (3, 8) else set()
        _hold(manager, branch, kind, topics[step % len(topics)], starts, ends, attendees, rng, turnout, absentees)
        made += 1
    made += _first_lessons(branch, manager, kinds.get("party_lecture"), now, rng)
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


def _first_lessons(branch: Branch, manager: User, kind: MeetingKind | None, now: datetime, rng: random.Random) -> int:
    """A 党课 for each member of the branch who joined in the last days: the day after joining."""
    if kind is None:
        return 0
    newcomers = db.session.scalars(
        sa.select(User).where(User.branch_id == branch.id, User.is_active.is_(True), User.role != Role.ADMIN,
                              User.created_at >= now - timedelta(days=NEWCOMER_DAYS)).order_by(User.id)
    ).all()  # fmt: skip
    made = 0
    for user in newcomers:
        starts = _local(clock.local_day(user.created_at) + timedelta(days=1), 14, 30)
        ends = starts + timedelta(hours=2)
        if ends < now - timedelta(hours=1):
            # Held for them alone: they come.
            _hold(manager, branch, kind, NEWCOMER_TOPIC, starts, ends, [user.id], rng, _Turnout({user.id: 1.0}, rng))
            made += 1
    return made


def _committee_branch() -> Branch | None:
    return db.session.scalar(sa.select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.id))


def _seed_committee(kinds: dict[str, MeetingKind], now: datetime, turnout: _Turnout) -> int:
    """The 党委's training days of the past year (held by an administrator for the whole organisation)."""
    root, kind = _committee_branch(), kinds.get("training_day")
    admin = db.session.scalar(sa.select(User).where(User.role == Role.ADMIN).order_by(User.id))
    if root is None or kind is None or admin is None or not kind.is_active:
        return 0
    if db.session.scalar(sa.select(Meeting.id).where(Meeting.branch_id == root.id).limit(1)) is not None:
        return 0
    rng = random.Random("meetings-committee")
    made = 0
    for month in _months(clock.local_day(now)):
        for planned_month, day, topic, who in COMMITTEE_PLAN:
            if month.month != planned_month:
                continue
            starts = _local(month.replace(day=day), 8, 30)
            ends = starts + timedelta(hours=9)  # eight hours of training and a lunch break
            attendees = _attendees(kind, root, starts, who)
            if ends >= now - timedelta(hours=1) or not attendees:
                continue
            # The secretaries' course is part of their duties: they come as to most meetings, whatever their pace.
            _hold(admin, root, kind, topic, starts, ends, attendees, rng, turnout if who == "all" else None)
            made += 1
    return made


def programme_hours(now: datetime) -> dict[int, float]:
    """The 学时 each member listed for the demo's meetings of a whole year would get by attending them all."""
    kinds = {kind.code: kind for kind in db.session.scalars(sa.select(MeetingKind))}
    hours: dict[int, float] = {}
    later = now + timedelta(days=366)  # everyone who is a member now
    branches = db.session.scalars(sa.select(Branch).where(Branch.kind == BranchKind.BRANCH)).all()
    for branch in branches:
        for code, _day, _step in _plan(clock.local_day(now)):
            kind = kinds.get(code)
            if kind is None:
                continue
            for user_id in _attendees(kinds["general_meeting"] if code == "group_meeting" else kind, branch, later):
                hours[user_id] = hours.get(user_id, 0.0) + kind.study_hours
    root, training = _committee_branch(), kinds.get("training_day")
    if root is not None and training is not None:
        for _month, _day, _topic, who in COMMITTEE_PLAN:
            for user_id in _attendees(training, root, later, who):
                hours[user_id] = hours.get(user_id, 0.0) + training.study_hours
    return hours


def seed_year(now: datetime, attendance: Mapping[int, float] | None = None) -> int:
    """The past year's meetings of every demo branch that has none yet, and one coming up in each.

    ``attendance`` maps member ids to the share of their meetings they come to
    (others come to most). Returns how many meetings were made.
    """
    kinds = {kind.code: kind for kind in db.session.scalars(sa.select(MeetingKind))}
    if not kinds:
        return 0
    branches = db.session.scalars(sa.select(Branch).where(Branch.kind == BranchKind.BRANCH).order_by(Branch.id)).all()
    turnout = _Turnout(attendance, random.Random("meetings-turnout"))
    total = _seed_committee(kinds, now, turnout)
    for index, branch in enumerate(branches):
        own = sa.select(Meeting.id).where(Meeting.branch_id == branch.id, Meeting.offline_record_id.is_(None))
        if db.session.scalar(own.limit(1)) is not None:
            continue
        if not db.session.scalar(sa.select(sa.func.count()).where(User.branch_id == branch.id)):
            continue
        rng = random.Random(f"meetings-{branch.name}")
        skip = {2, 6} if index == 1 else set()  # the second branch skipped two committee meetings
        total += _seed_branch(branch, kinds, now, rng, skip, turnout)
    db.session.flush()
    return total


def seed_demo() -> list[str]:
    """A year of meetings for each demo 党支部 that has none yet; returns the lines to print."""
    now = clock.utcnow()
    from lms.meetings.offline_import import import_offline_records

    imported = import_offline_records(now=now)  # offline records entered before meetings existed
    total = seed_year(now)
    lines = [f"Meetings: {total} demo meetings added."] if total else []
    return lines + ([f"Meetings: {imported} offline records moved into meetings."] if imported else [])
