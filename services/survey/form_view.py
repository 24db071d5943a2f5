"""What the web form shows of a questionnaire: sections that apply, fields with values.

Plain functions from the engine's dataclasses to small view objects for the templates, so
the templates never reach into the definition format. What applies is the engine's call
(`shown_sections`, `within_page`, `wording`), made from ALL stored answers; this module only
words it, in the page's language, and words the engine's Problems as messages that name the
question by its text (never by its key).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

from services.survey.questionnaire import (
    Condition,
    LocalText,
    Problem,
    Question,
    Questionnaire,
    Section,
    applying,
    dump_condition,
    is_visible,
    section_keys,
    within_page,
    wording,
)
from shared.i18n import chosen_language


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
    hidden: bool = False
    options: list[OptionView] = field(default_factory=list)
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    rows: list[RowView] = field(default_factory=list)
    scale: list[int] = field(default_factory=list)
    scale_note: str | None = None
    children: list[FieldView] = field(default_factory=list)

    # the template's names for the bounds
    @property
    def min(self) -> int | float | None:
        return self.minimum

    @property
    def max(self) -> int | float | None:
        return self.maximum


@dataclass
class SectionView:
    key: str
    title: str
    fields: list[FieldView]


@dataclass
class AnswerView:
    """One answered question in the read-only summary."""

    label: str
    value: str


@dataclass
class SummaryView:
    step: int
    title: str
    answers: list[AnswerView]


def condition_json(condition: Condition) -> dict[str, Any]:
    """The condition as form.js reads it: the definition's own JSON language."""
    return dump_condition(condition)


def _locale() -> str:
    """The language the questions are shown in: the page's, or another language the
    definition carries (its texts fall back to the definition's default language)."""
    return chosen_language()


def section_view(
    questionnaire: Questionnaire,
    section: Section,
    answers: dict[str, Any],
    problems: dict[str, list[Problem]],
    page_keys: frozenset[str] | None = None,
) -> SectionView:
    """The page of `section` for these answers (all pages'), with its problems worded.

    `page_keys` are the answer keys the browser sees together: this section's by default;
    the kiosk, which shows every section on one page, passes all of the questionnaire's,
    so each condition keeps its whole `data-if` (services/survey/kiosk_pages.py).

    A question that applies is shown; one that does not, but could through an answer on this
    same page, is rendered hidden (the `hidden` attribute, so the page does not move when the
    script runs) with the part of its condition left to decide (`data-if`); one that nothing
    on this page can open is left out.
    """
    locale = _locale()
    kept = applying(questionnaire, answers)
    page_keys = section_keys(section) if page_keys is None else page_keys
    errors = problem_texts(questionnaire, problems, kept)
    fields_ = []
    for question in section.questions:
        rest = (True if question.condition is None
                else within_page(question.condition, kept, page_keys))
        if rest is False:
            continue
        view = _field(question, answers, kept, errors, locale)
        view.hidden = not is_visible(question, kept)
        if not isinstance(rest, bool):
            view.condition = json.dumps(condition_json(rest), separators=(",", ":"))
        fields_.append(view)
    return SectionView(section.key, section.title.get(locale), fields_)


