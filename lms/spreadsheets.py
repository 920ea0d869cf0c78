"""Reading uploaded tables (.xlsx, .csv) safely and writing Excel exports.

Shared by every importer and export: an upload is bounded in size, a .xlsx is
checked as a zip before openpyxl opens it (a zip bomb is refused by its declared
expanded size, XML with a DOCTYPE or entity declarations is refused, every
part must decompress), any error while reading it is a "not a valid workbook"
message, and a CSV is decoded as UTF-8 (with or without BOM) or GB18030.

Every text written to a workbook (by ``xlsx_bytes`` here or the streaming writer
of ``lms.assessment.export``) goes through ``workbook_text``, which removes the
characters a workbook cannot hold: one control character in a member's name
would otherwise break every export that includes it.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed

MAX_EXPANDED_BYTES = 100 * 1024 * 1024
MAX_ROWS = 50_000
# What XML 1.0 (and so a workbook) cannot hold: openpyxl's ILLEGAL_CHARACTERS_RE
# (C0 controls but tab, CR, LF), plus U+FFFE/U+FFFF and lone surrogates (not encodable).
_NOT_IN_WORKBOOK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_IN_SHEET_TITLE = re.compile(r"[\\/?*\[\]:]")
# A DOCTYPE (and with it any entity declaration) in a workbook part, in UTF-8 or UTF-16.
_DECLARATIONS = tuple(
    word.encode(codec) for word in ("<!DOCTYPE", "<!ENTITY") for codec in ("ascii", "utf-16-le", "utf-16-be")
)
_SCAN_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class TableRow:
    number: int  # the row number a person sees in Excel (header is row 1)
    values: dict[str, str]


def read_upload(stream, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` from ``stream``; a longer upload is refused, not truncated."""
    payload = stream.read(max_bytes + 1)
    if len(payload) > max_bytes:
        raise ValidationFailed(_l("The file is larger than %(mb)d MB.", mb=max_bytes // (1024 * 1024)), "file")
    if not payload:
        raise ValidationFailed(_l("The file is empty."), "file")
    return payload


def decode_text(payload: bytes) -> str:
    """Decode text as UTF-8 (BOM or not), else GB18030 (a superset of GBK), else refuse."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise ValidationFailed(_l("The file is not readable text (expected UTF-8 or GBK)."), "file")


def workbook_text(value) -> str:
    """``str(value)`` without the characters a workbook cannot hold (see module docstring)."""
    return _NOT_IN_WORKBOOK.sub("", str(value))


def sheet_title(title, used: set[str] | None = None) -> str:
    """A valid, unique sheet title: no ``\\ / ? * [ ] :`` nor control characters, at most 31 characters."""
    base = _NOT_IN_SHEET_TITLE.sub(" ", workbook_text(title)).strip()[:31] or "Sheet"
    if used is None:
        return base
    name, n = base, 2
    while name.casefold() in used:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.casefold())
    return name


def _not_a_workbook() -> ValidationFailed:
    return ValidationFailed(_l("The file is not a valid Excel workbook (.xlsx)."), "file")


def _has_declarations(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether an XML part holds a DOCTYPE or entity declaration (read in chunks, every byte checked)."""
    overlap = max(len(word) for word in _DECLARATIONS) - 1
    tail = b""
    with archive.open(info) as part:
        while chunk := part.read(_SCAN_CHUNK):
            window = tail + chunk
            if any(word in window for word in _DECLARATIONS):
                return True
            tail = window[-overlap:]
    return False


def _check_xlsx_archive(payload: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        infos = archive.infolist()
    except Exception as error:  # BadZipFile, but also OSError, ValueError... for hostile archives
        raise _not_a_workbook() from error
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise _not_a_workbook()
    expanded = sum(info.file_size for info in infos)
    if expanded > MAX_EXPANDED_BYTES:
        raise ValidationFailed(
            _l("The workbook expands to more than %(mb)d MB and is refused.", mb=MAX_EXPANDED_BYTES // (1024 * 1024)),
            "file",
        )
    try:
        # Every part is decompressed (a truncated or corrupt file fails here, with its CRC)
        # and XML parts are searched for declarations: entities can expand without bound.
        declared = any(_has_declarations(archive, info) for info in infos if not info.is_dir())
    except Exception as error:  # BadZipFile, zlib.error, EOFError, NotImplementedError (compression)...
        raise _not_a_workbook() from error
    if declared:
        raise ValidationFailed(_l("The workbook holds XML declarations (DOCTYPE, ENTITY) and is refused."), "file")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_from_xlsx(payload: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    _check_xlsx_archive(payload)
    try:
        workbook = load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for broken files
        raise _not_a_workbook() from error
    try:
        # openpyxl reads a read-only sheet lazily: a broken sheet fails while its rows are read.
        try:
            for row in workbook.worksheets[0].iter_rows(values_only=True):
                yield [_cell_text(value) for value in row]
        except Exception as error:  # ParseError, KeyError, ValueError, zlib.error, BadZipFile...
            raise _not_a_workbook() from error
    finally:
        workbook.close()


def _rows_from_csv(payload: bytes) -> Iterator[list[str]]:
    text = decode_text(payload)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    for row in csv.reader(io.StringIO(text), dialect):
        yield [cell.strip() for cell in row]


def read_table(filename: str, payload: bytes, aliases: dict[str, Sequence[str]]) -> list[TableRow]:
    """Parse a .xlsx or .csv upload into rows keyed by canonical column names.

    ``aliases`` maps each canonical column to the header texts accepted for it
    (Chinese and English). Unknown headers are ignored; fully empty rows skipped.
    Raises ValidationFailed for a wrong type, a broken file or a missing header row.
    """
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        rows = _rows_from_xlsx(payload)
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        rows = _rows_from_csv(payload)
    else:
        raise ValidationFailed(_l("Only .xlsx and .csv files can be imported."), "file")
    lookup = {alias.strip().casefold(): key for key, names in aliases.items() for alias in (key, *names)}
    header: list[str | None] | None = None
    table: list[TableRow] = []
    for index, cells in enumerate(rows, start=1):
        if header is None:
            if not any(cells):
                continue
            header = [lookup.get(cell.strip().casefold().rstrip("*")) for cell in cells]
            if not any(header):
                raise ValidationFailed(_l("The first row must hold the column names of the template."), "file")
            continue
        if not any(cells):
            continue
        if len(table) >= MAX_ROWS:
            raise ValidationFailed(_l("The file has more than %(n)d rows.", n=MAX_ROWS), "file")
        values = {key: cells[i] if i < len(cells) else "" for i, key in enumerate(header) if key}
        table.append(TableRow(index, values))
    if header is None:
        raise ValidationFailed(_l("The file has no rows."), "file")
    return table


def _text_cell(sheet, value):
    """Text loses the characters a workbook cannot hold; text starting with "=" stays
    text: openpyxl would store it as a formula, which both changes the value (a
    question option "=1+1") and lets exported user data run formulas in the
    reader's Excel (CSV/formula injection)."""
    if isinstance(value, str):
        value = workbook_text(value)
    if isinstance(value, str) and value.startswith("="):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def xlsx_bytes(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence]]]) -> bytes:
    """Write sheets of (title, header, rows) to .xlsx in openpyxl's streaming mode."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    used: set[str] = set()
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=sheet_title(title, used))
        from openpyxl.cell import WriteOnlyCell

        header_cells = []
        for text in header:
            cell = WriteOnlyCell(sheet, value=workbook_text(text))
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append([_text_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
