"""What the web form shows of a questionnaire: sections that apply, fields with values.

Plain functions from the engine's dataclasses to small view objects for the templates, so
the templates never reach into the definition format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask_babel import get_locale

from services.survey.questionnaire import Condition, Question, Questionnaire, Section, is_visible


@dataclass
class OptionView:
    code: Any
    label: str
    checked: bool = False


@dataclass
class CellView:
    key: str
    caption: str
    value: Any
    errors: list[str]


@dataclass
class RowView:
    label: str
    cells: list[CellView]


@dataclass
class FieldView:
    key: str
    type: str
    label: str
    help: str | None
    required: bool
    errors: list[str]
    value: Any = None
    condition: str | None = None
    off: bool = False  # its same-page condition does not hold yet: hidden before first paint
    options: list[OptionView] = field(default_factory=list)
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    rows: list[RowView] = field(default_factory=list)
    scale: list[int] = field(default_factory=list)
    scale_note: str | None = None
    children: list[FieldView] = field(default_factory=list)

    # the template's names for the bounds
    @property
    def min(self) -> int | None:
        return self.minimum

    @property
    def max(self) -> int | None:
        return self.maximum


@dataclass
class SectionView:
    key: str
    title: str
    fields: list[FieldView]


def section_keys(section: Section) -> set[str]:
    return {key for question in section.questions for key in question.answer_keys}


def _decided_elsewhere(question: Question, section: Section) -> bool:
    """True when the question's "if" depends only on answers from other sections."""
    return question.condition is None or not (question.condition.keys & section_keys(section))


def _applies(question: Question, section: Section, answers: dict[str, Any]) -> bool:
    # A condition on this same section is decided in the browser (and again on save).
    return not _decided_elsewhere(question, section) or is_visible(question, answers)


def visible_sections(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[Section]:
    """The sections with at least one question that applies, given the answers so far."""
    return [
        section for section in questionnaire.sections
        if any(_applies(question, section, answers) for question in section.questions)
    ] or list(questionnaire.sections[:1])


def condition_json(condition: Condition) -> dict[str, Any]:
    if condition.op in ("all", "any"):
        return {condition.op: [condition_json(part) for part in condition.parts]}
    value: Any = list(condition.values) if condition.op == "in" else condition.values[0]
    return {"key": condition.key, condition.op: value}


def section_view(
    questionnaire: Questionnaire,
    section: Section,
    answers: dict[str, Any],
    errors: dict[str, list[str]],
) -> SectionView:
    locale = str(get_locale() or "id")
    fields_ = [
        _field(question, section, answers, errors, locale)
        for question in section.questions
        if _applies(question, section, answers)
    ]
    return SectionView(section.key, section.title.get(locale), fields_)


def _field(question: Question, section: Section, answers: dict[str, Any],
           errors: dict[str, list[str]], locale: str) -> FieldView:
    view = FieldView(
        key=question.key,
        type=question.type,
        label=question.label.get(locale),
        help=question.help.get(locale) if question.help else None,
        required=question.required,
        errors=errors.get(question.key, []),
        value=answers.get(question.key),
        minimum=question.minimum,
        maximum=question.maximum,
        max_length=question.max_length,
    )
    if not _decided_elsewhere(question, section):
        view.condition = json.dumps(condition_json(question.condition), separators=(",", ":"))
        view.off = not is_visible(question, answers)
    if question.type == "single":
        view.options = [OptionView(o.code, o.label.get(locale), o.code == view.value)
                        for o in question.options]
    elif question.type == "multi":
        ticked = set(view.value or [])
        view.options = [OptionView(o.code, o.label.get(locale), o.code in ticked)
                        for o in question.options]
    elif question.type == "boolean":
        yes, no = ("Ya", "Tidak") if locale == "id" else ("Yes", "No")
        view.options = [OptionView("true", yes, view.value is True)]
        if question.must_be is None:
            view.options.append(OptionView("false", no, view.value is False))
    elif question.type == "matrix":
        view.scale = list(range(question.minimum or 1, (question.maximum or 5) + 1))
        captions = [column.get(locale) for column in question.columns]
        view.scale_note = " · ".join(f"{o.code} = {o.label.get(locale)}"
                                     for o in question.scale_labels) or None
        view.rows = [
            RowView(row.label.get(locale), [
                CellView(key, captions[index] if index < len(captions) else "",
                         answers.get(key), errors.get(key, []))
                for index, key in enumerate(row.keys)
            ])
            for row in question.rows
        ]
        view.errors = []
    elif question.type == "group":
        view.children = [_field(sub, section, answers, errors, locale)
                         for sub in question.questions]
    return view
