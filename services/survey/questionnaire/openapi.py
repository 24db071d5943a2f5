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
    from services.survey.questionnaire.engine import describe

    description = question.label.get("en")
    if question.condition is not None:
        description += f" (only if {describe(question.condition)})"
    if question.constraint is not None:
        description += f" Must keep the rule: {describe(question.constraint.condition)}."
    if question.required:
        description += " Required."
    schema: dict[str, Any] = {"description": description}
    if question.default is not None:
        schema["default"] = question.default
    if question.type == "single":
        codes = [option.code for option in question.options]
        schema["enum"] = codes
        schema["type"] = "integer" if all(isinstance(c, int) for c in codes) else "string"
    elif question.type == "multi":
        schema.update(type="array", uniqueItems=True,
                      items={"type": "string", "enum": [str(o.code) for o in question.options]})
    elif question.type in ("integer", "currency", "matrix", "decimal"):
        schema["type"] = "number" if question.type == "decimal" else "integer"
        if question.minimum is not None:
            schema["minimum"] = question.minimum
        if question.maximum is not None:
            schema["maximum"] = question.maximum
    elif question.type == "boolean":
        schema["type"] = "boolean"
        if question.must_be is not None:
            schema["enum"] = [question.must_be]
    elif question.type == "acknowledge":
        schema.update(type="boolean", enum=[True])
    elif question.type == "date":
        schema.update(type="string", format="date")
    elif question.type == "time":
        schema.update(type="string", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                      description=description + " As HH:MM (24 hours).")
    elif question.type == "datetime":
        schema.update(type="string", pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$",
                      description=description + " As YYYY-MM-DDTHH:MM.")
    else:
        schema["type"] = "string"
        if question.max_length:
            schema["maxLength"] = question.max_length
    return schema
