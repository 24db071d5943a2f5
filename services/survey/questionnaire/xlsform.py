"""Import an ODK/Kobo XLSForm into the definition format.

The supported subset: `select_one`/`select_multiple <list>`, `integer`, `decimal` (read as
integer), `text`, `date`; `note` rows and metadata (start, end, today, ...) are skipped;
each `begin_group`/`end_group` becomes a section (its `relevant` applies to every question
in it). `label`/`hint` columns become Indonesian and English texts (`label::English (en)`),
other languages are left out. `required` is yes/true; `relevant` is built from
`${x} = 1`, `${x} = '1'`, `${x} != 2`, `selected(${x}, 'a')`, `and`, `or` and parentheses;
`constraint` from `. >= 0`, `. <= 120` (also `>` and `<`) and `. <= ${x}`, joined by `and`.
Anything else raises DefinitionError naming the sheet row and column, rather than importing
a form whose logic silently differs from the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from openpyxl import load_workbook

from services.survey.questionnaire.definition import KEY, DefinitionError, load_definition

TYPES = {"integer": "integer", "decimal": "integer", "text": "text", "date": "date"}
SKIPPED_TYPES = {"note", "start", "end", "today", "deviceid", "username", "simserial",
                 "subscriberid", "phonenumber", "audit"}
HANDLED_COLUMNS = {"type", "name", "label", "hint", "required", "relevant", "constraint"}
# Presentation only: dropping these changes how a question looks, never what it accepts.
IGNORED_COLUMNS = {"appearance", "constraint_message", "required_message", "guidance_hint"}
LANGUAGES = {"id": "id", "indonesian": "id", "bahasa indonesia": "id", "en": "en",
             "english": "en"}
TOKEN = re.compile(r"""\s*(\$\{[^}]*\}|'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?|!=|>=|<=|[=<>(),.]
                       |[A-Za-z_]\w*)""", re.VERBOSE)
BOUNDS = {">=": ("min", 0), ">": ("min", 1), "<=": ("max", 0), "<": ("max", -1)}


class _RowError(Exception):
    """A problem in one cell; the importer adds the row number and column."""


def definition_from_xlsform(
    path_or_file: str | Path | IO[bytes], *, key: str, version: int
) -> dict[str, Any]:
    """Read an XLSForm and return a definition that `load_definition` accepts."""
    workbook = load_workbook(path_or_file, read_only=True, data_only=True)
    try:
        sheets = {sheet.title.strip().lower(): sheet for sheet in workbook.worksheets}
        if "survey" not in sheets:
            raise DefinitionError([("survey", "the workbook has no 'survey' sheet")])
        choices = _choices(_rows(sheets["choices"])) if "choices" in sheets else {}
        settings = next((row for _, row in _rows(sheets["settings"])), {}) \
            if "settings" in sheets else {}
        title = settings.get("form_title") or key
        definition = {
            "key": key,
            "version": version,
            "title": {"id": title},
            "sections": _Survey(choices, title).read(_rows(sheets["survey"])),
        }
    finally:
        workbook.close()
    load_definition(definition)
    return definition


def _rows(sheet: Any) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as Excel shows it, {column header: cell text}) for non-empty rows."""
    rows = sheet.iter_rows(values_only=True)
    header = [_cell(value) for value in next(rows, ())]
    for number, values in enumerate(rows, start=2):
        row = {name: _cell(value) for name, value in zip(header, values, strict=False)
               if name and not name.startswith("$")}  # $kuid, $autoname: Kobo bookkeeping
        if any(row.values()):
            yield number, row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a choice name typed as 1 comes back as 1.0
    return str(value).strip()


def _texts(row: dict[str, str], base: str) -> dict[str, str]:
    """{'id': ..., 'en': ...} from a row's `base` and `base::Language (xx)` columns."""
    texts: dict[str, str] = {}
    for column, value in row.items():
        name, _, language = column.partition("::")
        if name.strip().lower() != base or not value:
            continue
        code = re.search(r"\((\w+)\)\s*$", language)
        locale = "id" if not language else LANGUAGES.get(
            (code.group(1) if code else language).strip().lower())
        if locale:
            texts.setdefault(locale, value)
    if texts and "id" not in texts:
        texts["id"] = texts["en"]
    return texts


def _fail(sheet: str, number: int, column: str, message: str) -> DefinitionError:
    return DefinitionError([(f"{sheet} row {number}, column {column}", message)])


def _choices(rows: Iterator[tuple[int, dict[str, str]]]) -> dict[str, list[tuple[int, str, dict]]]:
    lists: dict[str, list[tuple[int, str, dict]]] = {}
    for number, row in rows:
        if not row.get("list_name") or not row.get("name"):
            raise _fail("choices", number, "list_name" if not row.get("list_name") else "name",
                        "every choice needs a list_name and a name")
        texts = _texts(row, "label") or {"id": row["name"]}
        lists.setdefault(row["list_name"], []).append((number, row["name"], texts))
    return lists


