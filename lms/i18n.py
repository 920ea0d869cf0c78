"""Languages: Simplified Chinese by default, English on request (stored on the account).

Lazy strings are text, not HTML. Flask-Babel's ``LazyString.__html__`` returns
the string as it is, so Jinja, Markup and Flask's session (a flashed message)
take ``_l("Account %(name)s created.", name=...)`` as safe HTML: a name such as
``<img src=x onerror=...>`` would run in the page, and a message naming
``<quiz>`` loses its words (flask-babel issues #121 and #224, kept by design
upstream). Here ``__html__`` escapes the text instead, so a lazy string is shown
as the words it holds wherever it goes; JSON gets the plain text (``_JSON``).
"""

from __future__ import annotations

from collections.abc import Iterable

import flask_babel
from babel.lists import format_list
from flask import Flask, g, has_request_context, session
from flask.globals import _cv_app
from flask.json.provider import DefaultJSONProvider
from flask_babel import get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup, escape

from lms.extensions import babel


def _escaped_html(self: LazyString) -> Markup:
    """The lazy string as HTML: its text, escaped."""
    return escape(str(self))


LazyString.__html__ = _escaped_html  # see the module's docstring


class _JSON(DefaultJSONProvider):
    """Flask's JSON, with a lazy string written as its text (Flask would take its ``__html__``)."""

    @staticmethod
    def default(o):
        if isinstance(o, LazyString):
            return str(o)
        return DefaultJSONProvider.default(o)


def select_locale() -> str:
    """The user's saved language, else the one chosen this session, else zh_Hans.

    A view that read the member's saved language itself puts it in ``g.user_locale``
    (None: none saved): then the user is not loaded for it (the heartbeat's fast path).
    """
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if "user_locale" in g:
        if g.user_locale in languages:
            return g.user_locale
    elif current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def join_list(items: Iterable[object]) -> str:
    """Items as a list in the UI's language: 甲、乙和丙 in Chinese, "a, b, and c" in English."""
    from flask_babel import get_locale

    words = [str(item) for item in items]
    return format_list(words, locale=get_locale() or "zh_Hans") if words else ""


def _page_translations():
    """Flask-Babel's ``get_translations()``, remembered for the request while its locale is the same.

    A page calls ``_()`` a hundred times; Flask-Babel looks the locale and the
    catalogue up again each time. ``force_locale`` and ``refresh`` replace the
    locale object, so the remembered catalogue is then looked up again. ``g`` is
    read through the app context itself, not its proxy (three proxy lookups a call).
    """
    app_context = _cv_app.get(None)
    if app_context is None:
        return get_translations()
    attributes = app_context.g.__dict__
    locale = getattr(attributes.get("_flask_babel"), "babel_locale", None)
    remembered = attributes.get("_lms_translations")
    if remembered is not None and locale is not None and remembered[0] is locale:
        return remembered[1]
    translations = get_translations()
    attributes["_lms_translations"] = (getattr(attributes.get("_flask_babel"), "babel_locale", None), translations)
    return translations


def _lazy_text(self: LazyString) -> str:
    """The lazy string's text: ``lazy_gettext``'s through the request's remembered catalogue.

    What Flask-Babel's ``gettext`` gives (``get_translations().ugettext``, then the
    variables), without its locale and catalogue look-ups per string (a page's menu
    and question types are lazy strings).
    """
    if self._func is flask_babel.gettext and len(self._args) == 1:
        text = _page_translations().ugettext(self._args[0])
        return text % self._kwargs if self._kwargs else text
    return str(self._func(*self._args, **self._kwargs))


LazyString.__str__ = _lazy_text


_NUMBERS = (int, float)  # exact types: not bool, not an int subclass with its own __str__


@pass_context
def _template_gettext(__context, __string: str, **variables):
    """Jinja's newstyle ``gettext``: always a format string, its values escaped under autoescape."""
    translations = _page_translations()
    if not variables and __context.eval_ctx.autoescape:
        # A page's plain strings, as markup, kept per catalogue: what ``Markup(ugettext(s))`` gives.
        known = translations.__dict__.get("_lms_markup")
        if known is None:
            known = translations.__dict__.setdefault("_lms_markup", {})
        markup = known.get(__string)
        if markup is None:
            markup = Markup(translations.ugettext(__string))  # noqa: S704 - trusted catalogue
            known[__string] = markup = markup % {} if "%" in markup else markup
        return markup
    rv = translations.ugettext(__string)
    if __context.eval_ctx.autoescape:
        if variables and all(type(value) in _NUMBERS for value in variables.values()):
            # A number's text needs no escaping: formatted as text, without Markup's escaping
            # wrapper per value (a third of the attempt page's translating time).
            return Markup(rv % variables)  # noqa: S704 - trusted catalogue, numbers only
        rv = Markup(rv)  # noqa: S704 - the catalogue is trusted markup, as in Jinja's own gettext
    if not variables and "%" not in rv:
        return rv  # what ``rv % {}`` gives
    return rv % variables


def init_babel(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(  # as Flask-Babel's, with the catalogue remembered per request
        gettext=lambda s: _page_translations().ugettext(s),
        ngettext=lambda s, p, n: _page_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _page_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _page_translations().unpgettext(c, s, p, n),
    )
    # ``_()`` in templates in one call: Jinja's own goes through three nested context calls
    # (its alias, the newstyle wrapper, the callable), a tenth of a page's render time.
    app.jinja_env.globals["_"] = _template_gettext
    app.json = _JSON(app)

    @app.context_processor
    def language_context():
        from flask_babel import get_locale

        locale = get_locale()
        return {
            "current_locale": str(locale) if locale else "zh_Hans",
            "html_lang": "zh-CN" if str(locale).startswith("zh") else "en",
        }
