"""The questionnaire definition format: JSON in, validated, frozen dataclasses out.

A definition is plain JSON so it can be stored in the `questionnaires` table, sent over the
API and diffed between versions. `load_definition` is the only way in: it checks the shape
with marshmallow, then the rules that span the whole definition (unique keys, conditions and
`lte` pointing at earlier answers, defaults of the question's type), and raises
`DefinitionError` naming the bad path. docs/questionnaire.md "The definition format" is the
reference; the summary here is for readers of the code.

The "if" condition language (conditions.py; every question may carry one; constraints and
variants too):

    {"key": "f504", "eq": 1}            the answer to f504 is 1
    {"key": "f8", "in": [1, 3]}         the answer to f8 is 1 or 3
    {"key": "f8", "ne": 2}              not (f8 = 2); also true when f8 is unanswered
    {"key": "f4", "has": "f401"}        the multi answer f4 includes option f401
    {"key": "f5", "ge": 18}             lt, le, gt, ge: numbers, dates, times, date-times
    {"key": "f5", "le": {"ref": "f6"}}  a value may be another (earlier) answer
    {"key": "f5", "answered": false}    f5 has no answer (XLSForm ${f5} = '')
    {"count": "f4", "ge": 2}            at least two options of multi f4 are ticked
    {"length": "f9", "le": 10}          f9's answer as text is at most 10 characters
    {"all": [condition, ...]}           every condition holds
    {"any": [condition, ...]}           at least one condition holds
    {"not": condition}                  the condition does not hold

Unanswered values follow ODK/XPath: a comparison with an unanswered side is false, `ne` is
true, except that two unanswered refs are equal. A condition may only name answer keys
defined earlier, so a form can be filled top to bottom; a constraint may also name ".", the
question's own answer. Conditions nest at most conditions.MAX_DEPTH levels.

A question may also carry "variants": other wordings chosen by condition, e.g. the competency
pair's B half for an alumnus who does not work ("the level the world of work requires"):

    "variants": [{"if": {...}, "label": {...}, "help": {...}, "columns": [...]}]

The first variant whose "if" holds replaces the label, help or matrix column captions it
gives; the question, its keys and its answers stay the same (indicators do not move). A
variant's "if" may only name answers from earlier sections, so the wording is settled before
the page is drawn.

Texts are objects keyed by language: the definition's `default_language` ("id" unless said)
is always present; "id", "en" and the codes listed in `languages` may be.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from services.survey.questionnaire.conditions import (
    KEY,
    OWN,
    RELATIONAL,
    Condition,
    Ref,
    parse_condition,
)
from shared.indicator_inputs import InputsError, parse_inputs
from shared.indicator_mapping import check_inputs, items_of
from shared.languages import LANGUAGE_CODE

Code = int | str

QUESTION_TYPES = (
    "single", "multi", "integer", "currency", "decimal", "text", "date", "time", "datetime",
    "boolean", "acknowledge", "note", "matrix", "group",
)
# Which optional fields each type takes, and which of those it cannot do without.
TYPE_FIELDS: dict[str, set[str]] = {
    "single": {"options"},
    "multi": {"options"},
    "integer": {"minimum", "maximum", "lte"},
    "currency": {"minimum", "maximum", "lte"},
    "decimal": {"minimum", "maximum"},
    "text": {"max_length"},
    "date": set(),
    "time": set(),
    "datetime": set(),
    "boolean": {"must_be"},
    "acknowledge": set(),
    "note": set(),
    "matrix": {"minimum", "maximum", "rows", "columns", "scale_labels"},
    "group": {"questions"},
}
# A question with one answer of its own may have a default and a constraint; any question
# that takes answers may word its "required" message.
for _type, _fields in TYPE_FIELDS.items():
    if _type not in ("note", "matrix", "group"):
        _fields |= {"default", "constraint"}
    if _type != "note":
        _fields.add("required_message")
TYPE_REQUIRES: dict[str, set[str]] = {
    "single": {"options"},
    "multi": {"options"},
    "matrix": {"minimum", "maximum", "rows"},
    "group": {"questions"},
}
TYPED_FIELDS = set().union(*TYPE_FIELDS.values())
TEXT_MAX_LENGTH = 2000  # when a text question declares none; keeps stored answers bounded
MAX_VERSION = 2**31 - 1  # a database integer (questionnaires.version)
# \Z because marshmallow's Regexp only anchors the start.
LANGUAGE = LANGUAGE_CODE
BUILT_IN_LANGUAGES = ("id", "en")  # Jejak's own translations; always offered
# Answers comparable with each other; lt..ge only within the ordered families.
FAMILY = {"integer": "number", "currency": "number", "decimal": "number", "matrix": "number",
          "date": "date", "time": "time", "datetime": "datetime", "text": "text",
          "single": "choice", "multi": "multi", "boolean": "boolean", "acknowledge": "boolean"}
ORDERED_FAMILIES = ("number", "date", "time", "datetime")
TIME_TEXT = re.compile(r"([01]\d|2[0-3]):[0-5]\d\Z")


class DefinitionError(ValueError):
    """A definition breaks the format; `path` points at the first problem."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" if path else message
                                   for path, message in problems))
        self.path = problems[0][0]
        self.problems = problems


