"""Questionnaire versions in the database: the default instrument and staff-added versions.

`store_version` is the one way a person adds a version: the API (JSON or XLSForm), the
XLSForm import page and `jejak questionnaire import` all call it, so each is checked, refused
and audited the same way.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.survey.questionnaire import (
    SHIPPED_VERSIONS,
    default_definition,
    load_definition,
    shipped_definition,
)
from services.survey.waves import SurveyError
from shared.auth import audit
from shared.models import Questionnaire as QuestionnaireRow

TITLE_LENGTH = 200  # questionnaires.title


class VersionTaken(SurveyError):
    """`key` already has `version`; `free` is the next version nobody has taken."""

    def __init__(self, key: str, version: int, free: int) -> None:
        super().__init__("version", f"{key} version {version} exists; use version {free}", 409)
        self.key, self.version, self.free = key, version, free


def next_version(session: Session, key: str) -> int:
    """The first version number after every stored version of `key` (1 for a new key)."""
    latest = session.scalar(
        select(func.max(QuestionnaireRow.version)).where(QuestionnaireRow.key == key))
    return (latest or 0) + 1


def store_version(session: Session, definition: dict[str, Any], actor: str,
                  source: str | None = None) -> QuestionnaireRow:
    """Add a version (`add_version`) and audit it in the same transaction, which the caller
    commits. `source` names the XLSForm file it was imported from, if it was."""
    row = add_version(session, definition)
    if source is None:
        audit(session, actor, "questionnaire.add", f"{row.key} v{row.version}")
    else:
        audit(session, actor, "questionnaire.import", f"{row.key} v{row.version}",
              file=source[:200])
    return row


def add_version(session: Session, definition: dict[str, Any]) -> QuestionnaireRow:
    """Store a new, validated version. Versions are immutable: old responses keep theirs."""
    parsed = load_definition(definition)  # raises DefinitionError naming the bad path
    exists = session.scalar(
        select(QuestionnaireRow.id).where(QuestionnaireRow.key == parsed.key,
                                          QuestionnaireRow.version == parsed.version)
    )
    if exists is not None:
        raise VersionTaken(parsed.key, parsed.version, next_version(session, parsed.key))
    title = definition.get("title")
    row = QuestionnaireRow(
        key=parsed.key, version=parsed.version, definition=definition,
        title=_plain_title(title, definition.get("default_language", "id")),
    )
    session.add(row)
    session.flush()
    return row


def _plain_title(title: Any, default_language: str) -> str:
    """The title as one text for lists: Indonesian, else the form's default language (an
    imported form may have no Indonesian), else English, else any; cut to the column's 200
    characters (the definition keeps it whole)."""
    if not isinstance(title, dict):
        return str(title)[:TITLE_LENGTH]
    return next((title[code] for code in ("id", default_language, "en") if title.get(code)),
                next(iter(title.values()), ""))[:TITLE_LENGTH]


def stored_once(session: Session, definition: dict[str, Any]) -> QuestionnaireRow:
    """The stored row of a shipped definition's key and version, added if missing."""
    found = session.scalar(
        select(QuestionnaireRow).where(QuestionnaireRow.key == definition["key"],
                                       QuestionnaireRow.version == definition["version"])
    )
    return found if found is not None else add_version(session, definition)


def ensure_default(session: Session) -> QuestionnaireRow:
    """The shipped instrument (blk-tracer v1), stored once."""
    return stored_once(session, default_definition())


EMPLOYER_QUESTIONNAIRE = "blk_employer_v1.json"
# The employer instrument's key: its versions ask supervisors, so no alumni wave offers them.
EMPLOYER_KEY = "blk-employer"


def employer_definition() -> dict[str, Any]:
    """The shipped employer instrument, "Survei Pengguna Lulusan BLK" version 1
    (docs/employers.md), beside blk-tracer in the questionnaire package and read the same
    way: a definition like any other, so a centre edits it by adding a version."""
    source = importlib.resources.files("services.survey.questionnaire").joinpath(
        EMPLOYER_QUESTIONNAIRE)
    return json.loads(source.read_text(encoding="utf-8"))


def ensure_employer(session: Session) -> QuestionnaireRow:
    """The shipped employer instrument (blk-employer v1), stored once."""
    return stored_once(session, employer_definition())


def ensure_shipped(session: Session) -> list[QuestionnaireRow]:
    """Every shipped version of the instrument (blk-tracer v1 and v2), each stored once;
    an installation's seed. v1 stays `ensure_default`: waves of either work side by side."""
    return [stored_once(session, shipped_definition(version)) for version in SHIPPED_VERSIONS]
