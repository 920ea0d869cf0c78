"""The audit log: every administrative action leaves one append-only row; scoped reading and export."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from lms import audit, clock
from lms.assessment.models import LearningTarget
from lms.auth.audit_fields import field_label
from lms.auth.models import BranchKind, Role, User
from lms.courses import offline
from lms.courses.models import OfflineActivity
from lms.exams.quizzes import setup
from lms.exams.quizzes.models import Quiz, QuizAttempt
from lms.extensions import db
from lms.notices.models import Announcement
from tests.auth.test_import import upload, xlsx


def rows(action: str | None = None) -> list[audit.AuditEntry]:
    query = sa.select(audit.AuditEntry).order_by(audit.AuditEntry.id)
    if action:
        query = query.where(audit.AuditEntry.action == action)
    return list(db.session.scalars(query))


def one(action: str) -> audit.AuditEntry:
    found = rows(action)
    assert len(found) == 1, f"{action}: {len(found)} rows ({[r.action for r in rows()]})"
    return found[0]


@pytest.fixture
def org(make_branch, make_user):
    committee = make_branch("先锋党委", kind=BranchKind.COMMITTEE)
    general = make_branch("机关党总支", parent=committee, kind=BranchKind.GENERAL_BRANCH)
    first = make_branch("第一党支部", parent=general)
    other = make_branch("第二党支部", parent=committee)
    return {
        "committee": committee,
        "general": general,
        "first": first,
        "other": other,
        "admin": make_user(role=Role.ADMIN, branch=committee, username="boss", name="管理员"),
        "secretary": make_user(role=Role.SECRETARY, branch=first, username="sec"),
        "member": make_user(branch=first, username="m1", name="张三"),
        "stranger": make_user(branch=other, username="m2", name="李四"),
    }


def test_record_keeps_only_changed_fields_and_masks_secrets(app):
    entry = audit.record(
        "user.update",
        "user",
        7,
        before={"name": "张三", "phone": "1", "password_hash": "scrypt:old"},
        after={"name": "张三", "phone": "2", "password_hash": "scrypt:new"},
        ip="10.0.0.1",
    )
    assert entry.before == {"phone": "1", "password_hash": audit.CHANGED_SECRET}
    assert entry.after == {"phone": "2", "password_hash": audit.CHANGED_SECRET}
    assert audit.record("user.update", "user", 7, before={"a": 1}, after={"a": 1}) is None
    assert audit.common_path(["/1/4/9/", "/1/4/10/"]) == "/1/4/"
    assert audit.common_path(["/1/", "/2/"]) is None


def test_rows_cannot_be_updated_or_deleted(app):
    audit.record("branch.create", "branch", 1)
    db.session.commit()
    for statement in (sa.update(audit.AuditEntry).values(action="x"), sa.delete(audit.AuditEntry)):
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(statement)
        db.session.rollback()
    assert [r.action for r in rows()] == ["branch.create"]


def test_account_and_branch_actions_are_recorded_with_before_and_after(client, login, org):
    login(org["admin"])
    member = org["member"]
    client.post(
        "/admin/users/new",
        data={"name": "王五", "username": "wangwu", "branch_id": org["first"].id, "status": "full",
              "role": "learner", "password": "Start2026x"},
    )  # fmt: skip
    created = one("user.create")
    assert created.after["username"] == "wangwu" and "password" not in str(created.after)
    assert created.branch_path == org["first"].path and created.actor_name == "管理员"

    client.post(
        f"/admin/users/{member.id}/edit",
        data={"name": "张三", "username": "m1", "branch_id": org["other"].id, "status": "full", "role": "secretary"},
    )
    edited = one("user.update")
    assert edited.before == {"branch_id": org["first"].id, "role": "learner"}
    assert edited.after == {"branch_id": org["other"].id, "role": "secretary"}

    client.post(f"/admin/users/{member.id}/password", data={"new_password": "Temp2026pass"})
    reset = one("user.password_reset")
    assert reset.before is None and reset.after is None
    assert "scrypt" not in str([r.before for r in rows()] + [r.after for r in rows()])

    client.post(f"/admin/users/{member.id}/active", data={"active": "0"})
    assert one("user.deactivate").after == {"is_active": False}

    client.post("/admin/branches", data={"name": "第三党支部", "kind": "branch", "parent_id": org["general"].id})
    assert one("branch.create").after["name"] == "第三党支部"
    third_id = int(one("branch.create").object_id)
    client.post(f"/admin/branches/{third_id}", data={"edit-name": "第三支部", "edit-kind": "branch"})
    renamed = one("branch.update")
    assert (renamed.before, renamed.after) == ({"name": "第三党支部"}, {"name": "第三支部"})
    client.post(f"/admin/branches/{third_id}", data={"move-parent_id": org["committee"].id})
    moved = one("branch.move")
    assert moved.before["parent_id"] == org["general"].id and moved.after["parent_id"] == org["committee"].id


def test_member_import_is_recorded(client, login, org):
    login(org["admin"])
    page = upload(client, xlsx([["赵六", "13800000001", "", "第一党支部", "正式党员", "", ""]]), "m.xlsx", "Start2026x")
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/admin/import/confirm", data={"token": token})
    assert one("user.import").after == {"created": 1, "skipped": 0}


def test_quiz_target_offline_and_announcement_actions_are_recorded(client, login, org, frozen_clock):
    login(org["admin"])
    quiz_form = {
        "title": "党章测验", "attempts_allowed": "1", "pass_percent": "60", "kept_grade": "highest",
        "review_policy": "after_submit", "overdue_handling": "auto_submit", "wait_minutes": "0",
        "grace_period_minutes": "0", "audience_branch_ids": [str(org["first"].id)],
    }  # fmt: skip
    assert client.post("/admin/quizzes/new", data=quiz_form).status_code == 302
    quiz = db.session.scalar(sa.select(Quiz))
    assert one("quiz.new").branch_path == org["first"].path
    client.post(f"/admin/quizzes/{quiz.id}/edit", data={**quiz_form, "pass_percent": "80"})
    edit = one("quiz.edit")
    assert edit.before == {"pass_percent": 60.0} and edit.after == {"pass_percent": 80.0}
    client.post(f"/admin/quizzes/{quiz.id}/unpublish")
    assert one("quiz.unpublish").after == {"quiz_id": quiz.id}  # nothing changed but the request

    attempt = QuizAttempt(quiz_id=quiz.id, user_id=org["member"].id, started_at=clock.utcnow(), questions=[],
                          last_activity_at=clock.utcnow())  # fmt: skip
    db.session.add(attempt)
    db.session.commit()
    client.post(f"/admin/quizzes/{quiz.id}/attempts/{attempt.id}/finalize")
    assert one("quiz.finalize").after["attempt_id"] == attempt.id
    client.post(f"/admin/quizzes/{quiz.id}/delete")  # refused: it has an attempt, and so is not recorded
    assert rows("quiz.delete") == []
    client.post("/admin/quizzes/new", data={**quiz_form, "title": "草稿测验"})
    draft = db.session.scalar(sa.select(Quiz).where(Quiz.title == "草稿测验"))
    client.post(f"/admin/quizzes/{draft.id}/delete")
    assert one("quiz.delete").after["title"] == "草稿测验"

    target_form = {
        "name": "2026年度学习", "period_kind": "year", "year": "2026", "quarter": "0", "leader_rule": "any",
        "required_hours": "32", "weight_hours": "0.5", "weight_courses": "0.3", "weight_quizzes": "0.2",
        "excellent_min": "90", "good_min": "80", "pass_min": "60", "is_active": "y",
    }  # fmt: skip
    assert client.post("/admin/targets/new", data=target_form).status_code == 302
    target = db.session.scalar(sa.select(LearningTarget))
    assert one("target.create").after["required_hours"] == 32
    client.post(f"/admin/targets/{target.id}/edit", data={**target_form, "required_hours": "40"})
    assert one("target.update").after == {"required_hours": 40.0}
    frozen_clock.advance(120)
    client.post(f"/admin/reports/{target.id}/recompute", data={"period": "2026"})
    assert one("target.recompute").after["target_id"] == target.id

    record = offline.record_offline_study(
        org["secretary"],
        offline.OfflineRecordFields(org["first"].id, OfflineActivity.BRANCH_GENERAL_MEETING,
                                    clock.local_day(clock.utcnow()), 2, "学习党章", "", [org["member"].id]),
        now=clock.utcnow(),
    )  # fmt: skip
    db.session.commit()
    created = one("offline_record.create")
    assert created.actor_id == org["secretary"].id and created.branch_path == org["first"].path
    # The offline pages now lead to the meetings; the service still audits what it deletes.
    offline.delete_offline_record(org["admin"], record, now=clock.utcnow())
    db.session.commit()
    assert one("offline_record.delete").before["topic"] == "学习党章"

    client.post("/admin/announcements/new", data={"title": "支部会议", "body": "<p>周五开会</p>", "publish": "y"})
    announcement = db.session.scalar(sa.select(Announcement))
    assert one("announcement.create").after["title"] == "支部会议"
    client.post(f"/admin/announcements/{announcement.id}/delete")
    assert one("announcement.delete").before["title"] == "支部会议"
    client.post(f"/admin/targets/{target.id}/delete")
    assert len(rows("target.delete")) == 1


def test_contest_actions_are_recorded(client, login, org, frozen_clock):
    from lms.exams.contests.models import Contest
    from lms.exams.questions.models import QuestionType
    from tests.exams.factories import create_bank, create_question
    from tests.exams.test_contest_views import _form

    frozen_clock.set(datetime(2026, 5, 1, 2, tzinfo=UTC))
    login(org["admin"])
    assert client.post("/admin/contests/new", data=_form()).status_code == 302
    contest = db.session.scalar(sa.select(Contest))
    assert one("contest.new").after["quiz.title"] == "学习党章知识竞赛"
    client.post(f"/admin/contests/{contest.id}/edit", data=_form(prizes="一等奖 2 名"))
    edited = one("contest.edit")
    assert edited.before == {"prizes": "一等奖 1 名"} and edited.after == {"prizes": "一等奖 2 名"}
    bank = create_bank()
    create_question(QuestionType.SINGLE, bank)
    rule = {"rule-bank_id": str(bank.id), "rule-count": "1", "rule-difficulty": "0",
            "rule-question_type": "single", "rule-points": "5"}  # fmt: skip
    assert client.post(f"/admin/contests/{contest.id}/rules", data=rule).status_code == 302
    assert one("contest.add_rule").after["count"] == 1
    client.post(f"/admin/contests/{contest.id}/delete")
    assert one("contest.delete").after["quiz.title"] == "学习党章知识竞赛"


def test_exports_of_personal_data_are_recorded(client, login, org, make_user):
    login(org["admin"])
    member = org["member"]
    quiz = setup.create_quiz(setup.QuizSettings(title="测验"), created_by=None, now=clock.utcnow())
    db.session.commit()
    for url, action in (
        (f"/courses/archive/{member.id}/export.xlsx", "export.archive"),
        (f"/courses/archive/{member.id}/print", "export.archive_print"),
        ("/admin/courses/archives.xlsx", "export.archives"),
        (f"/admin/quizzes/{quiz.id}/results.xlsx", "export.quiz_results"),
        ("/admin/probation/export.xlsx", "export.probation"),
        (f"/admin/probation/{member.id}/export.xlsx", "export.probation_member"),
        ("/admin/audit.xlsx", "export.audit_log"),
    ):
        response = client.get(url, buffered=True)
        assert response.status_code == 200, url
        assert len(rows(action)) == 1, action
    assert one("export.archive").branch_path == org["first"].path
    # A member's own archive is not an administrative export.
    login(member)
    client.get(f"/courses/archive/{member.id}/export.xlsx")
    assert len(rows("export.archive")) == 1


def test_the_address_behind_a_trusted_proxy_is_recorded(tmp_path):
    from tests.conftest import make_test_app

    (tmp_path / "proxied").mkdir()
    proxied = make_test_app(tmp_path / "proxied", TRUSTED_PROXIES=1)
    with proxied.app_context():
        admin = User(username="root", name="根", role=Role.ADMIN, password_hash="x")
        db.session.add(admin)
        db.session.commit()
        client = proxied.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = admin.get_id()
        client.post("/admin/branches", data={"name": "新支部", "kind": "branch", "parent_id": 0},
                    headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})  # fmt: skip
        assert db.session.scalar(sa.select(audit.AuditEntry.ip)) == "203.0.113.9"
        db.session.remove()


def test_audit_page_filters_and_is_scoped_to_the_secretarys_subtree(client, login, org):
    audit.record("user.update", "user", org["member"].id, branch_path=org["first"].path, actor=org["admin"],
                 now=datetime(2026, 3, 1, 2, tzinfo=UTC), label="张三")  # fmt: skip
    audit.record("user.update", "user", org["stranger"].id, branch_path=org["other"].path, actor=org["admin"],
                 now=datetime(2026, 3, 5, 2, tzinfo=UTC), label="李四")  # fmt: skip
    audit.record("settings.change", "setting", "SMTP_HOST", actor=org["admin"], label="SMTP")
    db.session.commit()
    login(org["secretary"])
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "张三" in page and "李四" not in page and "SMTP" not in page
    workbook = load_workbook(io.BytesIO(client.get("/admin/audit.xlsx").data))
    labels = [row[6] for row in workbook.active.iter_rows(min_row=2, values_only=True)]
    assert labels == ["张三"]

    login(org["admin"])
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "张三" in everything and "李四" in everything and "SMTP" in everything
    dated = client.get("/admin/audit?start=2026-03-04&end=2026-03-06").get_data(as_text=True)
    assert "李四" in dated and "张三" not in dated
    by_object = client.get(f"/admin/audit?object_type=user&object_id={org['member'].id}").get_data(as_text=True)
    assert "张三" in by_object and "李四" not in by_object
    assert client.get("/admin/audit?start=nonsense&actor=abc").status_code == 200


def test_the_migration_makes_the_log_append_only(tmp_path):
    from flask_migrate import upgrade

    from lms import create_app

    migrated = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'migrated.sqlite3'}"})
    with migrated.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO audit_log (at, actor_name, action, object_type, object_label) "
                "VALUES ('2026-03-01 00:00:00', '', 'branch.create', 'branch', '')"
            ))  # fmt: skip
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as connection:
                connection.execute(sa.text(statement))
        db.engine.dispose()


def test_meeting_actions_are_recorded(client, login, org, make_user, frozen_clock):
    """Each administrative action on meetings leaves one row, scoped to the meeting's branch."""
    from datetime import timedelta

    from lms.meetings import checkin, kinds
    from lms.meetings.models import Meeting, MeetingKind
    from tests.meetings.test_files import PDF

    kinds.seed_defaults()
    db.session.commit()
    theme = db.session.scalar(sa.select(MeetingKind).where(MeetingKind.code == "theme_party_day"))
    secretary, member, first = org["secretary"], org["member"], org["first"]
    third = make_user(branch=first, username="m3", name="王五")
    start = datetime(2026, 3, 10, 6, tzinfo=UTC)
    frozen_clock.set(start - timedelta(days=3))
    login(secretary)
    form = {"branch_id": first.id, "kind_id": theme.id, "topic": "重温入党誓词", "starts_at": "2026-03-10T14:00",
            "ends_at": "2026-03-10T16:00", "place": "党员活动室",
            "attendee_ids": [secretary.id, member.id, third.id]}  # fmt: skip
    assert client.post("/meetings/new", data=form).status_code == 302
    meeting = db.session.scalar(sa.select(Meeting))
    scheduled = one("meeting.schedule")
    assert scheduled.branch_path == first.path and scheduled.object_id == str(meeting.id)
    assert sorted(scheduled.after["attendees"]) == sorted([secretary.name, member.name, third.name])
    assert client.post(f"/meetings/{meeting.id}/edit", data={**form, "place": "三楼会议室"}).status_code == 302
    updated = one("meeting.update")
    assert (updated.before, updated.after) == ({"place": "党员活动室"}, {"place": "三楼会议室"})

    checkin.request_leave(meeting, member, "出差", now=clock.utcnow())
    checkin.request_leave(meeting, third, "家中有事", now=clock.utcnow())
    db.session.commit()
    client.post(f"/meetings/{meeting.id}/leave/decide", data={"user_id": member.id, "decision": "approve"})
    client.post(f"/meetings/{meeting.id}/leave/decide", data={"user_id": third.id, "decision": "refuse"})
    assert one("meeting.leave_approve").after["member_id"] == member.id
    assert one("meeting.leave_refuse").after["reason"] == "家中有事"

    frozen_clock.set(start)
    client.post(f"/meetings/{meeting.id}/attendance",
                data={"user_id": secretary.id, "status": "present", "reason": "主持会议"})  # fmt: skip
    hand = one("meeting.sign_in_by_hand")
    assert hand.after["reason"] == "主持会议" and hand.after["own_credit_waits"] is True
    assert hand.before["status"] == "expected" and hand.actor_id == secretary.id
    client.post(f"/meetings/{meeting.id}/attendance", data={"user_id": third.id, "status": "absent", "reason": "未到"})
    assert one("meeting.attendance").after["status"] == "absent"

    client.post(f"/meetings/{meeting.id}/minutes", data={"minutes_html": "<p>会议学习了党章。</p>"})
    assert one("meeting.minutes").after["text"] == "会议学习了党章。"
    client.post(f"/meetings/{meeting.id}/files", data={"file": (io.BytesIO(PDF), "材料.pdf"), "purpose": "material"},
                content_type="multipart/form-data")  # fmt: skip
    added = one("meeting.file_add")
    assert added.after["name"] == "材料.pdf"
    client.post(f"/meetings/{meeting.id}/files/{added.after['file_id']}/delete")
    assert one("meeting.file_delete").before["name"] == "材料.pdf"

    frozen_clock.set(meeting.ends_at)
    client.post(f"/meetings/{meeting.id}/close")
    closed = one("meeting.close")
    assert closed.after["credit_waits_for"] == [secretary.id] and closed.after["credited"] == 0
    login(org["admin"])
    client.post(f"/meetings/{meeting.id}/credits/{secretary.id}/confirm")
    assert one("meeting.confirm_credit").actor_id == org["admin"].id
    login(secretary)
    client.post(f"/meetings/{meeting.id}/lock")
    assert one("meeting.lock").branch_path == first.path

    assert client.post("/meetings/new", data={**form, "starts_at": "2026-04-10T14:00",
                                              "ends_at": "2026-04-10T16:00"}).status_code == 302  # fmt: skip
    second = db.session.scalar(sa.select(Meeting).where(Meeting.id != meeting.id))
    client.post(f"/meetings/{second.id}/cancel")
    assert one("meeting.cancel").object_id == str(second.id)
    assert client.get(f"/meetings/register.xlsx?branch_id={first.id}&year=2026").status_code == 200
    exported = one("export.meeting_register")
    assert exported.branch_path == first.path and exported.after == {"branch_id": str(first.id), "year": "2026"}

    login(org["admin"])
    kind_form = {"name": "专题学习", "cadence": "none", "level": "branch", "attendee_rule": "members",
                 "study_hours": "2", "is_active": "y"}  # fmt: skip
    assert client.post("/meetings/kinds/new", data=kind_form).status_code == 302
    created = one("meeting_kind.create")
    assert created.after["name"] == "专题学习" and created.branch_path is None
    client.post(f"/meetings/kinds/{created.object_id}/edit", data={**kind_form, "study_hours": "3"})
    assert one("meeting_kind.update").after == {"study_hours": 3.0}


