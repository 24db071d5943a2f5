"""Which minimum wage applies where the alumnus works, and decent work under both presets,
end to end: wages set through the API, a full refresh, the indicators API. On the database
the run uses (SQLite, or PostgreSQL with JEJAK_TEST_DB=postgresql).

The wave (opened 10 January 2026 WITA: wages of 2026) has one program, two cohorts, men only.
Wages of 2026, set below: UMK Kota Bontang (6474) 3.800.000, which is also the centre's own
(the centre is in Bontang); UMK Kota Samarinda (6472) 3.500.000; UMP Kalimantan Timur (64)
3.400.000; UMP DKI Jakarta (31) 5.000.000. Kabupaten Paser (6401) has no UMK row.

    who  f8  waiting  income     city  prov  contract  wage applied        ≥ wage?
    K1 (6 targets, 5 respondents)
    r1   1   2        4.600.000  6474  64    1 PKWTT   UMK Bontang 3.8M    yes
    r2   1   8        3.600.000  6472  64    2 PKWT    UMK Samarinda 3.5M  yes
    r3   1   3        3.500.000  6401  64    3 none    UMP Kaltim 3.4M     yes (city without UMK)
    r4   3   1        4.500.000  -     31    -         UMP DKI 5.0M        no  (province only)
    r5   4   further study
    t6   no response
    K2 (5 targets, 5 respondents)
    s1   1   5        3.700.000  -     -     -         centre 3.8M         no  (place unknown)
    s2   1   14       9.000.000  -     99    -         centre 3.8M         yes (abroad: no UMP)
    s3   5
    s4   1   6        5.000.000  -     64    1         UMP Kaltim 3.4M     yes (province only)
    s5   no status answer (not weighed)
"""

from __future__ import annotations

import copy
import math
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.analytics.decent_store import save_preset
from services.analytics.refresh import full_refresh
from services.survey import catalog
from services.survey.questionnaire import shipped_definition
from shared import db
from shared.auth import create_token
from shared.db import Database
from shared.models import Alumnus, Cohort, Program, Response, Wave, WaveTarget, utcnow

Z = 1.959963984540054
OPENED_AT = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)


def employed(status: int, waiting: int, income: int, **place: int) -> dict[str, Any]:
    timing = {"f504": 1, "f502": waiting} if waiting <= 6 else {"f504": 2, "f506": waiting}
    return {"f8": status, **timing, "f505": income, **place}


ANSWERS: dict[str, dict[str, Any] | None] = {
    "r1": employed(1, 2, 4_600_000, work_city=6474, work_province=64, contract=1),
    "r2": employed(1, 8, 3_600_000, work_city=6472, work_province=64, contract=2),
    "r3": employed(1, 3, 3_500_000, work_city=6401, work_province=64, contract=3),
    "r4": employed(3, 1, 4_500_000, work_province=31),
    "r5": {"f8": 4},
    "t6": None,
    "s1": employed(1, 5, 3_700_000),
    "s2": employed(1, 14, 9_000_000, work_province=99),
    "s3": {"f8": 5},
    "s4": employed(1, 6, 5_000_000, work_province=64, contract=1),
    "s5": {"blk_cert": 1},
}
WAGES = (  # (level, region code, name, amount)
    ("city", "6474", "Kota Bontang", 3_800_000),
    ("city", "6472", "Kota Samarinda", 3_500_000),
    ("province", "64", "Kalimantan Timur", 3_400_000),
    ("province", "31", "DKI Jakarta", 5_000_000),
)


def v1_with_work_place() -> dict[str, Any]:
    """blk-tracer v1 (waiting time as f504/f502/f506) with v2's work province, city and
    contract items and their indicator inputs: the answers above, as they are written."""
    v1, v2 = shipped_definition(1), shipped_definition(2)
    asked = [copy.deepcopy(question) for section in v2["sections"]
             for question in section["questions"]
             if question["key"] in ("work_province", "work_city", "contract")]
    return {**copy.deepcopy(v1), "key": "v1-tempat-kerja",
            "sections": [*copy.deepcopy(v1["sections"]),
                         {"key": "tempat", "title": {"id": "Tempat kerja", "en": "Workplace"},
                          "questions": asked}],
            "indicator_inputs": {**v1["indicator_inputs"],
                                 **{name: {"item": name}
                                    for name in ("work_province", "work_city", "contract")}}}


