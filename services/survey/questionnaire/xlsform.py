"""Import an ODK/Kobo XLSForm: pyxform reads it, Jejak translates it exactly or refuses.

Two outcomes only (issue 20). pyxform, ODK's own converter, reads the workbook (`.xlsx`
or `.xls`), so every header spelling, alias, language column and choices sheet it accepts
is read as ODK reads it; what pyxform rejects is refused with its message and row. Its
JSON is then translated (xlsform_translation.py) into a definition that `load_definition`
accepts, or the import is refused with one `Refusal` per unsupported feature, each naming
its sheet, row and column. Nothing is dropped or changed silently.

Before pyxform opens anything the bytes are checked: an `.xlsx` is a ZIP archive whose
central directory is read first, so a zip bomb is refused before a byte is inflated
(shared/uploads.py); an `.xls` is an OLE2 compound file; anything else is not a workbook.
Any exception from pyxform or its readers (a broken file, a RecursionError on a
pathological cell) becomes a refusal: importing never fails with a 500.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from services.survey.questionnaire.definition import DefinitionError, load_definition
from shared.uploads import OLE2_MAGIC, UploadRejected, check_spreadsheet

ZIP_MAGIC = b"PK\x03\x04"
MAX_WORKBOOK_BYTES = 32 * 1024 * 1024  # an .xls is read whole by xlrd; XLSForms are small
PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]\s*")

def N_(text: str) -> str:  # noqa: N802 - gettext's marker: pybabel extracts the msgid
    """Mark an English sentence for the catalogue; it is translated where it is worded."""
    return text


# The English sentence of each refusal kind, also its msgid: services/survey/xlsform_words.py
# words it in the page language. Where the refusal is goes in front (PLACES).
SENTENCES: dict[str, str] = {
    "not_a_workbook": N_("the file is not an Excel workbook (.xlsx or .xls)"),
    "unreadable_workbook": N_("the Excel workbook cannot be read: %(reason)s"),
    "workbook_too_large": N_("the workbook is larger than %(limit)s MiB"),
    "pyxform": N_("the form is not a valid XLSForm: %(message)s"),
    "duplicate_column": N_("the column '%(column)s' appears twice"),
    "no_survey_sheet": N_("the workbook has no 'survey' sheet"),
    "repeat": N_("repeats and loops ('%(name)s') are not supported"),
    "media_question": N_("'%(type)s' questions (photos, audio, video, files, locations, "
                         "barcodes) are not supported"),
    "media_label": N_("images, audio and video in labels are not supported"),
    "external_choices": N_("choices from an external file or sheet are not supported"),
    "calculate": N_("calculations ('%(name)s') are not supported"),
    "choice_filter": N_("choice filters are not supported"),
    "unsupported_type": N_("the question type '%(type)s' is not supported"),
    "unsupported_column": N_("the column '%(column)s' is not supported"),
    "unsupported_function": N_("the function '%(function)s' is not supported"),
    "unsupported_expression": N_("this expression is not supported (near '%(expression)s')"),
    "unsupported_comparison": N_("answers of type %(type)s ('%(name)s') cannot be compared "
                                 "this way"),
    "later_reference": N_("'%(name)s' is asked later in the form; a condition may only name "
                          "questions asked before it"),
    "metadata_reference": N_("'%(name)s' is form metadata, which this form does not keep"),
    "unknown_reference": N_("'%(name)s' is not a question of this form that can be used here"),
    "text_comparison": N_("'%(name)s' is a text or a choice: only = and != compare it"),
    "multi_equality": N_("'%(name)s' allows several choices: use selected(${%(name)s}, '...')"),
    "field_types_differ": N_("'%(name)s' and '%(other)s' are different kinds of answers"),
    "not_a_choice": N_("'%(value)s' is not a choice of '%(name)s'"),
    "not_a_number": N_("'%(name)s' is a number; '%(value)s' is not"),
    "not_a_date": N_("'%(name)s' is a date; '%(value)s' is not a date written YYYY-MM-DD"),
    "count_not_multi": N_("count-selected() needs a select_multiple question, "
                          "'%(name)s' is not one"),
    "selected_not_select": N_("selected() needs a select_one or select_multiple question, "
                              "'%(name)s' is not one"),
    "too_deep": N_("conditions nested deeper than %(limit)s levels are not supported"),
    "groups_too_deep": N_("groups nested deeper than %(limit)s levels are not supported"),
    "form_too_deep": N_("the form nests too deeply to be read"),
    "dynamic_required": N_("'required' must be yes or no, not a condition"),
    "default_value": N_("the default '%(value)s' does not fit this question"),
    "name_not_key": N_("the name '%(name)s' must start with a letter and hold only letters, "
                       "digits and _ (at most 64)"),
    "duplicate_name": N_("the name '%(name)s' is used twice in the form"),
    "label_reference": N_("labels that show earlier answers (${%(name)s}) are not supported"),
    "missing_translation": N_("the text in the form's default language (%(language)s) is "
                              "missing"),
    "unknown_language": N_("the language '%(language)s' is not recognised; write it as "
                           "'Name (code)', e.g. 'Français (fr)'"),
    "language_twice": N_("the languages '%(other)s' and '%(language)s' are both %(code)s: "
                         "keep one"),
    "choice_name": N_("the choice '%(name)s' cannot become an answer key of '%(question)s'"),
    "no_questions": N_("the form has no question that can be answered or shown"),
    "definition_rejected": N_("the translated form breaks a rule of Jejak's format: %(message)s"),
    "indicator_input": N_("'%(value)s' is not an indicator input this question can feed "
                          "(see \"Importing an XLSForm\" in the questionnaire guide)"),
}


PLACES: dict[tuple[bool, bool, bool], str] = {  # (other sheet, row, column) -> template
    (False, True, True): N_("Row %(row)s, column %(column)s: %(problem)s"),
    (False, True, False): N_("Row %(row)s: %(problem)s"),
    (False, False, True): N_("Column %(column)s: %(problem)s"),
    (True, True, True): N_("Sheet %(sheet)s, row %(row)s, column %(column)s: %(problem)s"),
    (True, True, False): N_("Sheet %(sheet)s, row %(row)s: %(problem)s"),
    (True, False, True): N_("Sheet %(sheet)s, column %(column)s: %(problem)s"),
    (True, False, False): N_("Sheet %(sheet)s: %(problem)s"),
    (False, False, False): "%(problem)s",
}


@dataclass(frozen=True)
class Refusal:
    """One reason an XLSForm is refused: what (`kind`, `params`) and where."""

    kind: str
    sheet: str = ""
    row: int | None = None
    column: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def place(self) -> str:
        """Where, for DefinitionError's path: "survey row 12, column relevant"."""
        parts = [f"{self.sheet or 'survey'} row {self.row}" if self.row is not None else "",
                 f"column {self.column}" if self.column else ""]
        return ", ".join(part for part in parts if part)

    def worded(self, sentence: str | None = None, place: str | None = None) -> str:
        """The refusal as a sentence; `sentence` and `place` are SENTENCES[kind] and the
        PLACES template, translated (English when not given)."""
        template = place or PLACES[self.place_key]
        problem = (sentence or SENTENCES[self.kind]) % _Params(self.params)
        return template % {"sheet": self.sheet, "row": self.row, "column": self.column,
                           "problem": problem}

    @property
    def place_key(self) -> tuple[bool, bool, bool]:
        return (bool(self.sheet) and self.sheet != "survey", self.row is not None,
                bool(self.column))

    def __str__(self) -> str:
        return self.worded()


