"""Questionnaire versions in the database: the default instrument and staff-added versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.survey.questionnaire import default_definition, load_definition
from services.survey.waves import SurveyError
from shared.models import Questionnaire as QuestionnaireRow


def add_version(session: Session, definition: dict[str, Any]) -> QuestionnaireRow:
    """Store a new, validated version. Versions are immutable: old responses keep theirs."""
    parsed = load_definition(definition)  # raises DefinitionError naming the bad path
    exists = session.scalar(
        select(QuestionnaireRow.id).where(QuestionnaireRow.key == parsed.key,
                                          QuestionnaireRow.version == parsed.version)
    )
    if exists is not None:
        latest = session.scalar(
            select(func.max(QuestionnaireRow.version)).where(QuestionnaireRow.key == parsed.key)
        )
        raise SurveyError("version", f"{parsed.key} version {parsed.version} exists; "
                          f"use version {latest + 1}", 409)
    row = QuestionnaireRow(
        key=parsed.key, version=parsed.version, definition=definition,
        title=parsed.title.get("id"),  # Indonesian, else the definition's default language
    )
    session.add(row)
    session.flush()
    return row


def ensure_default(session: Session) -> QuestionnaireRow:
    """The shipped instrument (blk-tracer v1), stored once."""
    definition = default_definition()
    found = session.scalar(
        select(QuestionnaireRow).where(QuestionnaireRow.key == definition["key"],
                                       QuestionnaireRow.version == definition["version"])
    )
    return found if found is not None else add_version(session, definition)
