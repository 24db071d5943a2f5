"""The SQL twins of `Cell.of_response`'s tests on a response's JSON answers, per dialect.

`type(answers.get(key)) is int` and `code in answers["f4"]` are `AnswerCode`, `AnswerRaw` +
`AnswerTyped` and `ArrayHasString`, compiled side by side for each dialect: jsonb operators
on PostgreSQL, json_type/json_extract/json_each on SQLite; `MeasureList` gathers the fill
statement's aggregates into one JSON array (json_build_array / json_array). Everything else
in the analytics statements is the same Core expression on both databases.
tests/integration/test_analytics_cells.py checks these against `Cell.of_response` on random
data, awkward JSON values included.

Answers are read out of the JSON in a subquery kept apart by OFFSET 0 (`projection`), so
each key is looked up once per response (a flattened subquery would repeat the lookup in
every aggregate that uses it; on PostgreSQL one lookup costs about 0.4 µs). On PostgreSQL
that subquery is computed by the parallel workers of the scan.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ColumnElement, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")  # keys are rendered into the SQL text


class AnswerCode(ColumnElement[Any]):
    """The answer when it is a JSON integer among `codes`, else NULL (cells._code).

    PostgreSQL compares the jsonb value's text: an integer 1 prints as `1`, while 1.0, "1"
    and true print as `1.0`, `"1"` and `true`, exactly as Python's json module reads them
    back as float, str and bool. SQLite asks json_type for 'integer'.
    """

    inherit_cache = True
    type = Integer()
    _traverse_internals = [
        ("document", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
        ("codes", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, document: ColumnElement[Any], key: str, codes: tuple[int, ...]) -> None:
        self.document, self.key, self.codes = document, _checked(key), tuple(map(int, codes))


class AnswerRaw(ColumnElement[Any]):
    """First step of reading an integer (kind "integer") or array (kind "array") answer.

    PostgreSQL: the jsonb value itself, typed by `AnswerTyped` one subquery up (so the
    lookup is not repeated for each test); SQLite: already the typed value.
    """

    inherit_cache = True
    _traverse_internals = [
        ("document", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, document: ColumnElement[Any], key: str, kind: str) -> None:
        self.document, self.key, self.kind = document, _checked(key), kind


class AnswerTyped(ColumnElement[Any]):
    """Second step: the integer (any size; a numeric on PostgreSQL) or the array, or NULL."""

    inherit_cache = True
    _traverse_internals = [
        ("raw", InternalTraversal.dp_clauseelement),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, raw: ColumnElement[Any], kind: str) -> None:
        self.raw, self.kind = raw, kind
        self.type = BigInteger() if kind == "integer" else JSON()


class ArrayHasString(ColumnElement[bool]):
    """True when the JSON array (from AnswerTyped) holds the string `value`."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("array", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_string),
    ]

    def __init__(self, array: ColumnElement[Any], value: str) -> None:
        self.array, self.value = array, _checked(value)


def _checked(name: str) -> str:
    # Keys and option codes are rendered into the SQL text; they come from cells.py.
    if not _KEY_PATTERN.match(name):
        raise ValueError(f"{name!r} cannot be rendered into SQL")
    return name


def _sqlite_path(key: str) -> str:
    return f"'$.\"{key}\"'"


@compiles(AnswerCode, "postgresql")
def _answer_code_pg(element: AnswerCode, compiler: Any, **kw: Any) -> str:
    document = compiler.process(element.document, **kw)
    whens = " ".join(f"WHEN '{code}' THEN {code}" for code in element.codes)
    return f"CASE ({document} -> '{element.key}')::text {whens} END"


@compiles(AnswerCode, "sqlite")
def _answer_code_sqlite(element: AnswerCode, compiler: Any, **kw: Any) -> str:
    document, path = compiler.process(element.document, **kw), _sqlite_path(element.key)
    codes = ", ".join(map(str, element.codes))
    return (f"CASE WHEN json_type({document}, {path}) = 'integer' AND "
            f"json_extract({document}, {path}) IN ({codes}) "
            f"THEN json_extract({document}, {path}) END")


@compiles(AnswerRaw, "postgresql")
def _answer_raw_pg(element: AnswerRaw, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.document, **kw)} -> '{element.key}')"


@compiles(AnswerRaw, "sqlite")
def _answer_raw_sqlite(element: AnswerRaw, compiler: Any, **kw: Any) -> str:
    document, path = compiler.process(element.document, **kw), _sqlite_path(element.key)
    json_type = "integer" if element.kind == "integer" else "array"
    return (f"CASE WHEN json_type({document}, {path}) = '{json_type}' "
            f"THEN json_extract({document}, {path}) END")


@compiles(AnswerTyped, "postgresql")
def _answer_typed_pg(element: AnswerTyped, compiler: Any, **kw: Any) -> str:
    raw = compiler.process(element.raw, **kw)
    if element.kind == "integer":
        # jsonb keeps a number's scale: 1.0 has scale 1 (Python reads it as a float).
        return (f"CASE WHEN jsonb_typeof({raw}) = 'number' AND scale({raw}::numeric) = 0 "
                f"THEN {raw}::numeric END")
    return f"CASE WHEN jsonb_typeof({raw}) = 'array' THEN {raw} END"


@compiles(AnswerTyped, "sqlite")
def _answer_typed_sqlite(element: AnswerTyped, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.raw, **kw)


@compiles(ArrayHasString, "postgresql")
def _array_has_string_pg(element: ArrayHasString, compiler: Any, **kw: Any) -> str:
    # jsonb `?` on an array matches its string elements only.
    return f"({compiler.process(element.array, **kw)} ? '{element.value}')"


@compiles(ArrayHasString, "sqlite")
def _array_has_string_sqlite(element: ArrayHasString, compiler: Any, **kw: Any) -> str:
    return (f"EXISTS (SELECT 1 FROM json_each({compiler.process(element.array, **kw)}) "
            f"AS element WHERE element.type = 'text' AND element.value = '{element.value}')")


class MeasureList(ColumnElement[Any]):
    """The answer rows' measures as one JSON array, so the other rows need no padding."""

    inherit_cache = True
    _traverse_internals = [("measures", InternalTraversal.dp_clauseelement_list)]

    def __init__(self, *measures: ColumnElement[Any]) -> None:
        self.measures = list(measures)
        self.type = JSON()


@compiles(MeasureList, "postgresql")
def _measure_list_pg(element: MeasureList, compiler: Any, **kw: Any) -> str:
    return f"json_build_array({', '.join(compiler.process(m, **kw) for m in element.measures)})"


@compiles(MeasureList, "sqlite")
def _measure_list_sqlite(element: MeasureList, compiler: Any, **kw: Any) -> str:
    return f"json_array({', '.join(compiler.process(m, **kw) for m in element.measures)})"
