"""The small-group rule as a viewer meets it: the indicators API, the dashboard, the exports.

The viewer walk runs on the demo data (`services.demo.load_demo_data`: five programs, two
cohorts each, about 58 % answered): every `by=` and every combination of program, cohort and
gender filters the API accepts, the dashboard page of every filter combination, and the
aggregate exports. Each answer is parsed (JSON, HTML, CSV, XLSX with openpyxl, PDF text with
pypdf) and compared with what the admin's audited `unsuppressed` view says of the same group:
a group with fewer than 5 respondents, or a figure over fewer than 5, never shows a number;
every group or figure shown is exactly the admin's; and, from every group the viewer was
shown anywhere, no set of cells holding 1 to 4 people can be worked out (`small_groups`).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from services.analytics.cells import Cell, CellKey
from services.analytics.refresh import full_refresh
from services.analytics.reports import tasks
from services.analytics.snapshots import read_snapshot
from services.demo import load_demo_data
from services.survey import catalog
from shared import db
from shared.auth import create_token, create_user
from shared.models import (
    Alumnus,
    AuditEntry,
    Cohort,
    Program,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)
from tests.integration.test_web_access import login
from tests.small_groups import THRESHOLD, numbers_in, small_sets

SETTINGS = frozenset({"minimum_wage", "fpc"})
BYS = (None, "program", "cohort", "gender")
GENDERS = (None, "L", "P")
# Figures over a base other than the group's respondents, and that base per cell.
FIGURE_BASES = {
    "job_search_channels": lambda cell: cell.employed,
    "waiting_months_median": lambda cell: sum(cell.waiting_months.values()),
    "income_median": lambda cell: sum(cell.income.values()),
    "relevance_share": lambda cell: cell.relevance_answered,
    "certificate_share": lambda cell: cell.certificate_answered,
}
# Also checked against their base: the waiting-time bins.
CHECKED_BASES = {**FIGURE_BASES, "waiting_bins": FIGURE_BASES["waiting_months_median"]}


# --- the waves ------------------------------------------------------------------------------


def _tokens(session) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {create_token(session, role)}"}
            for role in ("viewer", "operator", "admin")}


@pytest.fixture()
def demo(analytics_app, settings) -> dict[str, Any]:
    """The demo data, refreshed; tokens and dashboard users per role."""
    load_demo_data(settings.database_url, settings.pii_key)
    with analytics_app.app_context():
        session = db.session()
        wave = session.scalar(select(Wave))
        headers = _tokens(session)
        create_user(session, "vina", "kata-sandi-vina", "viewer")
        create_user(session, "adi", "kata-sandi-adi", "admin")
        session.commit()
        wave_id, slug = wave.id, wave.slug
    assert full_refresh(db.get_db(analytics_app).session_factory, wave_id) is not None
    with analytics_app.app_context():
        cells = read_snapshot(db.session(), wave_id).cells
    return {"slug": slug, "id": wave_id, "headers": headers, "cells": cells}


EMPLOYED = {"consent": True, "f8": 1, "f504": 1, "f502": 2, "f505": 4_000_000}
SEEKING = {"consent": True, "f8": 5}


def _hand_built_wave(app, slug: str, people: list[tuple[str, str, dict[str, Any]]]
                     ) -> dict[str, Any]:
    """Program Teknik Las with cohorts named by `people` (cohort, gender, answers), every one
    of whom answered; refreshed; tokens per role."""
    with app.app_context():
        session = db.session()
        questionnaire_id = catalog.ensure_default(session).id
        program = Program(name="Teknik Las")
        session.add(program)
        session.flush()
        cohorts = {label: Cohort(program_id=program.id, label=f"Angkatan {label}",
                                 training_start=date(2025, 2, 3),
                                 training_end=date(2025, 4, 25))
                   for label in sorted({label for label, _, _ in people})}
        session.add_all(cohorts.values())
        wave = Wave(slug=slug, title="Tracer 2026", questionnaire_id=questionnaire_id,
                    status="open", opened_at=utcnow())
        session.add(wave)
        session.flush()
        for index, (label, gender, answers) in enumerate(people):
            alumnus = Alumnus(registration_no=f"REG-{index:03d}", full_name=f"Alumnus {index}",
                              gender=gender, cohort_id=cohorts[label].id)
            session.add(alumnus)
            session.flush()
            session.add(WaveTarget(wave_id=wave.id, alumnus_id=alumnus.id,
                                   program_id=program.id, cohort_id=cohorts[label].id,
                                   gender=gender))
            session.add(Response(wave_id=wave.id, alumnus_id=alumnus.id,
                                 questionnaire_id=questionnaire_id, status="complete",
                                 answers=answers, submitted_at=utcnow()))
        headers = _tokens(session)
        session.commit()
        result = {"slug": wave.slug, "id": wave.id, "headers": headers,
                  "program": program.id, "cohorts": {label: c.id for label, c in cohorts.items()}}
    assert full_refresh(db.get_db(app).session_factory, result["id"]) is not None
    with app.app_context():
        result["cells"] = read_snapshot(db.session(), result["id"]).cells
    return result


@pytest.fixture()
def one_woman(analytics_app) -> dict[str, Any]:
    """Hand-built: program Las, cohort A with 9 men and 1 woman (Siti), cohort B with 6 men
    and 6 women; every one answered, Siti alone is unemployed (f8 = 5)."""
    return _hand_built_wave(analytics_app, "ts-siti", [
        *[("A", "L", EMPLOYED)] * 9, ("A", "P", SEEKING),
        *[("B", "L", EMPLOYED)] * 6, *[("B", "P", EMPLOYED)] * 6])


# --- reading the cells as a viewer's queries select them -----------------------------------


def _select(cells: list[tuple[CellKey, Cell]], program: int | None = None,
            cohort: int | None = None, gender: str | None = None) -> frozenset[CellKey]:
    return frozenset(key for key, _ in cells
                     if (program is None or key.program_id == program)
                     and (cohort is None or key.cohort_id == cohort)
                     and (gender is None or key.gender == gender))


def _n(cells: list[tuple[CellKey, Cell]], group: frozenset[CellKey], base=None) -> int:
    return sum((base or (lambda cell: cell.respondents))(cell)
               for key, cell in cells if key in group)


def _filters(cells: list[tuple[CellKey, Cell]]) -> list[dict[str, Any]]:
    """Every combination of program, cohort and gender filters (each optional)."""
    programs = sorted({key.program_id for key, _ in cells})
    cohorts = sorted({key.cohort_id for key, _ in cells})
    return [{name: value for name, value in (("program", program), ("cohort", cohort),
                                             ("gender", gender)) if value is not None}
            for program in (None, *programs) for cohort in (None, *cohorts)
            for gender in GENDERS]


def _assert_blank(node: Any, where: str) -> None:
    assert numbers_in(node, skip=SETTINGS) == [], f"{where} shows numbers of a small group"


def _check_group(cells, group: frozenset[CellKey], seen: dict[str, Any],
                 truth: dict[str, Any], where: str) -> bool:
    """One group of a viewer's answer against the admin's; whether it was shown."""
    n = _n(cells, group)
    assert truth["respondents"] == n, where
    if seen.get("suppressed"):
        _assert_blank(seen, where)
        assert seen["small_n"] is True
        return False
    assert n >= THRESHOLD, f"{where}: a group of {n} is shown"
    for name, value in truth.items():
        mine = seen[name]
        if mine == value:
            continue
        # Only a figure the rule hid may differ, and it then holds no number at all.
        if name == "waiting_bins":
            assert all(count is None for count in mine.values()), where
        elif isinstance(value, dict) and "small_n" in value:
            assert mine.get("suppressed") is True, (where, name)
            _assert_blank(mine, f"{where} {name}")
        elif isinstance(value, dict):
            for code in value:
                if mine[code] != value[code]:
                    assert mine[code].get("suppressed") is True, (where, name, code)
                    _assert_blank(mine[code], f"{where} {name}.{code}")
        else:
            raise AssertionError(f"{where}: {name} is {mine!r}, not {value!r}")
    for name, base in CHECKED_BASES.items():
        nodes = seen[name].values() if name == "job_search_channels" else [seen[name]]
        if _n(cells, group, base) < THRESHOLD:
            for node in nodes:
                _assert_blank(node, f"{where} {name} (base {_n(cells, group, base)})")
    return True


def _walk_api(client, wave: dict[str, Any]) -> dict[str, set[frozenset[CellKey]]]:
    """Every query a viewer may make; the groups shown, per figure base."""
    cells = wave["cells"]
    shown: dict[str, set[frozenset[CellKey]]] = {"respondents": set(),
                                                 **{name: set() for name in FIGURE_BASES}}
    for filters in _filters(cells):
        for by in BYS:
            query = {"wave": wave["slug"], **filters, **({"by": by} if by else {})}
            seen = client.get("/api/v1/indicators", query_string=query,
                              headers=wave["headers"]["viewer"])
            truth = client.get("/api/v1/indicators",
                               query_string={**query, "unsuppressed": "true"},
                               headers=wave["headers"]["admin"])
            assert seen.status_code == truth.status_code == 200, query
            seen, truth = seen.get_json(), truth.get_json()
            selection = _select(cells, **filters)
            groups = [(selection, seen["indicators"], truth["indicators"])]
            if by:
                assert [g["key"] for g in seen["breakdown"]] == [
                    g["key"] for g in truth["breakdown"]]
                for mine, theirs in zip(seen["breakdown"], truth["breakdown"], strict=True):
                    group = _select(cells, **{**filters, by: mine["key"]})
                    groups.append((group, mine["indicators"], theirs["indicators"]))
            for group, mine, theirs in groups:
                if _check_group(cells, group, mine, theirs, f"{query} {sorted(group)}"):
                    shown["respondents"].add(group)
                    for name in FIGURE_BASES:
                        node = mine[name]
                        node = node["f403"] if name == "job_search_channels" else node
                        if not node.get("suppressed"):
                            shown[name].add(group)
    return shown


def _nothing_small_can_be_worked_out(cells, shown: dict[str, set[frozenset[CellKey]]]) -> None:
    sizes = {key: (cell.respondents, cell.targets) for key, cell in cells}
    assert small_sets(sizes, shown["respondents"]) == []
    for name, base in FIGURE_BASES.items():
        sizes = {key: (base(cell), base(cell)) for key, cell in cells}
        assert small_sets(sizes, shown[name]) == [], name


# --- the indicators API ---------------------------------------------------------------------


def test_a_viewer_walk_of_every_breakdown_and_filter_shows_no_group_below_five(
        analytics_app, demo) -> None:
    cells = demo["cells"]
    small = [key for key, cell in cells if cell.respondents < THRESHOLD]
    assert small, "the demo data must hold small cells for this walk to mean anything"
    client = analytics_app.test_client()
    shown = _walk_api(client, demo)
    # The whole wave stays in view; what a viewer saw lets no small set be worked out.
    assert frozenset(key for key, _ in cells) in shown["respondents"]
    _nothing_small_can_be_worked_out(cells, shown)
    # An operator is held to the same rule; an admin too, unless asking for more.
    for role in ("operator", "admin"):
        answer = client.get("/api/v1/indicators", headers=demo["headers"][role],
                            query_string={"wave": demo["slug"], "cohort": small[0].cohort_id,
                                          "gender": small[0].gender}).get_json()
        assert answer["indicators"]["suppressed"] is True
        _assert_blank(answer["indicators"], role)


def test_a_viewer_learns_nothing_about_the_one_woman_of_a_cohort(analytics_app,
                                                                  one_woman) -> None:
    client = analytics_app.test_client()
    viewer = one_woman["headers"]["viewer"]
    cohort_a = one_woman["cohorts"]["A"]
    answer = client.get("/api/v1/indicators", headers=viewer, query_string={
        "wave": one_woman["slug"], "cohort": cohort_a, "gender": "P"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["filters"] == {"program": None, "cohort": cohort_a, "gender": "P"}
    assert body["indicators"]["suppressed"] is True
    _assert_blank(body["indicators"], "her group")
    # Nor by subtraction: her cohort's men, her program's men and the wave's men are hidden
    # too, while her cohort as a whole (10) and cohort B's men and women (6 each) are shown.
    for query, hidden in (({"cohort": cohort_a, "gender": "L"}, True),
                          ({"gender": "L"}, True), ({"gender": "P"}, True),
                          ({"program": one_woman["program"], "by": "gender"}, True),
                          ({"cohort": cohort_a}, False),
                          ({"cohort": one_woman["cohorts"]["B"], "by": "gender"}, False)):
        body = client.get("/api/v1/indicators", headers=viewer,
                          query_string={"wave": one_woman["slug"], **query}).get_json()
        groups = [group["indicators"] for group in body["breakdown"]] if "by" in query else [
            body["indicators"]]
        assert all(bool(group.get("suppressed")) is hidden for group in groups), query
    cohort = client.get("/api/v1/indicators", headers=viewer, query_string={
        "wave": one_woman["slug"], "cohort": cohort_a}).get_json()["indicators"]
    assert (cohort["respondents"], cohort["status_share"]["5"]["count"]) == (10, 1)
    # Every query she could be in: nothing holding fewer than 5 can be worked out.
    shown = _walk_api(client, one_woman)
    _nothing_small_can_be_worked_out(one_woman["cells"], shown)


def test_only_an_admin_sees_unsuppressed_figures_and_every_look_is_audited(
        analytics_app, one_woman) -> None:
    client = analytics_app.test_client()
    query = {"wave": one_woman["slug"], "cohort": one_woman["cohorts"]["A"], "gender": "P",
             "unsuppressed": "true"}
    for role in ("viewer", "operator"):
        refused = client.get("/api/v1/indicators", query_string=query,
                             headers=one_woman["headers"][role])
        assert refused.status_code == 403, role
        assert refused.mimetype == "application/problem+json"
    admin = client.get("/api/v1/indicators", query_string=query,
                       headers=one_woman["headers"]["admin"])
    assert admin.status_code == 200
    figures = admin.get_json()["indicators"]
    assert "suppressed" not in figures
    assert (figures["respondents"], figures["status_share"]["5"]["count"]) == (1, 1)
    # The same numbers as the answer before this rule existed: nothing was added.
    default = client.get("/api/v1/indicators", headers=one_woman["headers"]["admin"],
                         query_string={k: v for k, v in query.items() if k != "unsuppressed"})
    assert default.get_json()["indicators"]["suppressed"] is True
    with analytics_app.app_context():
        entries = db.session().scalars(select(AuditEntry).where(
            AuditEntry.action == "indicators.unsuppressed")).all()
    assert [(entry.target, entry.details) for entry in entries] == [
        ("ts-siti", {"cohort": one_woman["cohorts"]["A"], "gender": "P"})]


def test_a_wave_of_fewer_than_five_does_not_even_say_how_many_answered(analytics_app
                                                                      ) -> None:
    tiny = _hand_built_wave(analytics_app, "ts-tiny", [("A", "L", EMPLOYED),
                                                       ("A", "P", SEEKING), ("A", "P", SEEKING)])
    client = analytics_app.test_client()
    seen = client.get("/api/v1/indicators", headers=tiny["headers"]["viewer"],
                      query_string={"wave": "ts-tiny"}).get_json()
    assert seen["responses_included"] is None and seen["indicators"]["suppressed"] is True
    truth = client.get("/api/v1/indicators", headers=tiny["headers"]["admin"],
                       query_string={"wave": "ts-tiny", "unsuppressed": "true"}).get_json()
    assert truth["responses_included"] == 3
    with analytics_app.app_context():
        create_user(db.session(), "vina", "kata-sandi-vina", "viewer")
        db.session().commit()
    viewer = analytics_app.test_client()
    assert login(viewer, "vina", "kata-sandi-vina").status_code == 302
    html = viewer.get("/?wave=ts-tiny&lang=en").get_data(as_text=True)
    assert "Figures not shown" in html and "complete responses included" not in html


# --- the dashboard ---------------------------------------------------------------------------


def test_a_viewer_walk_of_the_dashboard_shows_no_group_below_five(analytics_app,
                                                                   demo) -> None:
    client = analytics_app.test_client()
    assert login(client, "vina", "kata-sandi-vina").status_code == 302
    api = analytics_app.test_client()
    cells = demo["cells"]
    with analytics_app.app_context():
        names = {program.id: program.name for program in db.session().scalars(select(Program))}
    pages = 0
    for filters in _filters(cells):
        page = client.get("/", query_string={"wave": demo["slug"], "lang": "en", **filters})
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        answer = api.get("/api/v1/indicators", headers=demo["headers"]["viewer"],
                         query_string={"wave": demo["slug"], "by": "program", **filters}
                         ).get_json()
        rows = set(re.findall(r'<th scope="row">([^<]*)</th>', html))
        if answer["indicators"].get("suppressed"):
            assert "Figures not shown" in html, filters
            assert "<svg" not in html and "n = " not in html and "%" not in html, filters
            continue
        pages += 1
        assert _n(cells, _select(cells, **filters)) >= THRESHOLD
        for group in answer["breakdown"]:
            if group["indicators"].get("suppressed"):
                assert names[group["key"]] not in rows, (filters, names[group["key"]])
    assert pages  # some selections are large enough to show


def test_the_dashboard_refuses_unsuppressed_figures_to_a_viewer_and_audits_an_admin(
        analytics_app, demo) -> None:
    viewer = analytics_app.test_client()
    assert login(viewer, "vina", "kata-sandi-vina").status_code == 302
    assert viewer.get(f"/?wave={demo['slug']}&unsuppressed=1").status_code == 403
    admin = analytics_app.test_client()
    assert login(admin, "adi", "kata-sandi-adi").status_code == 302
    page = admin.get(f"/?wave={demo['slug']}&unsuppressed=1&lang=en")
    assert page.status_code == 200
    assert "Unsuppressed figures, for admins only" in page.get_data(as_text=True)
    with analytics_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "dashboard.unsuppressed", AuditEntry.actor == "adi")) == 1


# --- the exports ------------------------------------------------------------------------------


def _export(app, client, headers, body: dict[str, Any]) -> bytes:
    created = client.post("/api/v1/exports", json=body, headers=headers)
    assert created.status_code == 202, created.get_json()
    export_id = uuid.UUID(created.get_json()["id"])
    with app.app_context():  # the task body, as the worker runs it
        assert tasks.export.run(str(export_id)) == "done"
    download = client.get(f"/api/v1/exports/{export_id}/file", headers=headers)
    assert download.status_code == 200
    return download.data


def _csv_groups(data: bytes) -> dict[tuple[str, str], list[dict[str, str]]]:
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))):
        groups.setdefault((row["breakdown"], row["group"]), []).append(row)
    return groups


NUMBER_COLUMNS = ("value", "n", "count", "ci_low", "ci_high", "weighted", "mean_a", "mean_b")


def test_a_viewer_walk_of_the_exports_shows_no_group_below_five(analytics_app, demo,
                                                                 monkeypatch) -> None:
    monkeypatch.setattr(analytics_app.extensions["celery"], "send_task", lambda *a, **k: None)
    client = analytics_app.test_client()
    viewer, admin = demo["headers"]["viewer"], demo["headers"]["admin"]
    cells = demo["cells"]
    selections = [filters for filters in _filters(cells)
                  if not ("program" in filters and "cohort" in filters)]
    for filters in selections:
        body = {"wave": demo["slug"], **filters}
        seen = _csv_groups(_export(analytics_app, client, viewer, {"kind": "csv", **body}))
        truth = _csv_groups(_export(analytics_app, client, admin,
                                    {"kind": "csv", "unsuppressed": True, **body}))
        assert list(seen) == list(truth)
        hidden_groups = set()
        for group, rows in seen.items():
            theirs = {(row["indicator"], row["code"]): row for row in truth[group]}
            respondents = int(theirs["respondents", ""]["count"])
            small = respondents < THRESHOLD
            mine = {(row["indicator"], row["code"]): row for row in rows}
            if mine["respondents", ""]["count"] == "":
                hidden_groups.add(group)
            else:
                assert not small, (filters, group)
            for key, row in mine.items():
                numbers = [row[column] for column in NUMBER_COLUMNS if row[column] != ""]
                if small and key[0] != "minimum_wage":  # a setting, not about anyone
                    assert numbers == [], (filters, group, key)
                base = theirs[key]["n"]
                if base != "" and int(float(base)) < THRESHOLD and key[0] != "dispositions":
                    assert numbers == [], (filters, group, key, row)
                if numbers:  # shown: exactly the admin's figure
                    assert row == theirs[key], (filters, group, key)
        # The workbook and the PDF of the same selection hide the same groups.
        workbook = load_workbook(io.BytesIO(_export(analytics_app, client, viewer,
                                                    {"kind": "xlsx", **body})))
        for sheet in workbook.worksheets[1:]:
            for row in sheet.iter_rows(min_row=2, values_only=True):
                if row and (row[0], row[1]) in hidden_groups:
                    assert numbers_in(list(row[2:])) == [], (
                        filters, sheet.title, row)
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(
            _export(analytics_app, client, viewer, {"kind": "pdf", **body}))).pages)
        if ("Semua", "Semua responden") in hidden_groups:
            assert "Angka tidak ditampilkan" in text and "%" not in text, filters
        for breakdown, name in hidden_groups:
            for line in text.splitlines():
                if breakdown == "Kejuruan" and line.startswith(name):
                    rest = line[len(name):].replace("n<5", "")  # the mark, not a figure
                    assert "%" not in rest and not re.search(r"\d", rest), (filters, line)


def test_an_unsuppressed_export_is_for_admins_only_and_its_download_is_audited(
        analytics_app, one_woman, monkeypatch) -> None:
    monkeypatch.setattr(analytics_app.extensions["celery"], "send_task", lambda *a, **k: None)
    client = analytics_app.test_client()
    body = {"kind": "csv", "wave": one_woman["slug"], "unsuppressed": True}
    for role in ("viewer", "operator"):
        assert client.post("/api/v1/exports", json=body,
                           headers=one_woman["headers"][role]).status_code == 403
    data = _export(analytics_app, client, one_woman["headers"]["admin"],
                   {**body, "cohort": one_woman["cohorts"]["A"], "gender": "P"})
    rows = _csv_groups(data)[("Semua", "Semua responden")]
    assert next(row for row in rows if row["indicator"] == "respondents")["count"] == "1"
    with analytics_app.app_context():
        session = db.session()
        export_id = session.scalar(select(AuditEntry.target).where(
            AuditEntry.action == "export.download"))
        created = session.scalar(select(AuditEntry).where(AuditEntry.action == "export.create"))
        assert created.details["unsuppressed"] is True and export_id == created.target
    # A viewer who learns the export's id still cannot fetch its file.
    assert client.get(f"/api/v1/exports/{export_id}/file",
                      headers=one_woman["headers"]["viewer"]).status_code == 403
