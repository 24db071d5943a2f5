"""The questionnaire definition format: JSON in, validated, frozen dataclasses out.

A definition is plain JSON so it can be stored in the `questionnaires` table, sent over the
API and diffed between versions. `load_definition` is the only way in: it checks the shape
with marshmallow, then the rules that span the whole definition (unique keys, conditions and
`lte` pointing at earlier answers), and raises `DefinitionError` naming the bad path.

The "if" condition language (every question may carry one):

    {"key": "f504", "eq": 1}            the answer to f504 is 1
    {"key": "f8", "in": [1, 3]}         the answer to f8 is 1 or 3
    {"key": "f8", "ne": 2}              not (f8 = 2); also true when f8 is unanswered
    {"key": "f4", "has": "f401"}        the multi answer f4 includes option f401
    {"all": [condition, ...]}           every condition holds
    {"any": [condition, ...]}           at least one condition holds

A condition may only name answer keys defined earlier, so a form can be filled top to bottom.

A question may also carry "variants": other wordings chosen by condition, e.g. the competency
pair's B half for an alumnus who does not work ("the level the world of work requires"):

    "variants": [{"if": {...}, "label": {...}, "help": {...}, "columns": [...]}]

The first variant whose "if" holds replaces the label, help or matrix column captions it
gives; the question, its keys and its answers stay the same (indicators do not move). A
variant's "if" may only name answers from earlier sections, so the wording is settled before
the page is drawn.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

Code = int | str

QUESTION_TYPES = (
    "single", "multi", "integer", "currency", "text", "date", "boolean", "matrix", "group",
)
# Which optional fields each type takes, and which of those it cannot do without.
TYPE_FIELDS: dict[str, set[str]] = {
    "single": {"options"},
    "multi": {"options"},
    "integer": {"minimum", "maximum", "lte"},
    "currency": {"minimum", "maximum", "lte"},
    "text": {"max_length"},
    "date": set(),
    "boolean": {"must_be"},
    "matrix": {"minimum", "maximum", "rows", "columns", "scale_labels"},
    "group": {"questions"},
}
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
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
COMPARISONS = ("eq", "ne", "in", "has")
COMBINATIONS = ("all", "any")


class DefinitionError(ValueError):
    """A definition breaks the format; `path` points at the first problem."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" if path else message
                                   for path, message in problems))
        self.path = problems[0][0]
        self.problems = problems


@dataclass(frozen=True)
class LocalText:
    """A text in Indonesian (always present) and optionally English."""

    id: str
    en: str | None = None

    def get(self, locale: str) -> str:
        language = locale.replace("-", "_").split("_")[0].lower()
        return self.en if language == "en" and self.en else self.id


@dataclass(frozen=True)
class Condition:
    """A comparison on one earlier answer (`key`, `op`, `values`) or all/any of `parts`."""

    op: str
    key: str = ""
    values: tuple[Code | bool, ...] = ()
    parts: tuple[Condition, ...] = ()

    def leaves(self) -> Iterator[Condition]:
        if self.op in COMBINATIONS:
            for part in self.parts:
                yield from part.leaves()
        else:
            yield self

    @cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(leaf.key for leaf in self.leaves())


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
    """A question. On a matrix, `required` and the range apply to every cell."""

    key: str
    type: str
    label: LocalText
    help: LocalText | None = None
    required: bool = False
    condition: Condition | None = None
    lte: str | None = None
    options: tuple[Option, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
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
        return (self.key,)


@dataclass(frozen=True)
class Section:
    key: str
    title: LocalText
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Questionnaire:
    key: str
    version: int
    title: LocalText
    sections: tuple[Section, ...]

    @cached_property
    def answerable(self) -> tuple[Question, ...]:
        """Every question that holds answers, in form order (a group's sub-questions)."""
        return tuple(
            sub
            for section in self.sections
            for question in section.questions
            for sub in (question.questions if question.type == "group" else (question,))
        )

    @cached_property
    def by_answer_key(self) -> dict[str, Question]:
        """The question holding each answer key (a matrix holds one per cell)."""
        return {key: question for question in self.answerable for key in question.answer_keys}


# --- the format, declared --------------------------------------------------------------


def parse_condition(value: Any, path: str = "") -> Condition:
    """Parse the JSON condition language; the ValidationError names the path inside it."""
    where = f"{path}: " if path else ""
    if not isinstance(value, dict):
        raise ValidationError(f"{where}a condition must be an object")
    combination = [name for name in COMBINATIONS if name in value]
    if combination:
        name = combination[0]
        parts = value[name]
        if len(value) != 1 or not isinstance(parts, list) or not parts:
            raise ValidationError(f"{where}'{name}' takes a non-empty list of conditions alone")
        return Condition(name, parts=tuple(
            parse_condition(part, f"{path}{'.' if path else ''}{name}[{index}]")
            for index, part in enumerate(parts)
        ))
    comparison = [name for name in COMPARISONS if name in value]
    if set(value) != {"key", *comparison} or len(comparison) != 1:
        raise ValidationError(f"{where}expected {{'key': ..., <one of {', '.join(COMPARISONS)}>: "
                              f"...}} or {{'all'|'any': [...]}}")
    if not isinstance(value["key"], str) or not KEY.fullmatch(value["key"]):
        raise ValidationError(f"{where}'key' must be a question key")
    op = comparison[0]
    values = value[op] if op == "in" else [value[op]]
    if not isinstance(values, list) or not values or not all(_is_value(v) for v in values):
        expected = "a non-empty list of values" if op == "in" else "a value"
        raise ValidationError(f"{where}'{op}' takes {expected} (integer, string or boolean)")
    return Condition(op, key=value["key"], values=tuple(values))


def _is_value(value: Any) -> bool:
    return isinstance(value, bool | int | str)


class _ConditionField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Condition:
        return parse_condition(value)


class _CodeField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Code:
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            raise ValidationError("must be an integer or a non-empty string")
        return value


def _key_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(KEY, error="must be a key like f8 or blk_cert"),
                         **kwargs)