@dataclass(frozen=True)
class LocalText:
    """A text in one or more languages: (language, text) pairs, the default language first.

    `get` gives the text in the asked language when there is one, else in the definition's
    default language, so a form never shows an empty label.
    """

    texts: tuple[tuple[str, str], ...]

    def get(self, locale: str) -> str:
        wanted = locale.replace("_", "-").lower()
        for language, text in self.texts:
            if language.lower() == wanted:
                return text
        base = wanted.split("-")[0]
        for language, text in self.texts:
            if language.lower().split("-")[0] == base:
                return text
        return self.texts[0][1]

    def has(self, locale: str) -> bool:
        return any(language == locale for language, _ in self.texts)

    @property
    def id(self) -> str | None:
        return dict(self.texts).get("id")

    @property
    def en(self) -> str | None:
        return dict(self.texts).get("en")

    @classmethod
    def of(cls, default: str, **others: str) -> LocalText:
        """A text in Indonesian (first) and other languages, for code and tests."""
        return cls((("id", default), *others.items()))


@dataclass(frozen=True)
class Constraint:
    """A rule an answer must keep (its own answer is "."), and what to say when it does not."""

    condition: Condition
    message: LocalText | None = None


@dataclass(frozen=True)
class Option:
    code: Code
    label: LocalText


@dataclass(frozen=True)
class MatrixRow:
    """One row of a matrix: one answer key, or two for a paired scale (A, B)."""

    keys: tuple[str, ...]
    label: LocalText


@dataclass(frozen=True)
class Variant:
    """Another wording of a question, used when `condition` holds; None/() keeps the default."""

    condition: Condition
    label: LocalText | None = None
    help: LocalText | None = None
    columns: tuple[LocalText, ...] = ()


@dataclass(frozen=True)
class Question:
    """A question. On a matrix, `required` and the range apply to every cell.

    A note has no answer (`answer_keys` is empty); `default` is only what the form pre-fills.
    """

    key: str
    type: str
    label: LocalText
    help: LocalText | None = None
    required: bool = False
    required_message: LocalText | None = None
    condition: Condition | None = None
    constraint: Constraint | None = None
    # Not compared or hashed: a multi question's default is a list.
    default: Any = field(default=None, compare=False)
    lte: str | None = None
    options: tuple[Option, ...] = ()
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    must_be: bool | None = None
    rows: tuple[MatrixRow, ...] = ()
    columns: tuple[LocalText, ...] = ()
    scale_labels: tuple[Option, ...] = ()
    questions: tuple[Question, ...] = ()
    variants: tuple[Variant, ...] = ()

    @cached_property  # read for every question of every submission
    def answer_keys(self) -> tuple[str, ...]:
        """The keys this question's answers are stored under, in form order."""
        if self.type == "matrix":
            return tuple(key for row in self.rows for key in row.keys)
        if self.type == "group":
            return tuple(key for sub in self.questions for key in sub.answer_keys)
        if self.type == "note":
            return ()
        return (self.key,)


