"""Issue 14, points 1, 2, 3 and 10: the reports page, the centre's settings, the minimum
wages and the QR poster, each page beside its API twin (the same function behind both).

The wave is test_reports' ts-2026 (12 targets, 8 respondents, incomes 4.5 M, 2.0 M, 3.8 M,
3.0 M and 5.0 M among the five employed who gave one) with a wage without a region of
Rp 3.600.000 for its year: 3 of 5 incomes reach it. With the UMK Kota Bontang 2026 of
Rp 3.799.480 set for that year, 3 of 5 still reach it (3.8 M, 4.5 M, 5.0 M); with
Rp 3.800.001, 2 of 5.
"""

from __future__ import annotations

import base64
import io
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from services.analytics.wages import seed_east_kalimantan, wage_of_year
from services.outreach.campaigns import Recipient, message_context
from shared import db
from shared.auth import create_user
from shared.centre import Centre, applied, centre
from shared.models import AuditEntry, Export, MinimumWage
from tests.conftest import wait_for
from tests.integration import test_reports
from tests.integration.test_web_access import csrf_of, login

report_wave = test_reports.report_wave  # the fixture: ts-2026 with answers and a wage
run = test_reports.run
PASSWORDS = {role: f"kata-sandi-{role}-14" for role in ("viewer", "operator", "admin")}


@pytest.fixture()
def staff(analytics_app) -> None:
    with analytics_app.app_context():
        session = db.session()
        for role, password in PASSWORDS.items():
            create_user(session, f"{role}14", password, role)
        session.commit()


def signed_in(app, role: str):
    client = app.test_client()
    assert login(client, f"{role}14", PASSWORDS[role]).status_code == 302
    return client


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (14, 92, 138)).save(out, format="PNG")
    return out.getvalue()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- 1. reports ------------------------------------------------------------------------------


