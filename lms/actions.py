"""The POST skeleton of the pages: call a service; on a domain error roll back and show it; else commit,
flash and redirect.

Every form and button view that changes data goes through ``run_action`` so the transaction
rule (services flush, the view commits once) and the way errors reach the user are the same
everywhere::

    # a button: the error is flashed and the page redirected
    return run_action(lambda: services.delete_lesson(lesson), to=course_url(course_id), success=_l("Lesson deleted."))

    # a form: the error goes next to its field and the view renders the form again
    if form.validate_on_submit():
        done = run_action(save, form=form, to=lambda course: url_for(".detail", course_id=course.id),
                          success=_l("Course created."))
        if done:
            return done
    return render_template(...)

``action`` takes no argument; put the audit row inside it (``def save(): ...``) so it is
written only when the service succeeded and committed with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect
from werkzeug.wrappers import Response

from lms.errors import DomainError, show_on_form
from lms.extensions import db

T = TypeVar("T")

# A value, or a function of what the action returned (a URL built from a new row's id, say).
Given = Any


def _value(given: Given, result: Any) -> Any:
    return given(result) if callable(given) else given


def run_action(
    action: Callable[[], T],
    *,
    to: Given,
    success: Given = None,
    form: Any = None,
    aliases: dict[str, str] | None = None,
    failed_to: Given = None,
    failed_category: str = "danger",
) -> Response | None:
    """Run ``action`` in the request's transaction and answer the POST.

    On a ``DomainError``: roll back; with ``form``, put the message on the form (next to the
    field it names, ``aliases`` mapping a service's field name to the form's) and return None,
    so the view renders the form again; without, flash the message (``failed_category``) and
    redirect to ``failed_to`` (default ``to``).

    Otherwise: commit, flash ``success`` (when there is one) and redirect to ``to``. ``to``
    and ``success`` may be functions of the action's result; a failure without ``form`` has no
    result, so a function ``to`` needs ``failed_to`` then.
    """
    if form is None and failed_to is None and callable(to):
        raise TypeError("run_action: a function `to` needs `failed_to` (a failed action has no result)")
    try:
        result = action()
    except DomainError as error:
        db.session.rollback()
        if form is not None:
            show_on_form(form, error, aliases)
            return None
        flash(error.message, failed_category)
        return redirect(_value(to if failed_to is None else failed_to, None))
    db.session.commit()
    message = _value(success, result)
    if message:
        flash(message, "success")
    return redirect(_value(to, result))
