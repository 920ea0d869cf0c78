"""Meeting files: the type is read from the content, the name must agree, size and lock are enforced."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.extensions import db
from lms.meetings import checkin, closing, files
from lms.meetings.models import FilePurpose, MeetingFile
from tests.meetings.conftest import START

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_a_pdf_and_a_docx_are_stored_under_generated_names(org, make_meeting, app):
    meeting = make_meeting()
    pdf = files.add_file(org.secretary, meeting, FilePurpose.MATERIAL, "学习材料.pdf", PDF, now=START)
    docx = files.add_file(org.secretary, meeting, FilePurpose.MINUTES, "../../会议记录.docx", _docx(), now=START)
    db.session.commit()
    assert pdf.content_type == "application/pdf" and pdf.stored_name.endswith(".pdf")
    assert docx.original_name == "会议记录.docx" and docx.stored_name.endswith(".docx")
    assert "学习材料" not in pdf.stored_name
    assert files.stored_path(meeting.id, pdf.stored_name).read_bytes() == PDF
    assert files.stored_path(meeting.id, "../../etc/passwd") is None


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("会议记录.pdf", PNG, "内容实为 .png"),
        ("程序.pdf", b"MZ\x90\x00" + b"\x00" * 200, "不支持此文件类型"),
        ("说明.txt", "纯文本内容".encode(), "不支持此文件类型"),
        ("图片.png", PDF, "内容实为 .pdf"),
    ],
)
def test_a_file_that_is_not_what_it_says_is_refused(org, make_meeting, name, payload, message):
    meeting = make_meeting()
    with pytest.raises(ValidationFailed, match=message):
        files.add_file(org.secretary, meeting, FilePurpose.MATERIAL, name, payload, now=START)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MeetingFile)) == 0
    assert not files.folder(meeting.id).exists() or not any(files.folder(meeting.id).iterdir())


def test_a_file_over_the_limit_is_refused_without_truncating(app):
    app.config["MEETING_MAX_FILE_MB"] = 1
    with pytest.raises(ValidationFailed, match="大于 1 MB|1 MB"):
        files.read_upload(io.BytesIO(PDF + b"0" * (1024 * 1024)))
    with pytest.raises(ValidationFailed):
        files.read_upload(io.BytesIO(b""))


def test_only_managers_add_files_and_never_to_a_locked_meeting(org, make_meeting):
    meeting = make_meeting()
    with pytest.raises(Forbidden):
        files.add_file(org.alice, meeting, FilePurpose.MATERIAL, "a.pdf", PDF, now=START)
    checkin.sign_in(meeting, org.alice, now=START)
    closing.close_meeting(org.secretary, meeting, now=meeting.ends_at)
    closing.lock_meeting(org.secretary, meeting, now=meeting.ends_at + timedelta(minutes=1))
    with pytest.raises(InvalidState, match="已锁定"):
        files.add_file(
            org.secretary, meeting, FilePurpose.MINUTES, "a.pdf", PDF, now=meeting.ends_at + timedelta(hours=1)
        )
