"""The condition language of a definition: its data (`Condition`, `Ref`), its JSON form
(`parse_condition` reads it, `dump_condition` writes it back) and its limits.

A condition says when a question is asked (`if`), which wording applies (variants) or what
an answer must keep (a constraint, which may name ".", its own answer). The forms and their
meaning are listed in definition.py's docstring and docs/questionnaire.md; whether a
condition fits the questions it names (earlier answers, their types) is checked by
definition.py when the whole definition loads, and the engine evaluates it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from marshmallow import ValidationError

Value = bool | int | float | str

MAX_DEPTH = 32  # conditions nested deeper are refused (and cannot exhaust the stack)
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
OWN = "."  # in a constraint: the question's own answer
COMBINATIONS = ("all", "any")
RELATIONAL = ("lt", "le", "gt", "ge")
ORDERED = ("eq", "ne", *RELATIONAL)  # the operators that take a ref
COMPARISONS = ("eq", "ne", "in", "has", *RELATIONAL, "answered")
MEASURES = ("count", "length")  # what of an answer `{"count": K, ...}` compares


@dataclass(frozen=True)
class Ref:
    """A comparison value that is another answer (`key`), or "." for the own answer."""

    key: str


@dataclass(frozen=True)
class Condition:
    """A comparison on one answer (`key`, `op`, `values`), or all/any/not of `parts`.

    `measure` says what of the answer is compared: "value" (the answer), "count" (ticked
    options of a multi answer) or "length" (characters of the answer as text).
    """

    op: str
    key: str = ""
    values: tuple[Value | Ref, ...] = ()
    parts: tuple[Condition, ...] = ()
    measure: str = "value"

    def leaves(self) -> Iterator[Condition]:
        if self.parts:
            for part in self.parts:
                yield from part.leaves()
        else:
            yield self

    @cached_property
    def keys(self) -> frozenset[str]:
        """Every answer key the condition reads, refs included."""
        return frozenset(key for leaf in self.leaves()
                         for key in (leaf.key, *(v.key for v in leaf.values
                                                 if isinstance(v, Ref))))


def parse_condition(value: Any, path: str = "", *, own: bool = False,
                    depth: int = 1) -> Condition:
    """Parse the JSON condition language; the ValidationError names the path inside it.

    `own`: "." (the question's own answer) may be named, as in a constraint.
    """
    where = f"{path}: " if path else ""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}conditions nest at most {MAX_DEPTH} levels deep")
    if not isinstance(value, dict):
        raise ValidationError(f"{where}a condition must be an object")
    inner = f"{path}{'.' if path else ''}"
    if "not" in value:
        if len(value) != 1:
            raise ValidationError(f"{where}'not' takes one condition alone")
        return Condition("not", parts=(
            parse_condition(value["not"], f"{inner}not", own=own, depth=depth + 1),))
    combination = [name for name in COMBINATIONS if name in value]
    if combination:
        name = combination[0]
        parts = value[name]
        if len(value) != 1 or not isinstance(parts, list) or not parts:
            raise ValidationError(f"{where}'{name}' takes a non-empty list of conditions alone")
        return Condition(name, parts=tuple(
            parse_condition(part, f"{inner}{name}[{index}]", own=own, depth=depth + 1)
            for index, part in enumerate(parts)
        ))
    subjects = [name for name in ("key", *MEASURES) if name in value]
    ops = [name for name in COMPARISONS if name in value]
    if len(subjects) != 1 or len(ops) != 1 or set(value) != {subjects[0], ops[0]}:
        raise ValidationError(
            f"{where}expected {{'key'|'count'|'length': ..., <one of {', '.join(COMPARISONS)}>: "
            "...}, {'all'|'any': [...]} or {'not': ...}")
    subject, op = subjects[0], ops[0]
    key = value[subject]
    if not (isinstance(key, str) and (KEY.fullmatch(key) or (own and key == OWN))):
        raise ValidationError(f"{where}'{subject}' must be a question key"
                              + (" or '.'" if own else ""))
    measure = "value" if subject == "key" else subject
    if measure != "value" and op not in ORDERED:
        raise ValidationError(f"{where}'{subject}' compares with one of {', '.join(ORDERED)}")
    raw = value[op]
    if op == "answered":
        if not isinstance(raw, bool):
            raise ValidationError(f"{where}'answered' takes true or false")
        return Condition(op, key=key, values=(raw,))
    if op == "in":
        if not isinstance(raw, list) or not raw or not all(_is_value(v) for v in raw):
            raise ValidationError(f"{where}'in' takes a non-empty list of values "
                                  "(integer, number, string or boolean)")
        return Condition(op, key=key, values=tuple(_whole(v) for v in raw))
    if op in ORDERED and isinstance(raw, dict):
        return Condition(op, key=key, values=(_parse_ref(raw, where, own),), measure=measure)
    if raw == "":
        raise ValidationError(f"{where}'' is no value; for an unanswered question use "
                              f"{{'key': ..., 'answered': false}}")
    if measure != "value" and (type(raw) is not int or raw < 0):
        raise ValidationError(f"{where}'{subject}' compares with a whole number of at least 0 "
                              "or a ref")
    if not _is_value(raw):
        raise ValidationError(f"{where}'{op}' takes a value (integer, number, string or "
                              "boolean)" + (" or {'ref': key}" if op in ORDERED else ""))
    return Condition(op, key=key, values=(_whole(raw),), measure=measure)


def _whole(value: Value) -> Value:
    """A whole float as an integer, as decimal answers are stored (so 2.0 meets 2)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _parse_ref(raw: dict[str, Any], where: str, own: bool) -> Ref:
    key = raw.get("ref")
    if set(raw) != {"ref"} or not isinstance(key, str) or not (
            KEY.fullmatch(key) or (own and key == OWN)):
        raise ValidationError(f"{where}a ref is {{'ref': <question key"
                              + (" or '.'" if own else "") + ">}")
    return Ref(key)


def _is_value(value: Any) -> bool:
    return isinstance(value, bool | int | str) or (isinstance(value, float)
                                                   and math.isfinite(value))


def dump_condition(condition: Condition) -> dict[str, Any]:
    """The condition back in the JSON language (`parse_condition` reads it again)."""
    if condition.op in COMBINATIONS:
        return {condition.op: [dump_condition(part) for part in condition.parts]}
    if condition.op == "not":
        return {"not": dump_condition(condition.parts[0])}
    values = [{"ref": v.key} if isinstance(v, Ref) else v for v in condition.values]
    subject = "key" if condition.measure == "value" else condition.measure
    return {subject: condition.key, condition.op: values if condition.op == "in" else values[0]}
