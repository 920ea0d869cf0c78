"""The learning archive: contents per year, Excel export, printable page, and who may see whose."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from lms import clock
from lms.auth.models import Role
from lms.courses import offline
from lms.courses.models import LessonKind, OfflineActivity

pytestmark = pytest.mark.postgres  # sums and dates grouped by year in SQL


@pytest.fixture
def setup(make_branch, make_user, make_course, start, beat, frozen_clock):
    branch, other = make_branch("一支部"), make_branch("二支部")
    member = make_user(branch=branch, name="李明", username="liming")
    stranger = make_user(branch=other, name="周洁", username="zhoujie")
    secretary = make_user(role=Role.SECRETARY, branch=branch, username="sec")
    other_secretary = make_user(role=Role.SECRETARY, branch=other, username="sec2")
    course = make_course((LessonKind.VIDEO, 100.0), title="党史学习")
    frozen_clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    session = start(member, course.lessons[0])
    for second in range(0, 90, 15):
        beat(member, session, second, second + 15)
    offline.record_offline_study(
        secretary,
        offline.OfflineRecordFields(branch_id=branch.id, activity=OfflineActivity.PARTY_LECTURE,
                                    held_on=clock.local_day(clock.utcnow()) - timedelta(days=1), study_hours=1.5,
                                    topic="书记讲党课", attendee_ids=[member.id]),
        now=clock.utcnow(),
    )  # fmt: skip
    from lms.extensions import db

    db.session.commit()
    return {"member": member, "stranger": stranger, "secretary": secretary, "other_secretary": other_secretary,
            "course": course}  # fmt: skip


def test_member_sees_online_offline_and_completions_with_totals_in_study_hours(client, login, setup):
    login(setup["member"])
    page = client.get("/courses/archive?year=2026", follow_redirects=True).get_data(as_text=True)
    assert "党史学习" in page and "书记讲党课" in page and "党课" in page
    # 90 s online + 1.5 学时 offline = (90 + 4050) s = 1.5 学时 (45 min each)
    assert 'data-testid="archive-total">1.5<' in page
    assert 'data-testid="archive-offline">1.5<' in page
    assert "本年度尚未完成课程" not in page


def test_other_years_are_empty(client, login, setup):
    login(setup["member"])
    page = client.get(f"/courses/archive/{setup['member'].id}?year=2025").get_data(as_text=True)
    assert "本年度暂无线上学习" in page and "本年度暂无线下学习" in page


def test_excel_export_has_summary_online_offline_and_courses(client, login, setup):
    login(setup["member"])
    response = client.get(f"/courses/archive/{setup['member'].id}/export.xlsx?year=2026")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["汇总", "线上学习", "线下学习", "已完成课程"]
    summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(values_only=True)}
    assert summary["姓名"] == "李明" and summary["总学时"] == 1.5
    offline_rows = list(workbook["线下学习"].iter_rows(values_only=True))
    assert offline_rows[1][1:3] == ("党课", "书记讲党课")
    assert list(workbook["已完成课程"].iter_rows(values_only=True))[1][0] == "党史学习"


def test_printable_page_has_no_site_navigation(client, login, setup):
    login(setup["member"])
    page = client.get(f"/courses/archive/{setup['member'].id}/print?year=2026").get_data(as_text=True)
    assert "支部书记（签字）" in page and "navbar" not in page and "<script>" not in page


@pytest.mark.parametrize("suffix", ["", "/print", "/export.xlsx"])
def test_a_member_cannot_open_another_members_archive(client, login, setup, suffix):
    login(setup["member"])
    assert client.get(f"/courses/archive/{setup['stranger'].id}{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", ["", "/print", "/export.xlsx"])
def test_secretary_sees_own_branch_archives_only(app, login, setup, suffix):
    secretary = login(setup["secretary"], on=app.test_client())
    assert secretary.get(f"/courses/archive/{setup['member'].id}{suffix}").status_code == 200
    assert secretary.get(f"/courses/archive/{setup['stranger'].id}{suffix}").status_code == 404
    other = login(setup["other_secretary"], on=app.test_client())
    assert other.get(f"/courses/archive/{setup['member'].id}{suffix}").status_code == 404


def test_branch_archive_list_and_export_are_scoped(app, login, setup):
    secretary = login(setup["secretary"], on=app.test_client())
    page = secretary.get("/admin/courses/archives?year=2026").get_data(as_text=True)
    assert "李明" in page and "周洁" not in page
    workbook = load_workbook(io.BytesIO(secretary.get("/admin/courses/archives.xlsx?year=2026").data))
    names = [row[0] for row in workbook.active.iter_rows(values_only=True)][1:]
    assert "李明" in names and "周洁" not in names
    member_row = next(row for row in workbook.active.iter_rows(values_only=True) if row[0] == "李明")
    assert member_row[-1] == 1.5
