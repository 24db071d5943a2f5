"""Every employer indicator on a small hand-computed dataset, through analytics' projection
(rebuilt at the full refresh) and the API. Both databases (the PostgreSQL pass of
`make test` runs this file too).

The dataset (wave ts-2026 of the `survey` fixture; Teknik Las: alumni 0, 2, 4; Tata Boga:
alumni 1, 3):

| company | KBLI | city | contact | alumni named (consent) |
|---|---|---|---|---|
| E1 PT Las Jaya | C | Bontang | Budi | 0, 2 (Las), 3 (Boga) |
| E2 Hotel Kaltim | I | Samarinda | Sari | 1 (Boga) |
| E3 CV Listrik | C | Bontang | Andi | 4 (Las) |

Company answers: E1 strengthen f1765 and blk_k3_a; needs las 5, otomotif 0; hosts
apprentices yes; curriculum review maybe. E2 strengthen f1765; needs boga 3, las 2;
apprentices no; curriculum review yes. E3 does not answer.

Ratings (integrity, technical, K3, tools/IT, communication, teamwork, discipline, learning;
hire again): alumnus 0: 4 3 3 2 3 4 4 3, yes · alumnus 2: 3 2 4 1 2 3 3 4, maybe ·
alumnus 1: 4 4 3 3 4 4 2 3, yes · alumnus 3: 2 3 3 2 3 3 4 4, no.

Worked by hand:
- integrity: 4 3 4 2 → 3 of 4 rate 3-4: 0.75, mean 13/4 = 3.25, Wilson 95 % [0.3006, 0.9544];
  technical 3 2 4 3 → 0.75, mean 3.0; tools/IT 2 1 3 2 → 0.25, mean 2.0.
- by program, integrity: Teknik Las (0, 2) 4 3 → 1.0, mean 3.5; Tata Boga (1, 3) 4 2 → 0.5,
  mean 3.0. By sector, integrity: C (0, 2, 3) 4 3 2 → 2/3, mean 3.0; I (1) 4 → 1.0.
- hiring again: yes 2, maybe 1, no 1 → 2/4 = 0.5 (maybe in the base).
- competencies to strengthen, companies naming them per program: Teknik Las (E1 only):
  blk_k3_a 1, f1765 1 (ties by name); Tata Boga (E1 and E2): f1765 2, blk_k3_a 1.
  Beside them the alumni's own gap (B − A of f17): alumnus 0 (Las) answered f1765 = 2,
  f1766 = 4: gap 2.0, n 1; alumnus 1 (Boga) f1765 = 3, f1766 = 4: gap 1.0, n 1.
- demand: sector C {las 5, otomotif 0}, I {boga 3, las 2}; Bontang {las 5, otomotif 0},
  Samarinda {boga 3, las 2}.
- willing to host apprentices: E1 yes, E2 no → 1/2; curriculum review: E1 maybe, E2 yes →
  1/2.
- response rate: 3 companies invited, 2 answered → 2/3. After alumnus 4 withdraws, E3 is
  invited no more: 2/2.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from services.analytics.refresh import full_refresh
from services.survey.privacy import withdraw_consent
from shared import db
from shared.db import Database
from shared.models import (
    AuditEntry,
    Employer,
    EmployerAnswer,
    EmployerCompanyFact,
    EmployerContact,
    EmployerRating,
    EmployerRatingFact,
    Questionnaire,
    Response,
    SupervisorConsent,
)
from tests.integration.conftest import EMPLOYED

KEYS = ("emp_integrity", "emp_technical", "emp_k3", "emp_tools", "emp_communication",
        "emp_teamwork", "emp_discipline", "emp_learning")
RATINGS = {0: ((4, 3, 3, 2, 3, 4, 4, 3), 1), 2: ((3, 2, 4, 1, 2, 3, 3, 4), 2),
           1: ((4, 4, 3, 3, 4, 4, 2, 3), 1), 3: ((2, 3, 3, 2, 3, 3, 4, 4), 3)}


def approx(value: float) -> Any:
    return pytest.approx(value, abs=5e-4)


@pytest.fixture()
def dataset(survey_app, survey) -> dict[str, Any]:
    alumni = [alumnus_id for alumnus_id, _ in survey["alumni"]]
    wave_id = survey["wave_id"]
    with survey_app.app_context():
        session = db.session()
        questionnaire = session.scalar(select(Questionnaire.id))
        companies = [Employer(name=name, name_key=name.lower(), kbli_section=section, city=city,
                              source="staff")
                     for name, section, city in (("PT Las Jaya", "C", "Bontang"),
                                                 ("Hotel Kaltim", "I", "Samarinda"),
                                                 ("CV Listrik", "C", "Bontang"))]
        session.add_all(companies)
        session.flush()
        contacts = [EmployerContact(employer_id=company.id, name=name, phone=phone,
                                    consent_source="alumnus")
                    for company, name, phone in zip(companies, ("Budi", "Sari", "Andi"),
                                                    ("+628111", "+628222", "+628333"),
                                                    strict=True)]
        session.add_all(contacts)
        session.flush()
        for index, contact in ((0, 0), (2, 0), (3, 0), (1, 1), (4, 2)):
            session.add(SupervisorConsent(wave_id=wave_id, alumnus_id=alumni[index],
                                          contact_id=contacts[contact].id))
        for index, (scores, hire) in RATINGS.items():
            session.add(EmployerRating(
                wave_id=wave_id, alumnus_id=alumni[index],
                contact_id=contacts[0 if index != 1 else 1].id, questionnaire_id=questionnaire,
                answers={**dict(zip(KEYS, scores, strict=True)), "emp_hire_again": hire}))
        session.add(EmployerAnswer(
            wave_id=wave_id, employer_id=companies[0].id, contact_id=contacts[0].id,
            questionnaire_id=questionnaire,
            answers={"emp_strengthen": ["f1765", "blk_k3_a"], "emp_need_las": 5,
                     "emp_need_otomotif": 0, "emp_need_other_trade": "las pipa",
                     "emp_apprentice": 1, "emp_curriculum": 2}))
        session.add(EmployerAnswer(
            wave_id=wave_id, employer_id=companies[1].id, contact_id=contacts[1].id,
            questionnaire_id=questionnaire,
            answers={"emp_strengthen": ["f1765"], "emp_need_boga": 3, "emp_need_las": 2,
                     "emp_apprentice": 3, "emp_curriculum": 1}))
        for index, had in ((0, 2), (1, 3)):  # the alumni's own f17 answers (A had, B needed)
            session.add(Response(wave_id=wave_id, alumnus_id=alumni[index],
                                 questionnaire_id=survey["questionnaire_id"], status="complete",
                                 answers={**EMPLOYED, "f1765": had, "f1766": 4},
                                 source="web"))
        session.commit()
    return {"wave_id": wave_id, "alumni": alumni, "sectors": ("C", "I")}


def refreshed(app, wave_id: int) -> None:
    assert full_refresh(Database.for_url(app.config["JEJAK_SETTINGS"].database_url)
                        .session_factory, wave_id) is not None


def figures(analytics_app, survey, role: str = "admin", **query: Any) -> dict[str, Any]:
    answer = analytics_app.test_client().get(
        "/api/v1/employer-indicators", query_string={"wave": "ts-2026", **query},
        headers=survey["headers"][role])
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_every_employer_indicator_matches_the_hand_computed_figures(
        analytics_app, survey, dataset) -> None:
    refreshed(analytics_app, dataset["wave_id"])
    with analytics_app.app_context():
        session = db.session()
        assert len(session.scalars(select(EmployerRatingFact)).all()) == 4
        assert len(session.scalars(select(EmployerCompanyFact)).all()) == 3
    body = figures(analytics_app, survey, unsuppressed="true")
    assert body["suppressed"] is False and body["ratings"] == 4
    integrity = body["satisfaction"]["integrity"]
    assert (integrity["count"], integrity["n"], integrity["small_n"]) == (3, 4, True)
    assert integrity["value"] == approx(0.75) and integrity["mean"] == approx(3.25)
    assert (integrity["ci_low"], integrity["ci_high"]) == (approx(0.3006), approx(0.9544))
    assert body["satisfaction"]["technical"]["value"] == approx(0.75)
    assert body["satisfaction"]["technical"]["mean"] == approx(3.0)
    assert body["satisfaction"]["tools_it"]["value"] == approx(0.25)
    assert body["satisfaction"]["tools_it"]["mean"] == approx(2.0)
    by_program = body["satisfaction_by_program"]
    assert by_program["Teknik Las"]["integrity"]["value"] == approx(1.0)
    assert by_program["Teknik Las"]["integrity"]["mean"] == approx(3.5)
    assert by_program["Tata Boga"]["integrity"]["value"] == approx(0.5)
    assert by_program["Tata Boga"]["integrity"]["mean"] == approx(3.0)
    by_sector = body["satisfaction_by_sector"]
    assert by_sector["C"]["integrity"]["value"] == approx(2 / 3)
    assert by_sector["C"]["integrity"]["n"] == 3 and by_sector["C"]["integrity"]["mean"] == 3.0
    assert by_sector["I"]["integrity"]["value"] == 1.0 and by_sector["I"]["integrity"]["n"] == 1
    assert body["hire_again"]["value"] == 0.5
    assert body["hire_again"]["answers"] == {"yes": 2, "maybe": 1, "no": 1}
    assert body["strengthen"]["Teknik Las"] == [
        {"competency": "blk_k3_a", "companies": 1,
         "alumni_gap": {"value": None, "n": 0, "small_n": True}},
        {"competency": "f1765", "companies": 1,
         "alumni_gap": {"value": 2.0, "n": 1, "small_n": True}}]
    assert [(row["competency"], row["companies"], row["alumni_gap"]["value"])
            for row in body["strengthen"]["Tata Boga"]] == [("f1765", 2, 1.0),
                                                            ("blk_k3_a", 1, None)]
    assert body["demand_by_sector"] == {"C": {"las": 5, "otomotif": 0},
                                        "I": {"boga": 3, "las": 2}}
    assert body["demand_by_city"] == {"Bontang": {"las": 5, "otomotif": 0},
                                      "Samarinda": {"boga": 3, "las": 2}}
    assert body["willingness"]["hosts_apprentices"]["value"] == 0.5
    assert body["willingness"]["joins_curriculum_review"]["value"] == 0.5
    rate = body["response_rate"]
    assert (rate["invited"], rate["count"], rate["n"]) == (3, 2, 3)
    assert rate["value"] == approx(2 / 3)
    with analytics_app.app_context():  # the admin's unsuppressed read is audited
        assert db.session().scalar(select(AuditEntry.action).where(
            AuditEntry.action == "indicators.unsuppressed")) is not None


def test_below_admin_the_small_groups_show_no_number(analytics_app, survey, dataset) -> None:
    refreshed(analytics_app, dataset["wave_id"])
    body = figures(analytics_app, survey, role="viewer")
    assert body["suppressed"] is True
    integrity = body["satisfaction"]["integrity"]
    assert (integrity["value"], integrity["mean"], integrity["ci_low"]) == (None, None, None)
    assert integrity["n"] == 4  # the base is said, not the figure
    assert body["hire_again"]["answers"] is None
    assert body["strengthen"]["Teknik Las"][1]["alumni_gap"]["value"] is None
    # Companies are not people: their figures stay.
    assert body["demand_by_sector"]["C"] == {"las": 5, "otomotif": 0}
    assert body["response_rate"]["value"] == approx(2 / 3)
    assert analytics_app.test_client().get(
        "/api/v1/employer-indicators", query_string={"wave": "ts-2026", "unsuppressed": "true"},
        headers=survey["headers"]["viewer"]).status_code == 403


def test_a_withdrawal_leaves_the_projection_at_the_next_refresh(
        analytics_app, survey_app, survey, dataset) -> None:
    with survey_app.app_context():
        withdraw_consent(db.session(), dataset["alumni"][4], source="staff")
        withdraw_consent(db.session(), dataset["alumni"][3], source="staff")
        db.session().commit()
    refreshed(analytics_app, dataset["wave_id"])
    body = figures(analytics_app, survey, unsuppressed="true")
    assert body["ratings"] == 3  # alumnus 3's rating is out
    assert body["satisfaction_by_sector"]["C"]["integrity"]["n"] == 2
    rate = body["response_rate"]
    assert (rate["invited"], rate["count"]) == (2, 2)


@pytest.mark.parametrize("query", [{"wave": "nope"}, {"wave": "ts-2026", "x": "1"},
                                   {"wave": "<script>"}, {"wave": "a" * 81},
                                   {"wave": "ts-2026", "unsuppressed": "maybe"}])
def test_hostile_queries_are_refused(analytics_app, survey, dataset, query) -> None:
    answer = analytics_app.test_client().get("/api/v1/employer-indicators", query_string=query,
                                             headers=survey["headers"]["viewer"])
    assert answer.status_code in (404, 422)
    assert "<script>" not in answer.get_data(as_text=True)


def test_before_any_refresh_the_api_says_so(analytics_app, survey, dataset) -> None:
    answer = analytics_app.test_client().get(
        "/api/v1/employer-indicators", query_string={"wave": "ts-2026"},
        headers=survey["headers"]["viewer"])
    assert answer.status_code == 404 and "refresh" in answer.get_data(as_text=True)


def test_the_pdf_has_its_employer_chapter_and_the_workbook_its_sheet(
        analytics_app, survey, dataset) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from tests.integration.test_reports import new_export, rows_of, run

    refreshed(analytics_app, dataset["wave_id"])
    pdf = run(analytics_app, new_export(analytics_app, "pdf", unsuppressed=True))
    assert pdf.status == "done", pdf.error
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(pdf.path).pages).split())
    assert "Pengguna lulusan" in text and "Kepuasan per aspek" in text
    assert "Integritas dan etos kerja 75,0%" in text  # 3 of 4, shown to an admin's export
    assert "Tingkat respons pengguna lulusan" in text and "66,7%" in text  # 2 of 3
    # Two alumni answered: the wave's own figures are hidden below admin, and with them the
    # employer sheet, as the whole report; an admin's unsuppressed export has both.
    workbook = run(analytics_app, new_export(analytics_app, "xlsx", unsuppressed=True))
    assert workbook.status == "done", workbook.error
    rows = rows_of(load_workbook(workbook.path)["Pengguna lulusan"])
    by_first = {row[0]: row for row in rows if row and row[0] is not None}
    assert by_first["Integritas dan etos kerja"][1:5] == (0.75, "30,1%–95,4%", 3.25, 4)
    assert by_first["Menerima peserta pemagangan"][1:3] == (0.5, 2)
    assert [row[:3] for row in rows if row[0] == "C · Industri Pengolahan" and row[2]
            is not None and isinstance(row[2], int)] == [
        ("C · Industri Pengolahan", "Las", 5), ("C · Industri Pengolahan", "Otomotif", 0)]


def test_the_dashboard_shows_the_employer_section(analytics_app, survey, dataset) -> None:
    from shared.auth import create_user
    from tests.integration.test_web_access import login

    refreshed(analytics_app, dataset["wave_id"])
    with analytics_app.app_context():
        create_user(db.session(), "pengamat", "rahasia-pengamat", "viewer")
        db.session().commit()
        create_user(db.session(), "kepala", "rahasia-kepala", "admin")
        db.session().commit()
    client = analytics_app.test_client()
    assert login(client, "pengamat", "rahasia-pengamat").status_code == 302
    # Two alumni answered: a viewer's dashboard hides the wave's figures, the employer
    # section with them.
    assert "Pengguna lulusan" not in client.get("/?wave=ts-2026").get_data(as_text=True)
    admin = analytics_app.test_client()
    assert login(admin, "kepala", "rahasia-kepala").status_code == 302
    page = admin.get("/?wave=ts-2026&unsuppressed=1").get_data(as_text=True)
    assert "Pengguna lulusan" in page and "Tingkat respons pengguna lulusan" in page
    assert "66,7%" in page and "chart-employer-satisfaction" in page
    assert "Kebutuhan tenaga kerja 12 bulan ke depan, per kota" in page and "Samarinda" in page
    # The employer figures are the whole wave's: not under a program's filter.
    filtered = admin.get("/?wave=ts-2026&unsuppressed=1&program=1").get_data(as_text=True)
    assert "Pengguna lulusan" not in filtered
