"""The layout's template calls computed once (lms.templating): the same token and addresses as Flask's."""

from __future__ import annotations

import flask
from flask import render_template_string
from flask_wtf.csrf import generate_csrf


def test_csrf_token_is_flask_wtfs_token_of_the_request(app):
    with app.test_request_context():
        first = render_template_string("{{ csrf_token() }}")  # made here (none in g yet)
        assert first and first == generate_csrf()
        assert render_template_string("{{ csrf_token() }} {{ csrf_token() }}") == f"{first} {first}"
    with app.test_request_context():
        assert render_template_string("{{ csrf_token() }}") == generate_csrf()


def test_layout_addresses_are_flasks_for_each_script_root_and_host(app):
    template = "{{ url_for('static', filename='css/app.css') }} {{ url_for('home.index') }} {{ url_for('auth.login') }}"
    for base in ("http://localhost/", "http://localhost/lms/", "https://example.org/vanguard/", "http://localhost/"):
        with app.test_request_context("/", base_url=base):
            expected = " ".join(
                (
                    flask.url_for("static", filename="css/app.css"),
                    flask.url_for("home.index"),
                    flask.url_for("auth.login"),
                )
            )
            assert render_template_string(template) == expected
            assert "/lms/" not in expected or base.endswith("/lms/")


def test_addresses_with_values_are_built_each_time(app):
    with app.test_request_context():
        page = render_template_string(
            "{% for n in [1, 2, 3] %}{{ url_for('exams.report', attempt_id=n, position=n, _anchor='x') }} {% endfor %}"
        )
        assert page.split() == [flask.url_for("exams.report", attempt_id=n, position=n, _anchor="x") for n in (1, 2, 3)]
        assert render_template_string("{{ url_for('home.index', tab=2) }}") == flask.url_for("home.index", tab=2)
