"""Admin and secretary pages: members, branches and their scope."""

import pytest
import sqlalchemy as sa

from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.auth.services import branch_tree, move_branch
from lms.errors import InvalidState
from lms.extensions import db

pytestmark = pytest.mark.postgres  # LIKE search (case rules differ) and subtree paths moved with substr()


def test_secretary_sees_only_members_of_their_branch_subtree(client, make_branch, make_user, login):
    general = make_branch("生产党总支", kind=BranchKind.GENERAL_BRANCH)
    own = make_branch("第一党支部", parent=general)
    sub = make_branch("第一党小组", parent=own)
    other = make_branch("第二党支部", parent=general)
    secretary = make_user(role=Role.SECRETARY, branch=own, name="王书记")
    make_user(branch=own, name="本支部党员")
    make_user(branch=sub, name="下级党员")
    outsider = make_user(branch=other, name="外支部党员")
    login(secretary)
    page = client.get("/admin/users").get_data(as_text=True)
    assert "本支部党员" in page and "下级党员" in page
    assert "外支部党员" not in page
    assert client.get(f"/admin/users/{outsider.id}").status_code == 404
    # Secretaries may look but not manage.
    assert client.get("/admin/users/new").status_code == 403


def test_admin_searches_and_filters_members(client, make_user, login):
    login(make_user(role=Role.ADMIN, name="管理员"))
    make_user(name="张三", phone="13800000021")
    make_user(name="李四", status=MemberStatus.PROBATIONARY)
    assert "张三" in client.get("/admin/users?q=1380000002").get_data(as_text=True)
    filtered = client.get("/admin/users?status=probationary").get_data(as_text=True)
    assert "李四" in filtered and "张三" not in filtered


def test_admin_creates_an_account_that_must_change_its_password(client, make_branch, make_user, login):
    login(make_user(role=Role.ADMIN))
    branch = make_branch("新支部")
    response = client.post(
        "/admin/users/new",
        data={
            "name": "新党员",
            "username": "NewMember",
            "phone": "13900000001",
            "branch_id": branch.id,
            "status": "full",
            "role": "learner",
            "password": "Welcome2026",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.username == "newmember"))
    assert user is not None and user.must_change_password


def test_invalid_account_fields_are_shown_next_to_the_field(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    make_user(username="taken")
    response = client.post(
        "/admin/users/new",
        data={
            "name": "X",
            "username": "TAKEN",
            "phone": "",
            "branch_id": 0,
            "status": "full",
            "role": "learner",
            "password": "Welcome2026",
        },
    )
    assert "该用户名已被使用" in response.get_data(as_text=True)


def test_probationary_member_needs_a_probation_end(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    response = client.post(
        "/admin/users/new",
        data={
            "name": "预备",
            "username": "yubei",
            "branch_id": 0,
            "status": "probationary",
            "role": "learner",
            "password": "Welcome2026",
        },
    )
    assert "预备党员需要填写预备期满日期" in response.get_data(as_text=True)


def test_admin_deactivates_and_resets_password(client, make_user, login):
    admin = make_user(role=Role.ADMIN)
    member = make_user(username="member")
    login(admin)
    client.post(f"/admin/users/{member.id}/password", data={"new_password": "Temp2026xx"})
    client.post(f"/admin/users/{member.id}/active", data={"active": "0"})
    db.session.refresh(member)
    assert member.must_change_password and not member.is_active
    own = client.post(f"/admin/users/{admin.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "不能停用自己的账号" in own.get_data(as_text=True)


def test_branch_tree_create_rename_and_move_with_subtree(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    client.post("/admin/branches", data={"name": "党委", "kind": "committee", "parent_id": 0})
    committee = db.session.scalar(sa.select(Branch).where(Branch.name == "党委"))
    client.post("/admin/branches", data={"name": "总支", "kind": "general_branch", "parent_id": committee.id})
    general = db.session.scalar(sa.select(Branch).where(Branch.name == "总支"))
    client.post("/admin/branches", data={"name": "支部", "kind": "branch", "parent_id": general.id})
    branch = db.session.scalar(sa.select(Branch).where(Branch.name == "支部"))
    names = [b.name for b in branch_tree()]
    assert names.index("党委") < names.index("总支") < names.index("支部")

    # The form offers no branch inside the subtree; a forged choice is refused.
    refused = client.post(f"/admin/branches/{general.id}", data={"move-parent_id": branch.id})
    assert "不是有效的选择" in refused.get_data(as_text=True)
    with pytest.raises(InvalidState, match="不能移动到自身"):
        move_branch(db.session.get(Branch, general.id), branch.id)

    client.post(f"/admin/branches/{branch.id}", data={"edit-name": "第一党支部", "edit-kind": "branch"})
    client.post(f"/admin/branches/{general.id}", data={"move-parent_id": 0})
    db.session.expire_all()
    general, branch = db.session.get(Branch, general.id), db.session.get(Branch, branch.id)
    assert general.parent_id is None and general.path == f"/{general.id}/"
    assert branch.name == "第一党支部" and branch.path == f"/{general.id}/{branch.id}/"


def test_duplicate_sibling_branch_names_are_refused(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    client.post("/admin/branches", data={"name": "支部", "kind": "branch", "parent_id": 0})
    response = client.post("/admin/branches", data={"name": "支部", "kind": "branch", "parent_id": 0})
    assert "此处已有同名组织" in response.get_data(as_text=True)