def approx6(value: float) -> Any:
    return pytest.approx(value, abs=5e-7)


@pytest.fixture()
def wave(analytics_app) -> dict[str, Any]:
    with analytics_app.app_context():
        session = db.session()
        questionnaire_id = catalog.add_version(session, v1_with_work_place()).id
        program = Program(name="Las")
        session.add(program)
        session.flush()
        cohorts = {label: Cohort(program_id=program.id, label=label,
                                 training_start=date(2025, 2, 3), training_end=date(2025, 4, 25))
                   for label in ("K1", "K2")}
        session.add_all(cohorts.values())
        row = Wave(slug=f"decent-{uuid.uuid4().hex[:6]}", title="Tracer 2026",
                   questionnaire_id=questionnaire_id, status="open", opened_at=OPENED_AT)
        session.add(row)
        session.flush()
        for name, answers in ANSWERS.items():
            cohort = cohorts["K1" if name[0] in "rt" else "K2"]
            alumnus = Alumnus(registration_no=f"D-{name}", full_name=name, gender="L",
                              cohort_id=cohort.id)
            session.add(alumnus)
            session.flush()
            session.add(WaveTarget(wave_id=row.id, alumnus_id=alumnus.id,
                                   program_id=program.id, cohort_id=cohort.id, gender="L"))
            if answers is not None:
                session.add(Response(wave_id=row.id, alumnus_id=alumnus.id,
                                     questionnaire_id=questionnaire_id, status="complete",
                                     answers={"consent": True, **answers},
                                     submitted_at=utcnow()))
        admin = create_token(session, "admin")
        session.commit()
        return {"slug": row.slug, "id": row.id,
                "headers": {"Authorization": f"Bearer {admin}"}}


def set_wages(client, wave) -> None:
    for level, code, name, amount in WAGES:
        response = client.put("/api/v1/minimum-wages", headers=wave["headers"], json={
            "year": 2026, "amount": amount, "level": level, "region_code": code,
            "region_name": name, "source": "contoh"})
        assert response.status_code == 200, response.get_json()


def figures(app, wave) -> dict[str, Any]:
    full_refresh(Database.for_url(app.config["JEJAK_SETTINGS"].database_url).session_factory,
                 wave["id"])
    response = app.test_client().get("/api/v1/indicators", headers=wave["headers"],
                                     query_string={"wave": wave["slug"], "unsuppressed": True})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_each_income_meets_the_wage_of_where_the_alumnus_works(analytics_app, wave) -> None:
    set_wages(analytics_app.test_client(), wave)
    body = figures(analytics_app, wave)
    indicators = body["indicators"]
    # The centre's own wage is still the one the answer names (UMK Kota Bontang).
    assert body["minimum_wage"]["amount"] == 3_800_000
    assert indicators["minimum_wage"] == 3_800_000
    assert body["minimum_wage_rule"].startswith("UMK of the work city")
    # UMK known: r1 (Bontang), r2 (Samarinda). Only the province's UMP: r3 (Paser has no
    # UMK row), r4 (Jakarta), s4 (Kaltim). Neither: s1 (no place), s2 (abroad).
    assert indicators["minimum_wage_applied"] == {"umk": 2, "ump": 3, "centre": 2}
    # At or above: r1 4.6 ≥ 3.8, r2 3.6 ≥ 3.5, r3 3.5 ≥ 3.4, s2 9.0 ≥ 3.8, s4 5.0 ≥ 3.4;
    # below: r4 4.5 < 5.0, s1 3.7 < 3.8 → 5 of 7. (The centre's wage alone would give
    # 4 of 7: r2 and r3 below 3.8, r4 above it.)
    above = indicators["above_minimum_wage"]
    assert (above["count"], above["n"]) == (5, 7)
    # Weighted, w = N_h / n_h: K1 6/5, K2 5/5. K1: 3 of 4 incomes above, K2: 2 of 3.
    #   (1.2·3 + 1·2) / (1.2·4 + 1·3) = 5.6 / 7.8 = 0.717949
    assert above["weighted"] == approx6(0.717949)