def _strict_boolean(**kwargs: Any) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class LocalTextSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1))
    en = fields.String(validate=validate.Length(min=1))

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> LocalText:
        return LocalText(**data)


class OptionSchema(Schema):
    code = _CodeField(required=True)
    label = fields.Nested(LocalTextSchema, required=True)

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Option:
        return Option(**data)


class MatrixRowSchema(Schema):
    key = _key_field()
    key_a = _key_field()
    key_b = _key_field()
    label = fields.Nested(LocalTextSchema, required=True)

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
    label = fields.Nested(LocalTextSchema)
    help = fields.Nested(LocalTextSchema)
    columns = fields.List(fields.Nested(LocalTextSchema), validate=validate.Length(min=1))

    @validates_schema
    def changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not {"label", "help", "columns"} & set(data):
            raise ValidationError("a variant gives a label, help or columns")

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Variant:
        data["columns"] = tuple(data.get("columns", ()))
        return Variant(**data)


class QuestionSchema(Schema):
    key = _key_field(required=True)
    type = fields.String(required=True, validate=validate.OneOf(QUESTION_TYPES))
    label = fields.Nested(LocalTextSchema, required=True)
    help = fields.Nested(LocalTextSchema)
    required = _strict_boolean(load_default=False)
    condition = _ConditionField(data_key="if")
    lte = _key_field()
    options = fields.List(fields.Nested(OptionSchema), validate=validate.Length(min=1))
    minimum = fields.Integer(strict=True, data_key="min")
    maximum = fields.Integer(strict=True, data_key="max")
    max_length = fields.Integer(strict=True, validate=validate.Range(min=1))
    must_be = _strict_boolean()
    rows = fields.List(fields.Nested(MatrixRowSchema), validate=validate.Length(min=1))
    columns = fields.List(fields.Nested(LocalTextSchema))
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
                        required=sub.required or data["required"])
                for sub in data["questions"]
            )
        return Question(**data)


class SectionSchema(Schema):
    key = _key_field(required=True)
    title = fields.Nested(LocalTextSchema, required=True)
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
    title = fields.Nested(LocalTextSchema, required=True)
    sections = fields.List(fields.Nested(SectionSchema), required=True,
                           validate=validate.Length(min=1))

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Questionnaire:
        return Questionnaire(key=data["key"], version=data["version"], title=data["title"],
                             sections=tuple(data["sections"]))


# --- loading -------------------------------------------------------------------------------


def load_definition(data: Any) -> Questionnaire:
    """Validate a definition and return it as frozen dataclasses, or raise DefinitionError."""
    try:
        questionnaire = QuestionnaireSchema().load(data)
    except ValidationError as error:
        raise DefinitionError(list(_flatten(error.messages))) from None
    _check_unique_keys(questionnaire)
    _check_references(questionnaire)
    return questionnaire


def default_definition() -> dict[str, Any]:
    """The shipped instrument, "Tracer Study Alumni BLK" version 1 (docs/questionnaire.md)."""
    source = importlib.resources.files(__package__).joinpath("blk_tracer_v1.json")
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

    A variant's condition may only point at answers from earlier sections.
    """
    earlier: dict[str, Question] = {}
    earlier_sections: dict[str, Question] = {}
    section_of_path = ""
    for question, path in _walk(questionnaire):
        section_path = path.split(".")[0]
        if section_path != section_of_path:
            section_of_path, earlier_sections = section_path, dict(earlier)
        for leaf in question.condition.leaves() if question.condition else ():
            problem = _leaf_problem(leaf, earlier.get(leaf.key))
            if problem:
                raise DefinitionError([(f"{path}.if", problem)])
        for v, variant in enumerate(question.variants):
            for leaf in variant.condition.leaves():
                problem = _leaf_problem(leaf, earlier_sections.get(leaf.key))
                if problem:
                    raise DefinitionError([(f"{path}.variants[{v}].if",
                                            problem.replace("asked earlier",
                                                            "of an earlier section"))])
        if question.lte is not None:
            target = earlier.get(question.lte)
            if target is None or target.type not in ("integer", "currency"):
                raise DefinitionError([(f"{path}.lte", f"'{question.lte}' is not an integer or "
                                        "currency question asked earlier")])
        if question.type != "group":
            earlier.update(dict.fromkeys(question.answer_keys, question))


def _leaf_problem(leaf: Condition, target: Question | None) -> str | None:
    if target is None:
        return f"'{leaf.key}' is not an answer asked earlier"
    if (leaf.op == "has") != (target.type == "multi"):
        return f"'has' is for multi questions; use eq, ne or in for '{leaf.key}'"
    codes = [option.code for option in target.options]
    if codes and not all(any(same_value(value, code) for code in codes) for value in leaf.values):
        return f"{list(leaf.values)} are not all option codes of '{leaf.key}'"
    return None


def same_value(left: Any, right: Any) -> bool:
    """Equal and of the same type: True is not the option code 1, "1" is not 1."""
    return type(left) is type(right) and left == right
