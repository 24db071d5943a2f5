"""Analytics end to end: refresh, the indicators API, live updates through a real worker.

The wave below is small enough to check by hand: 2 programs × 2 cohorts × 2 genders,
17 targets, 10 complete responses. Every expected figure is written as a literal worked out
from this table, not from the code under test.

    cell (program cohort gender)  target: what happened                    disposition
    A  A1  L   a1  f8=1 f504=1 f502=2  f505=4.0M f14=1 f5a2=1 cert=1 f4=403,409   I
               a2  f8=1 f504=1 f502=5  f505=3.0M f14=4 f5a2=2 cert=2 f4=403       I
               a3  f8=5                                   cert=1                  I
               a4  partial response                                               P
    A  A1  P   b1  f8=3 f504=2 f506=9  f505=5.0M f14=2 f5a2=1 cert=1 f4=409       I
               b2  opted out (opt_outs row), no response                          R
    A  A2  L   c1  f8=4                                   cert=3                  I
               c2  only message failed for good (hard bounce)                     U
    A  A2  P   d1  f8=1 f504=2 f506=12 f505=3.6M f14=3 f5a2=3 cert=1 f4=410       I
    B  B1  L   e1  f8=1 f504=1 f502=0  f505=3.6M f14=5 f5a2=1 cert=2 f4=403       I
               e2  f8=2                                   (no cert answer)        I
               e3  a message sent, no response                                    NC
    B  B1  P   f1  f8=1 f504=1 f502=4  f505=2.5M f14=1 f5a2=1 cert=1 f4=401       I
               f2  nothing sent, no response                                      UH
    B  B2  L   g1  f8=5                                   cert=3                  I
    B  B2  P   h1  consent withdrawn, no response                                 R
               h2  one message, failed after transient retries ("gave up")        UH

    N = 17, n = 10: I 10, P 1, R 2, U 1, NC 1, UH 2.
    employed (f8 ∈ {1,3}): a1 a2 b1 d1 e1 f1 = 6.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import services.analytics.refresh as refresh_module
from services.analytics import indicator_cache
from services.analytics.refresh import KEEP_SNAPSHOTS, full_refresh, refresh_all
from services.analytics.snapshots import read_snapshot
from services.survey import catalog
from services.survey.links import make_token
from shared import db
from shared.auth import create_token
from shared.db import Database
from shared.events import publish
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    IndicatorCell,
    IndicatorSnapshot,
    Message,
    OptOut,
    Program,
    RefreshRun,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)
from tests.conftest import wait_for
from tests.integration.conftest import EMPLOYED


def approx6(value: float) -> Any:
    """Equal to a literal written with 6 decimals."""
    return pytest.approx(value, abs=5e-7)


EMPLOYED_A1 = {"f8": 1, "f504": 1, "f505": 4_000_000, "f14": 1, "f5a2": 1, "blk_cert": 1}
ANSWERS = {
    "a1": {**EMPLOYED_A1, "f502": 2, "f4": ["f403", "f409"]},
    "a2": {"f8": 1, "f504": 1, "f502": 5, "f505": 3_000_000, "f14": 4, "f5a2": 2,
           "blk_cert": 2, "f4": ["f403"]},
    "a3": {"f8": 5, "blk_cert": 1},
    "b1": {"f8": 3, "f504": 2, "f506": 9, "f505": 5_000_000, "f14": 2, "f5a2": 1,
           "blk_cert": 1, "f4": ["f409"]},
    "c1": {"f8": 4, "blk_cert": 3},
    "d1": {"f8": 1, "f504": 2, "f506": 12, "f505": 3_600_000, "f14": 3, "f5a2": 3,
           "blk_cert": 1, "f4": ["f410"]},
    "e1": {"f8": 1, "f504": 1, "f502": 0, "f505": 3_600_000, "f14": 5, "f5a2": 1,
           "blk_cert": 2, "f4": ["f403"]},
    "e2": {"f8": 2},
    "f1": {"f8": 1, "f504": 1, "f502": 4, "f505": 2_500_000, "f14": 1, "f5a2": 1,
           "blk_cert": 1, "f4": ["f401"]},
    "g1": {"f8": 5, "blk_cert": 3},
}
CELLS = {  # (program, cohort, gender) -> alumni
    ("A", "A1", "L"): ("a1", "a2", "a3", "a4"),
    ("A", "A1", "P"): ("b1", "b2"),
    ("A", "A2", "L"): ("c1", "c2"),
    ("A", "A2", "P"): ("d1",),
    ("B", "B1", "L"): ("e1", "e2", "e3"),
    ("B", "B1", "P"): ("f1", "f2"),
    ("B", "B2", "L"): ("g1",),
    ("B", "B2", "P"): ("h1", "h2"),
}
# Opened 2026-01-10 10:00 WITA: the wave's year, for the minimum wage, is 2026.
OPENED_AT = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)


@pytest.fixture()
def wave(analytics_app) -> dict[str, Any]:
    """The hand-checked wave, written through the models; tokens per role."""
    with analytics_app.app_context():
        session = db.session()
        questionnaire_id = catalog.ensure_default(session).id
        programs = {name: Program(name=f"Kejuruan {name}") for name in ("A", "B")}
        session.add_all(programs.values())
        session.flush()
        cohorts = {label: Cohort(program_id=programs[label[0]].id, label=f"Angkatan {label}",
                                 training_start=date(2025, 2, 3), training_end=date(2025, 4, 25))
                   for label in ("A1", "A2", "B1", "B2")}
        session.add_all(cohorts.values())
        session.flush()
        slug = f"tracer-2026-{uuid.uuid4().hex[:6]}"  # the survey caches waves by slug
        row = Wave(slug=slug, title="Tracer 2026", questionnaire_id=questionnaire_id,
                   status="open", opened_at=OPENED_AT)
        session.add(row)
        session.flush()
        alumni: dict[str, Alumnus] = {}
        for (program, cohort, gender), names in CELLS.items():
            for name in names:
                alumnus = Alumnus(registration_no=f"REG-{name}", full_name=f"Alumnus {name}",
                                  gender=gender, cohort_id=cohorts[cohort].id,
                                  email=f"{name}@example.org")
                session.add(alumnus)
                session.flush()
                alumni[name] = alumnus
                session.add(WaveTarget(wave_id=row.id, alumnus_id=alumnus.id,
                                       program_id=programs[program].id,
                                       cohort_id=cohorts[cohort].id, gender=gender))
        for name, answers in ANSWERS.items():
            session.add(Response(wave_id=row.id, alumnus_id=alumni[name].id,
                                 questionnaire_id=questionnaire_id, status="complete",
                                 answers={"consent": True, **answers}, submitted_at=utcnow()))
        session.add(Response(wave_id=row.id, alumnus_id=alumni["a4"].id,
                             questionnaire_id=questionnaire_id, status="partial",
                             answers={"consent": True, "f8": 1}))
        session.add(OptOut(channel="email", address="b2@example.org",
                           alumnus_id=alumni["b2"].id, source="link"))
        alumni["h1"].consent_withdrawn_at = utcnow()
        campaign = Campaign(wave_id=row.id, name="Undangan", status="running")
        session.add(campaign)
        session.flush()
        step = CampaignStep(campaign_id=campaign.id, position=0, channel="email")
        session.add(step)
        session.flush()
        due = utcnow() - timedelta(days=3)
        messages = {
            "a1": ("delivered", None),  # answered anyway: complete wins
            "c2": ("failed", "hard bounce: 550 no such mailbox"),
            "e3": ("sent", None),
            "h2": ("failed", "gave up after 5 attempts: timeout"),
        }
        for name, (status, reason) in messages.items():
            session.add(Message(campaign_step_id=step.id, alumnus_id=alumni[name].id,
                                channel="email", address=f"{name}@example.org", status=status,
                                failed_reason=reason, due_at=due))
        tokens = {role: create_token(session, role) for role in ("viewer", "operator", "admin")}
        session.commit()
        return {
            "slug": slug,
            "id": row.id,
            "step_id": step.id,
            "programs": {name: program.id for name, program in programs.items()},
            "cohorts": {label: cohort.id for label, cohort in cohorts.items()},
            "alumni": {name: alumnus.id for name, alumnus in alumni.items()},
            "headers": {role: {"Authorization": f"Bearer {token}"}
                        for role, token in tokens.items()},
        }


def factory(app) -> Any:
    return Database.for_url(app.config["JEJAK_SETTINGS"].database_url).session_factory


def indicators(client, wave, role="viewer", **query) -> Any:
    return client.get("/api/v1/indicators", query_string={"wave": wave["slug"], **query},
                      headers=wave["headers"][role])


def set_minimum_wage(client, wave, amount=3_600_000):
    return client.put("/api/v1/minimum-wages", headers=wave["headers"]["admin"],
                      json={"year": 2026, "amount": amount,
                            "source": "Keputusan Gubernur Kalimantan Timur (contoh)"})


def test_full_refresh_then_the_api_gives_the_hand_computed_figures(analytics_app, wave) -> None:
    snapshot = full_refresh(factory(analytics_app), wave["id"])
    assert snapshot is not None and snapshot.responses_included == 10
    assert len(snapshot.data["cells"]) == 8
    assert snapshot.data["labels"]["programs"][str(wave["programs"]["A"])] == "Kejuruan A"
    assert snapshot.data["labels"]["cohorts"][str(wave["cohorts"]["B2"])] == "Angkatan B2"

    response = indicators(analytics_app.test_client(), wave)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["responses_included"] == 10
    assert body["snapshot_id"] == snapshot.id
    assert body["computed_at"]
    figures = body["indicators"]
    assert (figures["targets"], figures["respondents"], figures["unreachable"],
            figures["employed"]) == (17, 10, 1, 6)
    assert figures["dispositions"] == {"complete": 10, "partial": 1, "refusal": 2,
                                       "unreachable": 1, "non_contact": 1, "unknown": 2}
    # response_rate 10/17; net_response_rate 10/(17 − 1) = 0.625.
    assert figures["response_rate"]["value"] == approx6(0.588235)
    assert (figures["net_response_rate"]["n"], figures["net_response_rate"]["value"]) == (16, 0.625)
    # absorption_rate = 6/10. Wilson (z = 1.959963984540054, z² = 3.841459):
    #   centre = (0.6 + z²/20) / (1 + z²/10) = 0.792073 / 1.384146 = 0.572247
    #   half   = z / 1.384146 · sqrt(0.6·0.4/10 + z²/400) = 1.416009 · 0.183313 = 0.259573
    #   → [0.312674, 0.831820]
    absorption = figures["absorption_rate"]
    assert (absorption["count"], absorption["n"], absorption["value"]) == (6, 10, 0.6)
    assert absorption["ci_low"] == approx6(0.312674)
    assert absorption["ci_high"] == approx6(0.831820)
    # Weighted (w = N_h / n_h per program × cohort): A1 6/4, A2 3/2, B1 5/3, B2 3/1.
    #   Σ w·y = 1.5·3 (a1 a2 b1) + 1.5·1 (d1) + 5/3·2 (e1 f1) + 3·0 = 28/3
    #   Σ w   = 1.5·4 + 1.5·2 + 5/3·3 + 3·1 = 17   → 28/51 = 0.549020
    assert absorption["weighted"] == approx6(0.549020)
    assert figures["weight_coverage"] == 1.0
    # f8: 1 → a1 a2 d1 e1 f1, 2 → e2, 3 → b1, 4 → c1, 5 → a3 g1.
    assert {code: share["count"] for code, share in figures["status_share"].items()} == {
        "1": 5, "2": 1, "3": 1, "4": 1, "5": 2}
    # Waiting months of the employed: e1 0, a1 2, f1 4, a2 5, b1 9, d1 12.
    #   median = (4 + 5) / 2 = 4.5; mean = 32 / 6; ≤ 6 months: 4 of 10 respondents.
    assert figures["waiting_months_median"] == {"value": 4.5, "n": 6, "small_n": False}
    assert figures["waiting_months_mean"]["value"] == approx6(5.333333)
    assert figures["waiting_bins"] == {"<=3": 2, "4-6": 2, "7-12": 2, ">12": 0}
    assert figures["employed_within_6_months"]["count"] == 4
    # Incomes 2.5M 3.0M 3.6M 3.6M 4.0M 5.0M: median (3.6M + 3.6M) / 2.
    assert figures["income_median"] == {"value": 3_600_000, "n": 6, "small_n": False}
    # No minimum wage set for 2026 yet: nothing to compare with.
    assert body["minimum_wage"] is None and body["minimum_wage_year"] == 2026
    assert figures["above_minimum_wage"]["count"] is None
    assert figures["above_minimum_wage"]["n"] == 6
    # f14 of the employed 1 4 2 3 5 1 → relevant (1–3) a1 b1 d1 f1 = 4/6;
    # f5a2 1 2 1 3 1 1 → Bontang 4/6; blk_cert answered by 9 (not e2), = 1 by 5.
    assert (figures["relevance_share"]["count"], figures["relevance_share"]["n"]) == (4, 6)
    assert (figures["local_absorption"]["count"], figures["local_absorption"]["n"]) == (4, 6)
    certificate = figures["certificate_share"]
    assert (certificate["count"], certificate["n"]) == (5, 9)
    # Channels over the 6 employed: f403 a1 a2 e1, f409 a1 b1, f410 d1, f401 f1.
    channels = figures["job_search_channels"]
    assert {code: share["count"] for code, share in channels.items() if share["count"]} == {
        "f403": 3, "f409": 2, "f410": 1, "f401": 1}
    assert channels["f403"]["value"] == 0.5
    assert figures["small_n"] is False


def test_breakdown_by_program_marks_the_small_group(analytics_app, wave) -> None:
    full_refresh(factory(analytics_app), wave["id"])
    # A viewer: B has 4 respondents, so no number; nor has A (6), since the whole wave
    # (10) minus A would be B. The wave itself keeps every figure.
    seen = indicators(analytics_app.test_client(), wave, by="program").get_json()
    for group in seen["breakdown"]:
        assert group["indicators"]["suppressed"] is True
        assert group["indicators"]["respondents"] is None
        assert group["indicators"]["absorption_rate"]["value"] is None
    assert "suppressed" not in seen["indicators"] and seen["indicators"]["respondents"] == 10
    # An admin asking for the unsuppressed figures (audited) sees them all.
    answer = indicators(analytics_app.test_client(), wave, role="admin", by="program",
                        unsuppressed="true")
    body = answer.get_json()
    # The figures are spliced in as JSON text: the same text as dumping the whole answer.
    assert answer.get_data(as_text=True) == analytics_app.json.dumps(body)
    assert body["by"] == "program"
    groups = {group["label"]: group for group in body["breakdown"]}
    assert [group["key"] for group in body["breakdown"]] == sorted(wave["programs"].values())
    program_a, program_b = groups["Kejuruan A"]["indicators"], groups["Kejuruan B"]["indicators"]
    # A: 9 targets, respondents a1 a2 a3 b1 c1 d1 = 6, employed a1 a2 b1 d1 = 4.
    assert (program_a["targets"], program_a["respondents"], program_a["small_n"]) == (9, 6, False)
    assert (program_a["absorption_rate"]["count"], program_a["absorption_rate"]["n"]) == (4, 6)
    # B: 8 targets, respondents e1 e2 f1 g1 = 4 < 5: small_n; employed e1 f1.
    assert (program_b["targets"], program_b["respondents"], program_b["small_n"]) == (8, 4, True)
    assert program_b["absorption_rate"]["small_n"] is True
    assert program_b["absorption_rate"]["value"] == 0.5  # the admin's audited view
    assert program_b["dispositions"]["unknown"] == 2
    assert body["indicators"]["respondents"] == 10  # the whole selection beside the groups


def test_a_filter_selects_cells_and_fpc_narrows_the_interval(analytics_app, wave) -> None:
    full_refresh(factory(analytics_app), wave["id"])
    client = analytics_app.test_client()
    # Program A (6) is hidden from viewers (the wave minus A is B's 4): the admin's
    # audited unsuppressed view.
    assert indicators(client, wave, program=wave["programs"]["A"]).get_json()[
        "indicators"]["suppressed"] is True
    plain = indicators(client, wave, role="admin", program=wave["programs"]["A"],
                       unsuppressed="true").get_json()
    corrected = indicators(client, wave, role="admin", program=wave["programs"]["A"],
                           fpc="true", unsuppressed="true").get_json()
    assert plain["filters"] == {"program": wave["programs"]["A"], "cohort": None, "gender": None}
    share, narrowed = plain["indicators"]["absorption_rate"], corrected["indicators"][
        "absorption_rate"]
    # Program A: 4 of 6. Wilson: centre = (2/3 + z²/12) / (1 + z²/6) = 0.601611,
    #   half = z/(1 + z²/6) · sqrt((2/3)(1/3)/6 + z²/144) = 0.301618 → [0.299993, 0.903229].
    assert (share["ci_low"], share["ci_high"]) == (approx6(0.299993), approx6(0.903229))
    # fpc: N = 9, n = 6 → half · sqrt((9 − 6)/(9 − 1)) = 0.301618 · 0.612372 = 0.184702
    #   → [0.416909, 0.786313], same centre and value.
    assert (narrowed["ci_low"], narrowed["ci_high"]) == (approx6(0.416909), approx6(0.786313))
    assert narrowed["value"] == share["value"] == pytest.approx(4 / 6)
    assert corrected["indicators"]["fpc"] is True
    # response_rate is over the population itself: no correction.
    assert (corrected["indicators"]["response_rate"]["ci_low"]
            == plain["indicators"]["response_rate"]["ci_low"])
    # gender P: b1 b2 d1 f1 f2 h1 h2 = 7 targets; b1 d1 f1 answered, all employed: a
    # viewer sees none of it, an admin asking for unsuppressed figures all of it.
    hidden = indicators(client, wave, gender="P").get_json()["indicators"]
    assert hidden["suppressed"] is True and hidden["respondents"] is None
    women = indicators(client, wave, role="admin", gender="P",
                       unsuppressed="true").get_json()["indicators"]
    assert (women["targets"], women["respondents"], women["small_n"]) == (7, 3, True)
    assert women["absorption_rate"]["value"] == 1.0


def test_minimum_wage_is_set_by_an_admin_and_used_for_the_wave_year(analytics_app, wave) -> None:
    full_refresh(factory(analytics_app), wave["id"])
    client = analytics_app.test_client()
    assert client.get("/api/v1/minimum-wages", headers=wave["headers"]["viewer"]).get_json() == []
    refused = client.put("/api/v1/minimum-wages", headers=wave["headers"]["operator"],
                         json={"year": 2026, "amount": 3_600_000, "source": "x"})
    assert refused.status_code == 403
    bad = client.put("/api/v1/minimum-wages", headers=wave["headers"]["admin"],
                     json={"year": 2026, "amount": 0, "source": "x"})
    assert bad.status_code == 422 and "amount" in bad.get_json()["errors"]
    # Another year's wage must not be used for this wave.
    other_year = client.put("/api/v1/minimum-wages", headers=wave["headers"]["admin"],
                            json={"year": 2025, "amount": 1, "source": "2025"})
    assert other_year.status_code == 200
    assert set_minimum_wage(client, wave).status_code == 200
    listed = client.get("/api/v1/minimum-wages", headers=wave["headers"]["viewer"]).get_json()
    assert [(row["year"], row["amount"]) for row in listed] == [(2026, 3_600_000), (2025, 1)]
    body = indicators(client, wave).get_json()
    assert body["minimum_wage"]["amount"] == 3_600_000
    assert body["indicators"]["minimum_wage"] == 3_600_000
    # ≥ 3.6M among 2.5M 3.0M 3.6M 3.6M 4.0M 5.0M: 4 of 6 (equal counts as reaching it).
    #   Wilson 4/6 as in the filter test: [0.299993, 0.903229].
    above = body["indicators"]["above_minimum_wage"]
    assert (above["count"], above["n"]) == (4, 6)
    assert (above["ci_low"], above["ci_high"]) == (approx6(0.299993), approx6(0.903229))
    # A new amount applies at once: incomes are kept per value in the snapshot.
    set_minimum_wage(client, wave, amount=3_600_001)
    assert indicators(client, wave).get_json()["indicators"]["above_minimum_wage"]["count"] == 2


def test_bad_arguments_are_422_naming_the_field_and_unknown_waves_404(analytics_app,
                                                                      wave) -> None:
    client = analytics_app.test_client()
    assert indicators(client, wave).status_code == 404  # not computed yet
    full_refresh(factory(analytics_app), wave["id"])
    for query, field in (({"gender": "X"}, "gender"), ({"by": "kecamatan"}, "by"),
                         ({"program": "abc"}, "program"), ({"fpc": "maybe"}, "fpc"),
                         ({"progam": "1"}, "progam")):
        response = indicators(client, wave, **query)
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
        assert field in response.get_json()["errors"], response.get_json()
    missing = client.get("/api/v1/indicators", headers=wave["headers"]["viewer"])
    assert missing.status_code == 422 and "wave" in missing.get_json()["errors"]
    unknown = client.get("/api/v1/indicators", query_string={"wave": "no-such-wave"},
                         headers=wave["headers"]["viewer"])
    assert unknown.status_code == 404 and "wave" in unknown.get_json()["errors"]
    assert client.get("/api/v1/indicators", query_string={"wave": wave["slug"]}).status_code == 401


def test_the_openapi_document_describes_the_api(analytics_app) -> None:
    spec = analytics_app.test_client().get("/api/openapi.json").get_json()
    parameters = {parameter["name"]
                  for parameter in spec["paths"]["/api/v1/indicators"]["get"]["parameters"]}
    assert {"wave", "program", "cohort", "gender", "fpc", "by"} <= parameters
    assert {"get", "put"} <= spec["paths"]["/api/v1/minimum-wages"].keys()
    assert "post" in spec["paths"]["/api/v1/refresh"]
    assert "IndicatorsOut" in spec["components"]["schemas"]


def test_refresh_api_queues_the_task_a_real_worker_runs(analytics_app, wave,
                                                        celery_worker) -> None:
    client = analytics_app.test_client()
    refused = client.post("/api/v1/refresh", json={"wave": wave["slug"]},
                          headers=wave["headers"]["viewer"])
    assert refused.status_code == 403
    queued = client.post("/api/v1/refresh", json={"wave": wave["slug"]},
                         headers=wave["headers"]["operator"])
    assert queued.status_code == 202, queued.get_json()
    run_id = queued.get_json()["run_id"]

    def finished() -> Any:
        run = client.get(f"/api/v1/refresh/{run_id}", headers=wave["headers"]["viewer"])
        return run.get_json() if run.get_json()["status"] not in ("queued", "running") else None

    assert wait_for(finished, timeout=30)["status"] == "done"
    assert indicators(client, wave).get_json()["responses_included"] == 10


def _cells_by_key(session, wave_id: int) -> dict[Any, Any]:
    return dict(read_snapshot(session, wave_id).cells)


def test_a_submitted_response_updates_one_cell_through_a_real_worker(
        analytics_app, survey_app, wave, celery_worker) -> None:
    full_refresh(factory(analytics_app), wave["id"])
    with analytics_app.app_context():
        before = _cells_by_key(db.session(), wave["id"])
    client = analytics_app.test_client()
    token = make_token(survey_app.config["SECRET_KEY"], wave["id"], wave["alumni"]["e3"])
    submitted = survey_app.test_client().post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": wave["slug"], "token": token, "answers": EMPLOYED})
    assert submitted.status_code == 201, submitted.get_json()

    wait_for(lambda: indicators(client, wave).get_json()["indicators"]["respondents"] == 11,
             timeout=30)
    body = indicators(client, wave).get_json()
    assert body["responses_included"] == 11
    assert body["indicators"]["dispositions"]["non_contact"] == 0  # e3 answered
    assert body["indicators"]["employed"] == 7
    with analytics_app.app_context():
        after = _cells_by_key(db.session(), wave["id"])
    changed = {key for key in before if before[key] != after[key]}
    e3_cell = (wave["programs"]["B"], wave["cohorts"]["B1"], "L")
    assert changed == {e3_cell}
    assert (after[e3_cell].respondents, after[e3_cell].non_contact) == (3, 0)
    assert after.keys() == before.keys()


def test_a_message_status_event_moves_the_disposition(analytics_app, wave,
                                                      celery_worker) -> None:
    full_refresh(factory(analytics_app), wave["id"])
    client = analytics_app.test_client()
    with analytics_app.app_context():
        session = db.session()
        message = Message(campaign_step_id=wave["step_id"], alumnus_id=wave["alumni"]["f2"],
                          channel="email", address="f2@example.org", status="delivered",
                          due_at=utcnow())
        session.add(message)
        session.flush()
        publish(session, "message.status", {"message_id": message.id,
                                            "alumnus_id": message.alumnus_id,
                                            "status": "delivered"})
        session.commit()
    # f2 was never reached (UH); a delivered message makes them a non-contact (NC).
    wait_for(lambda: indicators(client, wave).get_json()["indicators"]["dispositions"][
        "non_contact"] == 2, timeout=30)
    dispositions = indicators(client, wave).get_json()["indicators"]["dispositions"]
    assert (dispositions["unknown"], dispositions["non_contact"]) == (1, 2)


def test_a_second_refresh_while_one_runs_is_skipped(analytics_app, wave, monkeypatch) -> None:
    sessions = factory(analytics_app)
    first_snapshot = full_refresh(sessions, wave["id"])
    started, release = threading.Event(), threading.Event()
    fill = refresh_module.fill_cells

    def slow_fill(session, wave_id):
        started.set()
        assert release.wait(20)
        return fill(session, wave_id)

    monkeypatch.setattr(refresh_module, "fill_cells", slow_fill)
    results: dict[str, Any] = {}
    first = threading.Thread(target=lambda: results.update(first=full_refresh(sessions,
                                                                              wave["id"])))
    first.start()
    assert started.wait(10)
    started.clear()
    second = threading.Thread(target=lambda: results.update(second=full_refresh(sessions,
                                                                                wave["id"])))
    second.start()
    if sessions.kw["bind"].dialect.name == "postgresql":
        second.join(10)  # the advisory lock is taken: skipped at once
        assert results == {"second": None}
        # Meanwhile readers get the previous snapshot, whole.
        body = indicators(analytics_app.test_client(), wave).get_json()
        assert body["snapshot_id"] == first_snapshot.id
        assert body["indicators"]["respondents"] == 10
    else:
        time.sleep(0.5)  # SQLite: the second waits for the first's write lock
    release.set()
    first.join(20)
    second.join(20)
    assert not started.is_set()  # the second never computed anything
    assert results["second"] is None
    assert results["first"] is not None and results["first"].id > first_snapshot.id
    with sessions() as session:
        statuses = sorted(session.scalars(select(RefreshRun.status)
                                          .where(RefreshRun.wave_id == wave["id"])))
    assert statuses == ["done", "done", "skipped"]
    monkeypatch.setattr(refresh_module, "fill_cells", fill)
    assert full_refresh(sessions, wave["id"]) is not None  # the next one runs


def test_a_refresh_failing_midway_leaves_the_previous_snapshot(analytics_app, wave,
                                                               monkeypatch) -> None:
    sessions = factory(analytics_app)
    client = analytics_app.test_client()
    good = full_refresh(sessions, wave["id"])
    fill = refresh_module.fill_cells

    def broken_fill(session, wave_id):
        fill(session, wave_id)
        raise RuntimeError("disk full")

    monkeypatch.setattr(refresh_module, "fill_cells", broken_fill)
    with pytest.raises(RuntimeError):
        full_refresh(sessions, wave["id"])
    body = indicators(client, wave).get_json()
    assert (body["snapshot_id"], body["indicators"]["respondents"]) == (good.id, 10)
    with sessions() as session:
        failed = session.scalar(select(RefreshRun).where(RefreshRun.status == "failed"))
        assert "disk full" in failed.detail
    monkeypatch.setattr(refresh_module, "fill_cells", fill)
    for _ in range(KEEP_SNAPSHOTS + 1):
        latest = full_refresh(sessions, wave["id"])
    assert indicators(client, wave).get_json()["snapshot_id"] == latest.id
    with sessions() as session:  # old snapshots are dropped, the newest few kept
        kept = session.scalar(select(func.count()).select_from(IndicatorSnapshot))
    assert kept == KEEP_SNAPSHOTS


def test_refresh_all_covers_open_and_closed_waves_only(analytics_app, wave) -> None:
    sessions = factory(analytics_app)
    with sessions() as session:
        draft = Wave(slug=f"draft-{uuid.uuid4().hex[:6]}", title="Draft", status="draft",
                     questionnaire_id=session.scalar(select(Wave.questionnaire_id)))
        session.add(draft)
        session.commit()
    outcomes = refresh_all(sessions)
    assert [(outcome.slug, outcome.snapshot is not None) for outcome in outcomes] == [
        (wave["slug"], True)]
    assert math.isclose(outcomes[0].snapshot.responses_included, 10)


def test_a_live_update_is_idempotent_and_adds_a_cell_the_snapshot_lacks(analytics_app,
                                                                        wave) -> None:
    from services.analytics.refresh import update_alumnus_cell

    sessions = factory(analytics_app)
    first = full_refresh(sessions, wave["id"])
    with sessions() as session:
        # A target added after the refresh, in a cohort the snapshot has never seen.
        cohort = Cohort(program_id=wave["programs"]["B"], label="Angkatan B3",
                        training_start=date(2025, 6, 2), training_end=date(2025, 8, 29))
        session.add(cohort)
        session.flush()
        newcomer = Alumnus(registration_no="REG-z1", full_name="Alumnus z1", gender="L",
                           cohort_id=cohort.id)
        outsider = Alumnus(registration_no="REG-z2", full_name="Alumnus z2", gender="P",
                           cohort_id=cohort.id)
        session.add_all([newcomer, outsider])
        session.flush()
        session.add(WaveTarget(wave_id=wave["id"], alumnus_id=newcomer.id,
                               program_id=wave["programs"]["B"], cohort_id=cohort.id,
                               gender="L"))
        for alumnus in (newcomer, outsider):
            session.add(Response(wave_id=wave["id"], alumnus_id=alumnus.id,
                                 questionnaire_id=session.scalar(select(Wave.questionnaire_id)),
                                 status="complete", answers={"consent": True, "f8": 1}))
        session.commit()
        ids = (newcomer.id, outsider.id, cohort.id)
    with sessions() as session, session.begin():
        assert update_alumnus_cell(session, wave["id"], ids[1]) is None  # not a target
        assert update_alumnus_cell(session, wave["id"], ids[0]) is not None
    with sessions() as session, session.begin():
        assert update_alumnus_cell(session, wave["id"], ids[0]) is None  # nothing changed
    with sessions() as session:
        view = read_snapshot(session, wave["id"])
        assert view.id == first.id and view.responses_included == 11
        assert len(view.cells) == 9 and view.live_cells == 1
        assert dict(view.cells)[(wave["programs"]["B"], ids[2], "L")].respondents == 1
        assert view.labels["cohorts"][str(ids[2])] == "Angkatan B3"
        # One row for the one cell: the snapshot itself was not copied.
        assert session.scalar(select(func.count()).select_from(IndicatorSnapshot)) == 1
        assert session.scalar(select(func.count()).select_from(IndicatorCell)) == 1


def test_the_api_keeps_nothing_of_a_replaced_snapshot(analytics_app, wave) -> None:
    """Cached answers and group figures hold parsed cells: once a newer snapshot of the wave
    is read, the older snapshot's entries go (a large wave's cells are many megabytes)."""
    cache = indicator_cache.install(analytics_app)
    cache.clear()  # earlier tests' databases
    sessions = factory(analytics_app)
    client = analytics_app.test_client()
    first = full_refresh(sessions, wave["id"])
    assert indicators(client, wave, by="program").status_code == 200
    assert list(cache.snapshot_ids().values()) == [first.id]
    second = full_refresh(sessions, wave["id"])
    body = indicators(client, wave, by="cohort").get_json()
    assert body["snapshot_id"] == second.id
    assert list(cache.snapshot_ids().values()) == [second.id] and first.id != second.id


def test_clear_makes_the_next_request_parse_the_snapshot_again(analytics_app, wave) -> None:
    """The cache is one object of the app: cleared, nothing of the wave is kept, and the
    figures come out the same."""
    cache = indicator_cache.install(analytics_app)
    full_refresh(factory(analytics_app), wave["id"])
    client = analytics_app.test_client()
    before = indicators(client, wave, by="cohort").get_json()
    assert cache.snapshot_ids() != {}
    cache.clear()
    assert cache.snapshot_ids() == {}
    assert indicators(client, wave, by="cohort").get_json() == before


def test_an_app_warms_the_snapshots_of_its_open_waves_as_it_starts(
        analytics_app, settings, wave) -> None:
    """The first indicators request after a restart finds its answer ready: the app parses
    the wave's snapshot and answers the whole wave and each breakdown in the background as
    it starts, and the figures are the same."""
    from services.analytics import create_app
    from tests.conftest import app_config

    full_refresh(factory(analytics_app), wave["id"])
    expected = indicators(analytics_app.test_client(), wave, by="cohort").get_json()
    restarted = create_app(app_config(settings, JEJAK_WARM_INDICATORS=True))
    cache = indicator_cache.install(restarted)
    assert cache.warmed.wait(30)
    database = str(db.get_db(restarted).engine.url)
    assert cache.parsed((database, wave["id"])) is not None
    ahead = cache.entries((database, wave["id"]), cache.snapshot_ids()[database, wave["id"]])
    assert len(ahead.answers) == 4  # the whole wave, by program, by cohort, by gender
    assert indicators(restarted.test_client(), wave, by="cohort").get_json() == expected
    assert len(ahead.answers) == 4  # the answer made ahead was the one sent


def test_a_large_snapshot_is_parsed_into_a_frozen_heap(analytics_app, wave,
                                                        monkeypatch) -> None:
    """Past FREEZE_CELLS cells the parsed snapshot is left out of later garbage collections
    (gc.freeze); the figures are the same."""
    import gc

    from services.analytics import snapshots

    full_refresh(factory(analytics_app), wave["id"])
    client = analytics_app.test_client()
    before = indicators(client, wave, by="cohort").get_json()
    indicator_cache.install(analytics_app).clear()
    monkeypatch.setattr(snapshots, "FREEZE_CELLS", 1)
    try:
        after = indicators(client, wave, by="cohort").get_json()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert after == before