class _Survey:
    """Reads survey rows top to bottom, so references can only point upwards."""

    def __init__(self, choices: dict[str, list[tuple[int, str, dict]]], title: str) -> None:
        self.choices = choices
        self.title = title
        self.sections: list[dict[str, Any]] = []
        self.group: dict[str, Any] | None = None  # the open begin_group's section
        self.ungrouped: dict[str, Any] | None = None  # the section of rows outside groups
        self.group_condition: dict[str, Any] | None = None
        # name -> (type, {choice name: code}) for every question read so far
        self.asked: dict[str, tuple[str, dict[str, Any]]] = {}

    def read(self, rows: Iterator[tuple[int, dict[str, str]]]) -> list[dict[str, Any]]:
        for number, row in rows:
            try:
                self._row(number, row)
            except _RowError as problem:
                column, message = problem.args
                raise _fail("survey", number, column, message) from None
        if self.group is not None:
            raise DefinitionError([("survey", "a begin_group has no end_group")])
        return [section for section in self.sections if section["questions"]]

    def _row(self, number: int, row: dict[str, str]) -> None:
        text = " ".join(row.get("type", "").split())
        group = re.fullmatch(r"(begin|end)[ _]group", text)
        if group:
            return self._group(group.group(1), row)
        kind, _, list_name = text.partition(" ")
        if kind in SKIPPED_TYPES or not kind:
            return None
        self._check_columns(row)
        name = _name(row)
        if kind in ("select_one", "select_multiple") and list_name in self.choices:
            question = self._select(kind, name, list_name)
        elif kind in ("select_one", "select_multiple") and " " not in list_name:
            raise _RowError("type", f"the choices sheet has no list '{list_name}'")
        elif kind in TYPES and not list_name:
            question = {"key": name, "type": TYPES[kind]}
            self.asked[name] = (question["type"], {})
        else:
            raise _RowError("type", f"'{row['type']}' is not supported")
        question["label"] = _texts(row, "label") or {"id": name}
        if hint := _texts(row, "hint"):
            question["help"] = hint
        question["required"] = _required(row.get("required", ""))
        conditions = [self.group_condition] if self.group_condition else []
        if row.get("relevant"):
            conditions.append(self._relevant(row["relevant"]))
        if conditions:
            question["if"] = conditions[0] if len(conditions) == 1 else {"all": conditions}
        if row.get("constraint"):
            self._constraint(question, row["constraint"])
        self._section()["questions"].append(question)

    def _check_columns(self, row: dict[str, str]) -> None:
        for column, value in row.items():
            name = column.partition("::")[0].strip().lower()
            if value and name not in HANDLED_COLUMNS | IGNORED_COLUMNS:
                raise _RowError(column, "not supported")

    def _group(self, edge: str, row: dict[str, str]) -> None:
        if edge == "end":
            if self.group is None:
                raise _RowError("type", "end_group without a begin_group")
            self.group = self.group_condition = None
            return
        if self.group is not None:
            raise _RowError("type", "groups inside groups are not supported")
        self._check_columns({k: v for k, v in row.items() if k.lower() != "required"})
        name = _name(row)
        self.group = {"key": name, "title": _texts(row, "label") or {"id": name},
                      "questions": []}
        self.sections.append(self.group)
        self.ungrouped = None
        if row.get("relevant"):
            self.group_condition = self._relevant(row["relevant"])
        if row.get("constraint"):
            raise _RowError("constraint", "not supported on a group")

    def _section(self) -> dict[str, Any]:
        if self.group is not None:
            return self.group
        if self.ungrouped is None:
            # Rows outside any group form a section of their own.
            self.ungrouped = {"key": f"section_{len(self.sections) + 1}",
                              "title": {"id": self.title}, "questions": []}
            self.sections.append(self.ungrouped)
        return self.ungrouped

    def _select(self, kind: str, name: str, list_name: str) -> dict[str, Any]:
        entries = self.choices[list_name]
        numeric = all(re.fullmatch(r"-?\d+", choice) for _, choice, _ in entries)
        codes: dict[str, Any] = {}
        for number, choice, _ in entries:
            if kind == "select_one":
                codes[choice] = int(choice) if numeric else choice
                continue
            # A multi answer's options are answer keys of their own (f4 -> f401).
            code = choice if choice.startswith(name) else f"{name}_{choice}"
            if not KEY.fullmatch(code):
                raise _fail("choices", number, "name", f"'{choice}' cannot become an option "
                            f"key of {name}; use letters, digits and _")
            codes[choice] = code
        self.asked[name] = ("single" if kind == "select_one" else "multi", codes)
        return {
            "key": name,
            "type": "single" if kind == "select_one" else "multi",
            "options": [{"code": codes[choice], "label": texts} for _, choice, texts in entries],
        }

    # --- expressions -----------------------------------------------------------------

    def _relevant(self, expression: str) -> dict[str, Any]:
        tokens = _tokens(expression, "relevant")
        condition = self._either(tokens)
        if tokens:
            raise _RowError("relevant", f"cannot read '{''.join(tokens)}'")
        return condition

    def _either(self, tokens: list[str]) -> dict[str, Any]:
        parts = [self._both(tokens)]
        while tokens and tokens[0] == "or":
            tokens.pop(0)
            parts.append(self._both(tokens))
        return parts[0] if len(parts) == 1 else {"any": parts}

    def _both(self, tokens: list[str]) -> dict[str, Any]:
        parts = [self._comparison(tokens)]
        while tokens and tokens[0] == "and":
            tokens.pop(0)
            parts.append(self._comparison(tokens))
        return parts[0] if len(parts) == 1 else {"all": parts}

    def _comparison(self, tokens: list[str]) -> dict[str, Any]:
        head = _take(tokens)
        if head == "(":
            inner = self._either(tokens)
            _expect(tokens, ")")
            return inner
        if head == "selected":
            _expect(tokens, "(")
            ref = self._reference(_take(tokens), "relevant")
            _expect(tokens, ",")
            value = self._value(ref, _take(tokens))
            _expect(tokens, ")")
            return {"key": ref, "has" if self.asked[ref][0] == "multi" else "eq": value}
        ref = self._reference(head, "relevant")
        operator = _take(tokens)
        if operator not in ("=", "!="):
            raise _RowError("relevant", f"'{operator}' is not supported; use = or !=")
        if self.asked[ref][0] == "multi":
            raise _RowError("relevant", f"use selected(${{{ref}}}, ...) for a select_multiple")
        return {"key": ref, "eq" if operator == "=" else "ne": self._value(ref, _take(tokens))}

    def _reference(self, token: str, column: str) -> str:
        match = re.fullmatch(r"\$\{(\w+)\}", token)
        if not match:
            raise _RowError(column, f"expected ${{question}}, found '{token}'")
        if match.group(1) not in self.asked:
            raise _RowError(column, f"{token} is not a question above this row")
        return match.group(1)

    def _value(self, ref: str, token: str) -> Any:
        text = token[1:-1] if token[:1] in ("'", '"') else token
        kind, codes = self.asked[ref]
        if codes:
            if text not in codes:
                raise _RowError("relevant", f"'{text}' is not a choice of {ref}")
            return codes[text]
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", text):
                raise _RowError("relevant", f"{ref} is an integer; '{text}' is not")
            return int(text)
        return text

    def _constraint(self, question: dict[str, Any], expression: str) -> None:
        if question["type"] != "integer":
            raise _RowError("constraint", "supported on integer and decimal questions only")
        tokens = _tokens(expression, "constraint")
        while True:
            if _take(tokens, "constraint") != ".":
                raise _RowError("constraint", "each part must compare '.' with a number")
            operator, bound = _take(tokens, "constraint"), _take(tokens, "constraint")
            if operator == "<=" and bound.startswith("${"):
                ref = self._reference(bound, "constraint")
                if self.asked[ref][0] != "integer":
                    raise _RowError("constraint", f"{bound} is not an integer question")
                question["lte"] = ref
            elif operator in BOUNDS and re.fullmatch(r"-?\d+", bound):
                field, shift = BOUNDS[operator]
                question[field] = int(bound) + shift
            else:
                raise _RowError("constraint", f"'. {operator} {bound}' is not supported")
            if not tokens:
                return
            if tokens.pop(0) != "and":
                raise _RowError("constraint", "join parts with 'and'")


def _tokens(expression: str, column: str) -> list[str]:
    tokens, position = [], 0
    while position < len(expression.rstrip()):
        match = TOKEN.match(expression, position)
        if not match:
            raise _RowError(column, f"cannot read '{expression[position:].strip()}'")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _take(tokens: list[str], column: str = "relevant") -> str:
    if not tokens:
        raise _RowError(column, "the expression ends too early")
    return tokens.pop(0)


def _expect(tokens: list[str], wanted: str) -> None:
    if _take(tokens) != wanted:
        raise _RowError("relevant", f"expected '{wanted}'")


def _name(row: dict[str, str]) -> str:
    name = row.get("name", "")
    if not KEY.fullmatch(name):
        raise _RowError("name", f"'{name}' is not a key (a letter, then letters, digits, _)")
    return name


def _required(text: str) -> bool:
    word = text.strip().lower()
    if word in ("yes", "true", "true()"):
        return True
    if word in ("", "no", "false", "false()"):
        return False
    raise _RowError("required", f"'{text}' is not yes or no")