@dataclass(frozen=True)
class Section:
    key: str
    title: LocalText
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Questionnaire:
    """A definition. `languages` are (code, name) of the languages besides id and en that
    its texts may carry; texts fall back to `default_language`."""

    key: str
    version: int
    title: LocalText
    sections: tuple[Section, ...]
    default_language: str = "id"
    languages: tuple[tuple[str, str], ...] = ()

    @cached_property
    def answerable(self) -> tuple[Question, ...]:
        """Every question that holds answers, in form order (a group's sub-questions)."""
        return tuple(
            sub
            for section in self.sections
            for question in section.questions
            for sub in (question.questions if question.type == "group" else (question,))
            if sub.type != "note"
        )

    @cached_property
    def by_answer_key(self) -> dict[str, Question]:
        """The question holding each answer key (a matrix holds one per cell)."""
        return {key: question for question in self.answerable for key in question.answer_keys}


# --- the format, declared --------------------------------------------------------------


# The text languages of the definition being loaded: its default language and every
# language a text may carry. Set by load_definition for the length of one load.
_TEXT_LANGUAGES: ContextVar[tuple[str, frozenset[str]]] = ContextVar(
    "text_languages", default=("id", frozenset(BUILT_IN_LANGUAGES)))


class _ConditionField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Condition:
        return parse_condition(value)


class _ConstraintConditionField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Condition:
        return parse_condition(value, own=True)


class _CodeField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Code:
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            raise ValidationError("must be an integer or a non-empty string")
        return value


class _NumberField(fields.Field):
    """A JSON number (int or finite float), never a boolean or a numeric string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise ValidationError("must be a number")
        return value


class _AnyField(fields.Field):
    """Any JSON value; the whole-definition check judges it (a default by its question)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return value


class _LocalTextField(fields.Field):
    """A text object {language: text}: the default language present, only known languages."""

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> LocalText:
        default, known = _TEXT_LANGUAGES.get()
        if not isinstance(value, dict):
            raise ValidationError("a text is an object keyed by language, e.g. {'id': '...'}")
        errors: dict[str, list[str]] = {}
        for language, text in value.items():
            if language not in known:
                errors[str(language)] = [
                    f"not a language of this definition (allowed: {', '.join(sorted(known))}; "
                    "list others in 'languages')"]
            elif not isinstance(text, str) or not text:
                errors[language] = ["must be a non-empty text"]
        if default not in value and default not in errors:
            errors[default] = [f"required: every text has the default language '{default}'"]
        if errors:
            raise ValidationError(errors)
        return LocalText(((default, value[default]),
                          *((language, text) for language, text in value.items()
                            if language != default)))


def _key_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(KEY, error="must be a key like f8 or blk_cert"),
                         **kwargs)


def _strict_boolean(**kwargs: Any) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class OptionSchema(Schema):
    code = _CodeField(required=True)
    label = _LocalTextField(required=True)

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Option:
        return Option(**data)


class MatrixRowSchema(Schema):
    key = _key_field()
    key_a = _key_field()
    key_b = _key_field()
    label = _LocalTextField(required=True)

    @validates_schema
    def one_key_or_a_pair(self, data: dict[str, Any], **kwargs: Any) -> None:
        if {"key", "key_a", "key_b"} & set(data) not in ({"key"}, {"key_a", "key_b"}):
            raise ValidationError("a row has either 'key' or both 'key_a' and 'key_b'")

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> MatrixRow:
        keys = (data["key"],) if "key" in data else (data["key_a"], data["key_b"])
        return MatrixRow(keys=keys, label=data["label"])


class VariantSchema(Schema):
    condition = _ConditionField(data_key="if", required=True)
    label = _LocalTextField()
    help = _LocalTextField()
    columns = fields.List(_LocalTextField(), validate=validate.Length(min=1))

    @validates_schema
    def changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not {"label", "help", "columns"} & set(data):
            raise ValidationError("a variant gives a label, help or columns")

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Variant:
        data["columns"] = tuple(data.get("columns", ()))
        return Variant(**data)


