"""Question files in and out: Excel/CSV, Moodle GIFT and Aiken, as plain records.

The parsers take the uploaded bytes and return a ``ParseResult``: one
``ParsedItem`` per question found, either with a ``ParsedQuestion`` ready to be
stored or with the problems that make it unusable (each with the line or row
where it starts). They never touch the database; ``lms.exams.questions.banks`` stages,
de-duplicates and stores. A problem with the whole file (empty, not text, not a
workbook) raises ``ValidationFailed``.
"""

import importlib
import logging
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

FORMATS = ("xlsx", "csv", "gift", "aiken", "moodle_xml", "json")
logger = logging.getLogger(__name__)


def detect_format(filename: str, payload: bytes) -> str:
    """The format of an upload from its name, sniffing .txt between GIFT and Aiken."""
    name = (filename or "").lower()
    for extension, fmt in (
        (".xlsx", "xlsx"),
        (".csv", "csv"),
        (".gift", "gift"),
        (".aiken", "aiken"),
        (".xml", "moodle_xml"),
        (".json", "json"),
    ):
        if name.endswith(extension):
            return fmt
    if name.endswith(".xls"):
        raise ValidationFailed(_l("Old Excel files (.xls) cannot be read: save the file as .xlsx."), "file")
    if name.endswith(".txt") or not name:
        text = decode_text(payload)
        if text.lstrip().startswith("<?xml") or text.lstrip().startswith("<quiz"):
            return "moodle_xml"
        if re.search(r"(?im)^\s*(ANSWER|答案)\s*[:：]", text) and "{" not in text:
            return "aiken"
        return "gift"
    raise ValidationFailed(
        _l("Unknown file type: use .xlsx, .csv, .gift, .xml (Moodle XML), .json or .txt (GIFT or Aiken)."), "file"
    )


def parse_file(filename: str, payload: bytes, fmt: str | None = None) -> ParseResult:
    """Parse an upload in ``fmt`` (or the format its name says); file-level errors raise."""
    fmt = fmt or detect_format(filename, payload)
    parsers = {
        "xlsx": ("xlsx_csv", "parse_table", "upload.xlsx"),
        "csv": ("xlsx_csv", "parse_table", "upload.csv"),
        "gift": ("gift", "parse_gift", None),
        "aiken": ("aiken", "parse_aiken", None),
        "moodle_xml": ("moodle_xml", "parse_moodle_xml", None),
        "json": ("json_import", "parse_json", None),
    }
    if fmt not in parsers:
        raise ValueError(f"unknown question format {fmt!r}")
    module_name, function_name, name = parsers[fmt]
    # imported here, after this package's names exist
    parse = getattr(importlib.import_module(f"lms.exams.questions.importers.{module_name}"), function_name)
    try:
        return parse(name, payload) if name else parse(payload)
    except ValidationFailed:
        raise
    except Exception as error:  # no file may break the import page: report it as unreadable
        logger.exception("question file %r (%s) could not be parsed", filename, fmt)
        raise ValidationFailed(
            _l("The file could not be read as %(format)s; nothing was imported.", format=fmt), "file"
        ) from error
