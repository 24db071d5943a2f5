"""Report exports through the real database: workbook, PDF, CSV, raw responses, the API.

The wave: `survey`'s ts-2026 (Teknik Las: alumni 0, 2, 4; Tata Boga: 1, 3) plus seven more
Teknik Las alumni targeted by hand, so N = 12. Tata Boga is renamed to a spreadsheet formula
to check that no export lets it run.

    alumnus  program     status                        answers
    0        Teknik Las  complete                      f8=1 (bekerja), waited 2, Rp 4.5 M
    1        =HYPER…     complete                      f8=3 (wiraswasta), waited 8, Rp 2.0 M
    2        Teknik Las  complete                      f8=5 (mencari kerja)
    3        =HYPER…     complete                      f8=1, waited 1, Rp 3.8 M
    4        Teknik Las  partial                       -
    6        Teknik Las  complete                      f8=1, waited 4, Rp 3.0 M
    7        Teknik Las  complete                      f8=4 (studi)
    8        Teknik Las  complete                      f8=1, waited 12, Rp 5.0 M
    9        Teknik Las  complete, consent withdrawn   f8=2
    10-12    Teknik Las  no response                   -

By hand: N = 12, n = 8, response rate 8/12 = 66.7 %; employed (f8 in {1, 3}) 5, so
absorption 5/8 = 0.625 overall and 3/6 = 0.5 in Teknik Las; Tata Boga has 2 respondents,
fewer than 5, so its shares are suppressed. UMK 3.6 M: incomes >= it 3 of 5 = 0.6.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from services.analytics.cells import Cell, CellKey, cells_to_json, merge
from services.analytics.reports import tasks
from services.analytics.reports.content import SUPPRESSED_NOTE
from services.analytics.reports.export import run_export
from services.analytics.reports.xlsx import write_raw_responses
from services.analytics.stats import wilson_interval
from services.analytics.wages import wave_year
from shared import db
from shared.models import (
    Alumnus,
    AuditEntry,
    Cohort,
    Export,
    IndicatorSnapshot,
    MinimumWage,
    Program,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)
from tests.conftest import app_config, wait_for

FORMULA_NAME = '=HYPERLINK("x")'
FORMULA_ANSWER = '=cmd|"/c calc"!A1'
MINIMUM_WAGE = 3_600_000


def employed(status: int, waited: int, income: int, relevance: int, location: int,
             **extra: Any) -> dict[str, Any]:
    timing = {"f504": 1, "f502": waited} if waited <= 6 else {"f504": 2, "f506": waited}
    return {"consent": True, "f8": status, **timing, "f505": income, "f14": relevance,
            "f5a2": location, **extra}


ANSWERS = {
    0: employed(1, 2, 4_500_000, 2, 1, f4=["f404", "f411"], blk_cert=1, f1761=3, f1762=5,
                f5b=FORMULA_ANSWER, blk_eval_instructor=5),
    1: employed(3, 8, 2_000_000, 4, 2, blk_cert=2, f1761=4, f1762=4),
    2: {"consent": True, "f8": 5, "blk_cert": 1},
    3: employed(1, 1, 3_800_000, 1, 1, f4=["f404"], blk_cert=1, f1761=2, f1762=4),
    6: employed(1, 4, 3_000_000, 3, 1, f4=["f409"], blk_cert=1, f1761=3, f1762=4),
    7: {"consent": True, "f8": 4, "blk_cert": 3},
    8: employed(1, 12, 5_000_000, 5, 3, f4=["f404"], blk_cert=2, f1761=3, f1762=3),
    9: {"consent": True, "f8": 2},
}
PARTIAL = 4
WITHDRAWN = 9


@pytest.fixture()
def report_wave(survey_app, analytics_app, survey) -> dict[str, Any]:
    """The wave above with its responses, a minimum wage and one indicator snapshot."""
    wave_id = survey["wave_id"]
    with survey_app.app_context():
        session = db.session()
        welding = session.scalar(select(Program).where(Program.name == "Teknik Las"))
        cooking = session.scalar(select(Program).where(Program.name == "Tata Boga"))
        cooking.name = FORMULA_NAME
        welding_cohort = session.scalar(select(Cohort).where(Cohort.program_id == welding.id))
        alumni = {index: alumnus_id for index, (alumnus_id, _) in enumerate(survey["alumni"])}
        for index in range(6, 13):
            alumnus = Alumnus(registration_no=f"REG-{index:03d}", full_name=f"Alumnus {index}",
                              gender="LP"[index % 2], cohort_id=welding_cohort.id,
                              birth_date=date(2000, 2, index))
            session.add(alumnus)
            session.flush()
            alumni[index] = alumnus.id
            session.add(WaveTarget(wave_id=wave_id, alumnus_id=alumnus.id,
                                   program_id=welding.id, cohort_id=welding_cohort.id,
                                   gender=alumnus.gender))
        session.get(Alumnus, alumni[WITHDRAWN]).consent_withdrawn_at = utcnow()
        submitted = utcnow() - timedelta(days=2)
        for index, answers in ANSWERS.items():
            session.add(Response(wave_id=wave_id, alumnus_id=alumni[index],
                                 questionnaire_id=survey["questionnaire_id"], status="complete",
                                 answers=answers, submitted_at=submitted))
        session.add(Response(wave_id=wave_id, alumnus_id=alumni[PARTIAL],
                             questionnaire_id=survey["questionnaire_id"], status="partial",
                             answers={"consent": True}))
        wave = session.get(Wave, wave_id)
        year = wave_year(wave, "Asia/Makassar")
        session.add(MinimumWage(year=year, amount=MINIMUM_WAGE, source="test"))
        session.flush()

        # The snapshot, cell by cell from the reference definition (Cell.of_response).
        by_alumnus = {alumnus_id: index for index, alumnus_id in alumni.items()}
        cells: dict[CellKey, list[Cell]] = {}
        for target in session.scalars(select(WaveTarget).where(WaveTarget.wave_id == wave_id)):
            key = CellKey(target.program_id, target.cohort_id, target.gender)
            index = by_alumnus[target.alumnus_id]
            if index in ANSWERS:
                cell = Cell.of_response(ANSWERS[index])
            elif index == PARTIAL:
                cell = Cell(partial=1)
            else:
                cell = Cell(unknown=1)
            cells.setdefault(key, []).append(cell)
        merged = {key: merge(parts) for key, parts in sorted(cells.items())}
        session.add(IndicatorSnapshot(
            wave_id=wave_id, responses_included=len(ANSWERS),
            data={"cells": cells_to_json(merged.items()),
                  "labels": {"programs": {str(welding.id): welding.name,
                                          str(cooking.id): cooking.name},
                             "cohorts": {str(c.id): c.label
                                         for c in session.scalars(select(Cohort))}}},
        ))
        session.commit()
        return {**survey, "alumni_ids": alumni, "welding_id": welding.id,
                "cooking_id": cooking.id, "year": year}


def new_export(app, kind: str, **params: Any) -> uuid.UUID:
    with app.app_context():
        session = db.session()
        export = Export(kind=kind, params={"wave": "ts-2026", **params})
        session.add(export)
        session.commit()
        return export.id


def run(app, export_id: uuid.UUID) -> Export:
    """The task body, as the worker runs it (in an app context)."""
    with app.app_context():
        assert tasks.export.run(str(export_id)) in ("done", "failed")
        return db.session().get(Export, export_id)


def rows_of(sheet) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def by_name(rows: list[tuple[Any, ...]], column: int) -> dict[Any, tuple[Any, ...]]:
    return {row[column]: row for row in rows if len(row) > column and row[column] is not None}


# --- the files -----------------------------------------------------------------------------


def test_indicator_workbook_has_the_hand_computed_summary(analytics_app, report_wave) -> None:
    export = run(analytics_app, new_export(analytics_app, "xlsx"))
    assert export.status == "done", export.error
    assert export.progress == 100 and export.finished_at is not None
    assert export.path.endswith(f"{export.id}.xlsx")
    workbook = load_workbook(export.path)
    assert workbook.sheetnames[0] == "Ringkasan"
    assert {"Status alumni", "Keterserapan & masa tunggu", "Pendapatan & UMK",
            "Relevansi & lokasi kerja", "Sertifikat", "Kesenjangan kompetensi",
            "Evaluasi pelatihan", "Saluran pencarian kerja",
            "Disposisi & respons"} <= set(workbook.sheetnames)

    summary = workbook["Ringkasan"]
    assert summary.freeze_panes == "A2" and summary.max_column == 8
    rows = by_name(rows_of(summary), 0)
    # columns: name, value, n, count, ci_low, ci_high, weighted, note
    assert rows["Populasi sasaran (N)"][3] == 12
    assert rows["Responden lengkap (n)"][3] == 8
    response_rate = rows["Tingkat respons (n / N)"]
    assert response_rate[1] == pytest.approx(8 / 12) and response_rate[2] == 12
    absorption = rows["Tingkat keterserapan (bekerja + wiraswasta)"]
    low, high = wilson_interval(5, 8)
    assert absorption[1:6] == (pytest.approx(0.625), 8, 5, pytest.approx(low),
                               pytest.approx(high))
    assert rows["Pendapatan setara/di atas UMK"][1] == pytest.approx(0.6)
    assert rows["UMK (Rp)"][1] == MINIMUM_WAGE
    assert rows["Lengkap (I)"][3] == 8
    assert rows["Sebagian (mulai, belum selesai) (P)"][3] == 1
    assert rows["Belum diketahui (UH)"][3] == 3
    absorption_cells = next(row for row in summary.iter_rows()
                            if row[0].value == "Tingkat keterserapan (bekerja + wiraswasta)")
    assert absorption_cells[1].number_format == "0.0%"

    # Breakdown rows: the formula-named program is small (2 respondents), so it shows no
    # number at all, and nor does Teknik Las (6): the whole minus Teknik Las would be the
    # small one (the small-group rule, docs/indicators.md). Its name is inert text.
    sheet = workbook["Keterserapan & masa tunggu"]
    assert sheet.freeze_panes == "D2"
    absorption_rows = [row for row in rows_of(sheet)
                       if row[2] == "Tingkat keterserapan (bekerja + wiraswasta)"]
    by_group = {row[1]: row for row in absorption_rows}
    inert = "'" + FORMULA_NAME
    for name in ("Teknik Las", inert):
        assert by_group[name][3:9] == (None,) * 6 and by_group[name][9] == SUPPRESSED_NOTE
    # An admin's audited unsuppressed export has them: Teknik Las 3 of 6, the other 2 of 2.
    unsuppressed = run(analytics_app, new_export(analytics_app, "xlsx", unsuppressed=True))
    by_group = {row[1]: row for row in rows_of(load_workbook(unsuppressed.path)[sheet.title])
                if row[2] == "Tingkat keterserapan (bekerja + wiraswasta)"}
    assert by_group["Teknik Las"][3:6] == (pytest.approx(0.5), 6, 3)
    assert by_group[inert][3:6] == (1, 2, 2)  # alumni 1 and 3 both work
    for name in workbook.sheetnames:
        for row in workbook[name].iter_rows():
            for cell in row:
                assert cell.data_type != "f", (name, cell.coordinate, cell.value)
                assert not (isinstance(cell.value, str) and cell.value.startswith("=")), (
                    name, cell.coordinate, cell.value)


def test_indicator_workbook_has_the_aapor_rates_and_the_bias_check(analytics_app,
                                                                    report_wave) -> None:
    # Final dispositions by hand (no message, no call in this wave): alumni 0-3 and 6-9
    # complete (I = 8; 9 withdrew consent later, but a complete response is the strongest
    # evidence), 4 partial (P = 1), 10-12 never reached (UH = 3). D = 12; no case is known
    # to be ineligible, so e = (8 + 1) / (8 + 1 + 0) = 1.
    # RR1 = 8/12, RR2 = 9/12, RR3 = 8/(9 + 1·3) = 8/12, RR4 = 9/12, COOP1 = 8/(9 + 0 + 0),
    # REF1 = 0/12, CON1 = (9 + 0 + 0)/12.
    export = run(analytics_app, new_export(analytics_app, "xlsx"))
    assert export.status == "done", export.error
    workbook = load_workbook(export.path)
    assert workbook.sheetnames[-1] == "Tingkat respons"
    rows = by_name(rows_of(workbook["Tingkat respons"]), 0)
    expected = {"RR1": 8 / 12, "RR2": 9 / 12, "RR3": 8 / 12, "RR4": 9 / 12, "COOP1": 8 / 9,
                "REF1": 0, "CON1": 9 / 12, "e": 1}
    for name, value in expected.items():
        assert rows[name][1] == pytest.approx(value), name
    assert rows["RR1"][3] == "I / D"
    assert rows["Lengkap (I)"][2] == 8 and rows["Sebagian (P)"][2] == 1
    assert rows["Tidak diketahui: belum terjangkau (UH)"][2] == 3
    assert rows["D (semua kecuali NE)"][2] == 12
    assert rows["Web (tautan sendiri)"][1:3] == (pytest.approx(8 / 12), 8)
    # The bias check goes through the small-group rule: the formula-named program has 2
    # respondents, so its shares are not shown; the sentence is there.
    assert rows["'" + FORMULA_NAME][1:] == (None, "n<5", "n<5")
    assert any(isinstance(row[0], str) and row[0].startswith("Responden ")
               for row in rows_of(workbook["Tingkat respons"]))


def test_pdf_report_names_absorption_and_the_response_rate(analytics_app, report_wave) -> None:
    export = run(analytics_app, new_export(analytics_app, "pdf"))
    assert export.status == "done", export.error
    reader = PdfReader(export.path)
    assert len(reader.pages) >= 4
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "UPTD BLKI Bontang" in text and "Tracer 2026" in text
    assert "Tingkat keterserapan" in text
    assert "66,7%" in text  # response rate 8 / 12
    assert "62,5%" in text  # absorption overall 5 / 8
    assert "Rekomendasi" in text
    assert "tidak pernah dihitung sebagai tidak bekerja" in " ".join(text.split())


def test_the_reports_name_the_centre_from_settings(settings, report_wave) -> None:
    from services.analytics import create_app

    app = create_app(app_config(replace(settings, centre_name="BLK Contoh Samarinda")))
    export = run(app, new_export(app, "pdf"))
    assert export.status == "done", export.error
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(export.path).pages)
                    .split())
    assert "BLK Contoh Samarinda" in text and "Kepala BLK Contoh Samarinda" in text
    assert "UPTD BLKI" not in text  # the city (Kota Bontang, its UMK) is the instrument's
    export = run(app, new_export(app, "xlsx"))
    assert export.status == "done", export.error
    summary = by_name(rows_of(load_workbook(export.path)["Ringkasan"]), 0)
    assert summary["Lembaga"][1] == "BLK Contoh Samarinda"


def test_csv_has_one_row_per_indicator_and_code(analytics_app, report_wave) -> None:
    export = run(analytics_app, new_export(analytics_app, "csv"))
    assert export.status == "done", export.error
    with open(export.path, encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    overall = {(row["indicator"], row["code"]): row for row in rows if row["breakdown"] == "Semua"}
    absorption = overall[("absorption_rate", "")]
    assert float(absorption["value"]) == pytest.approx(0.625)
    assert (absorption["n"], absorption["count"], absorption["small_n"]) == ("8", "5", "false")
    assert float(absorption["ci_low"]) == pytest.approx(wilson_interval(5, 8)[0])
    assert float(overall[("status_share", "1")]["value"]) == pytest.approx(4 / 8)
    assert overall[("dispositions", "partial")]["count"] == "1"
    gap = overall[("competency_gap", "f1761")]
    assert float(gap["value"]) == pytest.approx((5 + 4 + 4 + 4 + 3 - 3 - 4 - 2 - 3 - 3) / 5)
    # The AAPOR rates of the whole selection, as in the workbook's test: I 8, P 1, UH 3.
    assert float(overall[("rr1", "")]["value"]) == pytest.approx(8 / 12)
    assert float(overall[("coop1", "")]["value"]) == pytest.approx(8 / 9)
    assert float(overall[("aapor_e", "")]["value"]) == 1
    assert overall[("aapor_dispositions", "UH")]["count"] == "3"
    assert float(overall[("response_rate_by_mode", "web")]["value"]) == pytest.approx(8 / 12)
    formula_rows = [row for row in rows if row["group"] == "'" + FORMULA_NAME]
    assert formula_rows, "the formula-named program is a group of the CSV, inert"
    assert not any(row["indicator"] == "rr1" for row in formula_rows)
    small = next(row for row in formula_rows if row["indicator"] == "absorption_rate")
    assert small["value"] == small["n"] == small["count"] == ""  # 2 respondents: nothing
    assert not any(value.startswith("=") for row in rows for value in row.values())


def test_raw_responses_one_row_each_safe_and_in_batches(analytics_app, report_wave,
                                                        tmp_path) -> None:
    out = tmp_path / "raw.xlsx"
    seen: list[int] = []
    with analytics_app.app_context():
        written = write_raw_responses(db.session(), report_wave["wave_id"], out, seen.append,
                                      batch_size=2)
    assert written == 9  # 8 complete + 1 partial
    assert seen == sorted(seen) and seen[-1] == 100 and len(seen) >= 5
    sheet = load_workbook(out)["Respons"]
    header, *rows = rows_of(sheet)
    assert header[:6] == ("registration_no", "program", "cohort", "gender", "status",
                          "submitted_at")
    assert {"f8", "f505", "f1761", "f1762", "f4", "blk_eval_instructor"} <= set(header)
    column = {name: index for index, name in enumerate(header)}
    by_registration = {row[0]: row for row in rows}
    first = by_registration["REG-000"]
    assert first[column["program"]] == "Teknik Las" and first[column["status"]] == "complete"
    assert first[column["f505"]] == 4_500_000
    assert first[column["f4"]] == "f404, f411"
    assert first[column["f5b"]] == "'" + FORMULA_ANSWER
    assert by_registration["REG-001"][column["program"]] == "'" + FORMULA_NAME
    assert by_registration["REG-004"][column["status"]] == "partial"
    # consent withdrawn: answers kept, registration number not
    assert f"REG-{WITHDRAWN:03d}" not in by_registration
    assert sum(1 for row in rows if row[0] is None) == 1


def test_raw_export_task_filters_by_program(analytics_app, report_wave) -> None:
    export = run(analytics_app, new_export(analytics_app, "raw_xlsx",
                                           program=report_wave["cooking_id"]))
    assert export.status == "done", export.error
    _, *rows = rows_of(load_workbook(export.path)["Respons"])
    assert sorted(row[0] for row in rows) == ["REG-001", "REG-003"]


def test_an_export_without_indicators_fails_with_a_reason(analytics_app, survey) -> None:
    export = run(analytics_app, new_export(analytics_app, "pdf"))
    assert export.status == "failed"
    assert "not been computed" in export.error
    assert export.path is None


def test_a_finished_export_is_not_run_again(analytics_app, report_wave) -> None:
    export_id = new_export(analytics_app, "csv")
    first = run(analytics_app, export_id)
    with analytics_app.app_context():
        assert tasks.export.run(str(export_id)) == "done"  # redelivered: nothing to do
        assert db.session().get(Export, export_id).finished_at == first.finished_at


def test_the_task_has_its_stable_name() -> None:
    assert tasks.export.name == "analytics.export"


# --- the API -------------------------------------------------------------------------------


def test_api_202_then_poll_then_file(analytics_app, report_wave, monkeypatch) -> None:
    sent: list[tuple[str, list[str]]] = []
    celery = analytics_app.extensions["celery"]
    monkeypatch.setattr(celery, "send_task",
                        lambda name, args, **_: sent.append((name, args)))
    client = analytics_app.test_client()
    operator = report_wave["headers"]["operator"]
    created = client.post("/api/v1/exports", json={"kind": "xlsx", "wave": "ts-2026"},
                          headers=operator)
    assert created.status_code == 202, created.get_json()
    body = created.get_json()
    assert body["status"] == "queued" and body["progress"] == 0 and body["file_url"] is None
    assert sent == [("analytics.export", [body["id"]])]
    assert client.get(f"/api/v1/exports/{body['id']}/file", headers=operator).status_code == 409

    run(analytics_app, uuid.UUID(body["id"]))  # what the worker does with the task
    polled = client.get(f"/api/v1/exports/{body['id']}", headers=operator).get_json()
    assert (polled["status"], polled["progress"]) == ("done", 100)
    assert polled["file_url"].endswith(f"/api/v1/exports/{body['id']}/file")
    download = client.get(f"/api/v1/exports/{body['id']}/file", headers=operator)
    assert download.status_code == 200
    assert "jejak-ts-2026-indikator.xlsx" in download.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(download.data))
    assert "Ringkasan" in workbook.sheetnames
    with analytics_app.app_context():
        audit = db.session().scalar(select(AuditEntry).where(AuditEntry.action == "export.create"))
        assert audit.target == body["id"] and audit.details["kind"] == "xlsx"


def test_viewer_may_export_aggregates_but_not_raw_responses(analytics_app, report_wave,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(analytics_app.extensions["celery"], "send_task", lambda *a, **k: None)
    client = analytics_app.test_client()
    viewer = report_wave["headers"]["viewer"]
    refused = client.post("/api/v1/exports", json={"kind": "raw_xlsx", "wave": "ts-2026"},
                          headers=viewer)
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    with analytics_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Export)) == 0
    for kind in ("xlsx", "pdf", "csv"):
        allowed = client.post("/api/v1/exports", json={"kind": kind, "wave": "ts-2026"},
                              headers=viewer)
        assert allowed.status_code == 202, allowed.get_json()

    # The raw workbook is the admin's alone (issue 14): an operator may not ask for it.
    operator = report_wave["headers"]["operator"]
    assert client.post("/api/v1/exports", json={"kind": "raw_xlsx", "wave": "ts-2026"},
                       headers=operator).status_code == 403
    # An admin's raw export: the viewer and the operator see its status, never its file.
    raw = client.post("/api/v1/exports", json={"kind": "raw_xlsx", "wave": "ts-2026"},
                      headers=report_wave["headers"]["admin"]).get_json()
    run(analytics_app, uuid.UUID(raw["id"]))
    assert client.get(f"/api/v1/exports/{raw['id']}", headers=viewer).status_code == 200
    assert client.get(f"/api/v1/exports/{raw['id']}/file", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/exports/{raw['id']}/file", headers=operator).status_code == 403
    admin_download = client.get(f"/api/v1/exports/{raw['id']}/file",
                                headers=report_wave["headers"]["admin"])
    assert admin_download.status_code == 200
    with analytics_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(AuditEntry)
                                   .where(AuditEntry.action == "export.download")) == 1


def test_api_refuses_unknown_waves_and_kinds_and_anonymous_calls(analytics_app,
                                                                report_wave) -> None:
    client = analytics_app.test_client()
    operator = report_wave["headers"]["operator"]
    unknown = client.post("/api/v1/exports", json={"kind": "pdf", "wave": "nope"},
                          headers=operator)
    assert unknown.status_code == 422 and "wave" in unknown.get_json()["errors"]
    bad_kind = client.post("/api/v1/exports", json={"kind": "docx", "wave": "ts-2026"},
                           headers=operator)
    assert bad_kind.status_code == 422 and "kind" in bad_kind.get_json()["errors"]
    assert client.post("/api/v1/exports", json={"kind": "pdf", "wave": "ts-2026"}
                       ).status_code == 401
    assert client.get(f"/api/v1/exports/{uuid.uuid4()}", headers=operator).status_code == 404
    with analytics_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Export)) == 0


def test_aggregate_export_refused_before_indicators_exist(analytics_app, survey) -> None:
    client = analytics_app.test_client()
    answer = client.post("/api/v1/exports", json={"kind": "xlsx", "wave": "ts-2026"},
                         headers=survey["headers"]["operator"])
    assert answer.status_code == 422 and "wave" in answer.get_json()["errors"]


def test_export_through_a_real_worker(analytics_app, report_wave, celery_worker) -> None:
    client = analytics_app.test_client()
    operator = report_wave["headers"]["operator"]
    created = client.post("/api/v1/exports", json={"kind": "pdf", "wave": "ts-2026"},
                          headers=operator).get_json()

    def finished() -> dict[str, Any] | None:
        polled = client.get(f"/api/v1/exports/{created['id']}", headers=operator).get_json()
        return polled if polled["status"] in ("done", "failed") else None

    polled = wait_for(finished, timeout=60)
    assert polled["status"] == "done", polled["error"]
    download = client.get(f"/api/v1/exports/{created['id']}/file", headers=operator)
    assert download.status_code == 200 and download.data.startswith(b"%PDF")


def test_progress_is_committed_while_the_file_is_written(analytics_app, report_wave,
                                                         monkeypatch) -> None:
    """Each progress step is visible to another session before the export finishes."""
    import services.analytics.reports.xlsx as xlsx_module

    export_id = new_export(analytics_app, "raw_xlsx")
    observed: list[tuple[str, int]] = []
    original = xlsx_module.write_raw_responses

    def spying(session, wave_id, out, on_progress, **kwargs):
        def report(percent: int) -> None:
            on_progress(percent)
            with analytics_app.app_context():
                database = db.get_db()
                with database.session_factory() as other:
                    row = other.execute(select(Export.status, Export.progress)
                                        .where(Export.id == export_id)).one()
                    observed.append((row.status, row.progress))
        return original(session, wave_id, out, report, **{**kwargs, "batch_size": 3})

    monkeypatch.setattr("services.analytics.reports.export.write_raw_responses", spying)
    with analytics_app.app_context():
        assert run_export(db.get_db().session_factory, export_id,
                          analytics_app.config["JEJAK_SETTINGS"]) == "done"
    assert observed and all(status == "running" for status, _ in observed)
    assert [progress for _, progress in observed] == sorted(progress for _, progress in observed)
    assert 0 < observed[0][1] < 99
