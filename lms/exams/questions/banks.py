"""Question banks: banks and questions, search, import (staged, then confirmed) and export.

Every way a question comes in (the edit form, an Excel/CSV, GIFT or Aiken file)
goes through the same checks (``importers.finish_question``). An import is
parsed and reported first and staged in ``instance/imports`` bound to the admin
and the bank; nothing is written until the admin confirms, and then all valid
questions go in one transaction (the caller's commit). Services flush only.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from lms.auth.models import User
from lms.errors import NotFound, ValidationFailed
from lms.exams.questions import question_html
from lms.exams.questions.importers import (
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    finish_question,
    parse_file,
    xlsx_csv,
)
from lms.exams.questions.importers import gift as gift_format
from lms.exams.questions.models import Question, QuestionBank, QuestionTag, QuestionType
from lms.exams.questions.types import kind_of
from lms.extensions import db
from lms.spreadsheets import xlsx_bytes

DIFFICULTY_LABELS = {
    1: _l("1 · easy"),
    2: _l("2 · fairly easy"),
    3: _l("3 · medium"),
    4: _l("4 · fairly hard"),
    5: _l("5 · hard"),
}
STAGING_PREFIX = "questions-"
STAGING_LIFETIME = timedelta(days=1)
EXPORT_FORMATS = ("xlsx", "gift", "xml", "json")


# --- Banks --------------------------------------------------------------------------


def _name_key(name: str) -> str:
    """What makes two bank names the same: Unicode case (Ä/ä, ß/SS) and width (Ａ/A) aside."""
    return unicodedata.normalize("NFKC", " ".join((name or "").split())).casefold()


def _bank_named(name: str, *, excluding: int | None = None) -> QuestionBank | None:
    # Compared here, not in SQL: SQLite's lower() folds ASCII only. Banks are few.
    key = _name_key(name)
    for bank in db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.id)):
        if bank.id != excluding and _name_key(bank.name) == key:
            return bank
    return None


def _clean_bank_name(name: str, *, excluding: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(_l("The bank needs a name."), "name")
    if len(name) > 200:
        raise ValidationFailed(_l("The name is longer than %(n)d characters.", n=200), "name")
    same = _bank_named(name, excluding=excluding)
    if same is not None:
        raise ValidationFailed(_l("A bank named “%(name)s” exists already.", name=same.name), "name")
    return name


def create_bank(name: str, description: str = "", *, creator: User | None) -> QuestionBank:
    """Create a bank; the name is trimmed and must be unique (ValidationFailed otherwise)."""
    bank = QuestionBank(
        name=_clean_bank_name(name),
        description=(description or "").strip(),
        created_by_id=creator.id if creator else None,
    )
    db.session.add(bank)
    db.session.flush()
    return bank


def update_bank(bank: QuestionBank, name: str, description: str) -> QuestionBank:
    """Rename a bank and change its description (the name stays unique)."""
    bank.name = _clean_bank_name(name, excluding=bank.id)
    bank.description = (description or "").strip()
    db.session.flush()
    return bank


def find_bank(name: str) -> QuestionBank | None:
    """The bank with this name (trimmed; case and width aside), if any."""
    return _bank_named(name)


@dataclass
class BankSummary:
    bank: QuestionBank
    total: int
    enabled: int
    last_change: datetime | None


def bank_summaries() -> list[BankSummary]:
    """Every bank with its number of questions (all, and not disabled) and last change, by name; one query."""
    enabled = sa.func.sum(sa.case((Question.is_disabled.is_(False), 1), else_=0))
    rows = db.session.execute(
        sa.select(QuestionBank, sa.func.count(Question.id), enabled, sa.func.max(Question.updated_at))
        .outerjoin(Question, Question.bank_id == QuestionBank.id)
        .group_by(QuestionBank.id)
        .order_by(QuestionBank.name)
    ).all()
    summaries = []
    for bank, total, on, question_change in rows:
        last = max(filter(None, (bank.updated_at, question_change)), default=None)
        summaries.append(BankSummary(bank, total, int(on or 0), last))
    return summaries


# --- Questions ------------------------------------------------------------------------


def tag_clause(tag: str):
    """A WHERE clause on ``Question`` selecting the questions with knowledge point ``tag``."""
    return Question.id.in_(sa.select(QuestionTag.question_id).where(QuestionTag.tag == tag.strip()))


@dataclass
class QuestionFilter:
    text: str = ""
    type: str = ""
    tag: str = ""
    difficulty: int | None = None
    state: str = "all"  # "enabled", "disabled" or "all"


def question_query(bank: QuestionBank, filters: QuestionFilter):
    """The bank's questions matching ``filters`` (text in stem, title or explanation), newest first."""
    query = sa.select(Question).where(Question.bank_id == bank.id)
    text = filters.text.strip()
    if text:
        like = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
        query = query.where(
            sa.or_(
                Question.stem.like(like, escape="\\"),
                Question.title.like(like, escape="\\"),
                Question.explanation.like(like, escape="\\"),
            )
        )
    if filters.type in QuestionType.__members__.values():
        query = query.where(Question.type == QuestionType(filters.type))
    if filters.tag:
        query = query.where(tag_clause(filters.tag))
    if filters.difficulty in (1, 2, 3, 4, 5):
        query = query.where(Question.difficulty == filters.difficulty)
    if filters.state in ("enabled", "disabled"):
        query = query.where(Question.is_disabled.is_(filters.state == "disabled"))
    return query.order_by(Question.id.desc())


