"""Translate pyxform's JSON reading of an XLSForm into Jejak's definition format, or refuse.

Every element and every key pyxform gives a meaning is either translated exactly or
refused with a `Refusal` naming its row and column; the walk goes on after a refusal so
the person sees every reason at once. Keys pyxform itself ignores (unknown columns such as
notes to the form's author) are ignored here too; presentation-only columns (`appearance`,
`guidance_hint`, `instance::`, `sms_field`) change how ODK draws or sends a form, never
which answers it accepts, and are left out.

Layout (docs/questionnaire.md): a top-level group becomes a section; questions outside
groups form sections of their own; a nested group's `relevant` joins, with "all", the
`if` of every question inside it, and its label becomes a `note` at its start.

Answer keys: a question keeps its XLSForm name. A select_one's codes are its choice names,
as integers when every name is one written plainly (1, 2, 10, not 01). A select_multiple's
options are answer keys of their own, so a choice `x` of question `q` becomes `q_x`
(unless the choice name already starts with `q`) - the rule the first importer used, so a
form imported again keeps its keys.

Texts: pyxform gives a plain string for a text without a language (shown in every
language), a {language name: text} dict otherwise; xlsform_languages.py names the codes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from services.survey.questionnaire.conditions import KEY, MAX_DEPTH
from services.survey.questionnaire.xlsform import Refusal
from services.survey.questionnaire.xlsform_expressions import (
    Field,
    Translator,
    Untranslatable,
)
from services.survey.questionnaire.xlsform_inputs import InputColumn
from services.survey.questionnaire.xlsform_languages import language_code

TYPES = {
    "integer": "integer", "int": "integer", "decimal": "decimal",
    "text": "text", "string": "text", "date": "date", "time": "time",
    "datetime": "datetime", "dateTime": "datetime",
    "select one": "single", "select all that apply": "multi",
    "note": "note", "acknowledge": "acknowledge", "trigger": "acknowledge",
}
MEDIA_BIND_TYPES = {"binary", "geopoint", "geotrace", "geoshape", "barcode"}
EXTERNAL_TYPES = {"select one external", "xml-external", "csv-external"}
REPEAT_TYPES = {"repeat", "loop"}
# pyxform element keys handled below, or presentation only.
HANDLED_KEYS = {"type", "name", "label", "hint", "bind", "control", "default", "choices",
                "itemset", "list_name", "parameters", "children"}
PRESENTATION_KEYS = {"guidance_hint", "instance", "sms_field", "extra_data", "flat"}
# `control` holds how the question is drawn (appearance, body:: attributes such as rows);
# these instead hand the question to another app or repeat it.
REFUSED_CONTROL = {"intent", "jr:count", "jr:noAddRemove"}
REFUSED_KEYS = {"media": "media_label", "choice_filter": "choice_filter"}
HANDLED_BIND = {"relevant", "required", "constraint", "jr:constraintMsg", "jr:requiredMsg"}
COLUMN_OF_BIND = {"relevant": "relevant", "required": "required", "constraint": "constraint",
                  "jr:constraintMsg": "constraint_message", "jr:requiredMsg": "required_message",
                  "calculate": "calculation", "readonly": "read_only"}
LABEL_REFERENCE = re.compile(r"\$\{\s*([^}]*?)\s*\}")
INTEGER_NAME = re.compile(r"-?[1-9]\d*|0")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME = re.compile(r"\d{2}:\d{2}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
YES_NO = {"yes": True, "true": True, "true()": True, "no": False, "false": False,
          "false()": False}


def translate(pyxform_json: dict[str, Any], rows: dict[tuple, int], *, key: str,
              version: int) -> tuple[dict[str, Any], list[Refusal]]:
    """The definition for pyxform's JSON, and every refusal (an empty list: it is exact)."""
    return _Translation(pyxform_json, rows).run(key, version)


