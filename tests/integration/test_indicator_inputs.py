"""Indicators declared by the questionnaire: blk-tracer v1 and v2 side by side, and a form
that does not ask the status (docs/indicators.md, "Indicator inputs").

Nine alumni in two programs, one cohort each; the same underlying answers are written once
as blk-tracer v1 answers (f504 / f502 / f506, f5a2) and once as v2 answers (one f502, the
province and city of work, contract...), in two waves on the same roster:

    #  program gender status months income     relevance cert f4          f1761/2 eval place
    0  Las     L      1      0      4,000,000  1         1    f403 f409   3 / 5   5    Bontang
    1  Las     P      1      5      3,000,000  4         2    f403        4 / 4   4    Samarinda
    2  Las     L      3      9      5,000,000  2         1    f409        2 / 4   3    Jakarta
    3  Las     P      5      -      -          -         1    -           3 / 3   4    -
    4  Boga    L      1      12     3,600,000  3         1    f410        3 / 4   5    abroad
    5  Boga    P      4      -      -          -         3    -           -       -    -
    6  Boga    L      1      4      2,500,000  1         1    f401        5 / 5   2    Bontang
    7  Boga    P      2      -      -          -         2    -           -       -    -
    8  Las     L      (no response)

    n = 8 of N = 9. Employed (1, 3): #0 1 2 4 6 = 5, absorption 5/8 = 62.5 %; within 6
    months #0 1 6 = 3/8; waiting months 0 4 5 9 12, median 5; incomes median 3,600,000;
    related (1-3) #0 2 4 6 = 4/5; certified 5/8.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from services.analytics.refresh import full_refresh
from services.analytics.reports import tasks
from services.survey import catalog, waves
from services.survey.questionnaire import definition_from_xlsform
from shared import db
from shared.auth import create_token, create_user
from shared.db import Database
from shared.models import Alumnus, Cohort, Export, MinimumWage, Program, Response
from tests.integration.test_web_access import login
from tests.xlsform_forms import workbook

PLACES = {  # v1's f5a2 and v2's province and city of each place
    "Bontang": (1, 64, 6474), "Samarinda": (2, 64, 6472), "Jakarta": (3, 31, None),
    "abroad": (4, 99, None),
}
PEOPLE: list[dict[str, Any]] = [
    {"program": "Las", "gender": "L", "status": 1, "months": 0, "income": 4_000_000,
     "relevance": 1, "cert": 1, "channels": ["f403", "f409"], "levels": (3, 5), "eval": 5,
     "place": "Bontang"},
    {"program": "Las", "gender": "P", "status": 1, "months": 5, "income": 3_000_000,
     "relevance": 4, "cert": 2, "channels": ["f403"], "levels": (4, 4), "eval": 4,
     "place": "Samarinda"},
    {"program": "Las", "gender": "L", "status": 3, "months": 9, "income": 5_000_000,
     "relevance": 2, "cert": 1, "channels": ["f409"], "levels": (2, 4), "eval": 3,
     "place": "Jakarta"},
    {"program": "Las", "gender": "P", "status": 5, "cert": 1, "levels": (3, 3), "eval": 4},
    {"program": "Boga", "gender": "L", "status": 1, "months": 12, "income": 3_600_000,
     "relevance": 3, "cert": 1, "channels": ["f410"], "levels": (3, 4), "eval": 5,
     "place": "abroad"},
    {"program": "Boga", "gender": "P", "status": 4, "cert": 3},
    {"program": "Boga", "gender": "L", "status": 1, "months": 4, "income": 2_500_000,
     "relevance": 1, "cert": 1, "channels": ["f401"], "levels": (5, 5), "eval": 2,
     "place": "Bontang"},
    {"program": "Boga", "gender": "P", "status": 2, "cert": 2},
    {"program": "Las", "gender": "L"},  # targeted, no response
]


def common(person: dict[str, Any]) -> dict[str, Any]:
    """The answers both versions ask the same way."""
    answers: dict[str, Any] = {"consent": True, "f8": person["status"],
                               "blk_cert": person["cert"]}
    if "income" in person:
        answers.update(f505=person["income"], f14=person["relevance"], f4=person["channels"])
    if "levels" in person:
        answers.update(f1761=person["levels"][0], f1762=person["levels"][1])
    if "eval" in person:
        answers["blk_eval_instructor"] = person["eval"]
    return answers


def as_v1(person: dict[str, Any]) -> dict[str, Any]:
    answers = common(person)
    if "months" in person:
        months = person["months"]
        answers.update({"f504": 1, "f502": months} if months <= 6
                       else {"f504": 2, "f506": months})
        answers["f5a2"] = PLACES[person["place"]][0]
    return answers


def as_v2(person: dict[str, Any]) -> dict[str, Any]:
    answers = common(person)
    if "months" in person:
        _, province, city = PLACES[person["place"]]
        answers.update(f502=person["months"], work_province=province, contract=1,
                       edu_match=2)
        if city is not None:
            answers["work_city"] = city
    answers["further_training"] = 2
    return answers


def roster(session) -> tuple[list[int], list[int]]:
    """The programs' ids and the alumni's ids (in `PEOPLE` order)."""
    programs = {name: Program(name=f"Kejuruan {name}") for name in ("Las", "Boga")}
    session.add_all(programs.values())
    cohorts = {name: Cohort(program=program, label=f"{name} 1",
                            training_start=date(2025, 2, 3), training_end=date(2025, 4, 25))
               for name, program in programs.items()}
    session.add_all(cohorts.values())
    session.flush()
    alumni = []
    for index, person in enumerate(PEOPLE):
        alumnus = Alumnus(registration_no=f"REG-{index}", full_name=f"Alumnus {index}",
                          gender=person["gender"], cohort_id=cohorts[person["program"]].id)
        session.add(alumnus)
        alumni.append(alumnus)
    session.flush()
    return [program.id for program in programs.values()], [alumnus.id for alumnus in alumni]


def opened_wave(session, slug: str, questionnaire_id: int, program_ids: list[int],
                answers: dict[int, dict[str, Any]]) -> int:
    """A wave created and opened as staff do, with these complete responses."""
    wave = waves.create_wave(session, slug=slug, title=slug, questionnaire_id=questionnaire_id,
                             program_ids=program_ids)
    waves.open_wave(session, wave)
    for alumnus_id, given in answers.items():
        session.add(Response(id=uuid.uuid4(), wave_id=wave.id, alumnus_id=alumnus_id,
                             questionnaire_id=questionnaire_id, status="complete",
                             answers=given))
    session.flush()
    return wave.id


def factory(app) -> Any:
    return Database.for_url(app.config["JEJAK_SETTINGS"].database_url).session_factory


@pytest.fixture()
def two_versions(analytics_app) -> dict[str, Any]:
    """A v1 wave and a v2 wave on the same roster and the same underlying answers."""
    with analytics_app.app_context():
        session = db.session()
        v1, v2 = catalog.ensure_shipped(session)
        program_ids, alumni = roster(session)
        answered = [(alumni[index], person) for index, person in enumerate(PEOPLE)
                    if "status" in person]
        ids = {
            "v1": opened_wave(session, "tracer-v1", v1.id, program_ids,
                              {alumnus: as_v1(person) for alumnus, person in answered}),
            "v2": opened_wave(session, "tracer-v2", v2.id, program_ids,
                              {alumnus: as_v2(person) for alumnus, person in answered}),
        }
        session.add(MinimumWage(year=date.today().year, amount=3_600_000, source="test"))
        token = create_token(session, "admin")
        session.commit()
    for wave_id in ids.values():
        assert full_refresh(factory(analytics_app), wave_id) is not None
    return {"ids": ids, "headers": {"Authorization": f"Bearer {token}"}}


def indicators(app, headers: dict[str, str], slug: str, **query: Any) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/indicators", headers=headers,
                                     query_string={"wave": slug, **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def shared_figures(figures: dict[str, Any], lacking: set[str]) -> dict[str, Any]:
    return {name: value for name, value in figures.items()
            if name not in lacking and name != "not_collected"}


@pytest.mark.parametrize("query", [{"unsuppressed": "true"}, {"unsuppressed": "true",
                                                              "by": "program"}, {}])
def test_a_v1_and_a_v2_wave_on_the_same_answers_give_the_same_shared_figures(
        analytics_app, two_versions, query) -> None:
    v1 = indicators(analytics_app, two_versions["headers"], "tracer-v1", **query)
    v2 = indicators(analytics_app, two_versions["headers"], "tracer-v2", **query)
    # Both collect every indicator: v2's "working locally" is derived from the province
    # and city of work (Kota Bontang), v1's is its Bontang-coded f5a2.
    assert v1["indicators"]["not_collected"] == v2["indicators"]["not_collected"] == []
    lacking = {*v1["indicators"]["not_collected"], *v2["indicators"]["not_collected"]}
    assert (shared_figures(v1["indicators"], lacking)
            == shared_figures(v2["indicators"], lacking))
    assert [group["key"] for group in v1["breakdown"] or ()] == [
        group["key"] for group in v2["breakdown"] or ()]
    for one, two in zip(v1["breakdown"] or (), v2["breakdown"] or (), strict=True):
        assert shared_figures(one["indicators"], lacking) == shared_figures(
            two["indicators"], lacking)


def test_the_shared_figures_are_the_hand_computed_ones(analytics_app, two_versions) -> None:
    for slug in ("tracer-v1", "tracer-v2"):
        figures = indicators(analytics_app, two_versions["headers"], slug,
                             unsuppressed="true")["indicators"]
        assert (figures["targets"], figures["respondents"], figures["employed"]) == (9, 8, 5)
        assert (figures["absorption_rate"]["count"], figures["absorption_rate"]["n"]) == (5, 8)
        assert figures["employed_within_6_months"]["count"] == 3
        assert figures["waiting_months_median"]["value"] == 5
        assert figures["waiting_bins"] == {"<=3": 1, "4-6": 2, "7-12": 2, ">12": 0}
        assert figures["income_median"]["value"] == 3_600_000
        assert (figures["relevance_share"]["count"], figures["relevance_share"]["n"]) == (4, 5)
        assert figures["certificate_share"]["count"] == 5
        assert figures["competency_gap"]["f1761"]["value"] == pytest.approx(5 / 6)
        assert figures["training_eval"]["blk_eval_instructor"]["value"] == pytest.approx(23 / 6)
        assert figures["job_search_channels"]["f403"]["count"] == 2
        # #0 and #6 work in Kota Bontang, of 5 working who said where.
        assert (figures["local_absorption"]["count"], figures["local_absorption"]["n"]) == (2, 5)


def test_opening_either_version_says_which_indicators_it_collects(
        analytics_app, two_versions) -> None:
    with analytics_app.app_context():
        session = db.session()
        v1, v2 = catalog.ensure_shipped(session)
        for row in (v1, v2):
            coverage = waves.indicator_coverage(row.definition)
            assert coverage.not_collected == () and len(coverage.collected) == 15


# --- a form that does not ask the status ---------------------------------------------------

NO_STATUS_FORM = workbook(
    [["type", "name", "label", "jejak_input"],
     ["select_one yn", "sertifikat", "Punya sertifikat?", "certificate"],
     ["integer", "nilai", "Nilai pelatihan (1-5)", "training_eval"]],
    [["list_name", "name", "label"], ["yn", "1", "Ya"], ["yn", "2", "Tidak"]])
# Six respondents (one program, one cohort): certified 4 of 6, ratings mean 24 / 6 = 4.0.
NO_STATUS_ANSWERS = [{"sertifikat": 1, "nilai": 4}, {"sertifikat": 1, "nilai": 5},
                     {"sertifikat": 2, "nilai": 3}, {"sertifikat": 1, "nilai": 4},
                     {"sertifikat": 2, "nilai": 4}, {"sertifikat": 1, "nilai": 4}]
STATUS_INDICATORS = ("status_share", "absorption_rate", "employed_within_6_months",
                     "waiting_months_median", "income_median", "relevance_share",
                     "local_absorption", "job_search_channels")


@pytest.fixture()
def no_status_wave(analytics_app) -> dict[str, Any]:
    definition = definition_from_xlsform(io.BytesIO(NO_STATUS_FORM), key="tanpa-status",
                                         version=1)
    with analytics_app.app_context():
        session = db.session()
        row = catalog.store_version(session, definition, "test", source="tanpa-status.xlsx")
        program = Program(name="Kejuruan Las")
        cohort = Cohort(program=program, label="A1", training_start=date(2025, 2, 3),
                        training_end=date(2025, 4, 25))
        session.add_all([program, cohort])
        session.flush()
        alumni = []
        for index in range(7):
            alumnus = Alumnus(registration_no=f"T-{index}", full_name=f"Alumnus {index}",
                              gender="L", cohort_id=cohort.id)
            session.add(alumnus)
            alumni.append(alumnus)
        session.flush()
        coverage = waves.indicator_coverage(definition)
        wave_id = opened_wave(session, "tanpa-status", row.id, [program.id], {
            alumnus.id: answers for alumnus, answers in zip(alumni, NO_STATUS_ANSWERS,
                                                            strict=False)})
        create_user(session, "vina", "kata-sandi-vina", "viewer")
        token = create_token(session, "viewer")
        session.commit()
    assert full_refresh(factory(analytics_app), wave_id) is not None
    return {"id": wave_id, "coverage": coverage,
            "headers": {"Authorization": f"Bearer {token}"}}


def test_opening_a_wave_on_a_form_without_status_says_what_it_will_lack(
        no_status_wave) -> None:
    coverage = no_status_wave["coverage"]
    assert coverage.collected == ("certificate_share", "training_eval")
    assert set(STATUS_INDICATORS) <= set(coverage.not_collected)


def test_the_api_reports_the_status_indicators_as_not_collected(
        analytics_app, no_status_wave) -> None:
    figures = indicators(analytics_app, no_status_wave["headers"], "tanpa-status")["indicators"]
    assert set(STATUS_INDICATORS) <= set(figures["not_collected"])
    assert "certificate_share" not in figures["not_collected"]
    assert figures["absorption_rate"] == {
        "value": None, "n": None, "count": None, "ci_low": None, "ci_high": None,
        "weighted": None, "small_n": False, "not_collected": True}
    assert all(share["not_collected"] for share in figures["status_share"].values())
    assert figures["employed"] is None and figures["respondents"] == 6
    assert figures["job_search_channels"] == {} and figures["competency_gap"] == {}
    assert (figures["certificate_share"]["count"], figures["certificate_share"]["n"]) == (4, 6)
    assert figures["training_eval"]["nilai"]["value"] == pytest.approx(4.0)


def test_the_dashboard_says_not_collected_instead_of_a_figure(analytics_app,
                                                              no_status_wave) -> None:
    client = analytics_app.test_client()
    assert login(client, "vina", "kata-sandi-vina").status_code == 302
    html = client.get("/?wave=tanpa-status").get_data(as_text=True)
    assert "Tidak dikumpulkan oleh kuesioner ini (pertanyaannya" in html
    assert "Tingkat keterserapan" in html and "Status alumni" in html
    assert "tidak dikumpulkan oleh kuesioner ini" in html  # the tiles
    english = client.get("/?wave=tanpa-status&lang=en").get_data(as_text=True)
    assert "Not collected by this questionnaire" in english
    assert "Working locally<" in english  # no place named: the form asks none


def exported(analytics_app: Any, kind: str) -> str:
    """The path of an export of the wave without a status question, made by the task."""
    with analytics_app.app_context():
        session = db.session()
        export = Export(kind=kind, params={"wave": "tanpa-status"})
        session.add(export)
        session.commit()
        assert tasks.export.run(str(export.id)) == "done"
        return session.scalar(select(Export.path).where(Export.id == export.id))


def test_the_pdf_names_the_indicators_not_collected(analytics_app, no_status_wave) -> None:
    path = exported(analytics_app, "pdf")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())
    assert "Indikator yang tidak dikumpulkan" in text
    assert "Tingkat keterserapan" in text
    assert "tidak dikumpulkan oleh kuesioner ini" in text


def test_the_csv_marks_the_figures_not_collected(analytics_app, no_status_wave) -> None:
    path = exported(analytics_app, "csv")
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = {(row["indicator"], row["code"]): row for row in csv.DictReader(file)
                if row["breakdown"] == "Semua"}
    absorption = rows[("absorption_rate", "")]
    assert (absorption["value"], absorption["n"], absorption["not_collected"]) == ("", "", "true")
    assert rows[("status_share", "1")]["not_collected"] == "true"
    certificate = rows[("certificate_share", "")]
    assert (certificate["count"], certificate["n"], certificate["not_collected"]) == ("4", "6", "")
    assert rows[("decent_work", "iku2")]["not_collected"] == "true"


def test_the_workbook_says_not_collected_beside_the_figure(analytics_app,
                                                          no_status_wave) -> None:
    from openpyxl import load_workbook

    path = exported(analytics_app, "xlsx")
    book = load_workbook(path)
    values = [cell for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
              for cell in row if isinstance(cell, str)]
    assert "tidak dikumpulkan oleh kuesioner ini" in values


def test_a_trend_compares_only_what_every_wave_collects(analytics_app) -> None:
    """The response rate of both waves; the absorption rate only while every wave asks the
    status (the second point's questionnaire does not)."""
    from services.analytics.dashboard_figures import TrendPoint, _trend_figure

    def share(value: float | None, **extra: Any) -> dict[str, Any]:
        return {"value": value, "n": 10, "count": None if value is None else int(value * 10),
                "ci_low": None, "ci_high": None, "weighted": None, "small_n": False, **extra}

    v1 = TrendPoint("tracer-v1", "Tracer v1", {"response_rate": share(0.5),
                                               "absorption_rate": share(0.6),
                                               "not_collected": []})
    other = TrendPoint("tanpa-status", "Tanpa status", {
        "response_rate": share(0.7), "absorption_rate": share(None, not_collected=True),
        "not_collected": ["status_share", "absorption_rate"]})
    with analytics_app.test_request_context("/?lang=en"):
        both = _trend_figure([v1, v1])
        mixed = _trend_figure([v1, other])
    assert both is not None and both.table is not None
    assert both.table.head == ["Wave", "Absorption rate", "Response rate"]
    assert mixed is not None and mixed.table is not None
    assert mixed.table.head == ["Wave", "Response rate"]
    assert [row[1] for row in mixed.table.rows] == ["50.0% · n = 10", "70.0% · n = 10"]


# --- refusals --------------------------------------------------------------------------------


def test_a_mapping_naming_a_missing_item_or_a_wrong_type_is_refused_naming_it() -> None:
    from services.survey.questionnaire import DefinitionError, load_definition, shipped_definition

    definition = shipped_definition(2)
    missing = {**definition, "indicator_inputs": {**definition["indicator_inputs"],
                                                  "status": {"item": "f9"}}}
    with pytest.raises(DefinitionError) as refused:
        load_definition(missing)
    assert refused.value.problems == [(
        "indicator_inputs.status.item",
        "indicator input 'status' names item 'f9', which the questionnaire does not have")]
    wrong = {**definition, "indicator_inputs": {**definition["indicator_inputs"],
                                                "income": {"item": "f8"}}}
    with pytest.raises(DefinitionError) as refused:
        load_definition(wrong)
    assert refused.value.problems == [(
        "indicator_inputs.income.item",
        "indicator input 'income' needs item 'f8' to be integer / currency, not single")]


def test_creating_a_wave_refuses_a_stored_mapping_it_cannot_use_in_indonesian(
        analytics_app) -> None:
    """A version stored around the checks (straight into the table) is refused when a wave
    is created on it, the item named in the page's language."""
    from services.survey.questionnaire import shipped_definition
    from shared.models import Questionnaire as QuestionnaireRow

    definition = shipped_definition(2)
    definition = {**definition, "key": "rusak",
                  "indicator_inputs": {**definition["indicator_inputs"],
                                       "certificate": {"item": "sertifikat"}}}
    with analytics_app.test_request_context("/?lang=id"), analytics_app.app_context():
        session = db.session()
        row = QuestionnaireRow(key="rusak", version=1, title="Rusak", definition=definition)
        program = Program(name="Kejuruan Las")
        session.add_all([row, program])
        session.flush()
        with pytest.raises(waves.SurveyError) as refused:
            waves.create_wave(session, slug="rusak", title="Rusak", questionnaire_id=row.id,
                              program_ids=[program.id])
        assert refused.value.field == "questionnaire_id"
        assert refused.value.message == (
            "masukan indikator 'certificate' menyebut butir 'sertifikat', yang tidak ada di "
            "kuesioner ini")
        session.rollback()


def test_an_xlsform_naming_an_unknown_input_is_refused_at_its_row() -> None:
    from services.survey.questionnaire.xlsform import XlsFormRefused

    form = workbook([["type", "name", "label", "jejak_input"],
                     ["integer", "umur", "Umur", "usia"],
                     ["integer", "gaji", "Gaji", "income"]])
    with pytest.raises(XlsFormRefused) as refused:
        definition_from_xlsform(io.BytesIO(form), key="uji", version=1)
    [refusal] = refused.value.refusals
    assert (refusal.kind, refusal.row, refusal.column, refusal.params) == (
        "indicator_input", 2, "jejak_input", {"value": "usia"})


def test_an_xlsform_names_the_three_questions_of_the_split_at_6_waiting_rule() -> None:
    from shared.indicator_inputs import waiting_months
    from shared.indicator_mapping import inputs_of

    # blk-tracer v1's way of asking the wait, in a centre's own form: found work within 6
    # months (1 yes, 2 no), then the months if yes, the months if no.
    form = workbook(
        [["type", "name", "label", "jejak_input"],
         ["select_one status", "kerja", "Status", "status 1=1 2=5"],
         ["select_one yn", "cepat", "Dapat kerja dalam 6 bulan?", "waiting_months:within_6"],
         ["integer", "bulan_a", "Berapa bulan?", "waiting_months:months_within"],
         ["integer", "bulan_b", "Berapa bulan?", "waiting_months:months_after"]],
        [["list_name", "name", "label"], ["status", "1", "Bekerja"],
         ["status", "2", "Belum bekerja"], ["yn", "1", "Ya"], ["yn", "2", "Tidak"]])
    definition = definition_from_xlsform(io.BytesIO(form), key="tunggu", version=1)
    assert definition["indicator_inputs"]["waiting_months"] == {
        "rule": "split_at_6", "within_6": "cepat", "months_within": "bulan_a",
        "months_after": "bulan_b"}
    inputs = inputs_of(definition)
    assert "employed_within_6_months" in waves.indicator_coverage(definition).collected
    assert waiting_months({"kerja": 1, "cepat": 1, "bulan_a": 3}, inputs) == 3
    assert waiting_months({"kerja": 1, "cepat": 2, "bulan_a": 3, "bulan_b": 8}, inputs) == 8
    assert waiting_months({"kerja": 2, "cepat": 2, "bulan_b": 8}, inputs) is None


def test_an_xlsform_naming_both_waiting_rules_is_refused_at_the_second() -> None:
    from services.survey.questionnaire.xlsform import XlsFormRefused

    form = workbook([["type", "name", "label", "jejak_input"],
                     ["integer", "tunggu", "Berapa bulan?", "waiting_months"],
                     ["integer", "bulan_a", "Berapa bulan?", "waiting_months:months_within"]])
    with pytest.raises(XlsFormRefused) as refused:
        definition_from_xlsform(io.BytesIO(form), key="uji", version=1)
    [refusal] = refused.value.refusals
    assert (refusal.row, refusal.column, refusal.params) == (
        3, "jejak_input", {"value": "waiting_months:months_within"})


def test_a_live_update_of_a_v2_wave_reads_through_its_mapping(analytics_app,
                                                               two_versions) -> None:
    """#1 (working, Samarinda) answers again as seeking work: one cell recomputed, through
    v2's mapping, gives what a full refresh gives."""
    from services.analytics.refresh import update_alumnus_cell

    wave_id = two_versions["ids"]["v2"]
    with analytics_app.app_context():
        session = db.session()
        response = session.scalar(select(Response).where(
            Response.wave_id == wave_id, Response.answers["f14"].as_integer() == 4))
        response.answers = as_v2({**PEOPLE[3], "program": "Las"})
        session.flush()
        assert update_alumnus_cell(session, wave_id, response.alumnus_id) is not None
        session.commit()
    live = indicators(analytics_app, two_versions["headers"], "tracer-v2",
                      unsuppressed="true")["indicators"]
    assert (live["absorption_rate"]["count"], live["local_absorption"]["n"]) == (4, 4)
    assert full_refresh(factory(analytics_app), wave_id) is not None
    refreshed = indicators(analytics_app, two_versions["headers"], "tracer-v2",
                           unsuppressed="true")["indicators"]
    assert live == refreshed


def test_the_waves_api_says_which_indicators_a_new_wave_will_have(survey_app,
                                                                   survey) -> None:
    """A wave created through the API on the XLSForm without a status question."""
    definition = definition_from_xlsform(io.BytesIO(NO_STATUS_FORM), key="tanpa-status",
                                         version=1)
    with survey_app.app_context():
        session = db.session()
        questionnaire_id = catalog.store_version(session, definition, "test").id
        program_id = session.scalar(select(Program.id).where(Program.name == "Teknik Las"))
        session.commit()
    created = survey_app.test_client().post(
        "/api/v1/waves", headers=survey["headers"]["operator"],
        json={"slug": "tanpa-status", "title": "Tanpa status",
              "questionnaire_id": questionnaire_id, "program_ids": [program_id]})
    assert created.status_code == 201, created.get_json()
    coverage = created.get_json()["indicators"]
    assert coverage["collected"] == ["certificate_share", "training_eval"]
    assert set(STATUS_INDICATORS) <= set(coverage["not_collected"])
    shipped = survey_app.test_client().get("/api/v1/waves/ts-2026",
                                           headers=survey["headers"]["viewer"]).get_json()
    assert shipped["indicators"]["not_collected"] == []


def test_the_wave_page_says_which_indicators_the_wave_has(survey_app, survey) -> None:
    with survey_app.app_context():
        create_user(db.session(), "rina", "kata-sandi-rina", "operator")
        db.session().commit()
    client = survey_app.test_client()
    assert login(client, "rina", "kata-sandi-rina").status_code == 302
    page = client.get("/waves/ts-2026").get_data(as_text=True)
    assert "Gelombang ini akan memiliki 15 dari 15 indikator." in page
