"""Reading the web form: HTML form fields (lists of strings) into typed answers.

Each field is read by its question's type: a multi answer from the repeated field or one
checkbox per option, a number as the alumnus types it (Rupiah with dots, a decimal comma),
a time or date-time in the forms browsers send. What cannot be read becomes a Problem for
that key; everything read still goes through `engine.validate_answers`, the one place the
rules are checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.survey.questionnaire.definition import TIME_TEXT, Question, Questionnaire
from services.survey.questionnaire.engine import (
    ACKNOWLEDGED,
    DATETIME_INPUT,
    DECIMAL_TEXT,
    FALSE_WORDS,
    INTEGER_TEXT,
    RUPIAH_TEXT,
    TIME_INPUT,
    TRUE_WORDS,
    InvalidAnswer,
    Problem,
    expected,
)


def answers_from_form(
    questionnaire: Questionnaire, form: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed answers from HTML form fields, and the fields that could not be read.

    `form` maps field names to lists of strings (`request.form.to_dict(flat=False)`); a
    multi answer comes as the repeated field (f4=f401&f4=f404) or as one checkbox per option
    (f401=on). An empty field is no answer. Fields that are not answer keys (csrf_token,
    buttons) are ignored. Validate the answers next; the form's own errors win for a key:
    `validate_answers(questionnaire, answers, complete=...).errors | form_errors`.
    """
    answers, problems = read_form(questionnaire, form)
    return answers, {key: [str(problem) for problem in found] for key, found in problems.items()}


def read_form(
    questionnaire: Questionnaire, form: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[Problem]]]:
    """`answers_from_form`, with the unreadable fields' Problems rather than English text."""
    answers: dict[str, Any] = {}
    problems: dict[str, list[Problem]] = {}
    for question in questionnaire.answerable:
        for key in question.answer_keys:
            try:
                value = _read_field(question, key, form)
            except InvalidAnswer as invalid:
                problems[key] = [invalid.problem]
                continue
            if value is not None:
                answers[key] = value
    return answers, problems


def _field_values(form: Mapping[str, Any], name: str) -> list[str]:
    values = form.get(name, [])
    if isinstance(values, str):
        values = [values]
    return [value.strip() for value in values if isinstance(value, str) and value.strip()]


def _read_field(question: Question, key: str, form: Mapping[str, Any]) -> Any:
    values = _field_values(form, key)
    if question.type == "multi":
        ticked = set(values)
        for option in question.options:
            # A checkbox named after its option: browsers send only the ticked ones.
            if any(value.lower() not in FALSE_WORDS
                   for value in _field_values(form, str(option.code))):
                ticked.add(str(option.code))
        # Unknown codes stay in, for validate_answers to name.
        known = [str(option.code) for option in question.options]
        return [code for code in known if code in ticked] + sorted(ticked - set(known)) or None
    if not values:
        return None
    if len(values) > 1:
        raise InvalidAnswer(Problem.of("single_value"))
    text = values[0]
    if question.type == "single":
        return _read_code(question, text)
    if question.type in ("integer", "currency", "matrix"):
        return _read_integer(question, text)
    if question.type == "decimal":
        return _read_decimal(question, text)
    if question.type == "boolean":
        return _read_flag(question, text)
    if question.type == "acknowledge":
        if text.lower() not in ACKNOWLEDGED:
            raise InvalidAnswer(expected(question))
        return True
    if question.type == "time":
        return _read_time(text) or text
    if question.type == "datetime":
        match = DATETIME_INPUT.fullmatch(text)
        time = _read_time(match.group(2)) if match else None
        return f"{match.group(1)}T{time}" if match and time else text
    return text  # text and date: validate_answers checks them as they are


def _read_code(question: Question, text: str) -> Any:
    for option in question.options:
        if str(option.code) == text:
            return option.code
    raise InvalidAnswer(expected(question))


def _read_integer(question: Question, text: str) -> int:
    match = (RUPIAH_TEXT if question.type == "currency" else INTEGER_TEXT).fullmatch(text)
    digits = re.sub(r"[^\d+-]", "", match.group(0)) if match else ""
    try:
        return int(digits)
    except ValueError:  # no number, or more digits than int() will read
        raise InvalidAnswer(expected(question)) from None


def _read_decimal(question: Question, text: str) -> int | float:
    """"2,5" or "2.5" as 2.5; a whole number as an integer."""
    match = DECIMAL_TEXT.fullmatch(text)
    if not match or len(text) > 40:
        raise InvalidAnswer(expected(question))
    if match.group(2) is None:
        return int(text)
    return float(text.replace(",", "."))


def _read_time(text: str) -> str | None:
    """"9:05", "09.05" or "09:05:00" as "09:05"; None when it is no time of day."""
    match = TIME_INPUT.fullmatch(text)
    if not match:
        return None
    time = f"{int(match.group(1)):02d}:{match.group(2)}"
    return time if TIME_TEXT.match(time) else None


def _read_flag(question: Question, text: str) -> bool:
    word = text.lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise InvalidAnswer(expected(question))
    return word in TRUE_WORDS