class _Params(dict):
    """A refusal's parameters; one a sentence names but the refusal lacks reads "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


class XlsFormRefused(DefinitionError):
    """The XLSForm is refused; `.refusals` lists every reason with its place."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__([(refusal.place, str(refusal)) for refusal in refusals])
        self.refusals = refusals
        self.errors = [str(refusal) for refusal in refusals]


def definition_from_xlsform(
    path_or_file: str | Path | IO[bytes], *, key: str, version: int
) -> dict[str, Any]:
    """Read an XLSForm and return a definition that `load_definition` accepts.

    Raises XlsFormRefused (a DefinitionError) naming every reason it cannot be imported.
    """
    from services.survey.questionnaire.xlsform_translation import translate

    content, file_type = _read_workbook(path_or_file)
    pyxform_json, rows = read_with_pyxform(content, file_type)
    definition, refusals = translate(pyxform_json, rows, key=key, version=version)
    if refusals:
        raise XlsFormRefused(refusals)
    try:
        load_definition(definition)
    except DefinitionError as error:
        raise XlsFormRefused([Refusal("definition_rejected", params={"message": str(error)})]
                             ) from None
    return definition


def _read_workbook(path_or_file: str | Path | IO[bytes]) -> tuple[bytes, str]:
    """The workbook's bytes and "xlsx" or "xls", judged by content; else XlsFormRefused."""
    try:
        if isinstance(path_or_file, str | Path):
            with open(path_or_file, "rb") as file:
                content = file.read(MAX_WORKBOOK_BYTES + 1)
        else:
            content = path_or_file.read(MAX_WORKBOOK_BYTES + 1)
    except OSError as error:
        raise _refused("unreadable_workbook", reason=str(error.strerror or error)) from None
    if len(content) > MAX_WORKBOOK_BYTES:
        raise _refused("workbook_too_large", limit=str(MAX_WORKBOOK_BYTES // 1_048_576))
    if content.startswith(OLE2_MAGIC):
        return content, "xls"
    if not content.startswith(ZIP_MAGIC):
        raise _refused("not_a_workbook")
    try:
        check_spreadsheet(io.BytesIO(content), "form.xlsx")
    except UploadRejected as error:
        raise _refused("unreadable_workbook", reason=str(error)) from None
    return content, "xlsx"


def _refused(kind: str, **params: str) -> XlsFormRefused:
    return XlsFormRefused([Refusal(kind, params=params)])


def read_with_pyxform(content: bytes, file_type: str) -> tuple[dict[str, Any], dict]:
    """pyxform's JSON for the workbook and the survey/choices row of each element.

    The whole conversion to an XForm runs, so every check ODK's converter makes (names,
    references, choice lists) has passed when this returns. Rows: {("survey", path of
    names): row} for questions and groups, {("choices", list, name): row} for choices.
    """
    from pyxform.builder import create_survey_element_from_dict
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    try:
        workbook = get_xlsform(io.BytesIO(content), file_type=f".{file_type}")
        sheets = copy.deepcopy(workbook)
        pyxform_json = workbook_to_json(
            workbook_dict=workbook, fallback_form_name=None, warnings=[])
        survey = create_survey_element_from_dict(copy.deepcopy(pyxform_json))
        survey.to_xml(validate=False, warnings=[])
    except Exception as error:  # noqa: BLE001 - pyxform's, xlrd's or openpyxl's: all refused
        raise XlsFormRefused([_pyxform_refusal(error)]) from None
    try:
        rows = _row_numbers(sheets)
    except Exception:  # noqa: BLE001 - pyxform read the form: refusals go without rows
        rows = {}
    return pyxform_json, rows


def _pyxform_refusal(error: Exception) -> Refusal:
    if isinstance(error, RecursionError):
        return Refusal("form_too_deep")
    message = " ".join(str(error).split()) or type(error).__name__
    duplicate = re.fullmatch(r"Duplicate column header: (.*)", message)
    if duplicate:
        return Refusal("duplicate_column", "survey", 1, duplicate.group(1),
                       {"column": duplicate.group(1)})
    if "You must have a sheet named 'survey'" in message:
        return Refusal("no_survey_sheet")
    from pyxform.errors import PyXFormError

    if not isinstance(error, PyXFormError) or message.startswith(
            ("Error reading .xls", "Argument 'definition'")):  # xlrd's, openpyxl's, zipfile's
        return Refusal("unreadable_workbook", params={"reason": message})
    row = PYXFORM_ROW.search(message)
    sheet = "choices" if "'choices' sheet" in message or "choices sheet" in message else (
        "survey" if row else "")
    return Refusal("pyxform", sheet, int(row.group(1)) if row else None, "",
                   {"message": PYXFORM_ROW.sub("", message)})


def _row_numbers(workbook: Any) -> dict[tuple, int]:
    """Where each survey element and choice is on its sheet, as pyxform counts rows."""
    from pyxform import aliases, constants
    from pyxform.parsing.sheet_headers import dealias_and_group_headers
    from pyxform.question import MultipleChoiceQuestion, Option
    from pyxform.xls2json import dealias_types

    rows: dict[tuple, int] = {}
    if workbook.survey:
        survey = dealias_and_group_headers(
            sheet_name=constants.SURVEY, sheet_data=workbook.survey,
            sheet_header=workbook.survey_header, header_aliases=aliases.survey_header,
            header_columns=set(MultipleChoiceQuestion.get_slot_names()))
        path: list[str] = []
        for number, row in enumerate(dealias_types(dict_array=survey.data), start=2):
            kind = str(row.get("type", "")).strip().lower()
            if re.match(r"end[ _]", kind):
                if path:
                    path.pop()
                continue
            name = str(row.get("name", "")).strip()
            rows.setdefault(("survey", *path, name), number)
            if re.match(r"begin[ _]", kind):
                path.append(name)
    if workbook.choices:
        choices = dealias_and_group_headers(
            sheet_name=constants.CHOICES, sheet_data=workbook.choices,
            sheet_header=workbook.choices_header, header_aliases=aliases.list_header,
            header_columns=set(Option.get_slot_names()))
        for number, row in enumerate(choices.data, start=2):
            list_name = str(row.get(constants.LIST_NAME_S) or row.get(constants.LIST_NAME_U)
                            or "").strip()
            rows.setdefault(("choices", list_name, str(row.get("name", "")).strip()), number)
    return rows