def bank_tags(bank: QuestionBank) -> list[tuple[str, int]]:
    """The knowledge points used in a bank with their number of questions, most used first."""
    count = sa.func.count()
    rows = db.session.execute(
        sa.select(QuestionTag.tag, count)
        .join(Question, Question.id == QuestionTag.question_id)
        .where(Question.bank_id == bank.id)
        .group_by(QuestionTag.tag)
        .order_by(count.desc(), QuestionTag.tag)
    ).all()
    return [(tag, n) for tag, n in rows]


def to_parsed(question: Question) -> ParsedQuestion:
    """A stored question as the plain record the importers and exporters use."""
    return ParsedQuestion(
        type=str(question.type),
        stem=question_html.unmark(question.stem),
        options=[question_html.unmark(option) for option in question.options or []],
        answer=dict(question.answer or {}),
        points=question.points,
        difficulty=question.difficulty,
        tags=list(question.tags or []),
        explanation=question_html.unmark(question.explanation),
        title=question.title or "",
        html=question_html.is_html(question.stem),
    )


def _checked(parsed: ParsedQuestion) -> ParsedQuestion:
    problems = finish_question(parsed)
    if problems:
        raise ValidationFailed(problems[0].message, problems[0].field)
    return parsed


def add_question(bank: QuestionBank, parsed: ParsedQuestion) -> Question:
    """Add a checked question to the bank (ValidationFailed names the first problem)."""
    _checked(parsed)
    question_html.store_images(parsed)
    question = Question(bank_id=bank.id, version=1, is_disabled=False, **_question_fields(parsed))
    db.session.add(question)
    db.session.flush()
    return question


def _question_fields(parsed: ParsedQuestion) -> dict:
    stem, options, explanation = question_html.stored_texts(
        parsed.html, parsed.stem, parsed.options, parsed.explanation
    )
    return {
        "type": QuestionType(parsed.type),
        "stem": stem,
        "options": options,
        "answer": parsed.answer,
        "points": parsed.points,
        "difficulty": parsed.difficulty,
        "tags": parsed.tags,
        "explanation": explanation,
        "title": parsed.title,
    }


def update_question(question: Question, parsed: ParsedQuestion) -> bool:
    """Change a question; any change bumps ``version`` (attempts keep their own snapshot).

    Returns False, changing nothing, when the content is the same.
    """
    _checked(parsed)
    question_html.store_images(parsed)
    if to_parsed(question) == parsed:
        return False
    for name, value in _question_fields(parsed).items():
        setattr(question, name, value)
    question.version = (question.version or 1) + 1
    db.session.flush()
    return True


def set_question_disabled(question: Question, disabled: bool) -> None:
    """Disable (no longer drawn into new quizzes) or enable a question; its version stays."""
    question.is_disabled = disabled
    db.session.flush()


def get_question_or_404(bank: QuestionBank, question_id: int) -> Question:
    """A question of this bank (an id from another bank is not found)."""
    question = db.session.scalar(sa.select(Question).where(Question.id == question_id, Question.bank_id == bank.id))
    if question is None:
        raise NotFound(_l("This question does not exist in this bank."))
    return question


# --- Import ---------------------------------------------------------------------------


