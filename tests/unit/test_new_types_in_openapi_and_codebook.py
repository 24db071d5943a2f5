"""The question types an XLSForm import brings (issue 20) in the API's answer schema and the
raw workbook's codebook: each has a schema and a codebook line; a note, which takes no
answer, has neither."""

from __future__ import annotations

from typing import Any

from services.analytics.reports.content import answer_keys, answer_labels, codebook
from services.survey.questionnaire import load_definition
from services.survey.questionnaire.openapi import answers_schema

DEFINITION: dict[str, Any] = {
    "key": "xls", "version": 1, "default_language": "fr",
    "languages": [{"code": "fr", "name": "Français"}],
    "title": {"fr": "Enquête"},
    "sections": [{"key": "s1", "title": {"fr": "Un"}, "questions": [
        {"key": "intro", "type": "note", "label": {"fr": "Bienvenue"}},
        {"key": "weight", "type": "decimal", "min": 0.5, "max": 9.5, "default": 1.5,
         "label": {"fr": "Poids", "en": "Weight"},
         "constraint": {"if": {"key": ".", "ne": 5}}},
        {"key": "start", "type": "time", "label": {"fr": "Heure"}},
        {"key": "at", "type": "datetime", "label": {"fr": "Moment"}},
        {"key": "ok", "type": "acknowledge", "label": {"fr": "D'accord"}},
    ]}],
}


def test_the_answer_schema_types_each_new_question_and_leaves_out_the_note() -> None:
    properties = answers_schema(load_definition(DEFINITION))["properties"]
    assert list(properties) == ["weight", "start", "at", "ok"]
    weight = properties["weight"]
    assert (weight["type"], weight["minimum"], weight["maximum"], weight["default"]) == (
        "number", 0.5, 9.5, 1.5)
    assert weight["description"] == "Weight Must keep the rule: the answer is not 5."
    assert properties["start"]["pattern"] == r"^([01]\d|2[0-3]):[0-5]\d$"
    assert properties["at"]["type"] == "string" and "YYYY-MM-DDTHH:MM" in (
        properties["at"]["description"])
    assert properties["ok"] == {"description": "D'accord", "type": "boolean", "enum": [True]}


def test_the_codebook_lists_each_new_question_in_the_default_language_and_no_note() -> None:
    rows = codebook(DEFINITION)
    assert [(row.key, row.kind, row.question_id, row.code, row.note) for row in rows] == [
        ("weight", "decimal", "Poids", None, "0.5–9.5"),
        ("start", "time", "Heure", None, ""),
        ("at", "datetime", "Moment", None, ""),
        ("ok", "acknowledge", "D'accord", True, ""),
    ]
    assert answer_keys(DEFINITION) == ["weight", "start", "at", "ok"]
    assert answer_labels(DEFINITION)["weight"] == "Poids"
