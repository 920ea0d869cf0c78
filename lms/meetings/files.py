"""Meeting files (materials, attachments of the minutes): sniffed, bounded, stored under made-up names.

The type is read from the content (``filetype``: magic numbers), never from
the name or the browser's claim; only documents and pictures are taken, and
the name's extension must agree with the content, so a program renamed to
``.pdf`` is refused. Files are stored in ``MEDIA_ROOT/meetings/<meeting id>/``
under generated names and served as downloads, never inline.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import Forbidden, InvalidState, ValidationFailed
from lms.extensions import db
from lms.images import media_folder
from lms.meetings.auditing import record_meeting
from lms.meetings.closing import is_locked
from lms.meetings.models import FilePurpose, Meeting, MeetingFile

# Sniffed extension -> (content type, the extensions a file of that content may be named with).
ACCEPTED = {
    "pdf": ("application/pdf", {"pdf"}),
    "jpg": ("image/jpeg", {"jpg", "jpeg"}),
    "png": ("image/png", {"png"}),
    "webp": ("image/webp", {"webp"}),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", {"docx"}),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {"xlsx"}),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", {"pptx"}),
    "doc": ("application/msword", {"doc"}),
    "xls": ("application/vnd.ms-excel", {"xls"}),
    "ppt": ("application/vnd.ms-powerpoint", {"ppt"}),
}
STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{20,40}\.[a-z]{3,4}$")
MAX_FILES_PER_MEETING = 50


def max_bytes() -> int:
    return int(current_app.config["MEETING_MAX_FILE_MB"]) * 1024 * 1024


def folder(meeting_id: int) -> Path:
    return media_folder("meetings", meeting_id)


def _clean_name(filename: str) -> str:
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    return name[-200:] or "file"


def sniff(payload: bytes, filename: str) -> tuple[str, str]:
    """(stored extension, content type) of ``payload``; ValidationFailed when it is not an accepted
    document or picture, or its name claims another type."""
    import filetype

    guess = filetype.guess(payload[:8192] if len(payload) > 8192 else payload)
    # Office files are zip archives: the zip matchers need the whole central directory.
    if guess is not None and guess.extension == "zip":
        guess = filetype.guess(payload)
    accepted = ACCEPTED.get(guess.extension) if guess is not None else None
    if accepted is None:
        raise ValidationFailed(
            _l("This file type is not accepted. Upload a PDF, a picture (JPEG, PNG, WebP) or an Office document."),
            "file",
        )
    claimed = PurePosixPath(filename or "").suffix.lower().lstrip(".")
    if claimed not in accepted[1]:
        raise ValidationFailed(
            _l("The file's name says .%(claimed)s but its content is .%(actual)s; it was not accepted.",
               claimed=claimed or "?", actual=guess.extension),
            "file",
        )  # fmt: skip
    return guess.extension, accepted[0]


def read_upload(stream) -> bytes:
    """Read an upload, refusing more than ``MEETING_MAX_FILE_MB`` (never truncating) or nothing."""
    limit = max_bytes()
    payload = stream.read(limit + 1)
    if len(payload) > limit:
        raise ValidationFailed(_l("The file is larger than %(mb)d MB.", mb=limit // (1024 * 1024)), "file")
    if not payload:
        raise ValidationFailed(_l("The file is empty."), "file")
    return payload


def add_file(
    viewer: User, meeting: Meeting, purpose: FilePurpose, filename: str, payload: bytes, *, now: datetime
) -> MeetingFile:
    """Store a checked file for the meeting; refused when the meeting is locked or the file is not what it says."""
    from lms.meetings.scheduling import may_manage

    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))
    if is_locked(meeting, now):
        raise InvalidState(_l("This meeting is locked; its files can no longer be changed."))
    count = db.session.scalar(sa.select(sa.func.count()).where(MeetingFile.meeting_id == meeting.id))
    if count >= MAX_FILES_PER_MEETING:
        raise ValidationFailed(_l("A meeting has at most %(n)d files.", n=MAX_FILES_PER_MEETING), "file")
    extension, content_type = sniff(payload, filename)
    target = folder(meeting.id)
    target.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_urlsafe(18)}.{extension}"
    temporary = target / f".{stored}.part"
    temporary.write_bytes(payload)
    os.replace(temporary, target / stored)
    record = MeetingFile(
        meeting_id=meeting.id, purpose=FilePurpose(purpose), original_name=_clean_name(filename), stored_name=stored,
        content_type=content_type, size_bytes=len(payload), uploaded_by_id=viewer.id, uploaded_at=now,
    )  # fmt: skip
    db.session.add(record)
    try:
        db.session.flush()
    except Exception:
        (target / stored).unlink(missing_ok=True)
        raise
    record_meeting("file_add", meeting, actor=viewer, now=now, after=_file_snapshot(record))
    return record


def _file_snapshot(record: MeetingFile) -> dict:
    return {"file_id": record.id, "name": record.original_name, "purpose": str(record.purpose),
            "content_type": record.content_type, "size_bytes": record.size_bytes}  # fmt: skip


def delete_file(viewer: User, meeting: Meeting, file_id: int, *, now: datetime) -> None:
    """Remove a file of an unlocked meeting (the stored copy too)."""
    from lms.meetings.scheduling import may_manage

    if not may_manage(viewer, meeting):
        raise Forbidden(_l("You do not manage this meeting."))
    if is_locked(meeting, now):
        raise InvalidState(_l("This meeting is locked; its files can no longer be changed."))
    record = db.session.scalar(
        sa.select(MeetingFile).where(MeetingFile.id == file_id, MeetingFile.meeting_id == meeting.id)
    )
    if record is None:
        raise ValidationFailed(_l("This file does not exist."), "file")
    record_meeting("file_delete", meeting, actor=viewer, now=now, before=_file_snapshot(record))
    db.session.delete(record)
    db.session.flush()
    path = stored_path(meeting.id, record.stored_name)
    if path is not None:
        path.unlink(missing_ok=True)


def meeting_files(meeting: Meeting) -> list[MeetingFile]:
    return list(
        db.session.scalars(
            sa.select(MeetingFile).where(MeetingFile.meeting_id == meeting.id).order_by(MeetingFile.uploaded_at)
        )
    )


def stored_path(meeting_id: int, name: str) -> Path | None:
    """The stored file for ``name``, or None when the name is not one we made or the file is gone."""
    if not STORED_NAME.match(name or ""):
        return None
    path = folder(meeting_id) / name
    return path if path.is_file() else None
