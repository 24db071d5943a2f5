"""The importer over real XLSForms: pyxform's own test forms (tests/fixtures/xlsform/README.md).

Two checks. The whole set: a form pyxform rejects is refused with a worded reason; a form it
accepts imports, or is refused naming each feature; of the forms that use none of the
refused features (found here by a plain scan of pyxform's JSON, not by the importer), at
least 80 % import. And fidelity: every imported form is compared with pyxform's reading,
question by question: type, required flag, labels and hints in every language, choice
lists, and conditions and constraints. For those, the definition's condition is written
back as XPath (`_xpath`) and compared, as a canonical token sequence, with pyxform's bind:
with the groups' `relevant` joined by `and`, references as `$name`, literals in one
spelling and parentheses dropped (the translation's own nesting is checked in
test_xlsform.py by hand-worked examples).
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from services.survey.questionnaire import definition_from_xlsform
from services.survey.questionnaire.xlsform import SENTENCES, XlsFormRefused
from services.survey.questionnaire.xlsform_languages import language_code
from tests.xlsform_forms import questions, workbook

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "xlsform" / "pyxform").glob("*/*"))
JSON_TYPES = {"integer": "integer", "int": "integer", "decimal": "decimal", "text": "text",
              "string": "text", "date": "date", "time": "time", "datetime": "datetime",
              "dateTime": "datetime", "select one": "single", "select all that apply": "multi",
              "note": "note", "acknowledge": "acknowledge", "trigger": "acknowledge"}
# What the importer refuses by the list, found by a plain scan of pyxform's JSON.
REFUSED_TYPES = re.compile(r"^(repeat|loop|calculate|hidden|photo|image|audio|video|file|"
                           r"geopoint|gps|location|geotrace|geoshape|barcode|osm|range|rank|"
                           r"select one external|xml-external|csv-external|.*-geopoint|"
                           r"background-.*|phone number)$")
SUPPORTED_FUNCTIONS = {"not", "selected", "count-selected", "string-length"}


def _pyxform(path: Path) -> dict[str, Any] | None:
    from pyxform.xls2xform import convert

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return convert(str(path), warnings=[])._pyxform
    except Exception:  # noqa: BLE001 - pyxform rejects the form
        return None


def _import(path: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return definition_from_xlsform(path, key="uji", version=1)


def _elements(node: dict[str, Any], ancestors: tuple = ()) -> Any:
    """(element, its groups) for every question of pyxform's JSON, meta left out."""
    for child in node.get("children", []):
        if child.get("type") == "group":
            if child.get("name") == "meta" and child.get("control", {}).get("bodyless"):
                continue
            yield child, ancestors
            yield from _elements(child, (*ancestors, child))
        else:
            yield child, ancestors


def _uses_a_refused_feature(form: dict[str, Any]) -> bool:
    for element, _ in _elements(form):
        bind = element.get("bind", {})
        if REFUSED_TYPES.match(str(element.get("type"))) or "calculate" in bind:
            return True
        if "choice_filter" in element or "media" in element or "." in str(
                element.get("itemset", "")) or any("media" in c for c in
                                                   element.get("choices", [])):
            return True
        for expression in (bind.get("relevant"), bind.get("constraint")):
            functions = set(re.findall(r"([A-Za-z][\w-]*)\s*\(", str(expression or "")))
            if functions - SUPPORTED_FUNCTIONS:
                return True
    return False


def test_every_fixture_imports_or_is_refused_with_reasons_and_most_clean_ones_import() -> None:
    clean, clean_imported, rejected = 0, 0, 0
    for path in FIXTURES:
        form = _pyxform(path)
        try:
            _import(path)
            imported = True
        except XlsFormRefused as refused:
            imported = False
            assert refused.refusals, path
            for refusal in refused.refusals:
                assert refusal.kind in SENTENCES and str(refusal), (path, refusal)
        if form is None:
            rejected += 1
            assert not imported, f"{path.name}: pyxform rejects it, Jejak imported it"
            continue
        if not _uses_a_refused_feature(form):
            clean += 1
            clean_imported += imported
    ratio = clean_imported / clean
    print(f"\n{len(FIXTURES)} forms, {rejected} rejected by pyxform; of {clean} that use no "
          f"refused feature, {clean_imported} import ({ratio:.0%})")
    assert rejected >= 5 and clean >= 15
    assert ratio >= 0.8


