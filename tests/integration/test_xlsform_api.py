"""The XLSForm endpoint under hostile and ordinary uploads: 201 or a worded 4xx, never a 5xx.

`POST /api/v1/questionnaires/xlsform` words every refusal in the page language (Indonesian
unless ?lang=en), naming the row and column (services/survey/xlsform_words.py).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from tests.xlsform_forms import YES_NO, workbook

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xlsform" / "pyxform"
DEEP = "(" * 400 + "${a} = 1" + ")" * 400


def _upload(survey_app: Any, survey: dict[str, Any], content: bytes, filename: str = "f.xlsx",
            *, version: int = 9, lang: str = "") -> Any:
    client = survey_app.test_client()
    return client.post(f"/api/v1/questionnaires/xlsform{'?lang=' + lang if lang else ''}",
                       headers=survey["headers"]["admin"], content_type="multipart/form-data",
                       data={"key": "imported", "version": str(version),
                             "file": (io.BytesIO(content), filename)})


def _messages(response: Any) -> list[str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()["errors"]["file"]


def test_a_form_imports_and_is_stored_with_every_language(survey_app, survey) -> None:
    content = workbook([["type", "name", "label::Indonesian (id)", "label::Français (fr)",
                         "relevant"],
                        ["select_one yn", "a", "Bekerja?", "Travaille?"],
                        ["decimal", "b", "Jam", "Heures", "${a} = 'y'"]], YES_NO)
    response = _upload(survey_app, survey, content)
    assert response.status_code == 201, response.get_data(as_text=True)
    definition = response.get_json()["definition"]
    assert definition["languages"] == [{"code": "fr", "name": "Français (fr)"}]
    assert definition["sections"][0]["questions"][1]["if"] == {"key": "a", "eq": "y"}


def test_an_xls_workbook_imports(survey_app, survey) -> None:
    content = (FIXTURES / "example_xls" / "yes_or_no_question.xls").read_bytes()
    response = _upload(survey_app, survey, content, "form.xls")
    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_refusal_is_worded_in_indonesian_and_in_english(survey_app, survey) -> None:
    content = workbook([["type", "name", "label", "relevant"], ["integer", "a", "A"],
                        ["integer", "b", "B", "pulldata('x', 'y', 'z', 'w') = 1"]])
    assert _messages(_upload(survey_app, survey, content)) == [
        "Baris 3, kolom relevant: fungsi 'pulldata' belum didukung"]
    assert _messages(_upload(survey_app, survey, content, lang="en")) == [
        "Row 3, column relevant: the function 'pulldata' is not supported"]


def test_pyxforms_own_rejection_is_passed_on_with_its_row(survey_app, survey) -> None:
    content = workbook([["type", "name", "label"], ["integer", "", "A"]])
    [message] = _messages(_upload(survey_app, survey, content, lang="en"))
    assert message.startswith("Row 2: the form is not a valid XLSForm: "), message


def _formula_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label", "relevant"])
    sheet.append(["integer", "a", "=HYPERLINK(\"http://example.invalid\", \"A\")", ""])
    sheet.append(["integer", "b", "B", "=1+1"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _broken_zip() -> bytes:
    whole = workbook([["type", "name", "label"], ["integer", "a", "A"]])
    return whole[: len(whole) // 2]


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (32 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "filename", "words"),
    [
        (workbook([["type", "name", "label", "relevant"], ["integer", "a", "A"],
                   ["integer", "b", "B", DEEP]]), "f.xlsx", "bersarang lebih dari 32"),
        (workbook([["type", "name", "label", "relevant"], ["integer", "a", "A"],
                   ["integer", "b", "B", "${a} = 1 or " * 3000 + "${a} = 2"]]), "f.xlsx", None),
        (workbook([["type", "name", "label"], ["integer", "a", "A" * 30000],
                   ["text", "b" * 5000, "B"]]), "f.xlsx", "nama 'bbbb"),
        (_formula_workbook(), "f.xlsx", None),
        (_broken_zip(), "f.xlsx", "tidak dapat dibaca"),
        (_zip_bomb(), "f.xlsx", "zip bomb"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "f.xlsx", "bukan buku kerja Excel"),
        (b"type,name,label\ninteger,a,A\n", "f.csv", "bukan buku kerja Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "f.xls", "tidak dapat dibaca"),
        (b"", "f.xlsx", "bukan buku kerja Excel"),
    ],
    ids=["deep-nesting", "a-huge-relevant", "huge-cells", "formulas", "broken-zip",
         "zip-bomb", "an-image", "a-csv", "a-broken-xls", "an-empty-file"],
)
def test_a_hostile_upload_is_a_worded_4xx_or_imports_never_a_5xx(
    survey_app, survey, content: bytes, filename: str, words: str | None
) -> None:
    response = _upload(survey_app, survey, content, filename)
    assert response.status_code in (201, 422), response.get_data(as_text=True)[:500]
    if words is not None:
        assert any(words in message for message in _messages(response)), _messages(response)
    elif response.status_code == 422:
        assert all(message for message in _messages(response))
