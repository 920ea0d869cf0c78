"""Reading uploaded tables (.xlsx, .csv) safely and writing Excel exports.

Shared by every importer and export: an upload is bounded in size, a .xlsx is
checked as a zip before openpyxl opens it (a zip bomb is refused by its declared
expanded size), and a CSV is decoded as UTF-8 (with or without BOM) or GB18030.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed

MAX_EXPANDED_BYTES = 100 * 1024 * 1024
MAX_ROWS = 50_000


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


def _check_xlsx_archive(payload: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except zipfile.BadZipFile as error:
        raise ValidationFailed(_l("The file is not a valid Excel workbook (.xlsx)."), "file") from error
    names = archive.namelist()
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise ValidationFailed(_l("The file is not a valid Excel workbook (.xlsx)."), "file")
    expanded = sum(info.file_size for info in archive.infolist())
    if expanded > MAX_EXPANDED_BYTES:
        raise ValidationFailed(
            _l("The workbook expands to more than %(mb)d MB and is refused.", mb=MAX_EXPANDED_BYTES // (1024 * 1024)),
            "file",
        )


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
        raise ValidationFailed(_l("The file is not a valid Excel workbook (.xlsx)."), "file") from error
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
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
    """Text starting with "=" stays text: openpyxl would store it as a formula, which
    both changes the value (a question option "=1+1") and lets exported user data
    run formulas in the reader's Excel (CSV/formula injection)."""
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
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        from openpyxl.cell import WriteOnlyCell

        header_cells = []
        for text in header:
            cell = WriteOnlyCell(sheet, value=str(text))
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append([_text_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
