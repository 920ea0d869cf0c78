"""Lazy strings are text: shown escaped in pages and flashes, plain in JSON (flask-babel's __html__ is not trusted)."""

from __future__ import annotations

from flask import flash, jsonify, render_template_string
from flask_babel import lazy_gettext as _l

from lms.auth.models import Role
from lms.exams.questions import banks
from lms.extensions import db
from tests.exams.test_bank_views import upload


def test_a_lazy_string_with_a_name_is_escaped_in_a_template(app):
    with app.test_request_context():
        message = _l("Account %(name)s created.", name='<img src=x onerror="alert(1)">')
        html = render_template_string("<p>{{ message }}</p>", message=message)
    assert "<img" not in html and "&lt;img src=x onerror=" in html


def test_a_flashed_lazy_string_comes_back_escaped_once(app):
    with app.test_request_context():
        flash(_l("Account %(name)s created.", name="<b>Tom & Jerry</b>"))
        # Through the session's serializer, as the next request reads it.
        serializer = app.session_interface.get_signing_serializer(app)
        from flask import session

        restored = serializer.loads(serializer.dumps(dict(session)))
        html = render_template_string("{% for m in messages %}{{ m }}{% endfor %}", messages=[
            text for _category, text in restored["_flashes"]
        ])  # fmt: skip
    assert "<b>" not in html and "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in html
    assert "&amp;amp;" not in html  # escaped once, not twice


def test_json_carries_a_lazy_string_as_its_plain_text(app):
    with app.test_request_context():
        body = jsonify(error=_l("Account %(name)s created.", name="O'Brien & <Co>")).get_data(as_text=True)
    assert "O'Brien & <Co>" in body.encode().decode("unicode_escape") and "&amp;" not in body


def test_a_message_naming_a_tag_shows_the_tag_as_text(client, login, make_user):
    admin = make_user(role=Role.ADMIN)
    bank = banks.create_bank("题库", creator=admin)
    db.session.commit()
    login(admin)
    page = upload(client, bank, b"<?xml version='1.0'?><notquiz/>", "bank.xml", "moodle_xml").get_data(as_text=True)
    assert "&lt;quiz&gt;" in page and "<quiz>" not in page


def test_a_page_follows_the_locale_when_it_changes_within_a_request(app):
    """Templates remember the catalogue for the request (``lms.i18n._page_translations``), not past a locale change."""
    from flask_babel import force_locale, refresh

    page = "{{ _('This attempt does not exist.') }}"
    with app.test_request_context():
        chinese = render_template_string(page)
        with force_locale("en"):
            assert render_template_string(page) == "This attempt does not exist."
        assert render_template_string(page) == chinese != "This attempt does not exist."
        with force_locale("en"):
            refresh()  # the locale chosen again inside: still English
            assert render_template_string(page) == "This attempt does not exist."
