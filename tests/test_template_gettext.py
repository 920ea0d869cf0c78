"""``_()`` in templates: Jinja's newstyle gettext semantics, in one context call."""

from __future__ import annotations

import jinja2.runtime
from flask import render_template_string
from flask_babel import force_locale


def test_template_gettext_translates_formats_and_escapes_as_jinjas_newstyle(app):
    with app.test_request_context():
        with force_locale("zh_Hans"):
            assert render_template_string('{{ _("Cancel") }}') == "取消"
            assert render_template_string('{{ _("Question %(n)d", n=3) }}') == "第 3 题"
        with force_locale("en"):
            # Values are escaped under autoescape; the message itself is trusted markup.
            assert render_template_string('{{ _("Question %(n)s", n="<b>") }}') == "Question &lt;b&gt;"
            # Always a format string, as in Jinja's newstyle gettext: %% is one %.
            assert render_template_string('{{ _("100%% done") }}') == "100% done"
            assert render_template_string('{{ _("Cancel") ~ "<i>" }}') == "Cancel&lt;i&gt;"


def test_template_gettext_is_one_context_call(app, monkeypatch):
    calls = []
    original = jinja2.runtime.Context.call

    def counted(self, function, *args, **kwargs):
        calls.append(function)
        return original(self, function, *args, **kwargs)

    monkeypatch.setattr(jinja2.runtime.Context, "call", counted)
    with app.test_request_context():
        assert render_template_string('{{ _("Question %(n)d", n=3) }}')
    assert len(calls) == 1  # Jinja's own: the alias, the newstyle wrapper, the callable


def test_numbers_are_formatted_without_markups_escaping(app, monkeypatch):
    import markupsafe

    def refused(self, arg):
        raise AssertionError("escaped a number")

    with app.test_request_context(), force_locale("en"):
        monkeypatch.setattr(markupsafe.Markup, "__mod__", refused)
        page = render_template_string('{{ _("Question %(n)d", n=3) }} {{ _("%(points)s pts", points=1.5) }}')
        assert page == "Question 3 1.5 pts"
        monkeypatch.undo()
        # Anything else is still escaped, and the result is markup either way.
        assert render_template_string('{{ _("Question %(n)s", n=True) ~ "<i>" }}') == "Question True&lt;i&gt;"


def test_plain_strings_are_remembered_per_catalogue(app):
    """The markup of a plain ``_()`` is kept per catalogue: a language switch within a request still shows."""
    with app.test_request_context():
        for locale, expected in (("zh_Hans", "取消"), ("en", "Cancel"), ("zh_Hans", "取消"), ("en", "Cancel")):
            with force_locale(locale):
                assert render_template_string('{{ _("Cancel") }}{{ _("100%% done") }}') == expected + "100% done"


def test_a_lazy_strings_text_is_flask_babels(app):
    """``str(lazy_gettext(...))`` through the request's remembered catalogue gives what Flask-Babel's gettext gives."""
    from flask_babel import gettext, lazy_gettext, lazy_ngettext

    plain, named, counted = (
        lazy_gettext("Cancel"),
        lazy_gettext("Question %(n)s", n="<b>"),
        lazy_ngettext("%(num)d question", "%(num)d questions", 3),
    )
    assert str(plain) == gettext("Cancel")  # outside a request: the default language's
    with app.test_request_context():
        for locale in ("zh_Hans", "en", "zh_Hans"):
            with force_locale(locale):
                assert str(plain) == gettext("Cancel")
                assert str(named) == gettext("Question %(n)s", n="<b>")
                assert str(counted) == str(lazy_ngettext("%(num)d question", "%(num)d questions", 3))
        with force_locale("zh_Hans"):
            assert str(plain) == "取消" and render_template_string("{{ label }}", label=named) == "第 &lt;b&gt; 题"
