"""Question files in and out: Excel/CSV, Moodle GIFT and Aiken, as plain records.

The parsers take the uploaded bytes and return a ``ParseResult``: one
``ParsedItem`` per question found, either with a ``ParsedQuestion`` ready to be
stored or with the problems that make it unusable (each with the line or row
where it starts). They never touch the database; ``lms.exams.questions.banks`` stages,
de-duplicates and stores. A problem with the whole file (empty, not text, not a
workbook) raises ``ValidationFailed``.
"""

import re

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.exams.questions.importers.common import (
    MAX_OPTIONS,
    MAX_QUESTIONS,
    ParsedItem,
    ParsedQuestion,
    ParseResult,
    Problem,
    finish_question,
)
from lms.spreadsheets import decode_text

__all__ = [
    "FORMATS",
    "MAX_OPTIONS",
    "MAX_QUESTIONS",
    "ParseResult",
    "ParsedItem",
    "ParsedQuestion",
    "Problem",
    "detect_format",
    "finish_question",
    "parse_file",
]

FORMATS = ("xlsx", "csv", "gift", "aiken")


def detect_format(filename: str, payload: bytes) -> str:
    """The format of an upload from its name, sniffing .txt between GIFT and Aiken."""
    name = (filename or "").lower()
    for extension, fmt in ((".xlsx", "xlsx"), (".csv", "csv"), (".gift", "gift"), (".aiken", "aiken")):
        if name.endswith(extension):
            return fmt
    if name.endswith(".xls"):
        raise ValidationFailed(_l("Old Excel files (.xls) cannot be read: save the file as .xlsx."), "file")
    if name.endswith(".txt") or not name:
        text = decode_text(payload)
        if re.search(r"(?im)^\s*(ANSWER|答案)\s*[:：]", text) and "{" not in text:
            return "aiken"
        return "gift"
    raise ValidationFailed(_l("Unknown file type: use .xlsx, .csv, .gift or .txt (GIFT or Aiken)."), "file")


def parse_file(filename: str, payload: bytes, fmt: str | None = None) -> ParseResult:
    """Parse an upload in ``fmt`` (or the format its name says); file-level errors raise."""
    from lms.exams.questions.importers import aiken, gift, xlsx_csv

    fmt = fmt or detect_format(filename, payload)
    if fmt in ("xlsx", "csv"):
        return xlsx_csv.parse_table(f"upload.{fmt}", payload)
    if fmt == "gift":
        return gift.parse_gift(payload)
    if fmt == "aiken":
        return aiken.parse_aiken(payload)
    raise ValueError(f"unknown question format {fmt!r}")
