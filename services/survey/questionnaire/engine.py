"""Answers against a questionnaire: branching, validation, form parsing, progress.

Answers are one flat JSON object keyed by answer key: a question's key, a matrix cell's row
key (f1761) or a group's sub-question key (f18b). A multi answer is the list of ticked
option codes. The web form and the JSON API both end in `validate_answers`, so a rule is
checked in one place whichever way the answers came in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from services.survey.questionnaire.conditions import OWN, Condition, Ref
from services.survey.questionnaire.definition import (
    TIME_TEXT,
    MatrixRow,
    Option,
    Question,
    Questionnaire,
    Section,
    Variant,
    same_value,
)
from shared.bidi import BIDI_CONTROL
from shared.instrument import waiting_months  # noqa: F401  (public name of the engine)

ANSWERS_KEY = "_answers"  # errors about the answers object as a whole
TRUE_WORDS = {"1", "true", "on", "yes", "ya"}
FALSE_WORDS = {"0", "false", "off", "no", "tidak"}
INTEGER_TEXT = re.compile(r"[+-]?\d+")
# People type Rupiah as "4.500.000", "4,500,000" or "Rp 4 500 000".
RUPIAH_TEXT = re.compile(r"(?:rp\.?\s*)?(\d{1,3}(?:[.,\s]\d{3})+|\d+)", re.IGNORECASE)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# A decimal as people type it: "2,5" or "2.5" (no thousands separators: "1.000" is ambiguous).
DECIMAL_TEXT = re.compile(r"[+-]?(\d+)(?:[.,](\d+))?")
# A time or date-time from the browser's own fields ("09:30", "2025-01-31T09:30", seconds
# or a space allowed), read to the stored minutes.
TIME_INPUT = re.compile(r"(\d{1,2})[:.](\d{2})(?::\d{2}(?:\.\d+)?)?")
DATETIME_INPUT = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](.+)")
ACKNOWLEDGED = TRUE_WORDS | {"ok"}


@dataclass(frozen=True)
class Problem:
    """Why one answer was refused, as data: `kind` and the `params` its message needs.

    The engine never words a message for people: `str(problem)` is the API's plain English
    (which may name answer keys and option codes, as API clients need), and the web form
    words the same problem in the alumnus's language, naming questions by their text
    (services/survey/form_view.py `problem_text`). Kinds and their params:

    unknown, not_object, single_value, unstorable, bidi, boolean: none
    required: message (the definition's LocalText for it, or None)
    not_applicable: condition (the question's Condition)
    lte: other (the answer key it may not exceed), limit (that answer)
    one_of / list_of: codes (the option codes)
    number: what ("integer", "decimal" or "rupiah"), low, high (either may be None)
    too_long: limit (characters)
    date, time, datetime: none
    must_be: value (the one accepted boolean; an acknowledge question's is true)
    constraint: condition (the constraint's Condition), message (LocalText or None)
    """

    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **params: Any) -> Problem:
        return cls(kind, tuple(params.items()))

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.params)

    def __str__(self) -> str:
        return _english(self)


def _english(problem: Problem) -> str:
    kind, p = problem.kind, problem.args
    if kind in _FIXED_ENGLISH:
        return _FIXED_ENGLISH[kind]
    if kind == "not_applicable":
        return f"not applicable: asked only when {describe(p['condition'])}"
    if kind == "required":
        return _with_message("is required", p.get("message"))
    if kind == "constraint":
        return _with_message(f"must keep the rule: {describe(p['condition'])}", p["message"])
    if kind == "lte":
        return f"must not be more than the answer to {p['other']} ({p['limit']})"
    if kind in ("one_of", "list_of"):
        codes = ", ".join(str(code) for code in p["codes"])
        return (f"must be one of: {codes}" if kind == "one_of"
                else f"must be a list of options from: {codes}")
    if kind == "number":
        what = {"rupiah": "a whole number of Rupiah", "decimal": "a number"}.get(
            p["what"], "an integer")
        low, high = p["low"], p["high"]
        if low is not None and high is not None:
            return f"must be {what} between {low} and {high}"
        if low is not None:
            return f"must be {what} of at least {low}"
        if high is not None:
            return f"must be {what} of at most {high}"
        return f"must be {what}"
    if kind == "too_long":
        return f"must be text of at most {p['limit']} characters"
    if kind == "must_be":
        return f"must be {json.dumps(p['value'])}"
    raise ValueError(f"unknown problem kind {kind!r}")


def _with_message(text: str, message: Any) -> str:
    """The definition's own message (English, else its default language) after ours."""
    return f"{text} ({message.get('en')})" if message is not None else text


_FIXED_ENGLISH = {
    "unknown": "unknown question",
    "not_object": "must be an object keyed by question",
    "single_value": "must be a single value",
    "unstorable": "contains characters that cannot be stored",
    "bidi": ("contains a bidirectional control character (U+202A to U+202E, U+2066 to "
             "U+2069); retype the answer"),
    "date": "must be a date as YYYY-MM-DD",
    "time": "must be a time as HH:MM (24 hours)",
    "datetime": "must be a date and time as YYYY-MM-DDTHH:MM",
    "boolean": "must be true or false",
}


@dataclass(frozen=True)
class ValidationResult:
    answers: dict[str, Any]
    problems: dict[str, list[Problem]]

    @property
    def errors(self) -> dict[str, list[str]]:
        """The problems in the API's plain English, keyed like `problems`."""
        return {key: [str(problem) for problem in found]
                for key, found in self.problems.items()}

    @property
    def ok(self) -> bool:
        return not self.problems


class SectionProgress(NamedTuple):
    section_key: str
    answered: int
    visible_total: int


class InvalidAnswer(ValueError):
    """An answer that cannot be accepted, with the Problem that says why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# --- branching -----------------------------------------------------------------------------


def is_visible(question: Question, answers: Mapping[str, Any]) -> bool:
    """Whether the question's "if" holds for these answers (a question without one: always).

    Pass answers already cleaned of hidden questions (`ValidationResult.answers`, or the
    answers pruned top to bottom), so a stale answer to a hidden question opens nothing.
    """
    return question.condition is None or _holds(question.condition, answers)


def _holds(condition: Condition, answers: Mapping[str, Any]) -> bool:
    """Whether the condition holds, with ODK/XPath's rules for unanswered values.

    A comparison (eq, lt, le, gt, ge) with an unanswered side is false and `ne` true, except
    that two unanswered sides are equal. eq is of the same type (True is not the code 1;
    whole decimals are stored, and literals read, as integers, so 2.0 meets 2); lt..ge
    compare numbers as numbers, dates, times and date-times as their ISO texts, which sort
    as they do.
    """
    op = condition.op
    if op == "all":
        return all(_holds(part, answers) for part in condition.parts)
    if op == "any":
        return any(_holds(part, answers) for part in condition.parts)
    if op == "not":
        return not _holds(condition.parts[0], answers)
    answer = answers.get(condition.key)
    if op == "has":
        return isinstance(answer, list) and any(same_value(item, condition.values[0])
                                                for item in answer)
    if op == "answered":
        return _is_blank(answer) is not condition.values[0]
    if condition.measure != "value":
        answer = _measured(condition.measure, answer)
    if op == "in" or op == "eq" or op == "ne":
        # A loop rather than any() over a generator: this runs for most questions of every
        # submission, usually with one or two values.
        matches = False
        for value in condition.values:
            if type(value) is Ref:
                value = answers.get(value.key)
                if _is_blank(value):
                    matches = _is_blank(answer)
                    break
            if same_value(answer, value):
                matches = True
                break
        return not matches if op == "ne" else matches
    value = condition.values[0]
    if type(value) is Ref:
        value = answers.get(value.key)
    return _ordered(answer, op, value)


def _measured(measure: str, answer: Any) -> int:
    """The number `{"count": K}` or `{"length": K}` compares: 0 when K is unanswered."""
    if _is_blank(answer):
        return 0
    if measure == "count":
        return len(answer) if isinstance(answer, list) else 1
    return len(_as_text(answer))


def _as_text(answer: Any) -> str:
    if isinstance(answer, bool):
        return "true" if answer else "false"
    return str(answer)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordered(left: Any, op: str, right: Any) -> bool:
    """lt/le/gt/ge between two numbers or two ISO texts; False with an unanswered side."""
    if _is_number(left) and _is_number(right):
        pass
    elif not (isinstance(left, str) and isinstance(right, str) and left and right):
        return False
    if op == "lt":
        return bool(left < right)
    if op == "le":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)


_VERBS = {"eq": "is", "in": "is", "ne": "is not", "has": "includes", "lt": "is less than",
          "le": "is at most", "gt": "is more than", "ge": "is at least"}


def describe(condition: Condition) -> str:
    """The condition in plain words, for "not applicable" messages."""
    if condition.op in ("all", "any"):
        joiner = " and " if condition.op == "all" else " or "
        return joiner.join(f"({describe(part)})" if part.parts else describe(part)
                           for part in condition.parts)
    if condition.op == "not":
        return f"not ({describe(condition.parts[0])})"
    subject = "the answer" if condition.key == OWN else condition.key
    if condition.measure == "count":
        subject = f"the number of options ticked in {subject}"
    elif condition.measure == "length":
        subject = f"the length of {subject}"
    if condition.op == "answered":
        return f"{subject} is {'answered' if condition.values[0] else 'not answered'}"
    values = " or ".join(
        ("the answer" if value.key == OWN else f"the answer to {value.key}")
        if isinstance(value, Ref) else json.dumps(value)
        for value in condition.values)
    return f"{subject} {_VERBS[condition.op]} {values}"


# --- what a page shows ------------------------------------------------------------------------


def applying(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers to questions that apply, judged top to bottom.

    An answer to a question whose "if" is false is dropped before later questions are judged,
    so a stale answer (f504 kept after f8 changed to "studying") opens nothing further down.
    Values are not checked here; `validate_answers` does that.
    """
    kept = dict(answers)
    for question in questionnaire.answerable:
        if question.condition is not None and not _holds(question.condition, kept):
            for key in question.answer_keys:
                kept.pop(key, None)
    return kept


def shown_sections(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> list[Section]:
    """The sections (pages) with at least one question that applies, given ALL answers so far.

    A page whose questions are all hidden is skipped, forward and back. This is exact, not a
    guess: an answer given on a page can only open a question on it through a question that
    is shown there, so a page with none shown stays empty whatever is answered on it. The
    first section always stays, so a form never has no page.
    """
    kept = applying(questionnaire, answers)
    return [
        section for section in questionnaire.sections
        if any(is_visible(question, kept) for question in section.questions)
    ] or list(questionnaire.sections[:1])


def section_keys(section: Section) -> frozenset[str]:
    """The answer keys asked on this section's page."""
    return frozenset(key for question in section.questions for key in question.answer_keys)


def within_page(condition: Condition, answers: Mapping[str, Any],
                page_keys: frozenset[str]) -> Condition | bool:
    """The condition with every comparison on an answer from another page already decided.

    `answers` are the applying answers (`applying`). True or False when nothing on this page
    can change it; otherwise the smaller condition that only names keys on this page, which
    the browser evaluates as the alumnus answers (form.js). This is how a question that
    depends on an earlier page AND on this page (blk_cert_used: f8 and blk_cert) is shown
    exactly when both hold. A comparison between an answer on this page and one from
    another page keeps the other page's answer as its literal value (`_pinned`).
    """
    op = condition.op
    if op == "not":
        rest = within_page(condition.parts[0], answers, page_keys)
        return (not rest) if isinstance(rest, bool) else Condition("not", parts=(rest,))
    if op not in ("all", "any"):
        return _pinned(condition, answers, page_keys)
    parts: list[Condition] = []
    for part in condition.parts:
        decided = within_page(part, answers, page_keys)
        if decided is True and op == "any":
            return True
        if decided is False and op == "all":
            return False
        if not isinstance(decided, bool):
            parts.append(decided)
    if not parts:
        return op == "all"
    return parts[0] if len(parts) == 1 else Condition(op, parts=tuple(parts))


_MIRRORED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _pinned(leaf: Condition, answers: Mapping[str, Any],
            page_keys: frozenset[str]) -> Condition | bool:
    """One comparison within a page: decided when it names no answer on this page, else
    with a ref to another page's answer replaced by that answer (or, when it has none, by
    the `answered` test or truth value the XPath rules give)."""
    ref = leaf.values[0] if leaf.values and type(leaf.values[0]) is Ref else None
    key_here = leaf.key in page_keys
    if ref is None or (ref.key in page_keys) == key_here:
        return leaf if key_here or (ref is not None and ref.key in page_keys) else (
            _holds(leaf, answers))
    if key_here:  # the ref's answer is settled
        here, there, op = leaf.key, answers.get(ref.key), leaf.op
        measure = leaf.measure
    else:  # the key's answer is settled, the ref's is typed on this page: turn it round
        here, op, measure = ref.key, _MIRRORED[leaf.op], "value"
        there = answers.get(leaf.key)
        if leaf.measure != "value":
            there = _measured(leaf.measure, there)
    if not _is_blank(there):
        return Condition(op, key=here, values=(there,), measure=measure)
    if measure == "value" and op in ("eq", "ne"):
        return Condition("answered", key=here, values=(op == "ne",))
    return op == "ne"


def first_unfinished(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> int | None:
    """The index in `shown_sections` of the first page with a required, shown, unanswered
    question (the page a returning alumnus resumes on), or None when none is left."""
    kept = applying(questionnaire, answers)
    for index, section in enumerate(shown_sections(questionnaire, answers)):
        for question in section.questions:
            if not is_visible(question, kept):
                continue
            for sub in question.questions or (question,):
                if sub.required and any(_is_blank(kept.get(key)) for key in sub.answer_keys):
                    return index
    return None


def _is_blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def wording(question: Question, answers: Mapping[str, Any]) -> Question | Variant:
    """The first variant whose "if" holds for these (applying) answers, else the question.

    Read `label`, `help` and `columns` from the result, falling back to the question's own
    where the variant leaves them out (None or empty).
    """
    for variant in question.variants:
        if _holds(variant.condition, answers):
            return variant
    return question


# --- validation ----------------------------------------------------------------------------


def validate_answers(
    questionnaire: Questionnaire, answers: Any, *, complete: bool
) -> ValidationResult:
    """Check answers top to bottom; never raises, whatever `answers` holds.

    `complete=False` is a partial save: missing answers are fine, wrong ones are not.
    The cleaned answers keep only valid answers to questions that apply, so they always
    pass again as a partial save. Errors are keyed by answer key (unknown keys by
    themselves), or by ANSWERS_KEY when `answers` is not an object.
    """
    if not isinstance(answers, Mapping):
        return ValidationResult({}, {ANSWERS_KEY: [Problem.of("not_object")]})
    errors: dict[str, list[Problem]] = {}
    by_answer_key = questionnaire.by_answer_key
    for key in answers:
        if not isinstance(key, str) or key not in by_answer_key:
            errors.setdefault(str(key), []).append(Problem.of("unknown"))
    cleaned: dict[str, Any] = {}
    # Keys whose answer is wrong, or whose question's relevance could not be decided:
    # a question that branches on one of them is checked for its own value only.
    doubtful: set[str] = set()
    for question in questionnaire.answerable:
        condition = question.condition
        if condition is None:
            decided = applies = True
        else:
            decided = not doubtful or condition.keys.isdisjoint(doubtful)
            applies = _holds(condition, cleaned)
        for key in question.answer_keys:
            raw = answers.get(key)
            # _is_blank, inlined: it runs for every answer key of every submission.
            if raw is None or raw == [] or (isinstance(raw, str) and not raw.strip()):
                if complete and question.required and applies and decided:
                    errors[key] = [_required(question)]
                continue
            if decided and not applies:
                errors[key] = [Problem.of("not_applicable", condition=condition)]
                continue
            try:
                value = _CLEANERS[question.type](question, raw)
                if question.lte is not None:
                    _check_lte(question, value, cleaned)
                if question.constraint is not None and (
                        not doubtful or question.constraint.condition.keys.isdisjoint(doubtful)):
                    _check_constraint(question, value, cleaned)
            except InvalidAnswer as problem:
                errors[key] = [problem.problem]
                doubtful.add(key)
                continue
            if decided:
                cleaned[key] = value
            else:
                doubtful.add(key)
    return ValidationResult(cleaned, errors)


def _check_lte(question: Question, value: Any, cleaned: Mapping[str, Any]) -> None:
    if question.lte in cleaned and value > cleaned[question.lte]:
        raise InvalidAnswer(Problem.of("lte", other=question.lte, limit=cleaned[question.lte]))


def _check_constraint(question: Question, value: Any, cleaned: Mapping[str, Any]) -> None:
    """The question's constraint, with "." its own (cleaned) answer; checked only when it is
    answered, as ODK does. A constraint naming an earlier answer that was refused is not
    checked (validate_answers): that answer's own problem is the one to fix."""
    constraint = question.constraint
    assert constraint is not None
    if not _holds(constraint.condition, {**cleaned, OWN: value}):
        raise InvalidAnswer(Problem.of("constraint", condition=constraint.condition,
                                  message=constraint.message))


def _required(question: Question) -> Problem:
    if question.required_message is None:
        return Problem.of("required")
    return Problem.of("required", message=question.required_message)


def default_problem(question: Question) -> Problem | None:
    """Why the question's default is no answer it would accept, or None (definition check).

    Its type, options and range; not its constraint or `lte`, which depend on other answers
    (ODK does not check a default against them either)."""
    try:
        _CLEANERS[question.type](question, question.default)
    except InvalidAnswer as invalid:
        return invalid.problem
    except KeyError:  # matrix, group, note: refused by the schema before this
        return Problem.of("unknown")
    return None


def expectation(question: Question) -> str:
    """What a valid answer looks like: the message for a wrong type or value."""
    return str(expected(question))


def expected(question: Question) -> Problem:
    """The problem with an answer of the wrong type or value for this question."""
    if question.type in ("single", "multi"):
        codes = tuple(option.code for option in question.options)
        return Problem.of("one_of" if question.type == "single" else "list_of", codes=codes)
    if question.type in ("integer", "currency", "matrix", "decimal"):
        what = {"currency": "rupiah", "decimal": "decimal"}.get(question.type, "integer")
        return Problem.of("number", what=what, low=question.minimum, high=question.maximum)
    if question.type == "text":
        return Problem.of("too_long", limit=question.max_length)
    if question.type in ("date", "time", "datetime"):
        return Problem.of(question.type)
    if question.type == "acknowledge":
        return Problem.of("must_be", value=True)
    if question.must_be is not None:
        return Problem.of("must_be", value=question.must_be)
    return Problem.of("boolean")


def _clean_single(question: Question, raw: Any) -> Any:
    for option in question.options:
        if same_value(raw, option.code):
            return option.code
    raise InvalidAnswer(expected(question))


def _clean_multi(question: Question, raw: Any) -> list[str]:
    codes = [option.code for option in question.options]
    if not isinstance(raw, list) or not all(isinstance(item, str) and item in codes
                                            for item in raw):
        raise InvalidAnswer(expected(question))
    return [code for code in codes if code in raw]  # form order, each once


def _clean_integer(question: Question, raw: Any) -> int:
    if (type(raw) is not int
            or (question.minimum is not None and raw < question.minimum)
            or (question.maximum is not None and raw > question.maximum)):
        raise InvalidAnswer(expected(question))
    return raw


def _clean_decimal(question: Question, raw: Any) -> int | float:
    """A JSON number in range; a whole one is stored as an integer (2.0 as 2)."""
    if (not _is_number(raw) or not math.isfinite(raw)
            or (question.minimum is not None and raw < question.minimum)
            or (question.maximum is not None and raw > question.maximum)):
        raise InvalidAnswer(expected(question))
    return int(raw) if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**53 else raw


def _clean_text(question: Question, raw: Any) -> str:
    too_long = question.max_length is not None and len(str(raw).strip()) > question.max_length
    if not isinstance(raw, str) or too_long:
        raise InvalidAnswer(expected(question))
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidAnswer(Problem.of("unstorable")) from None
    if "\x00" in raw:  # PostgreSQL JSON cannot hold it
        raise InvalidAnswer(Problem.of("unstorable"))
    if BIDI_CONTROL.search(raw):  # staff read free text: none that reorders itself
        raise InvalidAnswer(Problem.of("bidi"))
    return raw.strip()


def _clean_date(question: Question, raw: Any) -> str:
    try:
        if isinstance(raw, str) and ISO_DATE.fullmatch(raw):
            return date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    raise InvalidAnswer(expected(question))


def _clean_time(question: Question, raw: Any) -> str:
    if isinstance(raw, str) and TIME_TEXT.match(raw):
        return raw
    raise InvalidAnswer(expected(question))


def _clean_datetime(question: Question, raw: Any) -> str:
    try:
        if isinstance(raw, str) and ISO_DATETIME.fullmatch(raw):
            return datetime.fromisoformat(raw).isoformat(timespec="minutes")
    except ValueError:
        pass
    raise InvalidAnswer(expected(question))


def _clean_acknowledge(question: Question, raw: Any) -> bool:
    if raw is not True:
        raise InvalidAnswer(expected(question))
    return True


def _clean_boolean(question: Question, raw: Any) -> bool:
    if not isinstance(raw, bool) or (question.must_be is not None and raw != question.must_be):
        raise InvalidAnswer(expected(question))
    return raw


_CLEANERS = {
    "single": _clean_single,
    "multi": _clean_multi,
    "integer": _clean_integer,
    "currency": _clean_integer,
    "matrix": _clean_integer,
    "decimal": _clean_decimal,
    "text": _clean_text,
    "date": _clean_date,
    "time": _clean_time,
    "datetime": _clean_datetime,
    "boolean": _clean_boolean,
    "acknowledge": _clean_acknowledge,
}


# --- what the answers say ------------------------------------------------------------------


def section_progress(questionnaire: Questionnaire, answers: Any) -> list[SectionProgress]:
    """Per section: questions answered and questions that apply, for a progress bar.

    A matrix or group counts as one question, answered once any of its cells is.
    """
    cleaned = validate_answers(questionnaire, answers, complete=False).answers
    progress = []
    for section in questionnaire.sections:
        applying = [question for question in section.questions
                    if question.answer_keys and is_visible(question, cleaned)]
        answered = sum(any(key in cleaned for key in question.answer_keys)
                       for question in applying)
        progress.append(SectionProgress(section.key, answered, len(applying)))
    return progress


def label(item: Question | Option | MatrixRow, locale: str) -> str:
    """The item's label in 'id' or 'en'; Indonesian when there is no English text."""
    return item.label.get(locale)