def _field(question: Question, answers: dict[str, Any], kept: dict[str, Any],
           errors: dict[str, list[str]], locale: str) -> FieldView:
    words = wording(question, kept)
    label_text = (words.label or question.label).get(locale)
    help_text = words.help or question.help
    view = FieldView(
        key=question.key,
        type=question.type,
        label=label_text,
        help=help_text.get(locale) if help_text else None,
        required=question.required,
        errors=errors.get(question.key, []),
        # A question not answered yet shows its default (an answer cleared on purpose and
        # saved is no answer either, so the default comes back: docs/questionnaire.md).
        value=answers.get(question.key, question.default),
        minimum=question.minimum,
        maximum=question.maximum,
        max_length=question.max_length,
    )
    if question.type == "single":
        view.options = [OptionView(o.code, o.label.get(locale), o.code == view.value)
                        for o in question.options]
    elif question.type == "multi":
        ticked = set(view.value or [])
        view.options = [OptionView(o.code, o.label.get(locale), o.code in ticked)
                        for o in question.options]
    elif question.type == "acknowledge":
        # "true", as a boolean's: form.js compares it with a condition's true
        view.options = [OptionView("true", _("OK"), view.value is True)]
    elif question.type == "boolean":
        view.options = [OptionView("true", _("Yes"), view.value is True)]
        if question.must_be is None:
            view.options.append(OptionView("false", _("No"), view.value is False))
    elif question.type == "matrix":
        view.scale = list(range(question.minimum or 1, (question.maximum or 5) + 1))
        captions = [column.get(locale) for column in (words.columns or question.columns)]
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
        view.children = [_field(sub, answers, kept, errors, locale)
                         for sub in question.questions]
    return view


# --- messages --------------------------------------------------------------------------------


def question_names(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, str]:
    """Each answer key's name for messages, in the page's language: the question's text, a
    matrix cell's row (and column), a group's sub-question by its own label."""
    locale = _locale()
    names: dict[str, str] = {}
    for section in questionnaire.sections:
        for question in section.questions:
            words = wording(question, answers)
            text = (words.label or question.label).get(locale)
            if question.type == "group":
                for sub in question.questions:
                    names[sub.key] = sub.label.get(locale)  # as labelled on the page
            elif question.type == "matrix":
                captions = [c.get(locale) for c in (words.columns or question.columns)]
                for row in question.rows:
                    for index, key in enumerate(row.keys):
                        names[key] = (f"{row.label.get(locale)} ({captions[index]})"
                                      if len(row.keys) > 1 and index < len(captions)
                                      else f"{text}: {row.label.get(locale)}")
            else:
                names[question.key] = text
    return names


def problem_texts(questionnaire: Questionnaire, problems: dict[str, list[Problem]],
                  answers: dict[str, Any]) -> dict[str, list[str]]:
    """The problems as messages in the page's language, keyed like `problems`."""
    if not problems:
        return {}
    names = question_names(questionnaire, answers)
    return {key: [problem_text(problem, names.get(key, ""), names) for problem in found]
            for key, found in problems.items()}


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return format_decimal(value)


def _own_words(message: LocalText | None, question: str) -> str | None:
    """The definition's own message for a problem, in the page's language (else the
    definition's default language), after the question it is about."""
    if message is None:
        return None
    return _("“%(question)s”: %(message)s", question=question, message=message.get(_locale()))


