"""The questionnaire as an OpenAPI (JSON Schema) object: the API docs come from the definition."""

from __future__ import annotations

from typing import Any

from services.survey.questionnaire.definition import Question, Questionnaire


def answers_schema(questionnaire: Questionnaire) -> dict[str, Any]:
    """One property per answer key, with its type, options or range and its label."""
    properties: dict[str, Any] = {}
    for question in questionnaire.answerable:
        for key in question.answer_keys:
            properties[key] = _property(question, key)
    return {
        "type": "object",
        "description": (
            f"Answers to {questionnaire.key} version {questionnaire.version}, keyed by the "
            "instrument's keys. Answering a question whose condition is false is an error."
        ),
        "properties": properties,
        "additionalProperties": False,
    }


def _property(question: Question, key: str) -> dict[str, Any]:
    description = question.label.get("en")
    if question.condition is not None:
        from services.survey.questionnaire.engine import describe

        description += f" (only if {describe(question.condition)})"
    if question.required:
        description += " Required."
    schema: dict[str, Any] = {"description": description}
    if question.type == "single":
        codes = [option.code for option in question.options]
        schema["enum"] = codes
        schema["type"] = "integer" if all(isinstance(c, int) for c in codes) else "string"
    elif question.type == "multi":
        schema.update(type="array", uniqueItems=True,
                      items={"type": "string", "enum": [str(o.code) for o in question.options]})
    elif question.type in ("integer", "currency", "matrix"):
        schema["type"] = "integer"
        if question.minimum is not None:
            schema["minimum"] = question.minimum
        if question.maximum is not None:
            schema["maximum"] = question.maximum
    elif question.type == "boolean":
        schema["type"] = "boolean"
        if question.must_be is not None:
            schema["enum"] = [question.must_be]
    elif question.type == "date":
        schema.update(type="string", format="date")
    else:
        schema["type"] = "string"
        if question.max_length:
            schema["maxLength"] = question.max_length
    return schema
