"""Translate an XLSForm `relevant` or `constraint` (XPath) into a definition condition.

The subset (docs/questionnaire.md, "Importing an XLSForm"): `and`, `or`, `not()`,
parentheses, `=`, `!=`, `<`, `<=`, `>`, `>=` between a field (`${name}`, or `.` in a
constraint) and a literal or another field, `selected()`, `count-selected()`,
`string-length()`, and `''` as "not answered". Anything else raises `Untranslatable`
with a refusal kind and its parameters; the importer adds the row and column.

Every translation follows XPath 1.0 as ODK evaluates it (contract in
docs/questionnaire.md): a relational comparison on a text or a choice is refused rather
than guessed, and so is one between a date and a literal (Collect turns the literal into a
number, NaN, so `${d} > '2020-01-01'` never holds there; two dates compare as dates).
`${a} = ''` becomes `{"key": a, "answered": false}`; a literal on the left is turned
around (`3 < ${a}` is `${a} > 3`).

The parser descends one Python frame per parenthesis, `not()` or function, and stops at
`MAX_DEPTH` with a refusal, so no input reaches Python's recursion limit. The depth of the
resulting condition is checked again by the importer after a group's condition is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.survey.questionnaire.conditions import MAX_DEPTH  # the definition's own limit

TOKEN = re.compile(r"""
    \s*(?:
      (?P<ref>\$\{[^}]*\})
    | (?P<parent>\.\./[A-Za-z_][\w.-]*)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<op>!=|<=|>=|=|<|>|\(|\)|,|-|\+|\*|\||/)
    | (?P<dot>\.\.|\.)
    | (?P<name>[A-Za-z_][\w.:-]*)
    | (?P<other>\S)
    )""", re.VERBOSE)
OPERATORS = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
MIRRORED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
RELATIONAL = {"lt", "le", "gt", "ge"}
NUMBER_TYPES = {"integer", "decimal"}
ORDERED_TYPES = NUMBER_TYPES | {"date"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
SUPPORTED_FUNCTIONS = {"not", "selected", "count-selected", "string-length"}


class Untranslatable(Exception):  # noqa: N818 - a result, not a failure of the program
    """The expression uses something the engine cannot run: `kind` and `params` say what."""

    def __init__(self, kind: str, **params: Any) -> None:
        super().__init__(kind, params)
        self.kind = kind
        self.params = {name: str(value) for name, value in params.items()}


@dataclass(frozen=True)
class Field:
    """A question the expression may name: its definition type and {choice name: code}."""

    key: str
    type: str
    codes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Operand:
    """One side of a comparison: a field, a function of a field, or a literal."""

    kind: str  # "field", "count", "length", "string", "number"
    value: Any
    target: Field | None = None


class Translator:
    """Translates expressions that may name the questions in `fields` (asked earlier).

    `later` holds names asked later or skipped (metadata), so the refusal can say which.
    `own` is the question a constraint belongs to, None for `relevant`: `.` and its own
    `${name}` both become the key ".".
    """

    def __init__(self, fields: dict[str, Field], unavailable: dict[str, str],
                 own: Field | None = None) -> None:
        self.fields = fields
        self.unavailable = unavailable
        self.own_name = own.key if own else None
        self.own = Field(".", own.type, own.codes) if own else None
        self.tokens: list[tuple[str, str]] = []

    def translate(self, expression: str) -> dict[str, Any]:
        self.tokens = _tokens(expression)
        if not self.tokens:
            raise Untranslatable("unsupported_expression", expression=expression)
        condition = self._either(0)
        if self.tokens:
            raise Untranslatable("unsupported_expression", expression=_rest(self.tokens))
        if isinstance(condition, _Operand):
            raise Untranslatable("unsupported_expression", expression=expression)
        return condition

    # --- grammar: or > and > comparison > primary ---------------------------------------

    def _either(self, depth: int) -> Any:
        parts = [self._both(depth)]
        while self._next_is("name", "or"):
            self.tokens.pop(0)
            parts.append(self._both(depth))
        return parts[0] if len(parts) == 1 else {"any": [self._condition(p) for p in parts]}

    def _both(self, depth: int) -> Any:
        parts = [self._comparison(depth)]
        while self._next_is("name", "and"):
            self.tokens.pop(0)
            parts.append(self._comparison(depth))
        return parts[0] if len(parts) == 1 else {"all": [self._condition(p) for p in parts]}

    def _comparison(self, depth: int) -> Any:
        left = self._primary(depth)
        if self.tokens and self.tokens[0][1] in OPERATORS and self.tokens[0][0] == "op":
            operator = OPERATORS[self.tokens.pop(0)[1]]
            right = self._primary(depth)
            if self.tokens and self.tokens[0][1] in OPERATORS and self.tokens[0][0] == "op":
                raise Untranslatable("unsupported_expression", expression=_rest(self.tokens))
            return self._compare(left, operator, right)
        return left

    def _primary(self, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            raise Untranslatable("too_deep", limit=MAX_DEPTH)
        kind, text = self._take()
        if (kind, text) == ("op", "("):
            inner = self._either(depth + 1)
            self._expect(")")
            return inner
        if (kind, text) == ("op", "-") and self.tokens and self.tokens[0][0] == "number":
            return _Operand("number", -_number(self.tokens.pop(0)[1]))
        if kind == "name" and self._next_is("op", "("):
            return self._function(text, depth)
        if kind == "ref" or kind == "parent":
            return _Operand("field", None, self._field(text))
        if kind == "dot" and text == ".":
            if self.own is None:
                raise Untranslatable("unsupported_expression", expression=".")
            return _Operand("field", None, self.own)
        if kind == "string":
            return _Operand("string", text[1:-1])
        if kind == "number":
            return _Operand("number", _number(text))
        raise Untranslatable("unsupported_expression", expression=text + " " + _rest(self.tokens))

    def _function(self, name: str, depth: int) -> Any:
        if name not in SUPPORTED_FUNCTIONS:
            raise Untranslatable("unsupported_function", function=name)
        self._expect("(")
        if name == "not":
            inner = self._condition(self._either(depth + 1))
            self._expect(")")
            return {"not": inner}
        target = self._primary(depth + 1)
        if not isinstance(target, _Operand) or target.kind != "field":
            raise Untranslatable("unsupported_expression", expression=f"{name}(...)")
        question = target.target
        assert question is not None
        if name == "selected":
            self._expect(",")
            choice = self._primary(depth + 1)
            self._expect(")")
            return self._selected(question, choice)
        self._expect(")")
        if name == "count-selected":
            if question.type != "multi":
                raise Untranslatable("count_not_multi", name=_name(question))
            return _Operand("count", None, question)
        return _Operand("length", None, question)

    # --- meaning ------------------------------------------------------------------------

    def _selected(self, question: Field, choice: Any) -> dict[str, Any]:
        if question.type not in ("single", "multi"):
            raise Untranslatable("selected_not_select", name=_name(question))
        if not isinstance(choice, _Operand) or choice.kind not in ("string", "number"):
            raise Untranslatable("unsupported_expression", expression="selected(...)")
        code = _code(question, _literal_text(choice))
        return {"key": question.key, "has" if question.type == "multi" else "eq": code}

    def _compare(self, left: Any, operator: str, right: Any) -> dict[str, Any]:
        if not isinstance(left, _Operand) or not isinstance(right, _Operand):
            raise Untranslatable("unsupported_expression", expression=operator)
        if left.kind in ("string", "number") and right.kind not in ("string", "number"):
            left, right, operator = right, left, MIRRORED[operator]
        if left.kind in ("count", "length"):
            assert left.target is not None
            if right.kind != "number" or isinstance(right.value, float):
                raise Untranslatable("unsupported_expression",
                                     expression=f"{left.kind} compared with a non-integer")
            return {left.kind: left.target.key, operator: right.value}
        if left.kind != "field":
            raise Untranslatable("unsupported_expression", expression="literal compared "
                                 "with literal")
        question = left.target
        assert question is not None
        if right.kind == "field":
            return self._compare_fields(question, operator, right.target)
        if right.kind in ("count", "length"):
            raise Untranslatable("unsupported_expression", expression=f"{right.kind} on the "
                                 "right of a field")
        if right.kind == "string" and right.value == "":
            if operator not in ("eq", "ne"):
                raise Untranslatable("unsupported_expression", expression="'' with < or >")
            return {"key": question.key, "answered": operator == "ne"}
        if (question.type == "acknowledge" and operator in ("eq", "ne")
                and (right.kind, right.value) == ("string", "OK")):
            return {"key": question.key, "answered": operator == "eq"}  # ODK stores "OK"
        return {"key": question.key, operator: self._value(question, operator, right)}

    def _compare_fields(self, left: Field, operator: str, right: Field | None) -> dict[str, Any]:
        assert right is not None
        family = {left.type, right.type}
        same = (family <= NUMBER_TYPES or len(family) == 1
                and left.type in ("date", "text", "single"))
        if left.type == "single" and same:
            same = {type(c) for c in left.codes.values()} == {type(c) for c in
                                                              right.codes.values()}
        if not same and len(family) == 1:
            # Times and date-times are stored with seconds and a zone in ODK, as HH:MM here.
            raise Untranslatable("unsupported_comparison", name=_name(left), type=left.type)
        if not same:
            raise Untranslatable("field_types_differ", name=_name(left), other=_name(right))
        if operator in RELATIONAL and left.type not in ORDERED_TYPES:
            raise Untranslatable("text_comparison", name=_name(left))
        return {"key": left.key, operator: {"ref": right.key}}

    def _value(self, question: Field, operator: str, literal: _Operand) -> Any:
        if question.type == "multi":
            raise Untranslatable("multi_equality", name=_name(question))
        if operator in RELATIONAL and question.type in ("text", "single"):
            raise Untranslatable("text_comparison", name=_name(question))
        if question.type in NUMBER_TYPES:
            number = literal.value if literal.kind == "number" else _numeric(literal.value)
            if number is None:
                raise Untranslatable("not_a_number", name=_name(question), value=literal.value)
            return number
        if question.type == "single":
            return _code(question, _literal_text(literal))
        if question.type == "date" and operator not in RELATIONAL:
            # (ODK Collect compares a date with a string by <, > as numbers: never true.)
            if literal.kind != "string" or not ISO_DATE.match(literal.value):
                raise Untranslatable("not_a_date", name=_name(question), value=literal.value)
            return literal.value
        if question.type == "text" and literal.kind == "string":
            return literal.value
        # Times and date-times (ODK stores seconds and a zone), acknowledges, notes.
        raise Untranslatable("unsupported_comparison", name=_name(question),
                             type=question.type)

    def _field(self, text: str) -> Field:
        name = text[2:-1].strip() if text.startswith("${") else text[3:]
        if self.own is not None and name == self.own_name:
            return self.own
        if name in self.fields:
            return self.fields[name]
        reason = self.unavailable.get(name, "unknown_reference")
        raise Untranslatable(reason, name=name)

    # --- token helpers ----------------------------------------------------------------

    def _condition(self, part: Any) -> dict[str, Any]:
        if isinstance(part, _Operand):  # `${a} and ...`: XPath's boolean() of a value
            raise Untranslatable("unsupported_expression", expression="a value used as a "
                                 "condition")
        return part

    def _take(self) -> tuple[str, str]:
        if not self.tokens:
            raise Untranslatable("unsupported_expression", expression="(ends too early)")
        return self.tokens.pop(0)

    def _expect(self, wanted: str) -> None:
        kind, text = self._take()
        if text != wanted:
            raise Untranslatable("unsupported_expression", expression=text)

    def _next_is(self, kind: str, text: str) -> bool:
        return bool(self.tokens) and self.tokens[0] == (kind, text)


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens = []
    for match in TOKEN.finditer(expression):
        kind = match.lastgroup
        if kind is None:
            continue
        text = match.group(kind)
        if kind == "other" or (kind == "op" and text in "+*|/") or (
                kind == "name" and text in ("div", "mod")):
            raise Untranslatable("unsupported_expression", expression=text)
        if kind == "dot" and text == "..":
            raise Untranslatable("unsupported_expression", expression="..")
        tokens.append((kind, text))
    return tokens


def _rest(tokens: list[tuple[str, str]]) -> str:
    return " ".join(text for _, text in tokens[:8])


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _numeric(text: str) -> int | float | None:
    try:
        return _number(text.strip()) if re.fullmatch(r"\s*-?(\d+(\.\d*)?|\.\d+)\s*", text) \
            else None
    except ValueError:
        return None


def _literal_text(literal: _Operand) -> str:
    return literal.value if literal.kind == "string" else str(literal.value)


def _code(question: Field, choice: str) -> Any:
    if choice not in question.codes:
        raise Untranslatable("not_a_choice", name=_name(question), value=choice)
    return question.codes[choice]


def _name(question: Field) -> str:
    return "." if question.key == "." else question.key
