"""Indonesian first, English second (Flask-Babel). One catalog serves all three services."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, has_request_context, request
from flask_babel import Babel, gettext

from shared.languages import LANGUAGE_CODE

LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"
LANG_COOKIE = "jejak_lang"
TRANSLATIONS = Path(__file__).parent / "translations"

babel = Babel()


def select_locale() -> str:
    """?lang= wins (and is remembered in a cookie), then the cookie, then Indonesian.

    Another language code (a questionnaire's French, chosen in the form's language switch)
    words the form's own texts in English, the second language Jejak has; every other page
    (staff pages, say, in a browser where the form's French was chosen) stays Indonesian.
    """
    chosen = chosen_language()
    if chosen in LOCALES:
        return chosen
    return "en" if chosen != DEFAULT_LOCALE and request.blueprint == "form" else DEFAULT_LOCALE


def chosen_language() -> str:
    """The language asked for (?lang=, else the cookie), which may be one Jejak has no
    translation of; Indonesian when none or no language code is asked for. The form shows
    a questionnaire's texts in it (services/survey/form_view.py)."""
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    return chosen if LANGUAGE_CODE.match(chosen) else DEFAULT_LOCALE


def _remember_lang(response: Any) -> Any:
    chosen = request.args.get("lang") or ""
    if LANGUAGE_CODE.match(chosen) and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, path="/", samesite="Lax")
    return response


def lang_url(locale: str) -> str:
    """The current page in another language (other query arguments kept)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [locale]
    return request.base_url.removeprefix(request.host_url.rstrip("/")) + "?" + urlencode(
        args, doseq=True
    )


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
    )
    app.after_request(_remember_lang)
    app.jinja_env.globals["lang_url"] = lang_url


def translated(message: str, **values: Any) -> str:
    """`message` in the language of the request being answered; as written outside one.

    For domain code that also runs in the CLI and in workers, where no request chooses a
    language (flask_babel would ask `select_locale`, which reads the request). Import it as
    `_` so that `pybabel extract` finds the messages.
    """
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message