class ConstraintSchema(Schema):
    condition = _ConstraintConditionField(data_key="if", required=True)
    message = _LocalTextField()

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Constraint:
        return Constraint(**data)


class QuestionSchema(Schema):
    key = _key_field(required=True)
    type = fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES))
    label = _LocalTextField(required=True)
    help = _LocalTextField()
    required = _strict_boolean(load_default=False)
    required_message = _LocalTextField()
    condition = _ConditionField(data_key="if")
    constraint = fields.Nested(ConstraintSchema)
    default = _AnyField(allow_none=False)
    lte = _key_field()
    options = fields.List(fields.Nested(OptionSchema), validate=validate.Length(min=1))
    minimum = _NumberField(data_key="min")
    maximum = _NumberField(data_key="max")
    max_length = fields.Integer(strict=True, validate=validate.Range(min=1))
    must_be = _strict_boolean()
    rows = fields.List(fields.Nested(MatrixRowSchema), validate=validate.Length(min=1))
    columns = fields.List(_LocalTextField())
    scale_labels = fields.List(fields.Nested(OptionSchema))
    questions = fields.List(fields.Nested(lambda: QuestionSchema()),
                            validate=validate.Length(min=1))
    variants = fields.List(fields.Nested(VariantSchema), validate=validate.Length(min=1))

    @validates_schema
    def fields_fit_the_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        allowed = TYPE_FIELDS[data["type"]]
        errors: dict[str, list[str]] = {}
        for name in TYPED_FIELDS:
            if name in data and name not in allowed:
                errors[self.fields[name].data_key or name] = [
                    f"not allowed for {data['type']} questions"]
        for name in TYPE_REQUIRES.get(data["type"], set()) - set(data):
            errors[self.fields[name].data_key or name] = [
                f"required for {data['type']} questions"]
        if data["type"] != "decimal":
            for name in ("minimum", "maximum"):
                if name in data and type(data[name]) is not int:
                    errors[self.fields[name].data_key or name] = [
                        "must be an integer (only decimal questions take other numbers)"]
        if data["type"] == "note" and data.get("required"):
            errors["required"] = ["a note takes no answer, so it cannot be required"]
        if errors:
            raise ValidationError(errors)
    @validates_schema
    def range_is_ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("minimum", 0) > data.get("maximum", data.get("minimum", 0)):
            raise ValidationError("must not be less than min", "max")

    @validates_schema
    def option_codes_fit(self, data: dict[str, Any], **kwargs: Any) -> None:
        codes = [option.code for option in data.get("options", ())]
        if len(set(codes)) != len(codes):
            raise ValidationError("option codes must be unique", "options")
        if data["type"] == "single" and len({type(code) for code in codes}) > 1:
            raise ValidationError("option codes must be all integers or all strings", "options")
        if data["type"] == "multi" and not all(
            isinstance(code, str) and KEY.fullmatch(code) for code in codes
        ):
            raise ValidationError("a multi question's option codes are answer keys like f401",
                                  "options")

    @validates_schema
    def matrix_is_rectangular(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["type"] != "matrix" or not {"rows", "minimum", "maximum"} <= set(data):
            return  # fields_fit_the_type reports what is missing
        widths = {len(row.keys) for row in data["rows"]}
        if len(widths) > 1:
            raise ValidationError("rows must all have 'key' or all have 'key_a'/'key_b'", "rows")
        if "columns" in data and len(data["columns"]) not in widths:
            raise ValidationError("one column label per answer key of a row", "columns")
        for option in data.get("scale_labels", ()):
            if not (isinstance(option.code, int)
                    and data["minimum"] <= option.code <= data["maximum"]):
                raise ValidationError("scale label codes must be integers from min to max",
                                      "scale_labels")

    @validates_schema
    def variant_columns_fit(self, data: dict[str, Any], **kwargs: Any) -> None:
        for variant in data.get("variants", ()):
            if variant.columns and len(variant.columns) != len(data.get("columns", ())):
                raise ValidationError("a variant's columns replace the question's columns, "
                                      "one for one", "variants")

    @validates_schema
    def group_holds_plain_questions(self, data: dict[str, Any], **kwargs: Any) -> None:
        for sub in data.get("questions", ()):
            if sub.type == "group" or sub.condition is not None or sub.variants:
                # Sub-questions share their group's "if"; nesting would hide that.
                raise ValidationError("a group's questions cannot be groups or have an 'if'",
                                      "questions")

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Question:
        for name in ("options", "rows", "columns", "scale_labels", "questions", "variants"):
            data[name] = tuple(data.get(name, ()))
        if data["type"] == "text":
            data.setdefault("max_length", TEXT_MAX_LENGTH)
        if data["type"] == "group":
            # Each sub-question carries the group's "if" (and "required"), so it can be
            # judged on its own.
            data["questions"] = tuple(
                replace(sub, condition=data.get("condition"),
                        required=(sub.required or data["required"]) and sub.type != "note")
                for sub in data["questions"]
            )
        return Question(**data)


class SectionSchema(Schema):
    key = _key_field(required=True)
    title = _LocalTextField(required=True)
    questions = fields.List(fields.Nested(QuestionSchema), required=True,
                            validate=validate.Length(min=1))

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Section:
        return Section(key=data["key"], title=data["title"], questions=tuple(data["questions"]))


class QuestionnaireSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(
        r"[a-z0-9][a-z0-9_-]{0,63}\Z", error="must be lowercase letters, digits, '-' or '_'"))
    # Stored in an integer column: a larger version would fail in the driver (500).
    version = fields.Integer(strict=True, required=True,
                             validate=validate.Range(min=1, max=MAX_VERSION))
    title = _LocalTextField(required=True)
    sections = fields.List(fields.Nested(SectionSchema), required=True,
                           validate=validate.Length(min=1))

    default_language = fields.String(load_default="id")
    languages = fields.List(fields.Dict())
    # Checked by load_definition against the items (shared.indicator_inputs).
    indicator_inputs = fields.Dict()

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Questionnaire:
        return Questionnaire(key=data["key"], version=data["version"], title=data["title"],
                             sections=tuple(data["sections"]),
                             default_language=data["default_language"],
                             languages=tuple((language["code"], language["name"])
                                             for language in data.get("languages", ())))


class LanguageSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(
        LANGUAGE, error="must be a language code like fr or pt-BR, or 'und'"))
    name = fields.String(required=True, validate=validate.Length(min=1))


class LanguagesSchema(Schema):
    """The top level's language fields, read before the texts that must follow them."""

    class Meta:
        unknown = "exclude"

    default_language = fields.String(load_default="id", validate=validate.Regexp(
        LANGUAGE, error="must be a language code like id, en or fr"))
    languages = fields.List(fields.Nested(LanguageSchema), load_default=list)

    @validates_schema
    def languages_fit(self, data: dict[str, Any], **kwargs: Any) -> None:
        codes = [language["code"] for language in data.get("languages", ())]
        for index, code in enumerate(codes):
            if code in BUILT_IN_LANGUAGES:
                raise ValidationError({"languages": {index: {"code": [
                    f"'{code}' is always offered; list only other languages"]}}})
            if code in codes[:index]:
                raise ValidationError({"languages": {index: {"code": [
                    f"'{code}' is listed twice"]}}})
        default = data.get("default_language", "id")
        if default not in (*BUILT_IN_LANGUAGES, *codes):
            raise ValidationError(f"'{default}' is not id, en or a code listed in 'languages'",
                                  "default_language")


# --- loading -------------------------------------------------------------------------------


def load_definition(data: Any) -> Questionnaire:
    """Validate a definition and return it as frozen dataclasses, or raise DefinitionError."""
    try:
        languages = LanguagesSchema().load(data if isinstance(data, dict) else {})
        codes = [language["code"] for language in languages["languages"]]
        token = _TEXT_LANGUAGES.set((languages["default_language"],
                                     frozenset((*BUILT_IN_LANGUAGES, *codes))))
        try:
            questionnaire = QuestionnaireSchema().load(data)
        finally:
            _TEXT_LANGUAGES.reset(token)
    except ValidationError as error:
        raise DefinitionError(list(_flatten(error.messages))) from None
    _check_unique_keys(questionnaire)
    _check_references(questionnaire)
    _check_defaults(questionnaire)
    _check_indicator_inputs(data)
    return questionnaire


