"""The "Impor XLSForm" page: upload a workbook, read it in words, save it as a new version.

The forms are built with openpyxl here; the page is driven through the survey app as an
admin signs in, in Indonesian (the default language).
"""

from __future__ import annotations

import dataclasses
import html
import io
import re

import pytest
from sqlalchemy import select

from shared import db
from shared.auth import create_user
from shared.models import AuditEntry
from shared.models import Questionnaire as QuestionnaireRow
from tests.integration.test_web_access import csrf_of
from tests.xlsforms import SURVEY, workbook

ASKED_WHEN = ("Ditanyakan bila “Status” = “Bekerja” dan “Internet” dipilih pada "
              "“Cara mencari kerja”")



@pytest.fixture()
def admin(survey_app, survey, settings, tmp_path):
    survey_app.config["JEJAK_SETTINGS"] = dataclasses.replace(settings, home=tmp_path / "home")
    with survey_app.app_context():
        create_user(db.session(), "kepala", "kata-sandi-kepala", "admin")
        db.session().commit()
    client = survey_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "kepala", "password": "kata-sandi-kepala",
                                       "csrf_token": token}).status_code == 302
    return client


def upload(client, data: bytes, name: str = "uji.xlsx", **fields: str):
    token = csrf_of(client.get("/questionnaires/import").get_data(as_text=True))
    return client.post("/questionnaires/import",
                       data={"csrf_token": token, "file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


def text_of(response) -> str:
    """The page as words: tags dropped, entities read, runs of space made one."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).split())


def save(client, preview_url: str, **fields: str):
    page = client.get(preview_url).get_data(as_text=True)
    form = {name: value for name, value in
            re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page)}
    form.update(fields)
    return client.post(preview_url.split("?")[0], data=form)


def proposed(page) -> tuple[str, str]:
    """The key and version the save form proposes."""
    body = page.get_data(as_text=True)
    return (re.search(r'id="key" name="key" value="([^"]*)"', body).group(1),
            re.search(r'id="version" name="version" value="([^"]*)"', body).group(1))


def proposed_key(page) -> str | None:
    found = re.search(r'id="key" name="key" value="([^"]*)"', page.get_data(as_text=True))
    return found.group(1) if found else None


def versions(survey_app, key: str) -> list[int]:
    with survey_app.app_context():
        return list(db.session().scalars(select(QuestionnaireRow.version)
                                         .where(QuestionnaireRow.key == key)))


def test_the_survey_page_links_to_the_import_for_an_admin(admin) -> None:
    assert 'href="/questionnaires/import"' in admin.get("/").get_data(as_text=True)


def test_the_preview_shows_sections_questions_and_conditions_in_indonesian(admin) -> None:
    done = upload(admin, workbook())
    assert done.status_code == 302
    preview_url = done.headers["Location"]
    page = admin.get(preview_url)
    assert page.status_code == 200
    assert proposed(page) == ("uji_xlsform", "1")  # the form_id, the first version
    words = text_of(page)
    assert "Uji XLSForm" in words
    assert "Data diri" in words and "Umur" in words
    assert ASKED_WHEN in words
    assert "Ditanyakan bila “Status” = “Bekerja”" in words  # kanal's own condition
    assert "pilih satu" in words and "wajib" in words
    assert "Pilihan: “Bekerja”, “Belum bekerja”" in words
    assert "Boleh kosong" in words  # the hint
    assert re.search(r"15\D[^.]*70", words)  # the constraint's bounds, in words
    assert "Bahasa: Bahasa Indonesia, Bahasa Inggris." in words
    assert "1 bagian" in words or "2 bagian" in words
    assert "Simpan sebagai versi baru" in words
    english = text_of(admin.get(preview_url + "&lang=en"))
    assert ("Asked when “Status” = “Working” and “Internet” is ticked in “How you searched”"
            in english)


def test_saving_creates_the_version_and_audits_it(admin, survey_app) -> None:
    preview_url = upload(admin, workbook()).headers["Location"]
    done = save(admin, preview_url)
    assert done.status_code == 302
    assert versions(survey_app, "uji_xlsform") == [1]
    listing = text_of(admin.get(done.headers["Location"]))
    assert "Tersimpan: Uji XLSForm, kunci uji_xlsform, versi 1" in listing
    with survey_app.app_context():
        entry = db.session().scalar(select(AuditEntry)
                                    .where(AuditEntry.action == "questionnaire.import"))
    assert (entry.actor, entry.target, entry.details) == ("kepala", "uji_xlsform v1",
                                                          {"file": "uji.xlsx"})
    # the upload is gone once saved
    assert admin.get(preview_url).status_code == 404
    # the next upload of the same form proposes the next version
    assert proposed(admin.get(upload(admin, workbook()).headers["Location"])) == (
        "uji_xlsform", "2")


def test_a_title_longer_than_the_list_column_is_saved_cut_and_whole_in_the_definition(
        admin, survey_app) -> None:
    title = " ".join(["Survei Pelacakan Alumni"] * 20)  # 479 characters
    preview_url = upload(admin, workbook(title=title)).headers["Location"]
    assert save(admin, preview_url).status_code == 302
    with survey_app.app_context():
        row = db.session().scalar(select(QuestionnaireRow)
                                  .where(QuestionnaireRow.key == "uji_xlsform"))
    assert row.title == title[:200]
    assert row.definition["title"]["id"] == title


def test_a_version_that_exists_is_refused_in_words(admin, survey_app) -> None:
    first = upload(admin, workbook()).headers["Location"]
    second = upload(admin, workbook()).headers["Location"]
    assert save(admin, first).status_code == 302
    refused = save(admin, second, version="1")
    assert refused.status_code == 409
    assert ("Versi 1 dari uji_xlsform sudah ada; versi tidak pernah diubah. Simpan formulir "
            "ini sebagai versi 2.") in text_of(refused)
    assert versions(survey_app, "uji_xlsform") == [1]
    # the preview says so before anyone presses save, and proposes the free version
    again = admin.get(second + "&version=1")
    assert "Versi 1 dari uji_xlsform sudah ada" in text_of(again)
    assert proposed(again) == ("uji_xlsform", "2")


def test_a_refused_form_lists_its_refusal_naming_the_row_and_saves_nothing(
        admin, survey_app) -> None:
    broken = [*SURVEY, ["geopoint", "lokasi", "Lokasi", "Location", "", "", "", ""]]
    preview_url = upload(admin, workbook(broken)).headers["Location"]
    page = admin.get(preview_url)
    assert page.status_code == 422
    refusals = re.findall(r"<li>([^<]*)</li>", page.get_data(as_text=True))
    assert any(re.search(r"\b8\b", line) for line in refusals), refusals  # survey row 8
    # In the page's language, naming the row (xlsform_words): "Baris 8, kolom type: …".
    assert any(line.startswith("Baris 8") and "geopoint" in line for line in refusals), refusals
    words = text_of(page)
    assert "Tidak ada yang disimpan" in words
    assert "Simpan sebagai versi baru" not in words
    assert save(admin, preview_url, key="uji_xlsform", version="1").status_code == 422
    assert versions(survey_app, "uji_xlsform") == []


@pytest.mark.parametrize(("data", "name"), [
    (b"type,name\ntext,a\n", "form.csv"),
    (b"not a workbook at all", "form.xlsx"),
    (b"GIF89a not an xls", "form.xls"),
])
def test_what_is_not_a_workbook_is_refused_on_the_upload_page(admin, data, name) -> None:
    refused = upload(admin, data, name)
    assert refused.status_code == 422
    assert "Berkas tidak dapat dibaca sebagai buku kerja Excel" in text_of(refused)


def test_a_damaged_xls_is_kept_and_refused_in_words_not_a_500(admin, survey_app) -> None:
    damaged = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024  # OLE2, then nothing
    preview_url = upload(admin, damaged, "lama.xls").headers["Location"]
    page = admin.get(preview_url)
    assert page.status_code == 422
    assert re.findall(r"<li>([^<]+)</li>", page.get_data(as_text=True))  # why, in a line
    assert "Tidak ada yang disimpan" in text_of(page)
    assert proposed_key(page) is None  # nothing to save, so no form
    assert versions(survey_app, "lama") == []


def test_a_bad_key_or_version_is_named_in_words(admin, survey_app) -> None:
    assert "Kunci: gunakan huruf kecil" in text_of(upload(admin, workbook(), key="Bukan Kunci"))
    assert "Versi: bilangan bulat" in text_of(upload(admin, workbook(), version=str(2**64)))
    # a key typed on upload is kept; without a form_id the file name gives the key
    typed = upload(admin, workbook(), key="tracer-bontang", version="7").headers["Location"]
    assert proposed(admin.get(typed)) == ("tracer-bontang", "7")
    preview_url = upload(admin, workbook()).headers["Location"]
    for huge in (str(2**64), str(-(2**63) - 1), str(2**31), "²"):
        assert save(admin, preview_url, version=huge).status_code == 422, huge
        assert admin.get(f"{preview_url}&version={huge}").status_code == 422, huge
    refused = save(admin, preview_url, version="0")
    assert refused.status_code == 422
    words = text_of(refused)
    assert "Versi: bilangan bulat dari 1 sampai 2147483647" in words
    assert ASKED_WHEN in words  # the form is still shown, to fix the version and save
    assert versions(survey_app, "uji_xlsform") == []


def test_an_operator_cannot_import(survey_app, survey, admin) -> None:
    with survey_app.app_context():
        create_user(db.session(), "petugas", "kata-sandi-petugas", "operator")
        db.session().commit()
    client = survey_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "petugas", "password": "kata-sandi-petugas",
                                "csrf_token": token})
    assert client.get("/questionnaires/import").status_code == 403
    assert 'href="/questionnaires/import"' not in client.get("/").get_data(as_text=True)
