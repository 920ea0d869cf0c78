"""Languages: Simplified Chinese by default, English on request (stored on the account)."""

from __future__ import annotations

from collections.abc import Iterable

from babel.lists import format_list
from flask import Flask, has_request_context, session
from flask_login import current_user

from lms.extensions import babel


def select_locale() -> str:
    """The user's saved language, else the one chosen this session, else zh_Hans."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
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


def init_babel(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def language_context():
        from flask_babel import get_locale

        locale = get_locale()
        return {
            "current_locale": str(locale) if locale else "zh_Hans",
            "html_lang": "zh-CN" if str(locale).startswith("zh") else "en",
        }
