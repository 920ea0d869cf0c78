"""Bulk import of members from .xlsx/.csv: validate every row, report, write on confirm.

The upload is parsed and checked row by row into an ``ImportReport``; the valid
rows are staged in ``instance/imports/<token>.json`` (bound to the admin who
uploaded) and nothing touches the accounts until the admin confirms. On confirm
the staged rows are validated again (the database may have changed) and the
valid ones are created in the caller's single transaction.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.auth import services
from lms.auth.models import Branch, MemberStatus, Role, User
from lms.errors import NotFound, ValidationFailed
from lms.extensions import db
from lms.inputs import MAX_YEAR, MIN_YEAR
from lms.spreadsheets import read_table

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "username": ("用户名", "username", "login"),
    "phone": ("手机号", "手机", "phone", "mobile"),
    "id_number": ("身份证号", "身份证号码", "id number", "id_number"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail"),
    "branch": ("所属支部", "支部", "branch"),
    "status": ("人员类别", "政治面貌", "status"),
    "role": ("角色", "role"),
    "committee": ("支委委员", "committee member"),
    "admitted_on": ("入党日期", "admitted on", "admission date"),
    "probation_end": ("预备期满日期", "转正日期", "probation end"),
    "password": ("初始密码", "password", "initial password"),
}

# (column, header in the template, help text) for the documented template.
TEMPLATE_COLUMNS = [
    ("name", "姓名", _l("Required.")),
    ("username", "用户名", _l("Optional; defaults to the mobile number, else the ID number.")),
    ("phone", "手机号", _l("11 digits starting with 1; unique.")),
    ("id_number", "身份证号", _l("18 characters; unique.")),
    ("email", "邮箱", _l("Optional; used for reminders.")),
    ("branch", "所属支部", _l("Required. The branch name, or its full path such as 机关党委/第一党支部.")),
    ("status", "人员类别", _l("正式党员, 预备党员 or 入党积极分子 (default 正式党员).")),
    ("role", "角色", _l("党员 (default), 支部书记 or 管理员.")),
    ("committee", "支委委员", _l("是 for branch committee members.")),
    ("admitted_on", "入党日期", _l("YYYY-MM-DD.")),
    ("probation_end", "预备期满日期", _l("YYYY-MM-DD; required for 预备党员.")),
    (
        "password",
        "初始密码",
        _l("Optional; at least 8 characters with letters and digits. Members must change it at first login."),
    ),
]

STATUS_WORDS = {
    "正式党员": MemberStatus.FULL,
    "党员": MemberStatus.FULL,
    "full": MemberStatus.FULL,
    "预备党员": MemberStatus.PROBATIONARY,
    "probationary": MemberStatus.PROBATIONARY,
    "入党积极分子": MemberStatus.ACTIVIST,
    "积极分子": MemberStatus.ACTIVIST,
    "activist": MemberStatus.ACTIVIST,
}
ROLE_WORDS = {
    "党员": Role.LEARNER,
    "学员": Role.LEARNER,
    "learner": Role.LEARNER,
    "member": Role.LEARNER,
    "支部书记": Role.SECRETARY,
    "书记": Role.SECRETARY,
    "secretary": Role.SECRETARY,
    "管理员": Role.ADMIN,
    "admin": Role.ADMIN,
    "分级管理员": Role.SUBTREE_ADMIN,
    "subtree_admin": Role.SUBTREE_ADMIN,
}
YES_WORDS = {"是", "yes", "y", "true", "1", "√"}

COLUMN_LABELS = {key: header for key, header, _ in TEMPLATE_COLUMNS}


@dataclass
class RowResult:
    number: int
    name: str
    problems: list[tuple[str, str]] = field(default_factory=list)  # (column header, why)
    fields: dict | None = None  # the cleaned account, when valid

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ImportReport:
    rows: list[RowResult]
    token: str | None = None
    # Rows of the file left out before these rows were checked (on confirm: the rows the preview
    # already reported as problems, which are not staged), so "skipped" counts the whole file.
    skipped_earlier: int = 0

    @property
    def valid_count(self) -> int:
        return sum(1 for row in self.rows if row.ok)

    @property
    def invalid_count(self) -> int:
        return len(self.rows) - self.valid_count + self.skipped_earlier


def _parse_date(text: str) -> date | None:
    text = text.strip().replace("/", "-").replace(".", "-")
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError as error:
        raise ValueError(str(_l("Not a date (expected YYYY-MM-DD)."))) from error
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(str(_l("Give a date between the years %(start)d and %(end)d.", start=MIN_YEAR, end=MAX_YEAR)))
    return day


def _branch_lookup() -> tuple[dict[str, list[int]], dict[str, int]]:
    branches = db.session.scalars(sa.select(Branch)).all()
    by_id = {b.id: b for b in branches}
    by_name: dict[str, list[int]] = {}
    by_path: dict[str, int] = {}
    for branch in branches:
        by_name.setdefault(branch.name, []).append(branch.id)
        names = [by_id[int(i)].name for i in branch.path.strip("/").split("/") if i and int(i) in by_id]
        by_path["/".join(names)] = branch.id
    return by_name, by_path


def _add_problem(problems: list[tuple[str, str]], column: str, message) -> None:
    problems.append((COLUMN_LABELS.get(column, column), str(message)))


def validate_rows(table_rows, default_password: str | None) -> ImportReport:
    """Check every row (and duplicates across rows); return the per-row report."""
    by_name, by_path = _branch_lookup()
    seen: dict[str, dict[str, int]] = {"username": {}, "phone": {}, "id_number": {}}
    results: list[RowResult] = []
    for row in table_rows:
        values = row["values"] if isinstance(row, dict) else row.values
        number = row["number"] if isinstance(row, dict) else row.number
        result = RowResult(number=number, name=values.get("name", ""))
        problem = partial(_add_problem, result.problems)

        branch_text = values.get("branch", "").strip().strip("/")
        branch_id = None
        if not branch_text:
            problem("branch", _l("The branch is required."))
        elif branch_text in by_path:
            branch_id = by_path[branch_text]
        elif len(by_name.get(branch_text, [])) == 1:
            branch_id = by_name[branch_text][0]
        elif len(by_name.get(branch_text, [])) > 1:
            problem("branch", _l("Several branches have this name; give the full path."))
        else:
            problem("branch", _l("Unknown branch “%(name)s”.", name=branch_text))
        status_text = values.get("status", "").strip().casefold()
        status = STATUS_WORDS.get(status_text, MemberStatus.FULL if not status_text else None)
        if status is None:
            problem("status", _l("Unknown member status “%(value)s”.", value=values.get("status")))
            status = MemberStatus.FULL
        role_text = values.get("role", "").strip().casefold()
        role = ROLE_WORDS.get(role_text, Role.LEARNER if not role_text else None)
        if role is None:
            problem("role", _l("Unknown role “%(value)s”.", value=values.get("role")))
            role = Role.LEARNER
        dates = {}
        for column in ("admitted_on", "probation_end"):
            try:
                dates[column] = _parse_date(values.get(column, ""))
            except ValueError as error:
                problem(column, error)
                dates[column] = None
        username = values.get("username") or values.get("phone") or values.get("id_number") or ""
        password = values.get("password") or default_password or ""
        if not password:
            problem("password", _l("No initial password: fill the column or give one for all rows."))
        else:
            try:
                personal = (username, values.get("name"), values.get("phone"), values.get("id_number"))
                services.check_password_strength(password, personal)
            except ValidationFailed as error:
                problem("password", error.message)
        fields = services.UserFields(
            username=username,
            name=values.get("name", ""),
            phone=values.get("phone") or None,
            id_number=values.get("id_number") or None,
            email=values.get("email") or None,
            status=status,
            role=role,
            branch_id=branch_id,
            admitted_on=dates["admitted_on"],
            probation_end=dates["probation_end"],
            is_committee_member=values.get("committee", "").strip().casefold() in YES_WORDS,
        )
        if branch_id is not None or not branch_text:
            try:
                cleaned = services.clean_user_fields(fields)
            except ValidationFailed as error:
                column = {"username": "username", "branch_id": "branch"}.get(error.field or "", error.field or "name")
                problem(column, error.message)
                cleaned = None
        else:
            cleaned = None
        if cleaned is not None:
            for column in ("username", "phone", "id_number"):
                value = getattr(cleaned, column)
                if value and value in seen[column]:
                    problem(column, _l("Duplicate of row %(n)d in this file.", n=seen[column][value]))
                elif value:
                    seen[column][value] = number
        if result.ok and cleaned is not None:
            stored = asdict(cleaned)
            stored["status"] = str(cleaned.status)
            stored["role"] = str(cleaned.role)
            for column in ("admitted_on", "probation_end"):
                stored[column] = stored[column].isoformat() if stored[column] else None
            stored["password"] = password
            result.fields = stored
        results.append(result)
    return ImportReport(results)


def _staging_dir() -> Path:
    path = Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_import(filename: str, payload: bytes, default_password: str | None, *, admin: User) -> ImportReport:
    """Parse and validate an upload and stage its valid rows; writes no account."""
    table = read_table(filename, payload, COLUMNS)
    if not table:
        raise ValidationFailed(_l("The file has no data rows."), "file")
    report = validate_rows(table, default_password)
    if report.valid_count:
        report.token = secrets.token_urlsafe(16)
        staged = {
            "admin_id": admin.id,
            "rows": [{"number": r.number, "values": _raw(table, r.number)} for r in report.rows if r.ok],
            "skipped": report.invalid_count,
            "default_password": default_password,
        }
        (_staging_dir() / f"{report.token}.json").write_text(json.dumps(staged, ensure_ascii=False))
    return report


def _raw(table, number: int) -> dict:
    return next(row.values for row in table if row.number == number)


def confirm_import(token: str, *, admin: User) -> ImportReport:
    """Create the staged rows that are still valid; the caller commits once."""
    if not token or not token.replace("-", "").replace("_", "").isalnum():
        raise NotFound(_l("This import has expired. Please upload the file again."))
    path = _staging_dir() / f"{token}.json"
    if not path.exists():
        raise NotFound(_l("This import has expired. Please upload the file again."))
    staged = json.loads(path.read_text())
    if staged["admin_id"] != admin.id:
        raise NotFound(_l("This import has expired. Please upload the file again."))
    report = validate_rows(staged["rows"], staged.get("default_password"))
    report.skipped_earlier = int(staged.get("skipped", 0))
    # Hashing is deliberately slow; rows sharing the default password share one hash
    # (they share the password anyway, and each member must change it at first login).
    hashes: dict[str, str] = {}
    for row in report.rows:
        if not row.ok:
            continue
        stored = dict(row.fields)
        password = stored.pop("password")
        stored["status"] = MemberStatus(stored["status"])
        stored["role"] = Role(stored["role"])
        for column in ("admitted_on", "probation_end"):
            stored[column] = date.fromisoformat(stored[column]) if stored[column] else None
        if password not in hashes:
            hashes[password] = services.hash_password(password)
        user = User(**stored, password_hash=hashes[password], must_change_password=True)
        db.session.add(user)
    db.session.flush()
    path.unlink(missing_ok=True)
    return report
