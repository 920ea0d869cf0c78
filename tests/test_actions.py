"""lms.actions.run_action: the one POST skeleton (commit and redirect, or roll back and show why)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from lms.actions import run_action
from lms.auth import services
from lms.auth.models import Branch, BranchKind
from lms.errors import Conflict
from lms.extensions import db

pytestmark = pytest.mark.usefixtures("english")


class NameForm(FlaskForm):
    name = StringField()


def _names() -> set[str]:
    return set(db.session.scalars(sa.select(Branch.name)))


def test_success_commits_flashes_and_redirects_to_a_url_of_the_result(app):
    with app.test_request_context("/", method="POST"):
        response = run_action(
            lambda: services.create_branch("一支部", BranchKind.BRANCH, None),
            to=lambda branch: f"/branches/{branch.id}",
            failed_to="/branches",
            success=lambda branch: f"{branch.name} created",
        )
        assert response.status_code == 302
        branch_id = db.session.scalar(sa.select(Branch.id).where(Branch.name == "一支部"))
        assert response.location == f"/branches/{branch_id}"
        assert get_flashed_messages(with_categories=True) == [("success", "一支部 created")]
        db.session.rollback()  # committed: a rollback keeps it
        assert "一支部" in _names()


def test_a_domain_error_of_a_button_rolls_back_flashes_and_redirects(app):
    def action():
        services.create_branch("二支部", BranchKind.BRANCH, None)
        db.session.flush()
        raise Conflict("Not now.")

    with app.test_request_context("/", method="POST"):
        response = run_action(action, to="/done", success="never shown", failed_to="/back")
        assert (response.status_code, response.location) == (302, "/back")
        assert get_flashed_messages(with_categories=True) == [("danger", "Not now.")]
        assert "二支部" not in _names()


def test_a_domain_error_without_failed_to_goes_to_the_same_place(app):
    with app.test_request_context("/", method="POST"):
        response = run_action(
            lambda: services.create_branch("", BranchKind.BRANCH, None), to="/list", failed_category="warning"
        )
        assert response.location == "/list"
        assert get_flashed_messages(with_categories=True) == [("warning", "The name is required.")]


def test_a_domain_error_of_a_form_goes_on_its_field_and_returns_none(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        done = run_action(
            lambda: services.create_branch("  ", BranchKind.BRANCH, None), form=form, to="/x", success="no"
        )
        assert done is None
        assert form.name.errors == ["The name is required."]
        assert get_flashed_messages() == []


def test_a_form_error_naming_an_unknown_field_goes_above_the_form_or_on_an_alias(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        assert run_action(_raises("elsewhere"), form=form, to="/x") is None
        assert form.form_errors == ["Wrong."]
        form = NameForm(meta={"csrf": False})
        assert run_action(_raises("title"), form=form, to="/x", aliases={"title": "name"}) is None
        assert form.name.errors == ["Wrong."]


def test_no_success_message_means_no_flash(app):
    with app.test_request_context("/", method="POST"):
        assert run_action(lambda: None, to="/x").location == "/x"
        assert get_flashed_messages() == []


def _raises(field: str):
    def action():
        from lms.errors import ValidationFailed

        raise ValidationFailed("Wrong.", field)

    return action


def test_a_function_target_without_a_failure_target_is_refused_before_anything_runs(app):
    ran = []
    with app.test_request_context(), pytest.raises(TypeError, match="failed_to"):
        run_action(lambda: ran.append(1), to=lambda result: f"/x/{result}")
    assert ran == []