class _Translation:
    def __init__(self, pyxform_json: dict[str, Any], rows: dict[tuple, int]) -> None:
        self.json = pyxform_json
        self.rows = rows
        self.refusals: list[Refusal] = []
        self.fields: dict[str, Field] = {}
        self.unavailable: dict[str, str] = {}
        self.keys: set[str] = set()
        self.languages: dict[str, str] = {}  # code -> the XLSForm's name for it
        self.default = "und"
        self.inputs = InputColumn()  # the jejak_input column

    # --- the whole form -------------------------------------------------------------

    def run(self, key: str, version: int) -> tuple[dict[str, Any], list[Refusal]]:
        self._choose_languages()
        self._mark_names(self.json.get("children", []), "later_reference")
        title = self.json.get("title")
        title = key if not title or title == self.json.get("name") else str(title)
        sections: list[dict[str, Any]] = []
        loose: dict[str, Any] | None = None  # the section of questions outside groups
        for child in self.json.get("children", []):
            path = (child.get("name", ""),)
            if child.get("type") == "group" and not self._is_meta(child):
                loose = None
                section = self._section(child, path, title)
                if section is not None:
                    sections.append(section)
                continue
            if loose is None:
                loose = {"key": None, "title": {self.default: title}, "questions": []}
                sections.append(loose)
            self._element(child, path, [], loose["questions"])
        sections = [section for section in sections if section["questions"]]
        for number, section in enumerate(sections, start=1):
            if section["key"] is None:  # questions outside groups: numbered as before
                section["key"] = self._free_section_key(number)
        if not sections and not self.refusals:
            self.refusals.append(Refusal("no_questions"))
        definition: dict[str, Any] = {
            "key": key, "version": version, "title": {self.default: title},
            "default_language": self.default, "sections": sections,
        }
        others = [{"code": code, "name": name} for code, name in self.languages.items()
                  if code not in ("id", "en")]
        if others:
            definition["languages"] = others
        inputs = self.inputs.result()
        if inputs is not None:
            definition["indicator_inputs"] = inputs
        return definition, _unique(self.refusals)

    def _choose_languages(self) -> None:
        """The codes of every language column, and the default one every text must carry."""
        used: Counter[str] = Counter()
        for text in _texts(self.json):
            if isinstance(text, dict):
                used.update(text.keys())
        for name in used:
            code = language_code(name)
            if code is None:
                self._refuse("unknown_language", "survey", 1, f"label::{name}", language=name)
            elif code in self.languages:
                # Two columns pyxform keeps apart would be merged into one language.
                self._refuse("language_twice", "survey", 1, f"label::{name}", language=name,
                             other=self.languages[code], code=code)
            else:
                self.languages[code] = name
        if not self.languages:
            self.languages["und"] = "default"
            self.default = "und"
            return
        preferred = language_code(str(self.json.get("default_language", "default")))
        if preferred in self.languages:
            self.default = preferred
            return
        most = max(used.values())
        common = [code for name, count in used.items() if count == most
                  and (code := language_code(name)) is not None]
        self.default = "id" if "id" in common else (common or list(self.languages))[0]

    def _mark_names(self, children: list[dict[str, Any]], reason: str) -> None:
        for child in children:
            self.unavailable.setdefault(child.get("name", ""), reason)
            self._mark_names(child.get("children", []), reason)

    def _free_section_key(self, number: int) -> str:
        key = f"section_{number}"
        while key in self.unavailable or key in self.keys:
            key += "_"
        return key

    @staticmethod
    def _is_meta(group: dict[str, Any]) -> bool:
        return group.get("name") == "meta" and bool(group.get("control", {}).get("bodyless"))

    # --- groups -------------------------------------------------------------------------

    def _section(self, group: dict[str, Any], path: tuple, title: str) -> dict[str, Any] | None:
        row = self._row(path)
        name = group.get("name", "")
        self._check_keys(group, row, for_group=True)
        if not self._claim(name, row):
            return None
        conditions = self._relevant(group, row, [])
        section = {"key": name,
                   "title": self._text(group.get("label"), row, "label") or {self.default: title},
                   "questions": []}
        for child in group.get("children", []):
            self._element(child, (*path, child.get("name", "")), conditions,
                          section["questions"])
        return section

    def _nested_group(self, group: dict[str, Any], path: tuple, conditions: list,
                      questions: list) -> None:
        row = self._row(path)
        name = group.get("name", "")
        if len(path) > MAX_DEPTH:
            self._refuse("groups_too_deep", "survey", row, "type", limit=MAX_DEPTH)
            return
        self._check_keys(group, row, for_group=True)
        if not self._claim(name, row):
            return
        inner = self._relevant(group, row, conditions)
        label = self._text(group.get("label"), row, "label")
        if label:
            note = {"key": name, "type": "note", "label": label}
            self._add_condition(note, inner, row)
            questions.append(note)
        for child in group.get("children", []):
            self._element(child, (*path, child.get("name", "")), inner, questions)

    # --- elements -----------------------------------------------------------------------

    def _element(self, node: dict[str, Any], path: tuple, conditions: list,
                 questions: list) -> None:
        kind = str(node.get("type", ""))
        row = self._row(path)
        name = str(node.get("name", ""))
        if kind == "group":
            if self._is_meta(node):
                for child in node.get("children", []):
                    if not _is_instance_id(child):
                        self._element(child, (*path, child.get("name", "")), conditions,
                                      questions)
                return
            self._nested_group(node, path, conditions, questions)
            return
        refusal = self._type_refusal(node, kind)
        if refusal == "metadata":
            self.unavailable[name] = "metadata_reference"
            return
        if refusal:
            self._refuse(refusal, "survey", row, "type", name=name, type=kind)
            self.unavailable[name] = "unknown_reference"
            return
        self._check_keys(node, row, for_group=False)
        if not self._claim(name, row):
            return
        question = self._question(node, TYPES[kind], row, conditions)
        questions.append(question)
        bad_input = self.inputs.note(node.get("jejak_input"), question)
        if bad_input is not None:
            self._refuse("indicator_input", "survey", row, "jejak_input", value=bad_input)
        if question["type"] == "note":
            self.unavailable[name] = "unknown_reference"  # a note holds no answer here
        else:
            self.unavailable.pop(name, None)

    def _type_refusal(self, node: dict[str, Any], kind: str) -> str | None:
        """None for a supported type, "metadata" to skip, else the refusal kind."""
        from pyxform.question_type_dictionary import QUESTION_TYPE_DICT

        if kind in REPEAT_TYPES:
            return "repeat"
        if kind in EXTERNAL_TYPES or (kind in ("select one", "select all that apply")
                                      and "." in str(node.get("itemset", ""))):
            return "external_choices"
        if kind in ("calculate", "hidden") or "calculate" in node.get("bind", {}):
            return "calculate"
        if kind in TYPES:
            return None
        known = QUESTION_TYPE_DICT.get(kind, {})
        if "jr:preload" in known.get("bind", {}) or kind == "audit":
            return "metadata"
        if known.get("bind", {}).get("type") in MEDIA_BIND_TYPES or \
                known.get("control", {}).get("tag") == "upload":
            return "media_question"
        return "unsupported_type"

    def _check_keys(self, node: dict[str, Any], row: int | None, *, for_group: bool) -> None:
        from pyxform.question import MultipleChoiceQuestion

        meaningful = set(MultipleChoiceQuestion.get_slot_names()) | {"children", "flat"}
        for key, value in node.items():
            if key in HANDLED_KEYS or key in PRESENTATION_KEYS or key not in meaningful:
                continue
            if key in REFUSED_KEYS:
                self._refuse(REFUSED_KEYS[key], "survey", row, key)
            elif value not in (None, "", {}, []):
                self._refuse("unsupported_column", "survey", row, key, column=key)
        for key, value in node.get("bind", {}).items():
            if key in HANDLED_BIND and not (for_group and key != "relevant"):
                continue
            column = COLUMN_OF_BIND.get(key, f"bind::{key}")
            if key == "readonly" and YES_NO.get(str(value).strip().lower()) is False:
                continue
            if key == "calculate":
                continue  # refused with the type
            self._refuse("unsupported_column", "survey", row, column, column=column)
        for key in node.get("control", {}):
            if key in REFUSED_CONTROL:
                self._refuse("unsupported_column", "survey", row, key, column=key)
        if node.get("parameters"):
            self._refuse("unsupported_column", "survey", row, "parameters",
                         column="parameters")

    def _claim(self, name: str, row: int | None) -> bool:
        """Reserve `name` as a key; False (refused) when it cannot be one or is taken."""
        if not KEY.fullmatch(name):
            self._refuse("name_not_key", "survey", row, "name", name=name)
            return False
        if name in self.keys:
            self._refuse("duplicate_name", "survey", row, "name", name=name)
            return False
        self.keys.add(name)
        return True

    # --- questions ----------------------------------------------------------------------

    def _question(self, node: dict[str, Any], kind: str, row: int | None,
                  conditions: list) -> dict[str, Any]:
        name = node["name"]
        question: dict[str, Any] = {"key": name, "type": kind,
                                    "label": self._text(node.get("label"), row, "label")
                                    or {self.default: name}}
        if help_text := self._text(node.get("hint"), row, "hint"):
            question["help"] = help_text
        codes: dict[str, Any] = {}
        if kind in ("single", "multi"):
            question["options"], codes = self._options(node, kind, row)
        field = Field(name, kind, codes)
        bind = node.get("bind", {})
        if kind != "note":
            required = YES_NO.get(str(bind.get("required", "no")).strip().lower())
            if required is None:
                self._refuse("dynamic_required", "survey", row, "required")
            question["required"] = bool(required)
            if message := self._text(bind.get("jr:requiredMsg"), row, "required_message"):
                question["required_message"] = message
        self._add_condition(question, self._relevant(node, row, conditions), row)
        if bind.get("constraint"):
            constraint = self._expression(bind["constraint"], row, "constraint", own=field)
            if constraint is not None:
                question["constraint"] = {"if": constraint}
                if message := self._text(bind.get("jr:constraintMsg"), row,
                                         "constraint_message"):
                    question["constraint"]["message"] = message
        if "default" in node and str(node["default"]).strip() != "":
            value = self._default(str(node["default"]).strip(), field)
            if value is None:
                self._refuse("default_value", "survey", row, "default",
                             value=str(node["default"]))
            else:
                question["default"] = value
        if kind != "note":
            self.fields[name] = field
        return question

    def _options(self, node: dict[str, Any], kind: str,
                 row: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        name = node["name"]
        choices = node.get("choices") or []
        names = [str(choice.get("name", "")) for choice in choices]
        numeric = kind == "single" and bool(names) and all(INTEGER_NAME.fullmatch(n)
                                                           for n in names)
        options, codes = [], {}
        list_name = str(node.get("list_name") or node.get("itemset") or "")
        for choice, choice_name in zip(choices, names, strict=True):
            choice_row = self.rows.get(("choices", list_name, choice_name))
            where = ("choices", choice_row) if choice_row else ("survey", row)
            if "media" in choice:
                self._refuse("media_label", where[0], where[1], "media")
            if kind == "single":
                code: Any = int(choice_name) if numeric else choice_name
            else:
                code = choice_name if choice_name.startswith(name) else f"{name}_{choice_name}"
                if not KEY.fullmatch(code) or code in self.keys:
                    self._refuse("choice_name", where[0], where[1], "name", name=choice_name,
                                 question=name)
                    continue
                self.keys.add(code)
            codes[choice_name] = code
            label = self._text(choice.get("label"), where[1], "label", sheet=where[0]) \
                or {self.default: choice_name}
            options.append({"code": code, "label": label})
        return options, codes

    def _default(self, text: str, field: Field) -> Any:
        kind = field.type
        if kind == "integer" and INTEGER_NAME.fullmatch(text.lstrip("+")):
            return int(text)
        if kind == "decimal" and NUMBER.fullmatch(text):
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "text" and not LABEL_REFERENCE.search(text) and "(" not in text:
            return text
        if kind in ("time", "datetime") and text.endswith(":00") and text.count(":") == 2:
            text = text[:-3]  # 09:30:00 is 09:30: the contract stores minutes
        if (kind == "date" and ISO_DATE.fullmatch(text) or kind == "time" and
                TIME.fullmatch(text) or kind == "datetime" and DATETIME.fullmatch(text)):
            return text
        if kind == "single" and text in field.codes:
            return field.codes[text]
        if kind == "multi" and all(part in field.codes for part in text.split()):
            return [field.codes[part] for part in text.split()]
        return None

    # --- conditions ---------------------------------------------------------------------

    def _relevant(self, node: dict[str, Any], row: int | None, conditions: list) -> list:
        expression = node.get("bind", {}).get("relevant")
        if not expression:
            return conditions
        condition = self._expression(expression, row, "relevant", own=None)
        return conditions if condition is None else [*conditions, condition]

    def _expression(self, expression: Any, row: int | None, column: str,
                    own: Field | None) -> dict[str, Any] | None:
        try:
            return Translator(self.fields, self.unavailable, own).translate(str(expression))
        except Untranslatable as problem:
            self._refuse(problem.kind, "survey", row, column, **problem.params)
            return None

    def _add_condition(self, question: dict[str, Any], conditions: list,
                       row: int | None) -> None:
        if not conditions:
            return
        condition = conditions[0] if len(conditions) == 1 else {"all": list(conditions)}
        if _depth(condition) > MAX_DEPTH:
            self._refuse("too_deep", "survey", row, "relevant", limit=MAX_DEPTH)
            return
        question["if"] = condition

    # --- texts --------------------------------------------------------------------------

    def _text(self, value: Any, row: int | None, column: str,
              sheet: str = "survey") -> dict[str, str] | None:
        """{code: text} for pyxform's text; None when there is none (or it is refused)."""
        if value is None or value == "" or value == {}:
            return None
        texts = {self.default: str(value)} if not isinstance(value, dict) else {
            code: str(text) for name, text in value.items()
            if (code := language_code(name)) is not None and str(text) != ""}
        for text in texts.values():
            reference = LABEL_REFERENCE.search(text)
            if reference:
                self._refuse("label_reference", sheet, row, column, name=reference.group(1))
                return None
        if self.default not in texts:
            self._refuse("missing_translation", sheet, row,
                         f"{column}::{self.languages.get(self.default, self.default)}",
                         language=self.languages.get(self.default, self.default))
            return None
        return texts

    def _row(self, path: tuple) -> int | None:
        return self.rows.get(("survey", *path))

    def _refuse(self, kind: str, sheet: str = "", row: int | None = None, column: str = "",
                /, **params: Any) -> None:
        self.refusals.append(Refusal(kind, sheet, row, column,
                                     {name: str(value) for name, value in params.items()}))


def _texts(node: Any) -> Any:
    """Every text value (label, hint, message) in pyxform's JSON, for the language list."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("label", "hint", "jr:constraintMsg", "jr:requiredMsg"):
                yield value
            elif key in ("children", "bind") or (key == "choices" and isinstance(value, list)):
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def _is_instance_id(node: dict[str, Any]) -> bool:
    """`meta/instanceID`, which pyxform adds to every form, or `meta/instanceName` (the
    settings sheet's `instance_name`): names of the submission, not answers."""
    return node.get("name") == "instanceName" or (
        node.get("name") == "instanceID" and node.get("bind", {}).get("jr:preload") == "uid")


def _depth(condition: dict[str, Any]) -> int:
    """Levels of all/any/not above the deepest comparison (a comparison is 1)."""
    deepest, stack = 0, [(condition, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        for name in ("all", "any"):
            stack.extend((part, level + 1) for part in node.get(name, ()))
        if "not" in node:
            stack.append((node["not"], level + 1))
    return deepest


def _unique(refusals: list[Refusal]) -> list[Refusal]:
    seen: list[Refusal] = []
    for refusal in refusals:
        if refusal not in seen:
            seen.append(refusal)
    return seen
