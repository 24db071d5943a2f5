"""Importing an ODK/Kobo XLSForm built with openpyxl into the definition format."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from services.survey.questionnaire import (
    DefinitionError,
    definition_from_xlsform,
    load_definition,
    validate_answers,
)

SURVEY_HEADER = [
    "type",
    "name",
    "label::Indonesian (id)",
    "label::English (en)",
    "hint::Indonesian (id)",
    "required",
    "relevant",
    "constraint",
    "appearance",
    "$kuid",
]
CHOICES = [
    ["list_name", "name", "label::Indonesian (id)", "label::English (en)"],
    ["status", 1, "Bekerja", "Working"],
    ["status", 2, "Belum bekerja", "Not working"],
    ["status", 3, "Wiraswasta", "Self-employed"],
    ["channels", "f401", "Koran", "Newspaper"],
    ["channels", "online", "Internet", "Internet"],
]
GROUP_CONDITION = {"any": [{"key": "f8", "eq": 1}, {"key": "f8", "eq": 3}]}


def _row(type_: str, name: str = "", label: str = "", english: str = "", **cells: str) -> list:
    row = dict.fromkeys(SURVEY_HEADER, "")
    row.update(
        {
            "type": type_,
            "name": name,
            "label::Indonesian (id)": label,
            "label::English (en)": english,
        }
    )
    row.update(
        {column.replace("hint", "hint::Indonesian (id)"): value for column, value in cells.items()}
    )
    return list(row.values())


SURVEY = [
    _row("start", "start"),
    _row("begin_group", "status", "Status", "Status"),
    _row("select_one status", "f8", "Status Anda", "Your status", required="yes"),
    _row("note", "intro", "Terima kasih"),
    _row("end_group"),
    _row("begin group", "kerja", "Pekerjaan", "Work", relevant="${f8} = 1 or ${f8} = '3'"),
    _row(
        "integer",
        "f502",
        "Berapa bulan?",
        "How many months?",
        hint="0 = sebelum selesai",
        constraint=". >= 0 and . <= 120",
        appearance="numbers",
    ),
    _row(
        "select_multiple channels", "f4", "Cara mencari", "How you searched", relevant="${f8} != 2"
    ),
    _row("decimal", "f505", "Pendapatan", "Income", constraint=". > 0"),
    _row(
        "text",
        "komentar",
        "Komentar",
        relevant="selected(${f4}, 'online') and (${f502} = 0 or selected(${f8}, '1'))",
        required="TRUE()",
    ),
    _row("end group"),
    _row("integer", "f6", "Lamaran", "Applications"),
    _row("integer", "f7", "Respons", "Responses", constraint=". <= ${f6}"),
    _row("date", "mulai", "Tanggal mulai"),
]


def _xlsform(target: Any, survey: list[list], choices: list[list] | None = None) -> Any:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    for row in [SURVEY_HEADER, *survey]:
        sheet.append(row)
    listed = workbook.create_sheet("choices")
    for row in choices if choices is not None else CHOICES:
        listed.append(row)
    settings = workbook.create_sheet("settings")
    settings.append(["form_title", "form_id"])
    settings.append(["Tracer Uji", "uji"])
    workbook.save(target)
    return target


def test_an_xlsform_becomes_a_definition(tmp_path: Path) -> None:
    path = _xlsform(tmp_path / "form.xlsx", SURVEY)
    definition = definition_from_xlsform(path, key="uji", version=2)
    assert (definition["key"], definition["version"]) == ("uji", 2)
    assert definition["title"] == {"id": "Tracer Uji"}
    sections = definition["sections"]
    assert [section["key"] for section in sections] == ["status", "kerja", "section_3"]
    assert sections[1]["title"] == {"id": "Pekerjaan", "en": "Work"}
    questions = {q["key"]: q for section in sections for q in section["questions"]}
    assert list(questions) == ["f8", "f502", "f4", "f505", "komentar", "f6", "f7", "mulai"]

    assert questions["f8"] == {
        "key": "f8",
        "type": "single",
        "required": True,
        "label": {"id": "Status Anda", "en": "Your status"},
        "options": [
            {"code": 1, "label": {"id": "Bekerja", "en": "Working"}},
            {"code": 2, "label": {"id": "Belum bekerja", "en": "Not working"}},
            {"code": 3, "label": {"id": "Wiraswasta", "en": "Self-employed"}},
        ],
    }
    assert questions["f502"]["if"] == GROUP_CONDITION
    assert (questions["f502"]["min"], questions["f502"]["max"]) == (0, 120)
    assert questions["f502"]["help"] == {"id": "0 = sebelum selesai"}
    assert [option["code"] for option in questions["f4"]["options"]] == ["f401", "f4_online"]
    assert questions["f4"]["if"] == {"all": [GROUP_CONDITION, {"key": "f8", "ne": 2}]}
    assert questions["f505"]["type"] == "integer" and questions["f505"]["min"] == 1
    assert questions["komentar"]["required"] is True
    assert questions["komentar"]["if"] == {
        "all": [
            GROUP_CONDITION,
            {
                "all": [
                    {"key": "f4", "has": "f4_online"},
                    {"any": [{"key": "f502", "eq": 0}, {"key": "f8", "eq": 1}]},
                ]
            },
        ]
    }
    assert questions["f7"]["lte"] == "f6"
    assert questions["mulai"] == {
        "key": "mulai",
        "type": "date",
        "required": False,
        "label": {"id": "Tanggal mulai"},
    }


def test_the_imported_form_validates_answers(tmp_path: Path) -> None:
    questionnaire = load_definition(
        definition_from_xlsform(_xlsform(tmp_path / "form.xlsx", SURVEY), key="uji", version=1)
    )
    employed = {"f8": 1, "f502": 0, "f4": ["f4_online"], "komentar": "ok", "f6": 3, "f7": 2}
    assert validate_answers(questionnaire, employed, complete=True).errors == {}
    errors = validate_answers(
        questionnaire, {"f8": 2, "f502": 4, "f6": 1, "f7": 2}, complete=True
    ).errors
    assert set(errors) == {"f502", "f7"}
    assert errors["f502"][0].startswith("not applicable")


def test_an_xlsform_can_be_read_from_a_file_object() -> None:
    buffer = _xlsform(io.BytesIO(), SURVEY[:5])
    buffer.seek(0)
    definition = definition_from_xlsform(buffer, key="uji", version=1)
    assert [s["key"] for s in definition["sections"]] == ["status"]


@pytest.mark.parametrize(
    ("rows", "path"),
    [
        ([_row("calculate", "total")], "survey row 4, column type"),
        ([_row("begin_repeat", "anak")], "survey row 4, column type"),
        ([_row("select_one nolist", "x", "X")], "survey row 4, column type"),
        ([_row("integer", "x", "X", relevant="${f8} > 1")], "survey row 4, column relevant"),
        ([_row("integer", "x", "X", relevant="${later} = 1")], "survey row 4, column relevant"),
        ([_row("integer", "x", "X", relevant="${f8} = 9")], "survey row 4, column relevant"),
        ([_row("integer", "x", "X", relevant="not(${f8} = 1)")], "survey row 4, column relevant"),
        ([_row("integer", "x", "X", relevant="${f8} = 1 and")], "survey row 4, column relevant"),
        (
            [_row("integer", "x", "X", constraint="string-length(.) < 5")],
            "survey row 4, column constraint",
        ),
        ([_row("integer", "x", "X", constraint=". <= 1.5")], "survey row 4, column constraint"),
        ([_row("text", "x", "X", constraint=". <= 5")], "survey row 4, column constraint"),
        (
            [_row("integer", "x", "X", constraint=". <= ${later}")],
            "survey row 4, column constraint",
        ),
        ([_row("integer", "x", "X", required="maybe")], "survey row 4, column required"),
        ([_row("integer", "bad-name", "X")], "survey row 4, column name"),
        (
            [_row("begin_group", "g", "G"), _row("begin_group", "h", "H")],
            "survey row 5, column type",
        ),
    ],
)
def test_unsupported_constructs_name_the_row_and_column(
    rows: list, path: str, tmp_path: Path
) -> None:
    survey = [_row("select_one status", "f8", "Status"), _row("integer", "f6", "N"), *rows]
    with pytest.raises(DefinitionError) as raised:
        definition_from_xlsform(_xlsform(tmp_path / "form.xlsx", survey), key="uji", version=1)
    assert raised.value.path == path


def test_an_unsupported_column_names_the_row_and_column(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label", "calculation"])
    sheet.append(["integer", "a", "A", ""])
    sheet.append(["integer", "b", "B", "${a} * 2"])
    workbook.save(tmp_path / "form.xlsx")
    with pytest.raises(DefinitionError) as raised:
        definition_from_xlsform(tmp_path / "form.xlsx", key="uji", version=1)
    assert raised.value.path == "survey row 3, column calculation"


def test_a_plain_label_column_is_indonesian(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label", "label::English (en)", "label::Français (fr)"])
    sheet.append(["integer", "a", "Umur", "Age", "Âge"])
    workbook.save(tmp_path / "form.xlsx")
    definition = definition_from_xlsform(tmp_path / "form.xlsx", key="uji", version=1)
    assert definition["title"] == {"id": "uji"}
    assert definition["sections"][0]["questions"][0]["label"] == {"id": "Umur", "en": "Age"}
