"""A roster import a person can trust: every problem of a row at once in the page's language,
a template, a rejected-rows file that re-imports as it is, a preview before anything is
overwritten, and suspicious updates held until confirmed, never inheriting answers or links.

The `survey` fixture's roster: REG-000 … REG-005, "Alumnus n", born 2000-01-0(n+1), phones
+6281200000nn; even n in Teknik Las A1 (2025-01-06 … 2025-03-28), odd n in Tata Boga B1
(2025-02-03 … 2025-04-25); REG-005 erased; wave ts-2026 open for the five others.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from services.survey import roster
from shared import db
from shared.auth import create_user
from shared.models import Alumnus, AuditEntry, Response, WaveTarget
from shared.tokens import SURVEY_LINK, seal, unseal

# The office's own file: Indonesian headers, its own order, a column of its own (catatan).
HEADER = ["nama", "no_peserta", "jenis_kelamin", "tanggal_lahir", "kejuruan", "angkatan",
          "tanggal_mulai", "tanggal_selesai", "no_hp", "catatan"]
LAS = ["Teknik Las", "A1", "2025-01-06", "2025-03-28"]
BOGA = ["Tata Boga", "B1", "2025-02-03", "2025-04-25"]


def row(name, number, gender, born, course, phone="", note=""):
    return [name, number, gender, born, *course, phone, note]


GOOD_ROWS = [
    row("Alumnus 0", "REG-000", "L", "2000-01-01", LAS, "+628120000000"),   # unchanged
    row("Alumnus 1", "REG-001", "P", "2000-01-02", BOGA, "0812-9999-0001"),  # phone updated
    row("Budi Santoso", "REG-002", "L", "2000-01-03", LAS),                  # other name
    row("Alumnus 3", "REG-003", "P", "1999-07-04", BOGA),                    # other birth date
    row("Citra Lestari", "REG-100", "P", "2001-02-03", BOGA, "", "baru"),    # new
]
BAD_ROW = row("", "REG-101", "X", "31/02/2001", LAS, "123", "cek lagi")     # four problems


def file_of(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture()
def own_home(survey_app, settings, tmp_path):
    import dataclasses
    survey_app.config["JEJAK_SETTINGS"] = dataclasses.replace(settings, home=tmp_path / "home")
    return tmp_path / "home"


@pytest.fixture()
def officer(survey_app, survey, own_home):
    with survey_app.app_context():
        create_user(db.session(), "petugas", "kata-sandi-petugas", "operator")
        db.session().commit()
    client = survey_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "petugas", "password": "kata-sandi-petugas",
                                       "csrf_token": token}).status_code == 302
    return client


def upload(client, data: bytes, name="roster.csv"):
    token = csrf_of(client.get("/import").get_data(as_text=True))
    response = client.post("/import", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def apply(client, preview_url: str, **form):
    html = client.get(preview_url).get_data(as_text=True)
    action = re.search(r'action="([^"]+/apply)"', html).group(1)
    return client.post(action, data={"csrf_token": csrf_of(html), **form})


def person(app, number: str):
    with app.app_context():
        return db.session().scalar(select(Alumnus).where(Alumnus.registration_no == number))


def api(app, survey, path, **kwargs):
    return app.test_client().post(path, headers=survey["headers"]["operator"], **kwargs)


# --- every problem at once, named as the file names it ---------------------------------------


def test_every_problem_of_a_row_at_once_in_indonesian_naming_the_files_columns(
        officer, own_home) -> None:
    html = officer.get(upload(officer, file_of([BAD_ROW]))).get_data(as_text=True)
    cell = html.split('id="rejections"')[1].split("</table>")[0]
    assert "nama, jenis_kelamin, tanggal_lahir, no_hp" in cell
    for sentence in ("nama wajib diisi",
                     "jenis_kelamin: &#39;X&#39; bukan jenis kelamin: gunakan L atau P",
                     "tanggal_lahir: &#39;31/02/2001&#39; bukan tanggal yang valid",
                     "no_hp: &#39;123&#39; bukan nomor telepon yang valid"):
        assert sentence in cell, sentence
    assert "full_name" not in cell


def test_the_api_says_the_same_problems_in_english(survey_app, survey, own_home) -> None:
    answer = api(survey_app, survey, "/api/v1/alumni/imports?lang=en",
                 data={"file": (io.BytesIO(file_of([BAD_ROW])), "roster.csv")},
                 content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    [rejection] = answer.get_json()["rejections"]
    assert rejection["line"] == 2
    assert rejection["column"] == "nama, jenis_kelamin, tanggal_lahir, no_hp"
    assert [p["message"] for p in rejection["problems"]] == [
        "nama is required",
        "jenis_kelamin: 'X' is not a gender: use L or P (or M or F)",
        "tanggal_lahir: '31/02/2001' is not a valid date",
        "no_hp: '123' is not a valid phone number"]


# --- the template ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_template_has_indonesian_headers_and_one_example_row_that_imports(
        officer, survey_app, survey, kind) -> None:
    page = officer.get(f"/import/template.{kind}")
    assert page.status_code == 200
    by_api = survey_app.test_client().get(f"/api/v1/alumni/import-template?format={kind}",
                                          headers=survey["headers"]["operator"])
    assert by_api.status_code == 200 and by_api.data == page.data or kind == "xlsx"
    if kind == "xlsx":
        sheet = load_workbook(io.BytesIO(page.data)).worksheets[0]
        table = [[cell.value for cell in line] for line in sheet.iter_rows()]
    else:
        table = list(csv.reader(io.StringIO(page.data.decode("utf-8-sig"))))
    assert table[0] == ["no_peserta", "nama", "jenis_kelamin", "tanggal_lahir", "nik",
                        "kejuruan", "angkatan", "tanggal_mulai", "tanggal_selesai", "no_hp",
                        "email"]
    assert len(table) == 2 and table[1][1] == "Siti Aminah" and table[1][9] == "0812-3456-7890"
    rows = roster.read_rows(io.BytesIO(page.data), f"t.{kind}")
    [(line, values)] = list(rows)
    assert isinstance(roster.parse_row(line, values), roster.RosterRow)


# --- the rejected rows re-import as they are ---------------------------------------------------


def test_the_rejected_file_keeps_the_uploaded_headers_and_order_and_reimports(
        officer, survey_app, survey, own_home) -> None:
    preview = upload(officer, file_of([GOOD_ROWS[4], BAD_ROW]))
    result = apply(officer, preview).get_data(as_text=True)
    link = re.search(r'href="(/imports/[0-9a-f]+-rejected\.csv)"', result).group(1)
    written = officer.get(link).data.decode("utf-8")
    table = list(csv.reader(io.StringIO(written)))
    assert table[0] == [*HEADER, "line", "column", "error"]
    assert table[1][:len(HEADER)] == BAD_ROW
    assert table[1][-2] == "nama, jenis_kelamin, tanggal_lahir, no_hp"
    assert "nama wajib diisi" in table[1][-1]
    assert [p.stat().st_mode & 0o777 for p in (own_home / "imports").glob("*-rejected.csv")
            ] == [0o600]
    # fixed in place (same columns, the three extra ones left) and imported again as is
    table[1][:4] = ["Dewi Anggraini", "REG-101", "P", "28/02/2001"]
    table[1][8] = "0812-3456-7000"
    out = io.StringIO()
    csv.writer(out).writerows(table)
    again = api(survey_app, survey, "/api/v1/alumni/import",
                data={"file": (io.BytesIO(out.getvalue().encode()), "rejected-rows.csv")},
                content_type="multipart/form-data").get_json()
    assert (again["imported"], again["rejected"]) == (1, 0), again
    assert person(survey_app, "REG-101").full_name == "Dewi Anggraini"


# --- the preview, and suspicious updates held until confirmed ----------------------------------


def test_the_preview_sorts_every_row_and_writes_nothing(survey_app, survey, own_home) -> None:
    erased = row("Alumnus 5", "REG-005", "P", "2000-01-06", BOGA)  # erased on request
    answer = api(survey_app, survey, "/api/v1/alumni/imports",
                 data={"file": (io.BytesIO(file_of([*GOOD_ROWS, BAD_ROW, erased])),
                                "roster.csv")},
                 content_type="multipart/form-data").get_json()
    assert answer["counts"] == {"new": 1, "unchanged": 1, "updated": 1, "suspicious": 2,
                                "rejected": 2}
    assert answer["rejections"][1]["column"] == "no_peserta"
    assert "dihapus atas permintaan" in answer["rejections"][1]["message"]
    rows = {r["registration_no"]: r for r in answer["rows"]}
    assert rows["REG-001"]["kind"] == "updated"
    assert rows["REG-001"]["changed"] == {"phone": ["+628120000001", "+6281299990001"]}
    assert rows["REG-002"]["kind"] == "suspicious"
    assert rows["REG-002"]["changed"]["full_name"] == ["Alumnus 2", "Budi Santoso"]
    assert rows["REG-003"]["changed"] == {"birth_date": ["2000-01-04", "1999-07-04"]}
    assert person(survey_app, "REG-001").phone == "+628120000001"  # nothing written
    assert person(survey_app, "REG-100") is None


def test_the_page_shows_the_categories_with_the_changed_fields(officer, own_home) -> None:
    html = officer.get(upload(officer, file_of([*GOOD_ROWS, BAD_ROW]))).get_data(as_text=True)
    assert ("Baru: 1 · tidak berubah: 1 · diperbarui: 1 · mencurigakan: 2 · ditolak: 1"
            in html)
    updated = html.split('id="updated"')[1].split("</section>")[0]
    assert "no_hp: +628120000001 → +6281299990001" in updated
    suspicious = html.split('id="suspicious"')[1].split("</section>")[0]
    assert "nama: Alumnus 2" in suspicious and "nama: Budi Santoso" in suspicious
    assert "tanggal_lahir: 2000-01-04" in suspicious


def test_suspicious_updates_are_held_until_confirmed_one_by_one_then_all(
        officer, survey_app, survey, own_home) -> None:
    preview = upload(officer, file_of(GOOD_ROWS))
    done = apply(officer, preview)
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert person(survey_app, "REG-002").full_name == "Alumnus 2"  # held, not overwritten
    assert person(survey_app, "REG-003").birth_date.isoformat() == "2000-01-04"
    assert person(survey_app, "REG-001").phone == "+6281299990001"  # the rest applied
    assert person(survey_app, "REG-100").full_name == "Citra Lestari"
    held = re.search(r'href="(/import/[0-9a-f]{32}\?name=[^"]*)"', html).group(1)
    # one by one: REG-002 now, REG-003 stays held under yet another pending id
    second = apply(officer, held.replace("&amp;", "&"), confirm="REG-002").get_data(as_text=True)
    assert person(survey_app, "REG-002").full_name == "Budi Santoso"
    assert person(survey_app, "REG-003").birth_date.isoformat() == "2000-01-04"
    last = re.search(r'href="(/import/[0-9a-f]{32}\?name=[^"]*)"', second).group(1)
    # the held pending import shows only what is still held
    assert "mencurigakan: 1" in officer.get(last.replace("&amp;", "&")).get_data(as_text=True)
    final = apply(officer, last.replace("&amp;", "&"), confirm_all="1").get_data(as_text=True)
    assert person(survey_app, "REG-003").birth_date.isoformat() == "1999-07-04"
    assert "Periksa baris yang ditahan" not in final  # nothing left held
    with survey_app.app_context():
        details = [entry.details for entry in db.session().scalars(
            select(AuditEntry).where(AuditEntry.action == "alumni.import")
            .order_by(AuditEntry.id))]
    assert [(d["held"], d["identity_changes"]) for d in details] == [(2, 0), (1, 1), (0, 1)]


def test_the_api_confirms_by_registration_number(survey_app, survey, own_home) -> None:
    first = api(survey_app, survey, "/api/v1/alumni/import",
                data={"file": (io.BytesIO(file_of(GOOD_ROWS)), "roster.csv")},
                content_type="multipart/form-data").get_json()
    assert (first["imported"], first["updated"], first["unchanged"]) == (1, 1, 1)
    assert sorted(r["registration_no"] for r in first["held"]) == ["REG-002", "REG-003"]
    confirmed = api(survey_app, survey, f"/api/v1/alumni/imports/{first['pending_id']}/apply",
                    json={"confirm_all": True}).get_json()
    assert (confirmed["imported"], confirmed["identity_changes"], confirmed["held"]) == (2, 2, [])
    assert confirmed["pending_id"] is None
    gone = api(survey_app, survey, f"/api/v1/alumni/imports/{first['pending_id']}/apply",
               json={})
    assert gone.status_code == 404


def test_a_confirmed_identity_change_inherits_no_answers_and_no_links(
        survey_app, survey, own_home) -> None:
    settings = survey_app.config["JEJAK_SETTINGS"]
    old = person(survey_app, "REG-002")
    with survey_app.app_context():
        session = db.session()
        session.add(Response(wave_id=survey["wave_id"], alumnus_id=old.id,
                             questionnaire_id=survey["questionnaire_id"], status="complete",
                             answers={"q1": "1"}))
        session.commit()
    old_link = seal(settings.secret_key, SURVEY_LINK, survey["wave_id"], old.id)
    first = api(survey_app, survey, "/api/v1/alumni/import",
                data={"file": (io.BytesIO(file_of([GOOD_ROWS[2]])), "roster.csv")},
                content_type="multipart/form-data").get_json()
    api(survey_app, survey, f"/api/v1/alumni/imports/{first['pending_id']}/apply",
        json={"confirm": ["REG-002"]})
    new = person(survey_app, "REG-002")
    assert new.full_name == "Budi Santoso" and new.id != old.id
    assert new.phone is None and new.birth_date.isoformat() == "2000-01-03"
    with survey_app.app_context():
        session = db.session()
        kept = session.get(Alumnus, old.id)
        # the previous person keeps their record, number (prefixed with their id) and answers
        assert (kept.full_name, kept.registration_no) == ("Alumnus 2", f"{old.id}~REG-002")
        assert kept.phone == "+628120000002"
        answers = session.execute(select(Response.alumnus_id)).scalars().all()
        assert answers == [old.id]
        assert session.scalar(select(func.count()).select_from(Response).where(
            Response.alumnus_id == new.id)) == 0
        # the old personal link still opens the previous person's record, never the new one
        assert unseal(settings.secret_key, SURVEY_LINK, old_link, 2) == (survey["wave_id"],
                                                                         old.id)
        # and the wave's target stays the previous person: the new one is not traced in it
        targets = set(session.scalars(select(WaveTarget.alumnus_id).where(
            WaveTarget.wave_id == survey["wave_id"])))
        assert old.id in targets and new.id not in targets


def test_every_import_post_needs_the_csrf_token(officer, own_home) -> None:
    preview = upload(officer, file_of(GOOD_ROWS))
    import_id = preview.split("/import/")[1].split("?")[0]
    for action in ("apply", "discard"):
        assert officer.post(f"/import/{import_id}/{action}").status_code == 400
    assert officer.post("/import", data={"file": (io.BytesIO(b"x"), "r.csv")},
                        content_type="multipart/form-data").status_code == 400


def test_a_discarded_upload_is_gone_and_imported_nothing(officer, survey_app, own_home) -> None:
    preview = upload(officer, file_of(GOOD_ROWS))
    html = officer.get(preview).get_data(as_text=True)
    action = re.search(r'action="([^"]+/discard)"', html).group(1)
    assert officer.post(action, data={"csrf_token": csrf_of(html)}).status_code == 302
    assert officer.get(preview).status_code == 404
    assert person(survey_app, "REG-100") is None
    assert list((own_home / "imports").glob("*-pending*")) == []


def test_the_cli_holds_suspicious_updates_and_names_the_pending_import(
        survey_app, survey, settings, tmp_path) -> None:
    from click.testing import CliRunner

    from services.cli import main

    home = tmp_path / "cli-home"
    path = tmp_path / "roster.csv"
    path.write_bytes(file_of([GOOD_ROWS[2], GOOD_ROWS[4], BAD_ROW]))
    done = CliRunner().invoke(main, ["alumni", "import", str(path)], catch_exceptions=False,
                              env={"JEJAK_DATABASE_URL": settings.database_url,
                                   "JEJAK_HOME": str(home)})
    assert done.exit_code == 0, done.output
    assert "imported 1, updated 0, unchanged 0, rejected 1, held 1" in done.output
    assert "line 4: nama is required; jenis_kelamin: 'X' is not a gender" in done.output
    assert "held, line 2: REG-002 is on the roster under another name" in done.output
    pending = re.search(r"/survey/import/([0-9a-f]{32})", done.output).group(1)
    assert (home / "imports" / f"{pending}-pending.csv").exists()
    assert person(survey_app, "REG-002").full_name == "Alumnus 2"


def test_the_language_switch_of_the_result_page_changes_nothing(officer, survey_app,
                                                                own_home) -> None:
    preview = upload(officer, file_of(GOOD_ROWS))
    apply_url = preview.split("?")[0] + "/apply"
    switched = officer.get(apply_url + "?lang=en")
    assert switched.status_code == 302 and switched.headers["Location"].startswith("/import")
    assert person(survey_app, "REG-100") is None  # a GET applied nothing
