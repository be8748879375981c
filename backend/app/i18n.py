"""The web pages' languages: Spanish (the team's, the default) and English, through Flask-Babel.

Message ids are English, in the templates and the code; ``app/translations/es/LC_MESSAGES/messages.po``
holds the Spanish. The ``.mo`` files are compiled at build (``make translations``, and Railpack's build
step), never committed. English needs no catalog: it is the message ids themselves. API error messages
stay English: only what a page shows is translated.
"""

from __future__ import annotations

from flask import Flask, g, request, session

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
SESSION_KEY = "lang"  # a signed-out visitor's choice, kept in the session cookie


def N_(message: str) -> str:
    """Mark a message for the catalog without translating it here: it is translated where a page shows it."""
    return message


def select_locale() -> str:
    """The account's language, else the visitor's choice, else the browser's ``Accept-Language``, else Spanish."""
    principal = g.get("principal")
    if principal is not None and principal.language in LANGUAGES:
        return principal.language
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def install_i18n(app: Flask) -> None:
    """Flask-Babel with our locale rule; imported here, not at module level, to keep ``app`` imports light."""
    from flask_babel import Babel

    Babel(app, locale_selector=select_locale, default_locale=DEFAULT_LANGUAGE)
