"""What the quiz and contest admin pages share when an admin builds one: the audited POST
buttons of the setup page, choosing questions from the banks, and draw rules.

A contest is built on its quiz, so ``lms.exams.contests.admin`` uses these with a
``SetupPages`` of its own (what it snapshots, how it audits, where its page is);
``lms.exams.quizzes.admin`` uses them for plain quizzes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from lms.actions import run_action
from lms.auth.auditing import record_content
from lms.exams.questions.banks import tag_clause
from lms.exams.questions.models import Question, QuestionBank, QuestionType
from lms.exams.questions.types import type_labels
from lms.extensions import db

PICKER_PAGE_SIZE = 50


@dataclass(frozen=True)
class SetupPages:
    """How the admin pages of one kind of owner (a quiz, a contest) audit it and link to it.

    ``kind`` names the audit rows (``<kind>.<route name>``), ``snapshot(owner)`` gives its
    before/after, ``label(owner)`` its audit label (None: its title), ``detail_url(owner)``
    its setup page and ``pick_url(owner)`` its question picker.
    """

    kind: str
    snapshot: Callable[[Any], dict]
    detail_url: Callable[[Any], str]
    pick_url: Callable[[Any], str]
    label: Callable[[Any], str | None] = lambda owner: None

    def audit(self, owner: Any, before: dict | None, **details) -> None:
        """Audit the current POST on ``owner`` (named after the route): changed settings and details."""
        after = {**self.snapshot(owner), **details} if before is not None else (details or None)
        action = f"{self.kind}.{request.endpoint.rsplit('.', 1)[-1]}"
        record_content(action, self.kind, owner, before, after, label=self.label(owner))

    def back(self, owner: Any, anchor: str = ""):
        return redirect(self.detail_url(owner) + anchor)

    def run(self, owner: Any, action: Callable[[], Any], success=None, anchor: str = ""):
        """A POST button of the setup page: call the service, audit what changed, go back to the page."""
        before = self.snapshot(owner)

        def act():
            result = action()
            db.session.flush()
            self.audit(owner, before, **(request.view_args or {}))
            return result

        return run_action(act, to=self.detail_url(owner) + anchor, success=success)

    def delete(self, owner: Any, delete: Callable[[Any], None], *, success, index_url: str):
        """Delete ``owner`` (audited with its last settings); on a refusal stay on its page."""

        def act():
            self.audit(owner, None, **self.snapshot(owner))
            delete(owner)

        return run_action(act, to=index_url, success=success, failed_to=self.detail_url(owner))

    def add_questions(self, owner: Any, add: Callable[[list[int]], int]):
        """Add the questions ticked in the picker (``add(ids)`` returns how many were new).

        None when nothing was ticked (a warning is flashed; the view says where to go back to).
        """
        ids = [int(v) for v in request.form.getlist("question_id") if v.isdigit()]
        if not ids:
            flash(_l("Tick the questions to add."), "warning")
            return None

        def act():
            added = add(ids)
            self.audit(owner, None, question_ids=ids, added=added)
            return added

        return run_action(
            act,
            to=self.detail_url(owner) + "#fixed",
            success=lambda added: ngettext("%(num)d question added.", "%(num)d questions added.", added),
        )

    def add_rule(self, owner: Any, form, add: Callable[..., Any]):
        """The draw-rule form of the setup page; None when it did not validate or the service refused it."""
        if not form.validate_on_submit():
            return None

        def act():
            add(owner, **draw_rule_fields(form))
            self.audit(owner, None, **form_details(form))

        return run_action(act, form=form, to=self.detail_url(owner) + "#rules", success=_l("Draw rule added."))


def form_details(form) -> dict:
    """What a form posted, for an audit row (without the CSRF token)."""
    return {k: v for k, v in form.data.items() if k != "csrf_token"}


def with_bank_choices(form):
    """Fill a draw-rule form's bank choices ("any bank" first)."""
    banks = db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.name)).all()
    form.bank_id.choices = [(0, str(_l("Any bank")))] + [(b.id, b.name) for b in banks]
    return form


def draw_rule_fields(form) -> dict:
    """The service's arguments from a draw-rule form (``difficulty`` where the form has it)."""
    fields = {
        "bank_id": form.bank_id.data or None,
        "question_type": QuestionType(form.question_type.data) if form.question_type.data else None,
        "tag": form.tag.data or "",
        "count": form.count.data,
        "points": float(form.points.data),
    }
    if hasattr(form, "difficulty"):
        fields["difficulty"] = form.difficulty.data or None
    return fields


def picker_query(bank_id: int, question_type: str, tag: str, text: str, difficulty: int = 0):
    """Enabled questions of the banks matching the picker's filters."""
    query = sa.select(Question).where(Question.is_disabled.is_(False)).order_by(Question.bank_id, Question.id)
    if bank_id:
        query = query.where(Question.bank_id == bank_id)
    if question_type in {str(t) for t in QuestionType}:
        query = query.where(Question.type == question_type)
    if tag:
        query = query.where(tag_clause(tag))
    if text:
        query = query.where(Question.stem.contains(text, autoescape=True))
    if difficulty:
        query = query.where(Question.difficulty == difficulty)
    return query


def picker_context(present: set[int], *, with_difficulty: bool = False) -> dict:
    """The question picker page's context from the request's filters (``present``: already in the quiz)."""
    filters = {
        "bank_id": request.args.get("bank", 0, type=int),
        "question_type": request.args.get("type", ""),
        "tag": request.args.get("tag", "").strip(),
        "q": request.args.get("q", "").strip(),
    }
    difficulty = request.args.get("difficulty", 0, type=int) if with_difficulty else 0
    query = picker_query(filters["bank_id"], filters["question_type"], filters["tag"], filters["q"], difficulty)
    candidates = db.session.scalars(query.limit(PICKER_PAGE_SIZE + 1000)).all()
    context = {
        **filters,
        "questions": candidates[:PICKER_PAGE_SIZE],
        "more": max(len(candidates) - PICKER_PAGE_SIZE, 0),
        "present": present,
        "banks": db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.name)).all(),
        "type_labels": type_labels(),
    }
    if with_difficulty:
        context["difficulty"] = difficulty
    return context