def _check_indicator_inputs(data: dict[str, Any]) -> None:
    """The "indicator_inputs" mapping, when given, must name items the questionnaire has,
    of the type each input reads (docs/questionnaire.md, "Indicator inputs")."""
    if "indicator_inputs" not in data:
        return
    try:
        inputs = parse_inputs(data["indicator_inputs"])
    except InputsError as error:
        raise DefinitionError(error.problems) from None
    problems = check_inputs(inputs, items_of(data))
    if problems:
        raise DefinitionError(problems)


def default_definition() -> dict[str, Any]:
    """The shipped instrument, "Tracer Study Alumni BLK" version 1 (docs/questionnaire.md)."""
    return shipped_definition(1)


SHIPPED_VERSIONS = (1, 2)


def shipped_definition(version: int) -> dict[str, Any]:
    """A shipped version of "Tracer Study Alumni BLK": 1, or 2 following the 2024 national
    changes (one waiting-time item, province and city of work, contract, education-level
    match, further training; docs/questionnaire.md)."""
    source = importlib.resources.files(__package__).joinpath(f"blk_tracer_v{version}.json")
    return json.loads(source.read_text(encoding="utf-8"))


def _flatten(messages: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, dict):
        for name, inner in messages.items():
            if isinstance(name, int):
                step = f"[{name}]"
            elif name == "_schema":
                step = ""
            else:
                step = f".{name}" if path else str(name)
            yield from _flatten(inner, path + step)
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, str(messages)


def _walk(questionnaire: Questionnaire) -> Iterator[tuple[Question, str]]:
    """Every question with its path, group sub-questions right after their group."""
    for s, section in enumerate(questionnaire.sections):
        for q, question in enumerate(section.questions):
            path = f"sections[{s}].questions[{q}]"
            yield question, path
            for g, sub in enumerate(question.questions):
                yield sub, f"{path}.questions[{g}]"


def _declared_keys(questionnaire: Questionnaire) -> Iterator[tuple[str, str]]:
    for s, section in enumerate(questionnaire.sections):
        yield section.key, f"sections[{s}].key"
    for question, path in _walk(questionnaire):
        yield question.key, f"{path}.key"
        if question.type == "multi":
            for o, option in enumerate(question.options):
                yield str(option.code), f"{path}.options[{o}].code"
        for r, row in enumerate(question.rows):
            for key in row.keys:
                yield key, f"{path}.rows[{r}]"


def _check_unique_keys(questionnaire: Questionnaire) -> None:
    first_seen: dict[str, str] = {}
    for key, path in _declared_keys(questionnaire):
        if key in first_seen:
            raise DefinitionError([(path, f"key '{key}' is already used at {first_seen[key]}")])
        first_seen[key] = path


def _check_references(questionnaire: Questionnaire) -> None:
    """Conditions and `lte` may only point at answers asked earlier, with values they can take.

    A variant's condition may only point at answers from earlier sections; a constraint's
    also at "." (the question's own answer).
    """
    earlier: dict[str, Question] = {}
    earlier_sections: dict[str, Question] = {}
    section_of_path = ""
    for question, path in _walk(questionnaire):
        section_path = path.split(".")[0]
        if section_path != section_of_path:
            section_of_path, earlier_sections = section_path, dict(earlier)
        if question.condition is not None:
            _check_condition(question.condition, earlier, f"{path}.if")
        if question.constraint is not None:
            _check_condition(question.constraint.condition, {**earlier, OWN: question},
                             f"{path}.constraint.if")
        for v, variant in enumerate(question.variants):
            _check_condition(variant.condition, earlier_sections, f"{path}.variants[{v}].if",
                             where="of an earlier section")
        if question.lte is not None:
            target = earlier.get(question.lte)
            if target is None or target.type not in ("integer", "currency"):
                raise DefinitionError([(f"{path}.lte", f"'{question.lte}' is not an integer or "
                                        "currency question asked earlier")])
        if question.type != "group":
            earlier.update(dict.fromkeys(question.answer_keys, question))


