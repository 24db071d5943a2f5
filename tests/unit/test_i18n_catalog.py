"""Every UI string has an Indonesian translation, and the compiled catalogs are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "shared" / "translations"


def _po(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def test_every_string_in_the_source_is_translated_to_indonesian(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(pot, "rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    indonesian = {m.id: m for m in _po("id") if m.id}
    untranslated = sorted(
        str(msgid)
        for msgid in extracted
        if msgid not in indonesian or not indonesian[msgid].string or indonesian[msgid].fuzzy
    )
    assert untranslated == [], "run `make translations` and translate: " + "; ".join(untranslated)


def _plain(value):
    # A plural message's id and string are sequences (a list from one reader, a tuple from
    # the other): compare them as tuples.
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalogs_match_their_sources() -> None:
    for locale in ("id", "en"):
        with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "rb") as handle:
            compiled = {_plain(m.id): _plain(m.string) for m in read_mo(handle) if m.id}
        source = {_plain(m.id): _plain(m.string) for m in _po(locale)
                  if m.id and any(_plain(m.string) if isinstance(m.string, list | tuple)
                                  else [m.string]) and not m.fuzzy}
        assert compiled == source, f"{locale}: run `pybabel compile -d shared/translations`"