@dataclass
class ImportReport:
    """The per-question outcome of an upload; ``token`` is set when something can be imported."""

    bank_id: int
    filename: str
    format: str
    items: list[ParsedItem] = field(default_factory=list)
    token: str | None = None
    notes: list = field(default_factory=list)  # about the whole file (columns not understood, scales)

    @property
    def valid(self) -> list[ParsedItem]:
        return [item for item in self.items if item.ok]

    @property
    def skipped(self) -> list[ParsedItem]:
        return [item for item in self.items if not item.ok]


def mark_duplicates(bank: QuestionBank | None, items: list[ParsedItem]) -> None:
    """Skip questions the bank holds already, and repeats within the file."""
    existing: dict[tuple, int] = {}
    if bank is not None and bank.id is not None:
        rows = db.session.execute(
            sa.select(Question.id, Question.type, Question.stem, Question.options).where(Question.bank_id == bank.id)
        )
        for question_id, kind, stem, options in rows:
            key = ParsedQuestion(
                type=str(kind),
                stem=question_html.unmark(stem),
                options=[question_html.unmark(option) for option in options or []],
            ).fingerprint()
            existing.setdefault(key, question_id)
    seen: dict[tuple, int] = {}
    for item in items:
        if not item.ok:
            continue
        key = item.question.fingerprint()
        if key in existing:
            item.problems.append(Problem(_l("Already in the bank (question #%(id)d).", id=existing[key])))
        elif key in seen:
            item.problems.append(Problem(_l("The same question as at line %(line)d of this file.", line=seen[key])))
        else:
            seen[key] = item.line


def parse_upload(filename: str, payload: bytes, fmt: str | None, bank: QuestionBank | None) -> ParseResult:
    """Parse a file and mark duplicates; writes nothing. File-level problems raise ValidationFailed."""
    result = parse_file(filename, payload, fmt or None)
    mark_duplicates(bank, result.items)
    return result


def _staging_dir() -> Path:
    path = Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _clear_stale_stagings(now: datetime) -> None:
    for path in _staging_dir().glob(f"{STAGING_PREFIX}*"):
        try:
            if now.timestamp() - path.stat().st_mtime > STAGING_LIFETIME.total_seconds():
                path.unlink()
        except OSError:
            continue


def prepare_import(
    bank: QuestionBank, filename: str, payload: bytes, fmt: str | None, *, admin: User, now: datetime
) -> ImportReport:
    """Parse and check an upload for ``bank``; stage the valid questions for ``confirm_import``.

    Writes no question. Raises ValidationFailed for a file that cannot be read at all.
    """
    result = parse_upload(filename, payload, fmt, bank)
    report = ImportReport(bank.id, filename, result.format, result.items, notes=result.notes)
    _clear_stale_stagings(now)
    if report.valid:
        report.token = secrets.token_urlsafe(18)
        staged = {
            "admin_id": admin.id,
            "bank_id": bank.id,
            "filename": filename,
            "format": result.format,
            "staged_at": now.isoformat(),
            "questions": [
                {"line": item.line, "label": item.label, "question": item.question.as_dict()} for item in report.valid
            ],
        }
        path = _staging_dir() / f"{STAGING_PREFIX}{report.token}.json"
        path.write_text(json.dumps(staged, ensure_ascii=False), encoding="utf-8")
    return report


def _expired():
    return NotFound(_l("This import has expired or was done already. Please upload the file again."))


def confirm_import(token: str, *, admin: User, now: datetime) -> tuple[QuestionBank, ImportReport]:
    """Store the staged questions that are still valid and new, all in the caller's transaction.

    Only the admin who uploaded may confirm, within a day; the staging is used once.
    """
    if not token or not re.fullmatch(r"[A-Za-z0-9_-]{10,64}", token):
        raise _expired()
    path = _staging_dir() / f"{STAGING_PREFIX}{token}.json"
    try:
        staged = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise _expired() from None
    staged_at = datetime.fromisoformat(staged["staged_at"])
    if staged["admin_id"] != admin.id or now - staged_at > STAGING_LIFETIME:
        raise _expired()
    # Claim the staging by renaming it: of two confirmations racing (a double
    # click), only one finds the file, so the questions go in once.
    claimed = path.with_suffix(".claimed")
    try:
        path.rename(claimed)
    except OSError:
        raise _expired() from None
    bank = db.session.get(QuestionBank, staged["bank_id"])
    if bank is None:
        raise NotFound(_l("The bank of this import no longer exists."))
    items = []
    for entry in staged["questions"]:
        question = ParsedQuestion(**entry["question"])
        item = ParsedItem(entry["line"], entry["label"], question, finish_question(question))
        items.append(item)
    mark_duplicates(bank, items)
    report = ImportReport(bank.id, staged["filename"], staged["format"], items)
    try:
        store_questions(bank, report.valid)
    except Exception:
        claimed.rename(path)  # nothing was stored: the admin may confirm again
        raise
    claimed.unlink(missing_ok=True)
    return bank, report


