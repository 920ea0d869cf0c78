"""Words for grades and pace, shown in pages and exports."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lms.assessment.scoring import GRADES_BEST_FIRST, Grade, Pace

GRADE_LABELS = {
    Grade.EXCELLENT: _l("Excellent"),  # 优秀
    Grade.GOOD: _l("Good"),  # 良好
    Grade.QUALIFIED: _l("Qualified"),  # 合格
    Grade.UNQUALIFIED: _l("Unqualified"),  # 不合格
}

# Bootstrap colour of each grade's badge.
GRADE_COLOURS = {
    Grade.EXCELLENT: "success",
    Grade.GOOD: "primary",
    Grade.QUALIFIED: "warning",
    Grade.UNQUALIFIED: "danger",
}

PACE_LABELS = {
    Pace.DONE: _l("Hours reached"),
    Pace.ON_TRACK: _l("On track"),
    Pace.AT_RISK: _l("Slightly behind"),
    Pace.BEHIND: _l("Behind"),
    Pace.NONE: _l("No hours required"),
}

PACE_COLOURS = {
    Pace.DONE: "success",
    Pace.ON_TRACK: "success",
    Pace.AT_RISK: "warning",
    Pace.BEHIND: "danger",
    Pace.NONE: "secondary",
}


def grade_label(grade: str | None) -> str:
    """The grade's word, or "" when there is no score."""
    if not grade or grade not in Grade.__members__.values():
        return ""
    return str(GRADE_LABELS[Grade(grade)])


def grade_colour(grade: str | None) -> str:
    if not grade or grade not in Grade.__members__.values():
        return "secondary"
    return GRADE_COLOURS[Grade(grade)]


def pace_label(pace: str | None) -> str:
    if not pace or pace not in Pace.__members__.values():
        return ""
    return str(PACE_LABELS[Pace(pace)])


def pace_colour(pace: str | None) -> str:
    if not pace or pace not in Pace.__members__.values():
        return "secondary"
    return PACE_COLOURS[Pace(pace)]


def grade_choices() -> list[tuple[str, str]]:
    return [(str(g), str(GRADE_LABELS[g])) for g in GRADES_BEST_FIRST]
