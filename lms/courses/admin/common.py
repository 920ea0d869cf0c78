"""The courses admin blueprint and what its page modules share."""

from __future__ import annotations

from flask import Blueprint, url_for

from lms.courses.models import Course
from lms.extensions import db

bp = Blueprint("courses_admin", __name__, url_prefix="/admin/courses")

PAGE_SIZE = 50


def audience_fields(form) -> dict:
    """The audience columns from a form with ``AudienceFieldsMixin``."""
    statuses, roles, branch_ids = form.audience_values()
    return {"audience_statuses": statuses, "audience_roles": roles, "audience_branch_ids": branch_ids}


def get_course(course_id: int) -> Course:
    return db.get_or_404(Course, course_id)


def course_url(course_id: int, **args) -> str:
    """The course's editor page."""
    return url_for("courses_admin.course_detail", course_id=course_id, **args)