def store_questions(bank: QuestionBank, items: list[ParsedItem]) -> list[int]:
    """Insert the (checked) questions of ``items`` into the bank; return their ids in order.

    Two bulk statements (questions, then their tag rows) instead of an ORM object
    per question: 10,000 questions go in in about a second.
    """
    if not items:
        return []
    for item in items:
        question_html.store_images(item.question)
    rows = [
        {"bank_id": bank.id, "version": 1, "is_disabled": False, **_question_fields(item.question)} for item in items
    ]
    ids = db.session.scalars(sa.insert(Question).returning(Question.id, sort_by_parameter_order=True), rows).all()
    tag_rows = [
        {"question_id": question_id, "tag": tag}
        for question_id, item in zip(ids, items, strict=True)
        for tag in item.question.tags
    ]
    if tag_rows:
        db.session.execute(sa.insert(QuestionTag), tag_rows)
    return list(ids)


# --- Export ---------------------------------------------------------------------------


def export_questions(bank: QuestionBank, *, include_disabled: bool = False) -> list[ParsedQuestion]:
    """The bank's questions in creation order (without disabled ones unless asked)."""
    query = sa.select(Question).where(Question.bank_id == bank.id).order_by(Question.id)
    if not include_disabled:
        query = query.where(Question.is_disabled.is_(False))
    questions = [to_parsed(question) for question in db.session.scalars(query)]
    for question in questions:
        if question.html:
            question_html.load_images(question)
    return questions


def export_xlsx(bank: QuestionBank, *, include_disabled: bool = False) -> bytes:
    """The bank in the Excel import template (imports back to the same questions)."""
    header, rows = xlsx_csv.export_table(export_questions(bank, include_disabled=include_disabled))
    return xlsx_bytes([("题库", header, rows)])


def export_gift(bank: QuestionBank, *, include_disabled: bool = False) -> str:
    """The bank as Moodle GIFT text (imports back to the same questions)."""
    return gift_format.write_gift(export_questions(bank, include_disabled=include_disabled), bank.name)


def export_moodle_xml(bank: QuestionBank, *, include_disabled: bool = False) -> str:
    """The bank as Moodle XML (imports into Moodle, and back here to the same questions)."""
    from lms.exams.questions.importers.moodle_xml import write_moodle_xml

    return write_moodle_xml(export_questions(bank, include_disabled=include_disabled), bank.name)


def export_json(bank: QuestionBank, *, include_disabled: bool = False) -> str:
    """One object per question: type, title, stem, options, answers, points, difficulty, tags, explanation.

    ``answers`` is readable on its own: the correct option letters for choice
    questions, ``[true]``/``[false]`` for true/false, and for fill-in the list of
    accepted answers of each blank.
    """
    objects = []
    for question in export_questions(bank, include_disabled=include_disabled):
        answers = kind_of(question.type).export_answers(question.answer)
        extra = {key: question.answer[key] for key in ("weights", "indefinite") if key in question.answer}
        if question.html:
            extra.update(format="html", images=question.images)
        objects.append(
            {
                "type": question.type,
                "title": question.title,
                "stem": question.stem,
                "options": question.options,
                "answers": answers,
                "points": question.points,
                "difficulty": question.difficulty,
                "tags": question.tags,
                "explanation": question.explanation,
                **extra,
            }
        )
    return json.dumps(objects, ensure_ascii=False, indent=2) + "\n"


def template_xlsx() -> bytes:
    """The empty import template with one example of each question type and the rules."""
    rules = [[header, str(text)] for header, text in xlsx_csv.TEMPLATE_HELP]
    return xlsx_bytes([("题库", xlsx_csv.HEADER, xlsx_csv.EXAMPLE_ROWS), ("填写说明", ("列", "说明"), rules)])