def test_decent_work_under_the_iku2_preset(analytics_app, wave) -> None:
    set_wages(analytics_app.test_client(), wave)
    decent = figures(analytics_app, wave)["indicators"]["decent_work"]["iku2"]
    # IKU 2: pay over 1.2 × the applicable wage (r1 4.56M, r2 4.2M, r3 4.08M, r4 6.0M,
    # s1 4.56M, s4 4.08M), weights:
    #   r1 waiting 2 < 6, 4.6M > 4.56M → 1.0      s1 5 < 12, 3.7M ≤ 4.56M → 0.6
    #   r2 8 < 12, 3.6M ≤ 4.2M         → 0.6      s2 waiting 14         → 0
    #   r3 3 < 12, 3.5M ≤ 4.08M        → 0.6      s3 f8 = 5             → 0
    #   r4 self-employed 1 < 12, 4.5M ≤ 6.0M → 0.6  s4 6 is not < 6; < 12, 5.0M > 4.08M → 0.8
    #   r5 further study               → 1.0      s5 no status: not weighed
    # n = 9, Σw = 3.8 + 1.4 = 5.2, Σw² = 3.08 + 1.00 = 4.08; mean = 5.2 / 9 = 0.577778.
    assert decent["n"] == 9
    assert decent["value"] == approx6(0.577778)
    # s² = (n·Σw² − (Σw)²) / (n(n − 1)) = (36.72 − 27.04) / 72 = 0.134444;
    # SE = sqrt(s² / n) = 0.122222; half = z·SE = 0.239551 → [0.338227, 0.817329].
    assert decent["ci_low"] == approx6(0.338227)
    assert decent["ci_high"] == approx6(0.817329)
    # Weighted: w K1 = 6/5, K2 = 5/5; (1.2·3.8 + 1·1.4) / (1.2·5 + 1·4) = 5.96 / 10 = 0.596.
    assert decent["weighted"] == approx6(0.596)
    # Stratified: W = 0.6, 0.4; s²_K1 = (5·3.08 − 3.8²) / 20 = 0.048,
    # s²_K2 = (4·1.0 − 1.4²) / 12 = 0.17; Var = 0.36·0.048/5 + 0.16·0.17/4 = 0.010256;
    # half = z·sqrt(0.010256) = 0.198489 → [0.397511, 0.794489].
    assert decent["weighted_ci_low"] == approx6(0.397511)
    assert decent["weighted_ci_high"] == approx6(0.794489)
    assert decent["small_n"] is False
    assert math.isclose(decent["weighted"], 5.96 / 10)


def test_decent_work_under_the_centres_own_blk_preset(analytics_app, wave) -> None:
    set_wages(analytics_app.test_client(), wave)
    with analytics_app.app_context():
        session = db.session()
        problems = save_preset(session, "blk", {
            "pay_percent": "100", "contract_required": "on", "further_study": "50",
            "employee.full_months": "3", "employee.partial_months": "12",
            "employee.full": "100", "employee.partial_paid": "80",
            "employee.partial_unpaid": "50",
            "self_employed.full_months": "6", "self_employed.partial_months": "12",
            "self_employed.full": "100", "self_employed.partial_paid": "80",
            "self_employed.partial_unpaid": "60"}, "admin")
        assert problems == {}
        session.commit()
    indicators = figures(analytics_app, wave)["indicators"]["decent_work"]
    blk = indicators["blk"]
    # blk: pay over 1.0 × the wage, employees need a written contract (1 or 2), employees
    # under 3 months for the full weight, unpaid-but-timely employees 0.5, further study 0.5.
    #   r1 contract 1, 2 < 3, 4.6M > 3.8M      → 1.0    s1 no contract         → 0
    #   r2 contract 2, 8 < 12, 3.6M > 3.5M     → 0.8    s2 no contract         → 0
    #   r3 contract 3 (none)                   → 0      s3 f8 = 5              → 0
    #   r4 self-employed 1 < 12, 4.5M ≤ 5.0M   → 0.6    s4 contract 1, 6 < 12, 5.0M > 3.4M → 0.8
    #   r5 further study                       → 0.5
    # n = 9, Σw = 2.9 + 0.8 = 3.7, Σw² = 2.25 + 0.64 = 2.89; mean = 3.7 / 9 = 0.411111.
    assert (blk["n"], blk["value"]) == (9, approx6(0.411111))
    # s² = (9·2.89 − 3.7²) / 72 = 12.32 / 72 = 0.171111; SE = 0.137885;
    # half = 0.270250 → [0.140861, 0.681361].
    assert blk["ci_low"] == approx6(0.140861)
    assert blk["ci_high"] == approx6(0.681361)
    # Weighted: (1.2·2.9 + 1·0.8) / 10 = 0.428; s²_K1 = (5·2.25 − 2.9²) / 20 = 0.142,
    # s²_K2 = (4·0.64 − 0.8²) / 12 = 0.16; Var = 0.36·0.142/5 + 0.16·0.16/4 = 0.016624;
    # half = 0.252706 → [0.175294, 0.680706].
    assert blk["weighted"] == approx6(0.428)
    assert blk["weighted_ci_low"] == approx6(0.175294)
    assert blk["weighted_ci_high"] == approx6(0.680706)
    # The iku2 preset is untouched by the centre's change.
    assert indicators["iku2"]["value"] == approx6(0.577778)


