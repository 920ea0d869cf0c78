"""Excel exports of reports and probation checklists, streamed to the browser as they are written.

An .xlsx file is a zip of XML parts. ``stream_xlsx`` writes the worksheet XML
row by row (inline strings, one bold header row) into a zip that is never
seeked, and hands each compressed chunk to the response as soon as it exists:
the download starts at once, memory stays at one batch of rows
(``reports.iter_results``), and 100,000 members take seconds, not minutes
(openpyxl's per-cell objects cost about ten times more). The files open in
Excel, WPS, LibreOffice and openpyxl (the tests read them back with openpyxl).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape

from flask_babel import gettext as _

from lms.assessment.labels import grade_choices, grade_label, pace_label
from lms.assessment.reports import BranchReport, iter_results
from lms.spreadsheets import sheet_title, workbook_text

Sheet = tuple[str, Sequence[str], Iterable[Sequence]]

CHUNK_BYTES = 256 * 1024

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
    '<Relationship Id="rIdStyles" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_SHEET_REL = (
    '<Relationship Id="rId{n}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet{n}.xml"/>'
)
# Two cell formats: 0 plain, 1 bold (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


class _Pipe(io.RawIOBase):
    """A write-only, unseekable file collecting what the zip writes, taken out chunk by chunk."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        self.size = 0
        return data


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(reference: str, value, style: str = "") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float):
        return f'<c r="{reference}"{style}><v>{value!r}</v></c>'
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = escape(workbook_text(value))
    return f'<c r="{reference}"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _row(number: int, values: Sequence, columns: list[str], style: str = "") -> str:
    cells = "".join(_cell(f"{columns[i]}{number}", value, style) for i, value in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def stream_xlsx(sheets: Sequence[Sheet]) -> Iterator[bytes]:
    """Yield the bytes of an .xlsx workbook with ``sheets`` of (title, header, rows), as it is written."""
    pipe = _Pipe()
    used: set[str] = set()
    titles = [sheet_title(title, used) for title, _header, _rows in sheets]
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        numbers = range(1, len(sheets) + 1)
        archive.writestr(
            "[Content_Types].xml", _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(n=n) for n in numbers))
        )
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr(
            "xl/workbook.xml",
            _WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{escape(title, {chr(34): "&quot;"})}" sheetId="{n}" r:id="rId{n}"/>'
                    for n, title in zip(numbers, titles, strict=True)
                )
            ),
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(rels="".join(_SHEET_REL.format(n=n) for n in numbers))
        )
        archive.writestr("xl/styles.xml", _STYLES)
        for n, (_title, header, rows) in zip(numbers, sheets, strict=True):
            columns = [_column(i) for i in range(max(len(header), 1))]
            with archive.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as part:
                part.write((_SHEET_HEAD + _row(1, [str(h) for h in header], columns, ' s="1"')).encode())
                buffer: list[str] = []
                for number, values in enumerate(rows, start=2):
                    if len(values) > len(columns):
                        columns += [_column(i) for i in range(len(columns), len(values))]
                    buffer.append(_row(number, values, columns))
                    if len(buffer) >= 500:
                        part.write("".join(buffer).encode())
                        buffer.clear()
                        if pipe.size >= CHUNK_BYTES:
                            yield pipe.take()
                part.write(("".join(buffer) + _SHEET_TAIL).encode())
            yield pipe.take()
    yield pipe.take()


def _hours(value) -> float:
    return round(float(value or 0), 1)


def member_sheet(query) -> tuple[str, list[str], Iterable[list]]:
    """The members sheet of a report: one row per stored result of ``query``."""
    header = [
        _("Name"),
        _("Branch"),
        _("Member status"),
        _("Study hours"),
        _("Online hours"),
        _("Offline hours"),
        _("Required hours"),
        _("Expected by today"),
        _("Courses completed"),
        _("Courses required"),
        _("Quizzes passed"),
        _("Quizzes required"),
        _("Meetings attended"),
        _("Meetings expected at"),
        _("Score"),
        _("Grade"),
        _("Pace"),
        _("At risk"),
        _("Items due within 14 days"),
        _("Items overdue"),
        _("Period"),
    ]
    yes, no = _("Yes"), _("No")
    # Translated once per export, not once per row.
    from lms.assessment.scoring import Grade, Pace
    from lms.auth.models import MEMBER_STATUS_LABELS

    grades = {str(g): grade_label(str(g)) for g in Grade}
    paces = {str(p): pace_label(str(p)) for p in Pace}
    statuses = {str(k): str(v) for k, v in MEMBER_STATUS_LABELS.items()}

    def rows():
        for r in iter_results(query, with_items=False):
            yield [
                r.member_name,
                r.branch_name,
                statuses.get(r.member_status, r.member_status),
                _hours(r.hours),
                _hours(r.online_hours),
                _hours(r.offline_hours),
                _hours(r.required_hours) if r.required_hours else "",
                _hours(r.expected_hours) if r.required_hours else "",
                r.courses_done,
                r.courses_required,
                r.quizzes_passed,
                r.quizzes_required,
                r.meetings_attended,
                r.meetings_expected,
                r.score if r.score is not None else "",
                grades.get(r.grade or "", ""),
                paces.get(r.pace, ""),
                yes if r.at_risk else no,
                r.due_soon,
                r.overdue,
                f"{r.period_start.isoformat()} – {r.period_end.isoformat()}",
            ]

    return _("Members"), header, rows()


def branch_sheet(report: BranchReport) -> tuple[str, list[str], list[list]]:
    """The branches sheet: each sub-branch's roll-up, then the total."""
    header = [
        _("Branch"),
        _("Members"),
        _("Mean score"),
        _("Mean study hours"),
        _("Participation"),
        *(label for _grade, label in grade_choices()),
        _("Behind"),
        _("At risk"),
    ]

    def line(name, tally):
        return [
            name,
            tally.members,
            round(tally.mean_score, 1) if tally.mean_score is not None else "",
            round(tally.mean_hours, 1) if tally.mean_hours is not None else "",
            f"{tally.participation:.0%}" if tally.participation is not None else "",
            *tally.by_grade.values(),
            tally.behind,
            tally.at_risk,
        ]

    rows = [line(item.name or _("No branch"), item.tally) for item in report.lines]
    if report.direct is not None:
        rows.append(line(_("Directly in %(branch)s", branch=report.parent.name), report.direct))
    rows.append(line(_("Total"), report.total))
    return _("Branches"), header, rows
