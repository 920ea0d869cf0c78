"""Reading a question workbook as admins really fill it in.

- The header row is found, not assumed: the first row (of the first 30) whose
  cells name at least two known columns, one of them the stem. Title rows and
  instructions above it are passed over.
- The sheet that holds the questions is read, not only the first: a 说明
  sheet before the questions is common. The first sheet with a header row wins.
- A vertically merged cell (a 题型 cell covering a whole section) applies to
  every row it covers.
- Cells keep what the admin sees: a cell formatted as a percentage reads
  ``0.5%`` (not 0.005), a date reads as displayed (``1949/10/1``), a number
  keeps its displayed decimals.
- A header is matched after full-width folding and without ``*``, ``（必填）``
  and spaces: ``*题型``, ``题型（必填）``, ``选项Ａ`` and ``选项1`` all work.

Returns plain rows: (row number, {column key: text}), plus the headers that
were not understood so the report can name them.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l

from lms.errors import ValidationFailed
from lms.spreadsheets import MAX_ROWS, _check_xlsx_archive, decode_text

HEADER_SEARCH_ROWS = 30
# "（必填）", "(选填)", "[必填]", "*" and the like around a header name
_HEADER_DECORATION = re.compile(r"[（(\[【][^）)\]】]*[）)\]】]|[*＊※:：\s]")


@dataclass
class Sheet:
    name: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    header_row: int = 1
    unknown_headers: list[str] = field(default_factory=list)
    header_texts: dict[str, str] = field(default_factory=dict)  # column key -> the header as written


def header_key(text: str, lookup: dict[str, str]) -> str | None:
    """The column key of a header text, or None."""
    folded = unicodedata.normalize("NFKC", text or "").strip().casefold()
    if not folded:
        return None
    for candidate in (folded, _HEADER_DECORATION.sub("", folded)):
        if candidate in lookup:
            return lookup[candidate]
    return None


def read_sheet(filename: str, payload: bytes, aliases: dict[str, Sequence[str]], required: str = "stem") -> Sheet:
    """Read the question sheet of a .xlsx/.csv upload; a file without a header row raises."""
    lookup = {
        unicodedata.normalize("NFKC", alias).strip().casefold(): key
        for key, names in aliases.items()
        for alias in (key, *names)
    }
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        grids = _grids_from_xlsx(payload)
    elif lower.endswith((".csv", ".txt")):
        grids = [("", _grid_from_csv(payload))]
    else:
        raise ValidationFailed(_l("Only .xlsx and .csv files can be imported."), "file")
    any_rows = False
    for name, grid in grids:
        any_rows = any_rows or any(any(cells) for cells in grid)
        sheet = _sheet_from_grid(name, grid, lookup, required)
        if sheet is not None:
            return sheet
    if not any_rows:
        raise ValidationFailed(_l("The file has no rows."), "file")
    raise ValidationFailed(
        _l("No row holds the template's column names (题型, 题干, 答案 …): the header row was not found."), "file"
    )


def _sheet_from_grid(name: str, grid: list[list[str]], lookup: dict[str, str], required: str) -> Sheet | None:
    first = next((index for index, cells in enumerate(grid) if any(cells)), None)
    for index, cells in enumerate(grid[:HEADER_SEARCH_ROWS]):
        keys = [header_key(cell, lookup) for cell in cells]
        found = {key for key in keys if key}
        if required not in found or (len(found) < 2 and index != first):
            continue
        sheet = Sheet(name, header_row=index + 1)
        columns: dict[int, str] = {}
        for position, (cell, key) in enumerate(zip(cells, keys, strict=True)):
            if key and key not in columns.values():
                columns[position] = key
                sheet.header_texts[key] = cell.strip()
            elif cell.strip() and not key:
                sheet.unknown_headers.append(cell.strip())
        for number, row in enumerate(grid[index + 1 :], start=index + 2):
            if not any(row):
                continue
            if len(sheet.rows) >= MAX_ROWS:
                raise ValidationFailed(_l("The file has more than %(n)d rows.", n=MAX_ROWS), "file")
            values = {key: (row[position] if position < len(row) else "") for position, key in columns.items()}
            extra = [cell for position, cell in enumerate(row) if position not in columns and cell]
            if extra and not any(values.values()):
                values["_other"] = " ".join(extra)  # e.g. a section title in an unnamed column
            sheet.rows.append((number, values))
        return sheet
    return None


# --- Cells as displayed -------------------------------------------------------------


def _decimals(number_format: str) -> int | None:
    match = re.search(r"0\.(0+)", number_format)
    if match:
        return len(match.group(1))
    return 0 if re.search(r"(^|[^.#0])0(?![.0])", number_format) else None


def _number_text(value: float, number_format: str) -> str:
    fmt = (number_format or "General").split(";")[0]
    if "%" in fmt:
        places = _decimals(fmt.replace("%", "")) or 0
        return f"{value * 100:.{places}f}%"
    if fmt != "General" and "@" not in fmt:
        places = _decimals(fmt)
        if places is not None:
            return f"{value:,.{places}f}" if "," in fmt else f"{value:.{places}f}"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.15g}"
    return str(value)


_DATE_PARTS = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("mmmm", "%B"),
    ("mmm", "%b"),
    ("mm", "%m"),
    ("m", "{month}"),
    ("dd", "%d"),
    ("d", "{day}"),
    ("hh", "%H"),
    ("h", "{hour}"),
    ("ss", "%S"),
]


def _date_text(value: date | datetime | time, number_format: str) -> str:
    fmt = (number_format or "").split(";")[0]
    fmt = re.sub(r"\[[^\]]*\]", "", fmt).replace("\\", "")
    lower = fmt.lower()
    # Excel's built-in short date (14, "mm-dd-yy") shows in the reader's locale: 1949/10/1 in China
    if lower in ("", "general", "mm-dd-yy", "m/d/yy", "m/d/yyyy"):
        lower = "yyyy/m/d" if not isinstance(value, time) else "h:mm:ss"
        if isinstance(value, datetime) and value.time() != time():
            lower += " h:mm"
    out, position = [], 0
    quoted = False
    while position < len(lower):
        char = lower[position]
        if char == '"':
            quoted = not quoted
            position += 1
            continue
        if quoted:
            out.append(fmt[position])
            position += 1
            continue
        if lower.startswith("mm", position) and _minute_context(lower, position):
            out.append("%M")
            position += 2
            continue
        for token, code in _DATE_PARTS:
            if lower.startswith(token, position):
                out.append(code)
                position += len(token)
                break
        else:
            out.append(fmt[position].replace("%", "%%"))
            position += 1
    pattern = "".join(out)
    if isinstance(value, time):
        value = datetime.combine(date(2000, 1, 1), value)
    elif not isinstance(value, datetime):
        value = datetime.combine(value, time())
    try:
        text = value.strftime(pattern)
    except ValueError:
        return value.date().isoformat()
    return text.format(month=value.month, day=value.day, hour=value.hour)


def _minute_context(lower: str, position: int) -> bool:
    before = lower[:position].rstrip()
    return before.endswith(("h", "h:", ":")) or lower[position + 2 : position + 3] == ":"


def _rich_text(value) -> str:
    """Rich text with underlined spaces (the blank of a fill-in stem) gets ____ there."""
    out = []
    for part in value:
        if isinstance(part, str):
            out.append(part)
        elif part.font is not None and part.font.u and not part.text.strip():
            out.append("____")
        else:
            out.append(part.text)
    return "".join(out)


def cell_text(cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if type(value).__name__ == "CellRichText":
        return _rich_text(value).replace("\r\n", "\n").strip()
    if isinstance(value, str) and cell.font is not None and cell.font.u and not value.strip():
        return "____"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime | date | time):
        return _date_text(value, cell.number_format)
    if isinstance(value, int | float):
        return _number_text(value, cell.number_format)
    return str(value).replace("\r\n", "\n").strip()


def _grids_from_xlsx(payload: bytes) -> list[tuple[str, list[list[str]]]]:
    from openpyxl import load_workbook

    _check_xlsx_archive(payload)
    try:
        workbook = load_workbook(io.BytesIO(payload), data_only=True, rich_text=True)
    except Exception as error:  # openpyxl raises many types for broken files
        raise ValidationFailed(_l("The file is not a valid Excel workbook (.xlsx)."), "file") from error
    grids = []
    try:
        for sheet in workbook.worksheets:
            grid = [[cell_text(cell) for cell in row] for row in sheet.iter_rows()]
            if len(grid) > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise ValidationFailed(_l("The file has more than %(n)d rows.", n=MAX_ROWS), "file")
            for merged in sheet.merged_cells.ranges:
                # a merged cell covering several rows applies to each (one 题型 per section);
                # across columns only its first column holds the text
                top = merged.min_row - 1
                column = merged.min_col - 1
                if top >= len(grid) or column >= len(grid[top]):
                    continue
                text = grid[top][column]
                for row in range(merged.min_row, min(merged.max_row, len(grid))):
                    if column < len(grid[row]):
                        grid[row][column] = text
            grids.append((sheet.title, grid))
    finally:
        workbook.close()
    return grids


def _grid_from_csv(payload: bytes) -> list[list[str]]:
    text = decode_text(payload)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    grid = []
    for row in csv.reader(io.StringIO(text), dialect):
        grid.append([cell.strip() for cell in row])
        if len(grid) > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise ValidationFailed(_l("The file has more than %(n)d rows.", n=MAX_ROWS), "file")
    return grid
