"""One true record: the demo obeys the platform's rules, and every page and export shows a member the same hours.

The demo is seeded once for the module (it is what people look at first), on a
frozen day: the first test a process runs seeds it, the next ones start from a
copy of its database. The pages are fetched through the test client as the
member and the secretary would open them, the numbers parsed out of the HTML
and out of the .xlsx files with openpyxl.
"""

from __future__ import annotations

import importlib
import io
import math
import re
import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms import clock
from lms.assessment import record as record_module
from lms.assessment.models import AssessmentResult, AssessmentRun, LearningTarget
from lms.auth import demo as auth_demo
from lms.auth.models import User
from lms.cli import DEMO_MODULES, INIT_MODULES
from lms.courses import archive as archives
from lms.courses import ledger, services
from lms.courses.models import (
    Lesson,
    LessonKind,
    LessonProgress,
    OfflinePendingAttendance,
    OfflineStudyRecord,
    StudyLedgerEntry,
    StudySource,
)
from lms.extensions import db
from lms.media import demo as media_demo
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from lms.meetings.models import CREDITED_STATUSES, Meeting, MeetingAttendance, MeetingKind, MeetingStatus
from lms.richtext import plain_text

TODAY_NOW = datetime(2026, 9, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def seed_demo() -> None:
    """The demo as `flask lms demo` makes it (every init and demo module, in its order), with the
    demo videos ready instead of transcoded (no ffmpeg needed)."""
    for module in INIT_MODULES:
        importlib.import_module(module).seed_defaults()
    auth_demo.seed_demo()
    for title, _pattern, _tone, seconds in media_demo.DEMO_VIDEOS:
        db.session.add(
            MediaAsset(title=title, original_filename="demo.mp4", kind=AssetKind.VIDEO, status=AssetStatus.READY,
                       size_bytes=1000, duration_seconds=float(seconds), width=640, height=360, ready_at=TODAY_NOW)
        )  # fmt: skip
    db.session.commit()
    for name in DEMO_MODULES:
        if name not in ("lms.auth.demo", "lms.media.demo"):
            importlib.import_module(name).seed_demo()
            db.session.commit()


_seeded: dict[str, Path] = {}  # this process's seeded demo database (SQLite)


@pytest.fixture
def demo(app, frozen_clock, tmp_path_factory):
    frozen_clock.set(TODAY_NOW)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if database is not None and "file" in _seeded:
        db.session.remove()
        db.engine.dispose()
        shutil.copyfile(_seeded["file"], database)
    else:
        seed_demo()
        if database is not None:
            db.session.remove()
            db.engine.dispose()  # the last close checkpoints the WAL into the file
            _seeded["file"] = tmp_path_factory.mktemp("one-record") / "demo.sqlite3"
            shutil.copyfile(database, _seeded["file"])
    return {u.username: u for u in db.session.scalars(sa.select(User))}


# --- reading numbers off pages ---------------------------------------------------------------------


class _ByTestId(HTMLParser):
    """Collects the text of every element with a ``data-testid`` (nested ones included)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[str]] = {}
        self._open: list[tuple[str, str | None, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "input", "meta", "link", "hr", "source"):
            return
        testid = dict(attrs).get("data-testid")
        self._open.append((tag, testid, []))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, testid, parts = self._open.pop()
            text = "".join(parts)
            if testid:
                self.found.setdefault(testid, []).append(" ".join(text.split()))
            if self._open:
                self._open[-1][2].append(text)
            if open_tag == tag:
                return

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)


def texts(html: str) -> dict[str, list[str]]:
    parser = _ByTestId()
    parser.feed(html)
    return parser.found


def first_number(text: str) -> str:
    return re.search(r"\d+\.\d", text).group(0)


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    assert "&lt;div" not in html and "&lt;section" not in html, f"escaped markup on {url}"
    return html


def workbook(client, url: str):
    response = client.get(url, buffered=True)  # the report export is streamed
    assert response.status_code == 200, url
    return load_workbook(io.BytesIO(response.data), read_only=True)


def fmt(value) -> str:
    return f"{float(value):.1f}"


# --- the same numbers everywhere -------------------------------------------------------------------


def test_a_members_hours_are_the_same_on_every_page_and_export(demo, client, login, monkeypatch):
    member, secretary = demo["member"], demo["secretary"]
    year = clock.local_day(TODAY_NOW).year
    totals = ledger.member_study_totals(member.id, *ledger.year_bounds(year))
    want = {
        "online": ledger.format_study_hours(totals.online_seconds),
        "offline": ledger.format_study_hours(totals.offline_seconds),
        "total": ledger.format_study_hours(totals.total_seconds),
    }
    assert totals.offline_seconds > 0 and totals.online_seconds > 0
    seen: dict[str, dict[str, str]] = {}

    login(member)
    home_html = page(client, "/")
    home = texts(home_html)
    seen["home courses panel"] = {"total": first_number(home["home-year-hours"][0])}
    dashboard = next(t for t in home["target-card"] if "正式党员年度学习" in t)
    online, offline = re.search(r"线上 ([\d.]+) 学时，线下 ([\d.]+) 学时", dashboard).groups()
    seen["home dashboard"] = {"total": first_number(home["hours-done"][0]), "online": online, "offline": offline}

    progress = page(client, "/assessment/")
    assert 'data-testid="targets-panel"' in progress and 'data-testid="target-card"' in progress

    archive = texts(page(client, f"/courses/archive/{member.id}"))
    seen["archive page"] = {
        "total": archive["archive-total"][0],
        "online": archive["archive-online"][0],
        "offline": archive["archive-offline"][0],
    }
    printed = texts(page(client, f"/courses/archive/{member.id}/print"))
    seen["archive print"] = {
        "total": printed["print-total"][0],
        "online": printed["print-online"][0],
        "offline": printed["print-offline"][0],
    }
    overview = dict(workbook(client, f"/courses/archive/{member.id}/export.xlsx")["汇总"].iter_rows(values_only=True))
    seen["archive xlsx"] = {
        "total": fmt(overview["总学时"]),
        "online": fmt(overview["线上学时"]),
        "offline": fmt(overview["线下学时"]),
    }

    record = texts(page(client, f"/assessment/record/{member.id}"))
    seen["record page"] = {
        "total": record["record-total"][0],
        "offline": record["record-offline"][0],
        "online": fmt(float(record["record-video"][0]) + float(record["record-reading"][0]))
        if "不足" not in record["record-video"][0] + record["record-reading"][0]
        else want["online"],
    }
    captured = {}
    monkeypatch.setattr(
        record_module, "render_pdf", lambda html, base_url: captured.setdefault("html", html) and b"%PDF"
    )
    assert client.get(f"/assessment/record/{member.id}/pdf").status_code == 200
    pdf = texts(captured["html"])
    seen["record pdf"] = {"total": pdf["record-total"][0], "offline": pdf["record-offline"][0]}

    login(secretary)
    target = db.session.scalar(sa.select(LearningTarget).where(LearningTarget.system_key == "full-members-yearly"))
    report_html = page(client, f"/admin/reports/{target.id}")
    row = re.search(rf'data-testid="member-row" data-user-id="{member.id}">(.*?)</tr>', report_html, flags=re.S).group(
        1
    )
    seen["secretary report"] = {"total": first_number(texts(f"<table><tr>{row}</tr></table>")["member-hours"][0])}
    detail = texts(page(client, f"/admin/reports/{target.id}/members/{member.id}"))
    online, offline = re.fullmatch(r"([\d.]+) / ([\d.]+)", detail["result-online-offline"][0]).groups()
    seen["secretary member result"] = {"online": online, "offline": offline}
    sheet = workbook(client, f"/admin/reports/{target.id}/export.xlsx")["党员"]
    rows = list(sheet.iter_rows(values_only=True))
    header, line = rows[0], next(r for r in rows if r[0] == member.name)
    seen["report xlsx"] = {
        "total": fmt(line[header.index("学时")]),
        "online": fmt(line[header.index("线上学时")]),
        "offline": fmt(line[header.index("线下学时")]),
    }

    for where, numbers in seen.items():
        for kind, shown in numbers.items():
            assert shown == want[kind], f"{where} shows {kind} {shown}, the ledger says {want[kind]}"


# --- the demo obeys every rule the platform enforces -----------------------------------------------


def test_the_demo_obeys_the_platforms_rules(demo):
    lessons = {lesson.id: lesson for lesson in db.session.scalars(sa.select(Lesson))}
    users = {u.id: u for u in demo.values()}

    # Credit never exceeds content length, and the watched intervals account for every credited second.
    credited = db.session.execute(
        sa.select(StudyLedgerEntry.user_id, StudyLedgerEntry.lesson_id, sa.func.sum(StudyLedgerEntry.seconds))
        .where(StudyLedgerEntry.lesson_id.is_not(None))
        .group_by(StudyLedgerEntry.user_id, StudyLedgerEntry.lesson_id)
    ).all()
    assert credited
    progress = {(p.user_id, p.lesson_id): p for p in db.session.scalars(sa.select(LessonProgress))}
    for user_id, lesson_id, seconds in credited:
        lesson = lessons[lesson_id]
        assert seconds <= lesson.study_seconds + 1e-6, (
            f"{seconds} s credited to {lesson.title} ({lesson.study_seconds} s)"
        )
        assert (user_id, lesson_id) in progress and progress[(user_id, lesson_id)].watched_seconds == pytest.approx(
            seconds
        )
        # Only lessons the member may open.
        assert services.lesson_visible_to(lesson, users[user_id]), f"{users[user_id].username} studied {lesson.title}"

    # Every ledger row is traceable to its source: a lesson, an offline record, or a closed meeting that
    # the member was at; and no row credits more than a day's 学时.
    rows = db.session.execute(
        sa.select(StudyLedgerEntry, OfflineStudyRecord.id, Meeting.status, MeetingAttendance.status)
        .outerjoin(OfflineStudyRecord, OfflineStudyRecord.id == StudyLedgerEntry.offline_record_id)
        .outerjoin(Meeting, Meeting.id == StudyLedgerEntry.meeting_id)
        .outerjoin(MeetingAttendance, sa.and_(MeetingAttendance.meeting_id == Meeting.id,
                                              MeetingAttendance.user_id == StudyLedgerEntry.user_id))
    ).all()  # fmt: skip
    assert {entry.source for entry, *_ in rows} >= {StudySource.MEETING, StudySource.VIDEO, StudySource.READING}
    for entry, record_id, meeting_status, attendance in rows:
        if entry.source == StudySource.OFFLINE:
            assert record_id is not None and entry.lesson_id is None and entry.meeting_id is None
        elif entry.source == StudySource.MEETING:
            assert entry.lesson_id is None and record_id is None
            assert meeting_status == MeetingStatus.CLOSED and attendance in CREDITED_STATUSES, entry.meeting_id
        else:
            assert record_id is None and entry.meeting_id is None and entry.lesson_id is not None
        if entry.lesson_id is None:
            assert entry.seconds <= ledger.study_hours_to_seconds(8) + 1e-6, (entry.source, entry.seconds)

    # One year of organisational life: offline study is recorded as meetings (nothing waits for a
    # second person's confirmation), and no branch holds a monthly meeting twice in a month.
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(OfflineStudyRecord))
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(OfflinePendingAttendance))
    held = db.session.execute(
        sa.select(Meeting.branch_id, MeetingKind.code, Meeting.starts_at)
        .join(MeetingKind, MeetingKind.id == Meeting.kind_id)
        .where(Meeting.status != MeetingStatus.CANCELLED)
    ).all()
    per_month: dict[tuple, int] = {}
    for branch_id, code, starts_at in held:
        local = clock.local_day(starts_at)
        key = (branch_id, code, local.year, local.month)
        per_month[key] = per_month.get(key, 0) + 1
    monthly = ("theme_party_day", "committee_meeting", "group_meeting", "general_meeting")
    assert not [key for key, count in per_month.items() if key[1] in monthly and count > 1]
    theme_days = [key for key in per_month if key[1] == "theme_party_day" and key[2:] == (2026, 8)]
    assert len(theme_days) == 3  # each demo 党支部 held August's 主题党日, once

    # The archive lists only courses each member may open (no 404 behind a line).
    year = clock.local_day(TODAY_NOW).year
    for user in demo.values():
        visible = {course.id for course in services.visible_courses(user)}
        listed = {line.course_id for line in archives.learning_archive(user, year, now=TODAY_NOW).online}
        assert listed <= visible, user.username

    # An article's reading time fits its text (careful reading is about 150-500 characters a minute).
    for lesson in lessons.values():
        if lesson.kind == LessonKind.ARTICLE:
            chars = len(plain_text(lesson.body_html))
            assert 1 <= lesson.reading_minutes <= max(1, math.ceil(chars / 150)), (lesson.title, chars)

    # A member who joined ten days ago owes the share of the year since, and nothing of it is overdue.
    newcomer = demo["demo21"]
    result = db.session.scalar(
        sa.select(AssessmentResult)
        .join(AssessmentRun)
        .where(AssessmentResult.user_id == newcomer.id, AssessmentRun.target_id == _target_id("full-members-yearly"))
    )
    assert result.required_hours < 32 * 120 / 365
    assert result.overdue == 0 and result.grade != "unqualified" or result.pace != "behind"


def _target_id(key: str) -> int:
    return db.session.scalar(sa.select(LearningTarget.id).where(LearningTarget.system_key == key))
