"""Importing an XLSForm: pyxform reads it, the translation is exact or refuses (issue 20).

Forms are built with openpyxl in each test (tests/xlsform_forms.py). The silent changes the
issue lists each have a test here; the behaviour of each construct through the engine is in
test_xlsform_behaviour.py, the whole fixture set in test_xlsform_fixtures.py.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.survey.questionnaire import (
    DefinitionError,
    definition_from_xlsform,
    load_definition,
    validate_answers,
)
from services.survey.questionnaire.xlsform import SENTENCES, Refusal, XlsFormRefused
from tests.xlsform_forms import YES_NO, imported, questions, workbook

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xlsform" / "pyxform"
HEADER = ["type", "name", "label::Indonesian (id)", "label::English (en)", "hint::Indonesian (id)",
          "required", "required_message::Indonesian (id)", "relevant", "constraint",
          "constraint_message::Indonesian (id)", "default", "appearance"]
CHOICES = [
    ["list_name", "name", "label::Indonesian (id)", "label::English (en)"],
    ["status", 1, "Bekerja", "Working"],
    ["status", 2, "Belum bekerja", "Not working"],
    ["status", 3, "Wiraswasta", "Self-employed"],
    ["channels", "f401", "Koran", "Newspaper"],
    ["channels", "online", "Internet", "Internet"],
]


def _row(type_: str, name: str = "", label: str = "", english: str = "", **cells: str) -> list:
    row = dict.fromkeys(HEADER, "")
    row.update({"type": type_, "name": name, "label::Indonesian (id)": label,
                "label::English (en)": english})
    for column, value in cells.items():
        translated = column in ("hint", "required_message", "constraint_message")
        row[f"{column}::Indonesian (id)" if translated else column] = value
    return list(row.values())


SURVEY = [
    HEADER,
    _row("start", "start"),
    _row("begin_group", "status", "Status", "Status"),
    _row("select_one status", "f8", "Status Anda", "Your status", required="yes",
         required_message="Wajib diisi"),
    _row("note", "intro", "Terima kasih", "Thank you"),
    _row("end_group"),
    _row("begin group", "kerja", "Pekerjaan", "Work", relevant="${f8} = 1 or ${f8} = '3'"),
    _row("integer", "f502", "Berapa bulan?", "How many months?", hint="0 = sebelum selesai",
         constraint=". >= 0 and . <= 120", constraint_message="0 sampai 120",
         appearance="numbers"),
    _row("begin group", "cari", "Cara mencari", "How you searched", relevant="${f502} > 0"),
    _row("select_multiple channels", "f4", "Cara", "Ways", relevant="${f8} != 2"),
    _row("end group"),
    _row("decimal", "f505", "Pendapatan", "Income", constraint=". > 0", default="2.5"),
    _row("end group"),
    _row("integer", "f6", "Lamaran", "Applications"),
    _row("integer", "f7", "Respons", "Responses", constraint=". <= ${f6}"),
    _row("date", "mulai", "Tanggal mulai", "Start date", relevant="${f6} != ''"),
]
WORKING = {"any": [{"key": "f8", "eq": 1}, {"key": "f8", "eq": 3}]}


def _refusals(survey: list[list], choices: list[list] | None = None,
              settings: list[list] | None = None) -> list[Refusal]:
    with pytest.raises(XlsFormRefused) as raised:
        imported(survey, choices, settings)
    return raised.value.refusals


def test_an_xlsform_becomes_a_definition() -> None:
    definition = imported(SURVEY, CHOICES, [["form_title", "form_id"], ["Tracer Uji", "uji"]])
    assert (definition["key"], definition["version"]) == ("uji", 1)
    assert definition["title"] == {"id": "Tracer Uji"}
    assert definition["default_language"] == "id"
    sections = definition["sections"]
    assert [section["key"] for section in sections] == ["status", "kerja", "section_3"]
    assert sections[1]["title"] == {"id": "Pekerjaan", "en": "Work"}
    asked = questions(definition)
    assert list(asked) == ["f8", "intro", "f502", "cari", "f4", "f505", "f6", "f7", "mulai"]
    assert asked["f8"] == {
        "key": "f8", "type": "single", "required": True,
        "required_message": {"id": "Wajib diisi"},
        "label": {"id": "Status Anda", "en": "Your status"},
        "options": [
            {"code": 1, "label": {"id": "Bekerja", "en": "Working"}},
            {"code": 2, "label": {"id": "Belum bekerja", "en": "Not working"}},
            {"code": 3, "label": {"id": "Wiraswasta", "en": "Self-employed"}},
        ],
    }
    assert asked["intro"] == {"key": "intro", "type": "note",
                              "label": {"id": "Terima kasih", "en": "Thank you"}}
    assert asked["f502"]["if"] == WORKING
    assert asked["f502"]["help"] == {"id": "0 = sebelum selesai"}
    assert asked["f502"]["constraint"] == {
        "if": {"all": [{"key": ".", "ge": 0}, {"key": ".", "le": 120}]},
        "message": {"id": "0 sampai 120"}}
    # The nested group: its label is a note, its relevant joins the questions inside it.
    assert asked["cari"] == {"key": "cari", "type": "note",
                             "label": {"id": "Cara mencari", "en": "How you searched"},
                             "if": {"all": [WORKING, {"key": "f502", "gt": 0}]}}
    assert asked["f4"]["if"] == {"all": [WORKING, {"key": "f502", "gt": 0},
                                         {"key": "f8", "ne": 2}]}
    assert [option["code"] for option in asked["f4"]["options"]] == ["f401", "f4_online"]
    assert asked["f505"]["type"] == "decimal"
    assert asked["f505"]["default"] == 2.5
    assert asked["f505"]["if"] == WORKING
    assert asked["f7"]["constraint"] == {"if": {"key": ".", "le": {"ref": "f6"}}}
    assert asked["mulai"]["if"] == {"key": "f6", "answered": True}


def test_an_xlsform_can_be_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    path.write_bytes(workbook([["type", "name", "label"], ["integer", "a", "Umur"]]))
    definition = definition_from_xlsform(path, key="uji", version=3)
    assert definition["version"] == 3
    assert questions(definition)["a"]["label"] == {"und": "Umur"}


def test_an_xls_workbook_is_read_too() -> None:
    definition = definition_from_xlsform(FIXTURES / "example_xls" / "text_and_integer.xls",
                                         key="uji", version=1)
    assert {q["type"] for q in questions(definition).values()} == {"text", "integer"}


# --- the silent changes of issue 20, one test each ------------------------------------------


def test_capitalised_relevant_constraint_and_required_headers_are_read() -> None:
    definition = imported([
        ["Type", "Name", "Label", "Relevant", "Constraint", "Required"],
        ["integer", "a", "A", "", ". >= 1", "Yes"],
        ["integer", "b", "B", "${a} = 2", "", ""],
    ])
    asked = questions(definition)
    assert asked["a"]["required"] is True
    assert asked["a"]["constraint"] == {"if": {"key": ".", "ge": 1}}
    assert asked["b"]["if"] == {"key": "a", "eq": 2}


def test_a_field_compared_with_another_field_is_a_ref_not_a_literal() -> None:
    definition = imported([["type", "name", "label", "relevant"], ["text", "a", "A"],
                           ["text", "b", "B"], ["text", "c", "C", "${a} != ${b}"]])
    assert questions(definition)["c"]["if"] == {"key": "a", "ne": {"ref": "b"}}


def test_not_equal_to_the_empty_string_means_answered() -> None:
    definition = imported([["type", "name", "label", "relevant"], ["text", "t", "T"],
                           ["text", "u", "U", "${t} != ''"], ["text", "v", "V", "${t} = ''"]])
    asked = questions(definition)
    assert asked["u"]["if"] == {"key": "t", "answered": True}
    assert asked["v"]["if"] == {"key": "t", "answered": False}


def test_a_decimal_stays_a_decimal_and_2_5_is_accepted() -> None:
    questionnaire = load_definition(imported([["type", "name", "label"],
                                              ["decimal", "d", "D"]]))
    assert validate_answers(questionnaire, {"d": 2.5}, complete=True).errors == {}
    assert validate_answers(questionnaire, {"d": 2.5}, complete=True).answers == {"d": 2.5}


def test_labels_in_other_languages_are_kept_and_offered() -> None:
    definition = imported([
        ["type", "name", "label::Indonesian (id)", "label::English (en)", "label::Français (fr)",
         "hint::Français (fr)", "hint::Indonesian (id)"],
        ["integer", "a", "Umur", "Age", "Âge", "en années", "dalam tahun"]])
    question = questions(definition)["a"]
    assert question["label"] == {"id": "Umur", "en": "Age", "fr": "Âge"}
    assert question["help"] == {"id": "dalam tahun", "fr": "en années"}
    assert definition["languages"] == [{"code": "fr", "name": "Français (fr)"}]


def test_a_plain_label_beside_indonesian_does_not_overwrite_it() -> None:
    definition = imported([["type", "name", "label", "label::Indonesian (id)"],
                           ["integer", "a", "Plain", "Umur"]])
    assert questions(definition)["a"]["label"] == {"und": "Plain", "id": "Umur"}
    assert definition["default_language"] == "und"  # as pyxform: the plain column


def test_a_label_column_named_indonesia_is_indonesian() -> None:
    definition = imported([["type", "name", "label::Indonesia", "label::English"],
                           ["integer", "a", "Umur", "Age"]])
    assert questions(definition)["a"]["label"] == {"id": "Umur", "en": "Age"}


def test_two_columns_of_one_language_are_refused_not_merged() -> None:
    refusals = _refusals([["type", "name", "label::English", "label::English (en)"],
                          ["integer", "a", "Age", "Years"]])
    assert [(r.kind, r.row) for r in refusals] == [("language_twice", 1)]


def test_two_label_columns_are_refused_as_pyxform_refuses_them() -> None:
    refusals = _refusals([["type", "name", "label", "label"], ["integer", "a", "Umur", "Age"]])
    assert [(r.kind, r.row, r.column) for r in refusals] == [("duplicate_column", 1, "label")]


def test_400_nested_parentheses_are_refused_with_a_message() -> None:
    deep = "(" * 400 + "${a} = 1" + ")" * 400
    refusals = _refusals([["type", "name", "label", "relevant"], ["integer", "a", "A"],
                          ["integer", "b", "B", deep]])
    assert [(r.kind, r.row, r.column) for r in refusals] == [("too_deep", 3, "relevant")]
    assert str(refusals[0]) == ("Row 3, column relevant: conditions nested deeper than 32 "
                                "levels are not supported")


def test_groups_nested_deeper_than_32_are_refused_at_the_group_too_deep() -> None:
    survey = [["type", "name", "label"], ["integer", "a", "A"]]
    survey += [["begin_group", f"g{level}", f"G{level}"] for level in range(40)]
    survey += [["integer", "b", "B"]] + [["end_group"]] * 40
    refusals = _refusals(survey)
    assert [(r.kind, r.row) for r in refusals] == [("groups_too_deep", 35)]


def test_a_form_too_deep_for_pyxform_is_refused_not_a_crash() -> None:
    survey = [["type", "name", "label"]]
    survey += [["begin_group", f"g{level}", f"G{level}"] for level in range(2000)]
    survey += [["integer", "b", "B"]] + [["end_group"]] * 2000
    assert [r.kind for r in _refusals(survey)] == ["form_too_deep"]


def test_thirty_nested_parentheses_are_fine() -> None:
    deep = "(" * 30 + "${a} = 1" + ")" * 30
    definition = imported([["type", "name", "label", "relevant"], ["integer", "a", "A"],
                           ["integer", "b", "B", deep]])
    assert questions(definition)["b"]["if"] == {"key": "a", "eq": 1}


def test_the_choices_sheet_may_say_list_name_in_any_spelling() -> None:
    for header in ("list name", "LIST_NAME", "list_name"):
        definition = imported([["type", "name", "label"], ["select_one yn", "a", "A"]],
                              [[header, "name", "label"], ["yn", "y", "Ya"], ["yn", "n", "Tidak"]])
        assert [o["code"] for o in questions(definition)["a"]["options"]] == ["y", "n"]


# --- more of the supported subset ----------------------------------------------------------


def test_or_other_adds_the_other_choice_and_its_text_question() -> None:
    definition = imported([["type", "name", "label"], ["select_one yn or_other", "a", "A"]],
                          YES_NO)
    asked = questions(definition)
    assert [o["code"] for o in asked["a"]["options"]] == ["y", "n", "other"]
    assert asked["a_other"]["type"] == "text"
    assert asked["a_other"]["if"] == {"key": "a", "eq": "other"}


def test_functions_and_not_are_translated() -> None:
    definition = imported([
        ["type", "name", "label", "relevant", "constraint"],
        ["select_multiple yn", "m", "M", "", "count-selected(.) <= 1"],
        ["text", "t", "T", "selected(${m}, 'y') and not(${m} = '')", "string-length(.) < 10"],
        ["integer", "i", "I", "3 < string-length(${t}) or count-selected(${m}) >= 2"],
    ], YES_NO)
    asked = questions(definition)
    assert asked["m"]["constraint"] == {"if": {"count": ".", "le": 1}}
    assert asked["t"]["if"] == {"all": [{"key": "m", "has": "m_y"},
                                        {"not": {"key": "m", "answered": False}}]}
    assert asked["t"]["constraint"] == {"if": {"length": ".", "lt": 10}}
    assert asked["i"]["if"] == {"any": [{"length": "t", "gt": 3}, {"count": "m", "ge": 2}]}


def test_time_datetime_and_acknowledge_are_imported() -> None:
    definition = imported([["type", "name", "label", "default"],
                           ["time", "t", "T", "09:30:00"], ["datetime", "dt", "DT"],
                           ["acknowledge", "ok", "OK?"]])
    asked = questions(definition)
    assert [asked[key]["type"] for key in ("t", "dt", "ok")] == ["time", "datetime",
                                                                 "acknowledge"]
    assert asked["t"]["default"] == "09:30"


def test_an_acknowledge_compared_with_ok_means_ticked() -> None:
    definition = imported([["type", "name", "label", "relevant"], ["acknowledge", "ok", "OK?"],
                           ["text", "a", "A", "${ok} = 'OK'"], ["text", "b", "B", "${ok} != 'OK'"]])
    asked = questions(definition)
    assert asked["a"]["if"] == {"key": "ok", "answered": True}
    assert asked["b"]["if"] == {"key": "ok", "answered": False}


def test_metadata_is_skipped() -> None:
    definition = imported([["type", "name", "label"], ["start", "start"], ["deviceid", "d"],
                           ["today", "today"], ["integer", "a", "A"], ["end", "end"]])
    assert list(questions(definition)) == ["a"]


# --- refusals, each naming its row and column --------------------------------------------


REFUSAL_HEADER = ["type", "name", "label", "relevant", "constraint", "required", "default",
                  "calculation"]
EARLIER = [["integer", "a", "A"], ["start", "start"], ["text", "t", "T"],
           ["select_one yn", "s", "S"], ["select_multiple yn", "m", "M"], ["note", "n", "N"]]


def _cells(type_: str, name: str, label: str = "", **cells: str) -> list[str]:
    row = dict.fromkeys(REFUSAL_HEADER, "")
    row.update(type=type_, name=name, label=label, **cells)
    return list(row.values())


@pytest.mark.parametrize(
    ("rows", "kind", "column"),
    [
        ([_cells("begin_repeat", "r", "R"), _cells("integer", "x", "X"), ["end_repeat"]],
         "repeat", "type"),
        ([_cells("image", "x", "X")], "media_question", "type"),
        ([_cells("geopoint", "x", "X")], "media_question", "type"),
        ([_cells("barcode", "x", "X")], "media_question", "type"),
        ([_cells("select_one_from_file places.csv", "x", "X")], "external_choices", "type"),
        ([_cells("calculate", "x", calculation="1 + 1")], "calculate", "type"),
        ([_cells("integer", "x", "X", calculation="1 + 1")], "calculate", "type"),
        ([_cells("range", "x", "X")], "unsupported_type", "type"),
        ([_cells("integer", "x", "X", relevant="pulldata('a', 'b', 'c', 'd') = 1")],
         "unsupported_function", "relevant"),
        ([_cells("integer", "x", "X", constraint=". < today()")], "unsupported_function",
         "constraint"),
        ([_cells("integer", "x", "X", relevant="${a} + 1 = 2")], "unsupported_expression",
         "relevant"),
        ([_cells("integer", "x", "X", relevant="${later} = 1"), _cells("integer", "later", "L")],
         "later_reference", "relevant"),
        ([_cells("integer", "x", "X", relevant="${start} != ''")], "metadata_reference",
         "relevant"),
        ([_cells("integer", "x", "X", relevant="${t} > 'b'")], "text_comparison", "relevant"),
        ([_cells("integer", "x", "X", relevant="${s} = 'z'")], "not_a_choice", "relevant"),
        ([_cells("integer", "x", "X", relevant="${m} = 'y'")], "multi_equality", "relevant"),
        ([_cells("integer", "x", "X", relevant="count-selected(${s}) = 1")], "count_not_multi",
         "relevant"),
        ([_cells("integer", "x", "X", relevant="${a} = 'abc'")], "not_a_number", "relevant"),
        ([_cells("integer", "x", "X", relevant="${a} = ${t}")], "field_types_differ",
         "relevant"),
        ([_cells("date", "x", "X", constraint=". > '2020-01-01'")], "unsupported_comparison",
         "constraint"),
        ([_cells("time", "x", "X", constraint=". = '10:00'")], "unsupported_comparison",
         "constraint"),
        ([_cells("time", "x", "X", constraint=". = ${x}")], "unsupported_comparison",
         "constraint"),
        ([_cells("integer", "x", "X", required="${a} = 1")], "dynamic_required", "required"),
        ([_cells("integer", "x", "X", default="abc")], "default_value", "default"),
        ([_cells("integer", "x", "${a} tahun")], "label_reference", "label"),
        ([_cells("integer", "x-y", "X")], "name_not_key", "name"),
        ([_cells("integer", "x", "X", relevant="${n} = ''")], "unknown_reference", "relevant"),
        ([_cells("integer", "x", "X", relevant="(" * 40 + "${a} = 1" + ")" * 40)], "too_deep",
         "relevant"),
    ],
)
def test_an_unsupported_feature_is_refused_naming_its_row_and_column(
    rows: list, kind: str, column: str
) -> None:
    refusals = _refusals([REFUSAL_HEADER, *EARLIER, *rows], YES_NO)
    assert (kind, len(EARLIER) + 2, column) in [(r.kind, r.row, r.column) for r in refusals], \
        refusals


def test_every_refusal_is_listed_not_only_the_first() -> None:
    refusals = _refusals([["type", "name", "label"], ["image", "p", "P"], ["integer", "a", "A"],
                          ["audio", "q", "Q"]])
    assert [(r.kind, r.row) for r in refusals] == [("media_question", 2),
                                                   ("media_question", 4)]


def test_a_choice_filter_is_refused() -> None:
    refusals = _refusals([["type", "name", "label", "choice_filter"],
                          ["select_one yn", "a", "A", "name != 'n'"]], YES_NO)
    assert [(r.kind, r.row, r.column) for r in refusals] == [("choice_filter", 2,
                                                              "choice_filter")]


def test_a_refusal_is_a_definition_error_for_old_callers() -> None:
    with pytest.raises(DefinitionError) as raised:
        imported([["type", "name", "label"], ["image", "p", "P"]])
    assert raised.value.path == "survey row 2, column type"
    assert raised.value.errors == ["Row 2, column type: 'photo' questions (photos, audio, "
                                   "video, files, locations, barcodes) are not supported"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"type,name\ntext,q1\n", "not an Excel workbook"),
        (b"PK\x03\x04 not really a zip", "damaged"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "little-endian"),
    ],
)
def test_a_file_that_is_not_a_workbook_is_refused(content: bytes, words: str) -> None:
    with pytest.raises(XlsFormRefused) as raised:
        definition_from_xlsform(io.BytesIO(content), key="uji", version=1)
    assert raised.value.refusals[0].kind in ("not_a_workbook", "unreadable_workbook")
    assert words in str(raised.value)


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (16 * 1024 * 1024))
    with pytest.raises(XlsFormRefused) as raised:
        definition_from_xlsform(io.BytesIO(out.getvalue()), key="uji", version=1)
    assert "zip bomb" in str(raised.value)


# --- forms imported before the change keep working ----------------------------------------

# What the first importer (hand-written over openpyxl) stored for a small form: integer
# bounds as min/max, `lte`, Indonesian/English texts and no default_language.
OLD_IMPORT: dict[str, Any] = {
    "key": "uji", "version": 2, "title": {"id": "Tracer Uji"},
    "sections": [
        {"key": "status", "title": {"id": "Status", "en": "Status"}, "questions": [
            {"key": "f8", "type": "single", "required": True,
             "label": {"id": "Status Anda", "en": "Your status"},
             "options": [{"code": 1, "label": {"id": "Bekerja", "en": "Working"}},
                         {"code": 2, "label": {"id": "Belum bekerja", "en": "Not working"}}]}]},
        {"key": "kerja", "title": {"id": "Pekerjaan", "en": "Work"}, "questions": [
            {"key": "f502", "type": "integer", "required": False, "label": {"id": "Bulan"},
             "if": {"key": "f8", "eq": 1}, "min": 0, "max": 120},
            {"key": "f4", "type": "multi", "required": False, "label": {"id": "Cara"},
             "if": {"all": [{"key": "f8", "eq": 1}, {"key": "f8", "ne": 2}]},
             "options": [{"code": "f401", "label": {"id": "Koran"}},
                         {"code": "f4_online", "label": {"id": "Internet"}}]},
            {"key": "f6", "type": "integer", "required": False, "label": {"id": "Lamaran"}},
            {"key": "f7", "type": "integer", "required": False, "label": {"id": "Respons"},
             "lte": "f6"}]},
    ],
}


def test_a_definition_the_old_importer_produced_still_loads_and_validates() -> None:
    questionnaire = load_definition(OLD_IMPORT)
    good = {"f8": 1, "f502": 3, "f4": ["f4_online"], "f6": 3, "f7": 2}
    assert validate_answers(questionnaire, good, complete=True).errors == {}
    errors = validate_answers(questionnaire, {"f8": 1, "f502": 121, "f6": 1, "f7": 2},
                              complete=True).errors
    assert set(errors) == {"f502", "f7"}


# --- any expression: a condition the definition accepts, or a refusal ----------------------

TOKENS = ["${a}", "${t}", "${s}", "${m}", "${later}", ".", "'y'", "'1'", "''", "2", "2.5", "-1",
          "=", "!=", "<", "<=", ">", ">=", "and", "or", "not(", "(", ")", ",", "selected(",
          "count-selected(", "string-length(", "today()", "+", "..", "${", "'", "x"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_any_expression_is_translated_into_a_loadable_condition_or_refused(
    tokens: list[str],
) -> None:
    from services.survey.questionnaire.xlsform_expressions import (
        Field,
        Translator,
        Untranslatable,
    )

    fields = {"a": Field("a", "integer"), "t": Field("t", "text"),
              "s": Field("s", "single", {"y": "y", "1": "1"}),
              "m": Field("m", "multi", {"y": "m_y"})}
    expression = " ".join(tokens)
    try:
        condition = Translator(fields, {"later": "later_reference"},
                               own=Field("x", "integer")).translate(expression)
    except Untranslatable as refusal:
        assert refusal.kind in SENTENCES
        return
    definition = {"key": "uji", "version": 1, "title": {"id": "Uji"}, "sections": [
        {"key": "s1", "title": {"id": "S"}, "questions": [
            {"key": "a", "type": "integer", "label": {"id": "A"}},
            {"key": "t", "type": "text", "label": {"id": "T"}},
            {"key": "s", "type": "single", "label": {"id": "S"},
             "options": [{"code": "y", "label": {"id": "Y"}}, {"code": "1", "label": {"id": "1"}}]},
            {"key": "m", "type": "multi", "label": {"id": "M"},
             "options": [{"code": "m_y", "label": {"id": "Y"}}]},
            {"key": "x", "type": "integer", "label": {"id": "X"},
             "constraint": {"if": condition}}]}]}
    load_definition(definition)