# --- fidelity -------------------------------------------------------------------------------


def _texts_agree(ours: dict[str, str] | None, theirs: Any, default: str) -> bool:
    if theirs in (None, "", {}):
        return ours is None
    if not isinstance(theirs, dict):
        return ours == {default: str(theirs)}
    expected = {language_code(name): str(text) for name, text in theirs.items() if text != ""}
    return ours == expected


def _xpath(condition: dict[str, Any], names: dict[str, dict[Any, str]]) -> str:
    """A definition condition written back as XPath (choice codes back to choice names)."""
    if "all" in condition or "any" in condition:
        joiner = " and " if "all" in condition else " or "
        return joiner.join(f"({_xpath(part, names)})" for part in
                           condition.get("all", condition.get("any")))
    if "not" in condition:
        return f"not({_xpath(condition['not'], names)})"
    operators = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if "count" in condition or "length" in condition:
        function = "count-selected" if "count" in condition else "string-length"
        key = condition.get("count", condition.get("length"))
        [(op, value)] = [(k, v) for k, v in condition.items() if k in operators]
        return f"{function}({_ref(key)}) {operators[op]} {value}"
    key = condition["key"]
    if "answered" in condition:
        return f"{_ref(key)} {'!=' if condition['answered'] else '='} ''"
    if "has" in condition:
        return f"selected({_ref(key)}, '{names[key][condition['has']]}')"
    [(op, value)] = [(k, v) for k, v in condition.items() if k != "key"]
    if isinstance(value, dict):
        return f"{_ref(key)} {operators[op]} {_ref(value['ref'])}"
    if key in names:
        value = names[key][value]
    return f"{_ref(key)} {operators[op]} {_literal(value)}"


def _ref(key: str) -> str:
    return "." if key == "." else f"${{{key}}}"


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, int | float) else f"'{value}'"


TOKEN = re.compile(r"\$\{\s*([^}]*?)\s*\}|\.\./([\w.-]+)|'([^']*)'|\"([^\"]*)\"|"
                   r"(\d+(?:\.\d*)?)|(!=|<=|>=|=|<|>|,)|([A-Za-z][\w-]*)|(\.)|[()]")
MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


def _canonical(expression: str, own: str | None, singles: set[str]) -> list[str]:
    """Tokens without parentheses; refs as $name, literals in one spelling."""
    tokens: list[str] = []
    for match in TOKEN.finditer(expression):
        ref, parent, single, double, number, op, name, dot = match.groups()
        text = match.group(0)
        if ref or parent:
            name_of = ref or parent
            tokens.append("." if name_of == own else f"${name_of}")
        elif single is not None or double is not None:
            literal = single if single is not None else double
            try:
                tokens.append(repr(float(literal)))
            except ValueError:
                tokens.append(f"'{literal}'")
        elif number:
            tokens.append(repr(float(number)))
        elif op or dot:
            tokens.append(op or dot)
        elif name:
            tokens.append(name.lower())
        elif text == "(" and tokens and tokens[-1] not in ("and", "or", "not", "(") and \
                re.match(r"[a-z-]+$", tokens[-1]):
            tokens.append("(")  # a function call keeps its parenthesis
        elif text == ")" and _open_call(tokens):
            tokens.append(")")
    return _turn_around(_selected_as_equality(tokens, singles))


def _open_call(tokens: list[str]) -> bool:
    return tokens.count("(") > tokens.count(")")


def _selected_as_equality(tokens: list[str], singles: set[str]) -> list[str]:
    """selected($s, 'x') on a select_one is $s = 'x' (the importer writes it so)."""
    out, index = [], 0
    while index < len(tokens):
        window = tokens[index:index + 6]
        if (len(window) == 6 and window[0] == "selected" and window[1] == "(" and
                window[2].lstrip("$") in singles and window[5] == ")"):
            out.extend([window[2], "=", window[4]])
            index += 6
        else:
            out.append(tokens[index])
            index += 1
    return out