def test_the_reports_page_makes_a_pdf_through_a_real_worker_and_lists_it(
        analytics_app, report_wave, staff, celery_worker) -> None:
    client = signed_in(analytics_app, "operator")
    page = client.get("/reports?wave=ts-2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'lang="id"' in html
    for label in ("Buku kerja indikator (XLSX)", "Laporan PDF", "Tabel indikator (CSV)"):
        assert label in html
    # The raw workbook is the admin's alone (issue 14); the admin's page offers it.
    assert "Respons mentah (XLSX)" not in html
    assert "Respons mentah (XLSX)" in signed_in(analytics_app, "admin").get(
        "/reports?wave=ts-2026").get_data(as_text=True)
    assert client.post("/reports", data={"kind": "pdf", "wave": "ts-2026"}).status_code == 400
    started = client.post("/reports", data={"kind": "pdf", "wave": "ts-2026",
                                            "csrf_token": csrf_of(html)})
    assert started.status_code == 302
    export_id = re.search(r"export=([0-9a-f-]{36})", started.headers["Location"]).group(1)

    def finished() -> dict[str, Any] | None:  # what reports.js polls
        polled = client.get(f"/api/v1/exports/{export_id}").get_json()
        return polled if polled["status"] in ("done", "failed") else None

    assert wait_for(finished, timeout=60)["status"] == "done"
    listed = client.get("/reports").get_data(as_text=True)
    row = listed[listed.index(f'data-export="{export_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Laporan PDF" in row and "operator14" in row and " KB" in row
    link = re.search(r'href="([^"]+/file)"', row).group(1)
    download = client.get(link)
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    with analytics_app.app_context():
        audit = db.session().scalar(select(AuditEntry).where(AuditEntry.target == export_id))
        assert (audit.action, audit.actor) == ("export.create", "operator14")
        Path(db.session().get(Export, uuid.UUID(export_id)).path).unlink()
    expired = client.get("/reports").get_data(as_text=True)
    assert "kedaluwarsa: berkas sudah dihapus" in expired


def test_a_viewer_gets_the_aggregate_buttons_but_not_the_raw_workbook(
        analytics_app, report_wave, staff) -> None:
    client = signed_in(analytics_app, "viewer")
    html = client.get("/reports").get_data(as_text=True)
    assert "Laporan PDF" in html and "Respons mentah (XLSX)" not in html
    refused = client.post("/reports", data={"kind": "raw_xlsx", "wave": "ts-2026",
                                            "csrf_token": csrf_of(html)})
    assert refused.status_code == 403
    unknown = client.post("/reports", data={"kind": "pdf", "wave": "nope",
                                            "csrf_token": csrf_of(html)},
                          follow_redirects=True)
    assert "Gelombang: gelombang tidak ada" in unknown.get_data(as_text=True)


def test_the_dashboard_and_the_top_bar_link_to_the_reports_page(
        analytics_app, report_wave, staff) -> None:
    html = signed_in(analytics_app, "viewer").get("/?wave=ts-2026").get_data(as_text=True)
    assert 'href="/analytics/reports"' in html
    assert 'href="/reports?wave=ts-2026" id="to-reports"' in html
    assert 'href="/analytics/settings"' not in html  # the admin's
    admin = signed_in(analytics_app, "admin").get("/?wave=ts-2026").get_data(as_text=True)
    assert 'href="/analytics/settings"' in admin


# --- 2. settings -----------------------------------------------------------------------------


def test_settings_are_the_admins_and_a_loopback_public_url_is_warned_about(
        analytics_app, staff) -> None:
    for role in ("viewer", "operator"):
        assert signed_in(analytics_app, role).get("/settings").status_code == 403
    client = signed_in(analytics_app, "admin")
    html = client.get("/settings").get_data(as_text=True)
    assert 'id="base-url-warning"' in html and "http://127.0.0.1:8000" in html
    assert 'value="UPTD BLKI Bontang"' in html and 'value="Asia/Makassar"' in html
    form = {"name": "UPTD BLKI Contoh", "short_name": "BLKI Contoh", "head_name": "Ir. Siti",
            "head_nip": "197001012000032001", "base_url": "https://tracer.contoh.go.id/",
            "quiet_hours": "21:00-06:00", "timezone": "Asia/Makassar", "retention_days": "14"}
    assert client.post("/settings", data=form).status_code == 400  # no CSRF token
    saved = client.post("/settings", data={**form, "csrf_token": csrf_of(html),
                                           "logo": (io.BytesIO(png_bytes()), "logo.png")},
                        content_type="multipart/form-data")
    assert saved.status_code == 302
    html = client.get("/settings").get_data(as_text=True)
    assert 'id="base-url-warning"' not in html and 'value="UPTD BLKI Contoh"' in html
    assert "data:image/png;base64," in html
    with analytics_app.app_context():
        current = centre(db.session())
        assert (current.name, current.base_url, current.quiet_hours, current.retention_days) \
            == ("UPTD BLKI Contoh", "https://tracer.contoh.go.id", "21:00-06:00", 14)
        assert current.logo is not None and current.logo[0] == "image/png"
        assert db.session().scalar(select(AuditEntry.actor)
                                   .where(AuditEntry.action == "centre.settings")) == "admin14"


def test_settings_refuse_a_fake_logo_and_bad_values_naming_the_field(analytics_app,
                                                                      staff) -> None:
    client = signed_in(analytics_app, "admin")
    token = csrf_of(client.get("/settings").get_data(as_text=True))
    refused = client.post("/settings", data={
        "csrf_token": token, "timezone": "Mars/Olympus", "base_url": "tracer.contoh",
        "logo": (io.BytesIO(b"<svg onload=alert(1)>"), "logo.png")},
        content_type="multipart/form-data")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Logo: bukan gambar PNG atau JPEG" in html
    assert "Zona waktu: bukan zona waktu" in html
    assert "URL publik: alamat yang diawali http:// atau https://" in html
    with analytics_app.app_context():
        assert centre(db.session()) == Centre(base_url="http://127.0.0.1:8000")


def test_the_settings_api_reads_for_staff_and_writes_for_the_admin(analytics_app,
                                                                    report_wave) -> None:
    client = analytics_app.test_client()
    headers = report_wave["headers"]
    body = client.get("/api/v1/settings", headers=headers["viewer"]).get_json()
    assert body["base_url_warning"] == "loopback" and body["name"] == "UPTD BLKI Bontang"
    change = {"name": "UPTD BLKI Contoh", "base_url": "https://tracer.contoh.go.id"}
    assert client.put("/api/v1/settings", json=change,
                      headers=headers["operator"]).status_code == 403
    bad = client.put("/api/v1/settings", json={"logo": base64.b64encode(b"GIF89a").decode()},
                     headers=headers["admin"])
    assert bad.status_code == 422 and "logo" in bad.get_json()["errors"]
    done = client.put("/api/v1/settings", json=change, headers=headers["admin"]).get_json()
    assert (done["name"], done["base_url_warning"]) == ("UPTD BLKI Contoh", None)


def test_the_centre_settings_reach_the_pdf_the_workbook_and_the_messages(
        analytics_app, report_wave) -> None:
    client = analytics_app.test_client()
    assert client.put("/api/v1/settings", headers=report_wave["headers"]["admin"], json={
        "name": "UPTD BLKI Contoh", "head_name": "Ir. Siti Aminah",
        "head_nip": "197001012000032001", "city": "Samarinda",
        "base_url": "https://tracer.contoh.go.id"}).status_code == 200
    with analytics_app.app_context():
        session = db.session()
        export = Export(kind="pdf", params={"wave": "ts-2026"})
        session.add(export)
        session.commit()
        export_id = export.id
    export = run(analytics_app, export_id)
    text = pdf_text(Path(export.path).read_bytes())
    assert "UPTD BLKI Contoh" in text and "Bontang" not in text.replace("Kota Bontang", "")
    assert "Ir. Siti Aminah" in text and "NIP. 197001012000032001" in text
    assert "Samarinda," in text
    year = report_wave["year"]
    assert f"Upah minimum yang dipakai gelombang ini: UMK {year}: Rp 3.600.000" in \
        " ".join(text.split())
    with analytics_app.test_request_context():
        settings = applied()
        context = message_context(Recipient(7, "Ani", "ani@contoh.id", None, "Las", "A1"),
                                  report_wave["wave_id"], "Tracer 2026", settings, "email")
    assert context["centre"] == "UPTD BLKI Contoh"
    assert context["survey_link"].startswith("https://tracer.contoh.go.id/survey/s/")
    assert context["unsubscribe_link"].startswith("https://tracer.contoh.go.id/outreach/u/")


# --- 3. minimum wages ------------------------------------------------------------------------


def test_the_seed_adds_east_kalimantan_figures_only_to_years_without_a_wage(
        analytics_app) -> None:
    with analytics_app.app_context():
        session = db.session()
        session.add(MinimumWage(year=2025, amount=3_000_000, source="set by staff"))
        session.flush()
        assert seed_east_kalimantan(session) == 2  # 2026's UMP and UMK; 2025 untouched
        session.commit()
        rows = {(row.year, row.level, row.region_code): row
                for row in session.scalars(select(MinimumWage))}
        assert set(rows) == {(2025, "city", ""), (2026, "province", "64"),
                             (2026, "city", "6474")}
        assert rows[2026, "city", "6474"].amount == 3_799_480
        assert "Keputusan Gubernur" in rows[2026, "city", "6474"].note
        assert wage_of_year(session, 2025).amount == 3_000_000  # as before the seed
        assert wage_of_year(session, 2026).region_name == "Kota Bontang"
        # A centre elsewhere in the province falls back to the UMP.
        samarinda = Centre(region_code="6472", region_name="Kota Samarinda")
        assert wage_of_year(session, 2026, samarinda).amount == 3_762_431
        session.query(MinimumWage).delete()
        assert seed_east_kalimantan(session) == 4
        session.flush()
        ump_2025 = session.scalar(select(MinimumWage).where(
            MinimumWage.year == 2025, MinimumWage.level == "province"))
        # Rp 3.579.313,77: whole-rupiah incomes reach it from 3.579.314.
        assert (ump_2025.exact_amount, ump_2025.amount) == (Decimal("3579313.77"), 3_579_314)


def test_the_seed_leaves_a_year_that_already_has_a_wave(analytics_app, survey) -> None:
    from services.analytics.wages import wave_year
    from shared.models import Wave

    with analytics_app.app_context():
        session = db.session()
        year = wave_year(session.scalar(select(Wave)), "Asia/Makassar")
        seed_east_kalimantan(session)
        session.commit()
        seeded = {row.year for row in session.scalars(select(MinimumWage))}
        # ts-2026 had no wage: its above_minimum_wage keeps having no count.
        assert year not in seeded and seeded == {2025, 2026} - {year}


def test_the_wage_page_is_the_admins_and_reads_indonesian_amounts(analytics_app,
                                                                   staff) -> None:
    assert signed_in(analytics_app, "operator").get("/minimum-wages").status_code == 403
    client = signed_in(analytics_app, "admin")
    token = csrf_of(client.get("/minimum-wages").get_data(as_text=True))
    form = {"year": "2025", "level": "province", "region_code": "64",
            "region_name": "Kalimantan Timur", "amount": "Rp 3.579.313,77",
            "source": "Kepgub Kaltim 2024", "note": "periksa"}
    assert client.post("/minimum-wages", data=form).status_code == 400  # no CSRF token
    assert signed_in(analytics_app, "operator").post(
        "/minimum-wages", data={**form, "csrf_token": token}).status_code == 403
    bad = client.post("/minimum-wages", data={**form, "amount": "tiga juta",
                                              "csrf_token": token})
    assert bad.status_code == 422
    assert "Jumlah (rupiah per bulan): bukan jumlah rupiah" in bad.get_data(as_text=True)
    assert client.post("/minimum-wages", data={**form, "csrf_token": token}).status_code == 302
    html = client.get("/minimum-wages").get_data(as_text=True)
    assert "Rp 3.579.313,77" in html and "Kalimantan Timur" in html and "UMP" in html
    listed = client.get("/api/v1/minimum-wages").get_json()
    assert [(row["level"], row["amount"], row["exact_amount"]) for row in listed] == [
        ("province", 3_579_314, "3579313.77")]


def test_the_dashboard_shows_which_wage_the_wave_uses_and_the_api_follows(
        analytics_app, report_wave, staff) -> None:
    client = signed_in(analytics_app, "admin")
    year = report_wave["year"]
    html = client.get("/?wave=ts-2026").get_data(as_text=True)
    assert f"Upah minimum yang dipakai gelombang ini: UMK {year}: Rp 3.600.000" in html
    api = analytics_app.test_client()
    viewer = report_wave["headers"]["viewer"]

    def above() -> tuple[int, int]:
        body = api.get("/api/v1/indicators", query_string={"wave": "ts-2026"},
                       headers=viewer).get_json()
        share = body["indicators"]["above_minimum_wage"]
        return body["minimum_wage"]["amount"], share["count"]

    assert above() == (3_600_000, 3)
    token = csrf_of(client.get("/minimum-wages").get_data(as_text=True))
    for amount in ("3.799.480", "3.800.001"):
        assert client.post("/minimum-wages", data={
            "year": str(year), "level": "city", "region_code": "6474",
            "region_name": "Kota Bontang", "amount": amount, "source": "Kepgub",
            "csrf_token": token}).status_code == 302
    assert above() == (3_800_001, 2)  # the UMK of the centre's city wins over the old row
    html = client.get("/?wave=ts-2026").get_data(as_text=True)
    assert f"UMK Kota Bontang {year}: Rp 3.800.001" in html
    with analytics_app.app_context():
        session = db.session()
        session.query(MinimumWage).delete()
        session.commit()
    html = client.get("/?wave=ts-2026").get_data(as_text=True)
    assert 'href="/minimum-wages" id="set-wage"' in html


# --- 10. the poster --------------------------------------------------------------------------


def test_the_poster_names_the_centre_the_wave_and_its_link(survey_app, survey) -> None:
    client = survey_app.test_client()
    operator = survey["headers"]["operator"]
    assert client.get("/api/v1/waves/ts-2026/poster.pdf",
                      headers=survey["headers"]["viewer"]).status_code == 403
    loopback = client.get("/api/v1/waves/ts-2026/poster.pdf", headers=operator)
    assert loopback.status_code == 200 and loopback.mimetype == "application/pdf"
    text = pdf_text(loopback.data)
    assert "UPTD BLKI Bontang" in text and "Tracer 2026" in text
    assert "127.0.0.1:8000/survey/w/ts-2026" in text and "PERHATIAN" in text
    assert "nomor peserta" in text and "nomor HP" in text
    with survey_app.test_request_context():
        from shared.centre import check, save_centre

        clean, errors = check({"name": "UPTD BLKI Contoh",
                               "base_url": "https://tracer.contoh.go.id"})
        assert not errors
        save_centre(db.session(), clean, "test")
        db.session().commit()
    text = pdf_text(client.get("/api/v1/waves/ts-2026/poster.pdf", headers=operator).data)
    assert "UPTD BLKI Contoh" in text and "tracer.contoh.go.id/survey/w/ts-2026" in text
    assert "PERHATIAN" not in text


def test_the_poster_page_is_the_same_pdf_for_signed_in_operators(survey_app, survey) -> None:
    with survey_app.app_context():
        session = db.session()
        create_user(session, "op14", "kata-sandi-op14", "operator")
        create_user(session, "view14", "kata-sandi-view14", "viewer")
        session.commit()
    viewer = survey_app.test_client()
    login(viewer, "view14", "kata-sandi-view14")
    assert viewer.get("/waves/ts-2026/poster.pdf").status_code == 403
    client = survey_app.test_client()
    login(client, "op14", "kata-sandi-op14")
    assert 'href="/waves/ts-2026/poster.pdf"' in client.get("/").get_data(as_text=True)
    page = client.get("/waves/ts-2026/poster.pdf")
    assert page.status_code == 200 and "Tracer 2026" in pdf_text(page.data)
    assert client.get("/waves/nope/poster.pdf").status_code == 404


def test_the_migration_keeps_each_years_wage_and_the_way_back_keeps_one_a_year(
        tmp_path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    from shared.migrate import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'wages.db'}"
    upgrade(url, "sessions0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO minimum_wages (year, amount, source, updated_at) "
                                "VALUES (2024, 3500000, 'Kepgub 2023', '2024-01-02 00:00:00')"))
    upgrade(url)
    with engine.begin() as connection:
        assert connection.execute(text(
            "SELECT year, level, region_code, amount, source FROM minimum_wages")).all() == [
            (2024, "city", "", 3_500_000, "Kepgub 2023")]
        connection.execute(text(
            "INSERT INTO minimum_wages (year, level, region_code, region_name, amount, source, "
            "updated_at) VALUES (2024, 'province', '64', 'Kalimantan Timur', 3360000, 'x', "
            "'2024-01-02 00:00:00')"))
    command.downgrade(alembic_config(url), "sessions0001")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT year, amount FROM minimum_wages")).all() == [
            (2024, 3_500_000)]
    engine.dispose()


def test_a_report_for_a_program_id_past_a_database_integer_is_refused_not_a_500(
        analytics_app, report_wave, staff) -> None:
    client = signed_in(analytics_app, "operator")
    html = client.get("/reports?wave=ts-2026").get_data(as_text=True)
    for field in ("program", "cohort"):
        answer = client.post("/reports", data={"kind": "pdf", "wave": "ts-2026",
                                               field: str(2**64), "csrf_token": csrf_of(html)})
        assert answer.status_code == 400, field