def problem_text(problem: Problem, question: str, names: dict[str, str]) -> str:
    """One Problem as a sentence naming the question by its text (see engine.Problem)."""
    kind, p = problem.kind, problem.args
    if kind == "required":
        return (_own_words(p.get("message"), question)
                or _("“%(question)s” is required.", question=question))
    if kind == "constraint":
        return (_own_words(p["message"], question)
                or _("“%(question)s” is not an accepted answer; please check it.",
                     question=question))
    if kind == "lte":
        return _("“%(question)s” must not be more than the answer to “%(other)s” (%(limit)s).",
                 question=question, other=names.get(p["other"], ""), limit=_number(p["limit"]))
    if kind == "number":
        low, high = p["low"], p["high"]
        bounds = {"question": question, "low": _number(low), "high": _number(high)}
        if p["what"] == "decimal":
            if low is not None and high is not None:
                return _("“%(question)s” must be a number from %(low)s to %(high)s.", **bounds)
            if low is not None:
                return _("“%(question)s” must be a number of at least %(low)s.", **bounds)
            if high is not None:
                return _("“%(question)s” must be a number of at most %(high)s.", **bounds)
            return _("“%(question)s” must be a number, for example 2,5.", **bounds)
        if p["what"] == "rupiah":
            if low is not None and high is not None:
                return _("“%(question)s” must be an amount in Rupiah from %(low)s to %(high)s.",
                         **bounds)
            return _("“%(question)s” must be an amount in Rupiah, digits only.", **bounds)
        if low is not None and high is not None:
            return _("“%(question)s” must be a whole number from %(low)s to %(high)s.", **bounds)
        if low is not None:
            return _("“%(question)s” must be a whole number of at least %(low)s.", **bounds)
        if high is not None:
            return _("“%(question)s” must be a whole number of at most %(high)s.", **bounds)
        return _("“%(question)s” must be a whole number.", **bounds)
    if kind in ("one_of", "boolean"):
        return _("Choose one of the answers to “%(question)s”.", question=question)
    if kind == "list_of":
        return _("Choose only from the answers offered for “%(question)s”.", question=question)
    if kind == "must_be":
        return _("Tick “%(question)s” to continue.", question=question)
    if kind == "too_long":
        return _("“%(question)s” must be at most %(limit)s characters long.",
                 question=question, limit=_number(p["limit"]))
    if kind == "date":
        # The form's date field is typed day-month-year (form.iso_dates), so say so.
        return _("“%(question)s” must be a date as day-month-year (DD-MM-YYYY), "
                 "for example 31-12-2025.", question=question)
    if kind == "time":
        return _("“%(question)s” must be a time as hours:minutes, for example 14:30.",
                 question=question)
    if kind == "datetime":
        return _("“%(question)s” must be a date and a time, for example 2025-12-31 14:30.",
                 question=question)
    if kind == "single_value":
        return _("“%(question)s” takes one answer only.", question=question)
    if kind == "unstorable":
        return _("“%(question)s” contains characters that cannot be stored.", question=question)
    if kind == "bidi":
        return _("“%(question)s” contains an invisible character that changes the direction "
                 "of the text. Please type the answer again.", question=question)
    if kind == "not_applicable":
        return _("“%(question)s” does not apply after your earlier answers; leave it empty.",
                 question=question)
    return _("This answer cannot be accepted.")


# --- the read-only summary ---------------------------------------------------------------------


def summary(questionnaire: Questionnaire, sections: list[Section],
            answers: dict[str, Any]) -> list[SummaryView]:
    """What the alumnus answered, page by page (`sections` are the shown ones, numbered as
    the form's steps), each answer worded as on the form."""
    locale = _locale()
    kept = applying(questionnaire, answers)
    names = question_names(questionnaire, kept)
    pages = []
    for step, section in enumerate(sections, start=1):
        rows = []
        for question in section.questions:
            if not is_visible(question, kept):
                continue
            for sub in question.questions or (question,):
                for key in sub.answer_keys:
                    if key in kept:
                        rows.append(AnswerView(names.get(key, ""), _answer_text(sub, kept[key],
                                                                                locale)))
        pages.append(SummaryView(step, section.title.get(locale), rows))
    return pages


def _answer_text(question: Question, value: Any, locale: str) -> str:
    if question.type in ("single", "multi"):
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(o.label.get(locale) for o in question.options if o.code in chosen)
    if question.type == "boolean":
        return _("Yes") if value else _("No")
    if question.type == "acknowledge":
        return _("OK")
    if question.type == "datetime" and isinstance(value, str):
        day, _t, time = value.partition("T")
        return f"{day_month_year(day)} {time}"
    if question.type == "time":
        return str(value)
    if question.type == "currency":
        return "Rp " + _number(value)
    if question.type == "date":
        return day_month_year(value)
    return _number(value)


def day_month_year(value: Any) -> str:
    """A stored YYYY-MM-DD as the form shows it and the alumnus types it, 31-12-2025;
    anything else as it is."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        year, month, day = value.split("-")
        return f"{day}-{month}-{year}"
    return "" if value is None else str(value)
