"""Hand-made XLSForms for the importer's tests, built with openpyxl (no binaries committed)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

from services.survey.questionnaire import definition_from_xlsform, load_definition

YES_NO = [["list_name", "name", "label"], ["yn", "y", "Ya"], ["yn", "n", "Tidak"]]


def workbook(survey: list[list[Any]], choices: list[list[Any]] | None = None,
             settings: list[list[Any]] | None = None) -> bytes:
    """An .xlsx with these rows (the first of each sheet is its header row)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows:
            extra = book.create_sheet(title)
            for row in rows:
                extra.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def imported(survey: list[list[Any]], choices: list[list[Any]] | None = None,
             settings: list[list[Any]] | None = None) -> dict[str, Any]:
    """The definition imported from these rows (raises XlsFormRefused)."""
    return definition_from_xlsform(io.BytesIO(workbook(survey, choices, settings)),
                                   key="uji", version=1)


def questionnaire(survey: list[list[Any]], choices: list[list[Any]] | None = None) -> Any:
    return load_definition(imported(survey, choices))


def questions(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every question of a definition by key, in form order."""
    return {q["key"]: q for section in definition["sections"] for q in section["questions"]}
