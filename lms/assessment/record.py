"""The yearly learning record (年度学习记录): one member's year on a page and in a PDF.

Hours by source, courses studied and completed, quiz and contest results,
offline activities, and the member's stored assessment results of the year,
ready for 民主评议党员 and the annual assessment. The study part comes from the
courses domain's learning archive; callers check scope first (``get_member_or_404``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from lms.assessment import freshness, sources
from lms.assessment.models import AssessmentResult, AssessmentRun
from lms.auth.models import User
from lms.courses.archive import LearningArchive, learning_archive

CONTEST_KIND = "contest"


@dataclass(frozen=True)
class CourseLine:
    course_id: int
    title: str
    hours: float
    lessons: int
    completed_on: date | None


@dataclass
class YearRecord:
    member: User
    year: int
    years: list[int]
    hours_by_source: dict[str, float]
    courses: list[CourseLine]
    quizzes: list[sources.QuizLine]
    contests: list[sources.QuizLine]
    archive: LearningArchive
    results: list[tuple[AssessmentResult, AssessmentRun]] = field(default_factory=list)

    @property
    def total_hours(self) -> float:
        return self.archive.totals.total_hours

    @property
    def online_hours(self) -> float:
        return self.archive.totals.online_hours

    @property
    def offline_hours(self) -> float:
        return self.archive.totals.offline_hours

    @property
    def completed_courses(self) -> int:
        return sum(1 for course in self.courses if course.completed_on)


def year_record(member: User, year: int, *, now: datetime) -> YearRecord:
    """Everything ``member`` studied and achieved in ``year`` (local days); a few queries."""
    from lms import clock

    start, end = date(year, 1, 1), date(year, 12, 31)
    per_hour = sources.seconds_per_study_hour(end)  # the year's conversion, kept when it changes later
    archive = learning_archive(member, year, now=now)
    # The archive's totals are ``ledger.member_study_totals``: the numbers of every other page.
    by_source = {str(source): seconds / per_hour for source, seconds in archive.totals.by_source.items()}
    completed = {course.id: clock.local_day(at) for course, at in archive.completed_courses}
    courses: dict[int, dict] = {}
    for line in archive.online:
        entry = courses.setdefault(line.course_id, {"title": line.course_title, "seconds": 0.0, "lessons": set()})
        entry["seconds"] = archive.totals.by_course.get(line.course_id, 0.0)
        entry["lessons"].add(line.lesson_id)
    for course, _at in archive.completed_courses:
        courses.setdefault(course.id, {"title": course.title, "seconds": 0.0, "lessons": set()})
    course_lines = sorted(
        (
            CourseLine(course_id, entry["title"], entry["seconds"] / per_hour, len(entry["lessons"]),
                       completed.get(course_id))
            for course_id, entry in courses.items()
        ),
        key=lambda line: (line.completed_on is None, line.completed_on or date.max, line.title),
    )  # fmt: skip
    quiz_lines = sources.quiz_lines(member.id, start, end)
    results = freshness.results_of_year(member, year)
    return YearRecord(
        member=member,
        year=year,
        years=archive.years,
        hours_by_source=by_source,
        courses=course_lines,
        quizzes=[line for line in quiz_lines if line.kind != CONTEST_KIND],
        contests=[line for line in quiz_lines if line.kind == CONTEST_KIND],
        archive=archive,
        results=results,
    )


class PdfUnavailable(RuntimeError):
    """WeasyPrint (or the system libraries it needs: Pango, fonts) is not installed."""


def render_pdf(html: str, base_url: str) -> bytes:
    """The record page as PDF (WeasyPrint with the system's CJK fonts).

    Raises ``PdfUnavailable`` when WeasyPrint or its libraries are missing, so
    the page can say so and offer the printable page instead.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as error:  # OSError: libpango / libgobject not found
        raise PdfUnavailable(str(error)) from error
    return weasyprint.HTML(string=html, base_url=base_url).write_pdf()
