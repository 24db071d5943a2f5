"""Which language an XLSForm column names: `label::Français (fr)` is "fr".

A language name becomes a code from its `(code)` suffix or, failing that, from the name
itself when it is a code (`label::EN`) or a language's English or native name ("English",
"Indonesia", "Français", from babel's locale data). pyxform's "default" (a column without
`::language`) is "und", undetermined. A name none of these tell is None: the importer
refuses it rather than guess.
"""

from __future__ import annotations

import re
from functools import cache

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
LANGUAGE_SUFFIX = re.compile(r"\(\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)\s*\)\s*$")


@cache
def _language_names() -> dict[str, str]:
    """Lower-case English and native language names -> their code ("indonesia" -> "id")."""
    from babel import Locale, UnknownLocaleError

    names: dict[str, str] = {"bahasa indonesia": "id", "bahasa": "id"}
    for code, english in Locale("en").languages.items():
        if not LANGUAGE_CODE.fullmatch(code):
            continue
        names.setdefault(english.lower(), code)
        try:
            native = Locale(code).get_language_name(code)
        except (UnknownLocaleError, ValueError):
            continue
        if native:
            names.setdefault(native.lower(), code)
    return names


def language_code(name: str) -> str | None:
    """The code of a pyxform language name, or None when it names no known language."""
    if name == "default":
        return "und"
    suffix = LANGUAGE_SUFFIX.search(name)
    if suffix:
        code = suffix.group(1).lower()
        return code if LANGUAGE_CODE.fullmatch(code) else None
    name = name.strip().lower()
    if LANGUAGE_CODE.fullmatch(name) and name in _language_names().values():
        return name  # "label::EN", "label::id"
    return _language_names().get(name)