def test_the_iku2_preset_cannot_be_changed(analytics_app) -> None:
    with analytics_app.app_context():
        assert save_preset(db.session(), "iku2", {"pay_percent": "100"}, "admin") == {
            "name": "this preset cannot be changed"}


def test_without_a_minimum_wage_decent_work_has_no_value(analytics_app, wave) -> None:
    indicators = figures(analytics_app, wave)["indicators"]
    assert indicators["decent_work"]["iku2"]["value"] is None
    assert indicators["decent_work"]["iku2"]["n"] == 0
    assert indicators["above_minimum_wage"]["count"] is None
    # Without any wage row every income falls to the centre's (unset) wage.
    assert indicators["minimum_wage_applied"] == {"umk": 0, "ump": 0, "centre": 7}


def test_the_pdf_report_has_the_decent_work_section(analytics_app, wave, tmp_path) -> None:
    from pypdf import PdfReader

    from services.analytics.reports.export import load_report_input
    from services.analytics.reports.pdf import write_pdf

    set_wages(analytics_app.test_client(), wave)
    figures(analytics_app, wave)  # refreshed with the wages
    with analytics_app.app_context():
        report = load_report_input(db.session(), {"wave": wave["slug"], "unsuppressed": True},
                                   "Asia/Makassar")
        out = tmp_path / "report.pdf"
        write_pdf(report.cells, report.labels, report.wave, report.minimum_wage, out,
                  rule=None, unsuppressed=True)
    text = " ".join(page.extract_text() for page in PdfReader(out).pages)
    text = " ".join(text.split())
    assert "Pekerjaan layak" in text
    # iku2 0.577778 → 57,8%; blk as seeded (equal to IKU 2).
    assert "57,8%" in text
    assert ("UMK kabupaten/kota tempat bekerja: 2; UMP provinsi tempat bekerja: 3; upah "
            "minimum wilayah BLK: 2") in text


def test_the_dashboard_shows_decent_work_and_the_wages_applied(analytics_app, wave) -> None:
    from shared.auth import create_user
    from tests.integration.test_web_access import login

    set_wages(analytics_app.test_client(), wave)
    figures(analytics_app, wave)
    with analytics_app.app_context():
        session = db.session()
        create_user(session, "admin-decent", "kata-sandi-decent-18", "admin")
        session.commit()
    client = analytics_app.test_client()
    assert login(client, "admin-decent", "kata-sandi-decent-18").status_code == 302
    html = client.get(f"/?wave={wave['slug']}").get_data(as_text=True)
    assert "Pekerjaan layak" in html and "IKU 2 (Kepmendiktisaintek 358/M/KEP/2025)" in html
    assert "57,8" in html  # 0.577778 as the reader's percent (the whole wave is shown)
    assert ("Pendapatan dibandingkan dengan UMK kabupaten/kota tempat bekerja: 2; dengan UMP "
            "provinsi tempat bekerja: 3; dengan upah minimum wilayah BLK: 2.") in html
