"""Bulk member import: every row checked, a per-row report, nothing written before confirm."""

import io
import re

import sqlalchemy as sa
from openpyxl import Workbook

from lms.auth.models import MemberStatus, Role, User
from lms.extensions import db

HEADER = ["姓名", "手机号", "身份证号", "所属支部", "人员类别", "预备期满日期", "初始密码"]


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client, payload: bytes, name: str, password: str = ""):
    return client.post(
        "/admin/import",
        data={"file": (io.BytesIO(payload), name), "default_password": password},
        content_type="multipart/form-data",
    )


def member_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_report_lists_each_bad_row_and_confirm_writes_only_valid_rows(client, make_branch, make_user, login):
    login(make_user(role=Role.ADMIN))
    make_branch("第一党支部")
    make_user(phone="13800000099", username="existing")
    before = member_count()
    payload = xlsx(
        [
            ["张三", "13800000001", "", "第一党支部", "正式党员", "", ""],
            ["李四", "13800000002", "", "第一党支部", "预备党员", "2026-12-31", "Own2026pass"],
            ["王五", "13800000001", "", "第一党支部", "", "", ""],  # duplicate phone in the file
            ["赵六", "12345", "", "第一党支部", "", "", ""],  # bad phone
            ["", "13800000005", "", "第一党支部", "", "", ""],  # empty name
            ["钱七", "13800000006", "", "不存在支部", "", "", ""],  # unknown branch
            ["孙八", "13800000099", "", "第一党支部", "", "", ""],  # phone used by an account
        ]
    )
    response = upload(client, payload, "members.xlsx", password="Start2026x")
    page = response.get_data(as_text=True)
    assert "2 行可以导入，5 行有问题" in page
    assert "与文件第 2 行重复" in page
    assert "手机号应为以 1 开头的 11 位数字" in page
    assert "请填写名称" in page or "姓名" in page
    assert "找不到组织“不存在支部”" in page
    assert "该手机号已被其他账号使用" in page
    assert member_count() == before  # nothing written yet

    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    confirmed = client.post("/admin/import/confirm", data={"token": token}, follow_redirects=True)
    # The confirmation counts the rows the preview said would be skipped (not "跳过 0 行").
    assert "已创建 2 个账号；跳过 5 行" in confirmed.get_data(as_text=True)
    assert member_count() == before + 2
    li = db.session.scalar(sa.select(User).where(User.phone == "13800000002"))
    assert li.status == MemberStatus.PROBATIONARY and li.must_change_password
    # The token is spent: confirming twice writes nothing more.
    client.post("/admin/import/confirm", data={"token": token})
    assert member_count() == before + 2


def test_csv_in_gbk_is_read(client, make_branch, make_user, login):
    login(make_user(role=Role.ADMIN))
    make_branch("第一党支部")
    text = "姓名,手机号,所属支部\n张三,13800000001,第一党支部\n"
    page = upload(client, text.encode("gbk"), "members.csv", password="Start2026x").get_data(as_text=True)
    assert "1 行可以导入，0 行有问题" in page


def test_wrong_file_type_and_broken_workbook_are_refused_clearly(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    assert "只能导入 .xlsx 或 .csv 文件" in upload(client, b"hello", "members.pdf").get_data(as_text=True)
    assert "不是有效的 Excel 工作簿" in upload(client, b"PK\x03\x04 not a zip", "m.xlsx").get_data(as_text=True)


def test_a_large_file_is_refused_before_parsing(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    page = upload(client, b"a" * (12 * 1024 * 1024), "members.csv").get_data(as_text=True)
    assert "文件超过 10 MB" in page
    # Over the whole app's request bound (LMS_MAX_REQUEST_MB): refused before it is read.
    response = upload(client, b"a" * (20 * 1024 * 1024), "members.csv")
    assert response.status_code == 413
    assert "最多可发送 16 MB" in response.get_data(as_text=True)


def test_zip_bomb_workbook_is_refused(client, make_user, login):
    import zipfile

    login(make_user(role=Role.ADMIN))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (120 * 1024 * 1024))
    page = upload(client, buffer.getvalue(), "bomb.xlsx").get_data(as_text=True)
    assert "解压后超过" in page


def test_template_downloads_as_a_workbook(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    response = client.get("/admin/import/template.xlsx")
    assert response.status_code == 200
    assert response.data[:2] == b"PK"