def _turn_around(tokens: list[str]) -> list[str]:
    """`3 < $a` is `$a > 3`; a literal never stays on the left."""
    out = list(tokens)
    for index in range(len(out) - 2):
        left, op = out[index], out[index + 1]
        if op in MIRROR and (left[0].isdigit() or left.startswith("'")):
            right_end = index + 3
            if out[index + 2] in ("count-selected", "string-length"):
                right_end = index + 6
            out[index:right_end] = [*out[index + 2:right_end], MIRROR[op], left]
    return out


def _compare_form(path: Path, form: dict[str, Any], definition: dict[str, Any]) -> None:
    ours = questions(definition)
    default = definition["default_language"]
    singles = {key for key, q in ours.items() if q["type"] == "single"}
    names: dict[str, dict[Any, str]] = {}
    for element, ancestors in _elements(form):
        name = element["name"]
        if element["type"] == "group":
            if ancestors and element.get("label"):
                assert ours[name]["type"] == "note", (path, name)
            continue
        if element["type"] not in JSON_TYPES:
            assert name not in ours, (path, name)  # metadata is skipped
            continue
        question = ours[name]
        where = (path.name, name)
        assert question["type"] == JSON_TYPES[element["type"]], where
        bind = element.get("bind", {})
        if question["type"] != "note":
            assert question["required"] is (str(bind.get("required", "no")).lower() in
                                            ("yes", "true", "true()")), where
        assert _texts_agree(question["label"], element.get("label"), default) or \
            question["label"] == {default: name}, where
        assert _texts_agree(question.get("help"), element.get("hint"), default), where
        if question["type"] in ("single", "multi"):
            choices = element["choices"]
            assert len(question["options"]) == len(choices), where
            names[name] = {}
            for option, choice in zip(question["options"], choices, strict=True):
                assert str(option["code"]).endswith(choice["name"]), where
                names[name][option["code"]] = choice["name"]
                assert _texts_agree(option["label"], choice.get("label"), default) or \
                    option["label"] == {default: choice["name"]}, where
        relevants = [group.get("bind", {}).get("relevant") for group in ancestors]
        relevants = [r for r in [*relevants, bind.get("relevant")] if r]
        expected = _canonical(" and ".join(relevants), None, singles)
        written = _canonical(_xpath(question["if"], names), None, singles) if "if" in \
            question else []
        assert written == expected, (where, written, expected)
        if bind.get("constraint"):
            own_names = {**names, ".": names[name]} if name in names else names
            written = _canonical(_xpath(question["constraint"]["if"], own_names), name, singles)
            assert written == _canonical(bind["constraint"], name, singles), where
        else:
            assert "constraint" not in question, where


def test_no_imported_fixture_differs_from_pyxforms_reading() -> None:
    compared = 0
    for path in FIXTURES:
        try:
            definition = _import(path)
        except XlsFormRefused:
            continue
        form = _pyxform(path)
        assert form is not None
        _compare_form(path, form, definition)
        compared += 1
    assert compared >= 15


def test_a_hand_made_form_with_every_construct_agrees_with_pyxform(tmp_path: Path) -> None:
    from tests.unit.test_xlsform import CHOICES, SURVEY

    path = tmp_path / "every.xlsx"
    path.write_bytes(workbook(SURVEY, CHOICES))
    definition = definition_from_xlsform(io.BytesIO(path.read_bytes()), key="uji", version=1)
    form = _pyxform(path)
    assert form is not None
    _compare_form(path, form, definition)


@pytest.mark.parametrize(
    ("condition", "xpath"),
    [
        ({"key": "a", "eq": 1}, "${a} = 1"),
        ({"all": [{"key": "a", "gt": 2.5}, {"not": {"key": "b", "answered": True}}]},
         "(${a} > 2.5) and (not(${b} != ''))"),
        ({"count": "m", "le": 2}, "count-selected(${m}) <= 2"),
    ],
)
def test_a_condition_is_written_back_as_xpath(condition: dict, xpath: str) -> None:
    assert _xpath(condition, {}) == xpath