def _check_condition(condition: Condition, known: dict[str, Question], path: str,
                     where: str = "asked earlier") -> None:
    for leaf in condition.leaves():
        problem = _leaf_problem(leaf, known, where)
        if problem:
            raise DefinitionError([(path, problem)])


def _leaf_problem(leaf: Condition, known: dict[str, Question], where: str) -> str | None:
    target = known.get(leaf.key)
    refs = [value for value in leaf.values if isinstance(value, Ref)]
    for key in (leaf.key, *(ref.key for ref in refs)):
        if key not in known:
            return f"'{key}' is not an answer {where}"
    if leaf.op == "answered":
        return None
    assert target is not None
    if leaf.measure != "value":
        if leaf.measure == "count" and target.type != "multi":
            return f"'count' counts the options of a multi question; '{leaf.key}' is not one"
        if leaf.measure == "length" and target.type == "multi":
            return f"'length' is for a single answer; use 'count' for '{leaf.key}'"
        for ref in refs:
            if FAMILY[known[ref.key].type] != "number":
                return f"'{leaf.measure}' compares with a number; '{ref.key}' is not one"
        return None
    if (leaf.op == "has") != (target.type == "multi"):
        return f"'has' is for multi questions; use eq, ne or in for '{leaf.key}'"
    family = FAMILY[target.type]
    if leaf.op in RELATIONAL and family not in ORDERED_FAMILIES:
        return (f"'{leaf.op}' compares numbers, dates or times; '{leaf.key}' is a "
                f"{target.type} question")
    for ref in refs:
        other = known[ref.key]
        if FAMILY[other.type] != family or (family == "choice" and {
                type(option.code) for option in target.options} != {
                type(option.code) for option in other.options}):
            # Choices compare by code: integer codes never equal string codes.
            return (f"'{leaf.key}' ({target.type}) and '{ref.key}' ({other.type}) cannot be "
                    "compared")
    literals = [value for value in leaf.values if not isinstance(value, Ref)]
    codes = [option.code for option in target.options]
    if codes and not all(any(same_value(value, code) for code in codes) for value in literals):
        return f"{literals} are not all option codes of '{leaf.key}'"
    for value in literals:
        if not _fits_family(value, family):
            return f"{json.dumps(value)} is not a {_FAMILY_WORDS[family]} like '{leaf.key}'"
    return None


_FAMILY_WORDS = {"number": "number", "date": "date YYYY-MM-DD", "time": "time HH:MM",
                 "datetime": "date-time YYYY-MM-DDTHH:MM", "boolean": "true or false",
                 "text": "string"}


def _fits_family(value: Any, family: str) -> bool:
    """A literal compared with an answer of this family can equal one (a choice's literals
    are checked against its option codes instead)."""
    if family == "number":
        return not isinstance(value, bool) and isinstance(value, int | float)
    if family == "boolean":
        return isinstance(value, bool)
    if family == "text":  # "1" is not 1: eq is of the same type, here and in form.js
        return isinstance(value, str)
    if family in ("choice", "multi"):
        return True
    if not isinstance(value, str):
        return False
    try:
        if family == "date":
            return len(value) == 10 and date.fromisoformat(value).isoformat() == value
        if family == "datetime":
            return (len(value) == 16 and value[10] == "T"
                    and datetime.fromisoformat(value).isoformat(timespec="minutes") == value)
    except ValueError:
        return False
    return bool(TIME_TEXT.match(value))


def _check_defaults(questionnaire: Questionnaire) -> None:
    """A default is an answer its question would accept (type, options, range)."""
    from services.survey.questionnaire.engine import default_problem  # engine imports us

    for question, path in _walk(questionnaire):
        if question.default is None:
            continue
        problem = default_problem(question)
        if problem is not None:
            raise DefinitionError([(f"{path}.default", f"the default {problem}")])


def same_value(left: Any, right: Any) -> bool:
    """Equal and of the same type: True is not the option code 1, "1" is not 1."""
    return type(left) is type(right) and left == right
