"""The audit log reads as sentences: every action the code writes has one, in both languages.

The actions are collected from the source itself (every `audit(...)` call in services/ and
shared/), so an action added tomorrow without a sentence fails here, not on an admin's page.
"""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale

from shared import audit_log, i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "shared" / "translations"


def _action_argument(call: ast.Call) -> ast.expr | None:
    """`audit(session, actor, action, target, **details)`: the third argument, or action=."""
    for keyword in call.keywords:
        if keyword.arg == "action":
            return keyword.value
    return call.args[2] if len(call.args) >= 3 else None


def written_actions() -> tuple[set[str], set[str]]:
    """(literal actions, families of actions built with an f-string such as f"wave.{x}")."""
    literal: set[str] = set()
    families: set[str] = set()
    for folder in ("services", "shared"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name != "audit":
                    continue
                action = _action_argument(node)
                if isinstance(action, ast.Constant) and isinstance(action.value, str):
                    literal.add(action.value)
                elif isinstance(action, ast.JoinedStr):
                    head = action.values[0]
                    assert isinstance(head, ast.Constant), f"{path}: no family in {action}"
                    families.add(str(head.value).rstrip("."))
                else:
                    raise AssertionError(
                        f"{path}:{node.lineno}: audit() with an action the scan cannot read; "
                        "write it as a string literal or f\"family.{...}\"")
    return literal, families


def _po(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def test_the_scan_finds_the_actions_we_know_are_written() -> None:
    literal, families = written_actions()
    assert {"alumni.import", "login", "login.failed", "event.replay", "minimum_wage.set"} <= literal
    assert {"wave", "campaign"} <= families


def test_every_audit_action_written_anywhere_has_a_sentence() -> None:
    literal, families = written_actions()
    assert sorted(literal - set(audit_log.SENTENCES)) == []
    assert sorted(families - set(audit_log.FAMILY_SENTENCES)) == []
    for family in families:  # and the members we know read better than the family's sentence
        assert any(action.startswith(family + ".") for action in audit_log.SENTENCES), family


def test_every_sentence_is_in_the_indonesian_and_english_catalogs() -> None:
    messages = [*audit_log.SENTENCES.values(), *audit_log.FAMILY_SENTENCES.values(),
                audit_log._GENERIC, audit_log._GENERIC_NO_TARGET]
    indonesian, english = _po("id"), _po("en")
    untranslated = [m for m in messages if not (indonesian.get(m) and indonesian.get(m).string)]
    assert untranslated == []
    assert [m for m in messages if english.get(m) is None] == []


def _app() -> Flask:
    app = Flask(__name__)
    i18n.init_app(app)
    return app


def test_an_import_reads_as_a_sentence_in_indonesian_and_in_english() -> None:
    with _app().test_request_context("/"):
        with force_locale("id"):
            said = audit_log.sentence("alumni.import", "admin", "roster.csv",
                                      {"imported": 377, "updated": 2, "rejected": 5})
            assert said == ("admin mengimpor 377 baris dari roster.csv "
                            "(2 diperbarui, 5 ditolak)")
        with force_locale("en"):
            said = audit_log.sentence("alumni.import", "admin", "roster.csv",
                                      {"imported": 377, "updated": 2, "rejected": 5})
            assert said == "admin imported 377 rows from roster.csv (2 updated, 5 rejected)"


def test_every_known_action_makes_a_sentence_even_without_its_details() -> None:
    with _app().test_request_context("/"), force_locale("id"):
        for action in audit_log.SENTENCES:
            said = audit_log.sentence(action, "operator1", "alumnus:12", {})
            assert "operator1" in said and "%(" not in said, action


def test_an_unknown_action_still_reads_as_a_sentence() -> None:
    with _app().test_request_context("/"), force_locale("id"):
        assert audit_log.sentence("roster.merge", "admin", "3", {"rows": 2}) == (
            "admin: roster.merge pada 3")
        assert audit_log.sentence("backup.made", "cli", None, {}) == "cli: backup.made"
        # a new member of a known family reads with the family's sentence
        assert audit_log.sentence("wave.archive", "admin", "tracer-2026", {}) == (
            "admin mengubah gelombang tracer-2026 (wave.archive)")


def test_targets_that_name_a_row_read_as_numbers() -> None:
    with _app().test_request_context("/"), force_locale("en"):
        assert audit_log.sentence("alumnus.erase", "admin", "alumnus:12", {}) == (
            "admin erased the personal data of alumnus #12")
        assert audit_log.sentence("campaign.pause", "op", "3", {}) == "op paused campaign #3"
