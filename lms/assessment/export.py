"""Excel exports of reports and probation checklists, written in openpyxl's streaming mode.

Rows are written as they are read (``reports.iter_results``) into an unnamed
temporary file, which the view streams to the browser: neither the rows nor
the workbook are held in memory, so 100,000 members export like 100.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from typing import IO

from flask_babel import gettext as _

from lms.assessment.labels import grade_choices, grade_label, pace_label
from lms.assessment.reports import BranchReport, iter_results
from lms.auth.models import MemberStatus


def status_text(status: str) -> str:
    from lms.auth.models import MEMBER_STATUS_LABELS

    try:
        return str(MEMBER_STATUS_LABELS[MemberStatus(status)])
    except ValueError:
        return status


def write_workbook(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence]]]) -> IO[bytes]:
    """Write sheets of (title, header, rows) to a temporary .xlsx file, rewound for reading."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        header_cells = []
        for text in header:
            cell = WriteOnlyCell(sheet, value=str(text))
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            sheet.append(list(row))
    output = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    workbook.save(output)
    output.seek(0)
    return output


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
        _("Score"),
        _("Grade"),
        _("Pace"),
        _("At risk"),
        _("Items due within 14 days"),
        _("Items overdue"),
        _("Period"),
    ]
    yes, no = _("Yes"), _("No")

    def rows():
        for r in iter_results(query):
            yield [
                r.member_name,
                r.branch_name,
                status_text(r.member_status),
                _hours(r.hours),
                _hours(r.online_hours),
                _hours(r.offline_hours),
                _hours(r.required_hours) if r.required_hours else "",
                _hours(r.expected_hours) if r.required_hours else "",
                r.courses_done,
                r.courses_required,
                r.quizzes_passed,
                r.quizzes_required,
                r.score if r.score is not None else "",
                grade_label(r.grade),
                pace_label(r.pace),
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
        rows.append(line(_("Directly in %(branch)s", branch=report.root.name), report.direct))
    rows.append(line(_("Total"), report.total))
    return _("Branches"), header, rows