def test_audit_page_says_what_was_done_in_words_and_names_fields(client, login, org):
    audit.record("user.update", "user", org["member"].id, before={"name": "张三"}, after={"name": "张叁"},
                 branch_path=org["first"].path, actor=org["admin"], label="张三")  # fmt: skip
    audit.record("contest.update", "contest", 3, before={"quiz.pass_percent": 60, "brand_new_column": 1},
                 after={"quiz.pass_percent": 80, "brand_new_column": 2}, actor=org["admin"])  # fmt: skip
    audit.record("export.archives", "export", None, after={"year": "2026"}, actor=org["admin"])
    audit.record("quiz.something_new", "quiz", 7, actor=org["admin"])
    audit.record("meeting.update", "meeting", 5, before={"status": "scheduled"}, after={"status": "held"},
                 actor=org["admin"])  # fmt: skip
    db.session.commit()
    login(org["admin"])
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "<td>修改</td>" in page and "<td>导出：支部学习档案</td>" in page
    assert '<code lang="zxx" translate="no">quiz.something_new</code>' in page  # an unknown code as it is
    assert "姓名: 张三 → 张叁" in page and "年度: 2026" in page  # fields by their names
    assert "状态: <code" in page and "政治面貌" not in page  # a meeting's status is not a member's
    with client.application.test_request_context():
        assert str(field_label("status", "user")) == "政治面貌" and field_label("brand_new_column") is None
    assert "及格线（%）: 60 → 80" in page  # a contest's copy of its quiz's field
    assert '<code lang="zxx" translate="no">brand_new_column</code>: 1 → 2' in page  # an unnamed field as it is
    assert ">账号 · 修改</option>" in page and ">导出：支部学习档案</option>" in page
    workbook = load_workbook(io.BytesIO(client.get("/admin/audit.xlsx").data))
    rows = list(workbook.active.iter_rows(min_row=2, values_only=True))
    assert "导出：支部学习档案" in [row[3] for row in rows]
    assert any("姓名: 张三 → 张叁" in str(cell) for row in rows for cell in row)
