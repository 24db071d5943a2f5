"""Attempts, responses, messages and opt-outs → final dispositions → AAPOR rates, by hand.

One wave of 24 targets (one program, one cohort, all men, so the small-group rule hides
nothing), written through the models and `call_list.record_attempt`:

    target  evidence                                                     final
    t01     complete (web), a message delivered too                     I  web
    t02     complete (web), a refusal on the phone before                I  web
    t03-05  complete (web)                                               I  web ×3
    t06     complete, entered by staff on the phone (source phone)       I  phone
    t07     complete at the event (source event)                         I  event
    t08     complete through the API (source api)                        I  api
    t09     no response stored, the call says "completed"                I  phone
    t10     partial response                                             P
    t11     no response, the call says "partial"                         P
    t12     opted out of e-mail                                          R
    t13     consent withdrawn                                            R
    t14     no answer, then refused on the phone                         R
    t15     not eligible (from a call)                                   NE
    t16     a message delivered, no response                             NC
    t17     a callback (someone else answered)                           NC
    t18     cannot take part                                             O
    t19     its message failed for good, and the number is wrong         UO
    t20     the number is not active (the only try)                      UO
    t21     nothing at all                                               UH
    t22     no answer on the phone, a message still planned              UH
    t23     one message failed for good, another still planned           UH
    t24     a wrong number, and another number rang unanswered           UH

    I 9 (web 5, phone 2, event 1, api 1), P 2, R 3, NE 1, NC 2, O 1, UO 2, UH 4 = 24.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import pytest
from pypdf import PdfReader

from services.analytics.bias_checks import bias_checks, verdict
from services.analytics.refresh import full_refresh
from services.analytics.reports import tasks as report_tasks
from services.analytics.response_rates import (
    dispositions_by_cell,
    response_rates,
    response_rates_by_program,
)
from services.analytics.snapshots import read_snapshot
from services.survey import call_list, catalog
from shared import db
from shared.auth import create_token, create_user
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    Export,
    Message,
    OptOut,
    Program,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)
from tests.conftest import wait_for
from tests.integration.test_analytics import factory
from tests.integration.test_web_access import login

COMPLETE_SOURCES = {"t01": "web", "t02": "web", "t03": "web", "t04": "web", "t05": "web",
                    "t06": "phone", "t07": "event", "t08": "api"}
CALLS = {  # target → outcomes in the order they were recorded
    "t02": ("refused",), "t09": ("completed",), "t11": ("partial",),
    "t14": ("no_answer", "refused"), "t15": ("not_eligible",), "t17": ("callback",),
    "t18": ("cannot_take_part",), "t19": ("wrong_number",), "t20": ("number_inactive",),
    "t22": ("no_answer",), "t24": ("wrong_number", "no_answer"),
}
MESSAGES = {  # target → (status, failed_reason) of its message in each step (one per step)
    "t01": (("delivered", None),), "t16": (("delivered", None),),
    "t19": (("failed", "hard bounce: 550 no such mailbox"),),
    "t22": (("planned", None),),
    "t23": (("failed", "invalid number"), ("planned", None)),
}


@pytest.fixture()
def rates_wave(analytics_app) -> dict[str, Any]:
    with analytics_app.app_context():
        session = db.session()
        questionnaire_id = catalog.ensure_default(session).id
        program = Program(name="Teknik Las")
        session.add(program)
        session.flush()
        cohort = Cohort(program_id=program.id, label="Angkatan 1",
                        training_start=date(2025, 2, 3), training_end=date(2025, 4, 25))
        session.add(cohort)
        session.flush()
        wave = Wave(slug=f"rates-{uuid.uuid4().hex[:6]}", title="Tracer 2026",
                    questionnaire_id=questionnaire_id, status="open", opened_at=utcnow())
        session.add(wave)
        session.flush()
        alumni = {}
        for number in range(1, 25):
            name = f"t{number:02d}"
            alumnus = Alumnus(registration_no=f"REG-{name}-{wave.id}", full_name=name,
                              gender="L", cohort_id=cohort.id, email=f"{name}@example.org",
                              phone=f"+62812000{number:04d}")
            session.add(alumnus)
            session.flush()
            alumni[name] = alumnus
            session.add(WaveTarget(wave_id=wave.id, alumnus_id=alumnus.id,
                                   program_id=program.id, cohort_id=cohort.id, gender="L"))
        for name, source in COMPLETE_SOURCES.items():
            session.add(Response(wave_id=wave.id, alumnus_id=alumni[name].id,
                                 questionnaire_id=questionnaire_id, status="complete",
                                 source=source, answers={"consent": True, "f8": 1},
                                 submitted_at=utcnow()))
        session.add(Response(wave_id=wave.id, alumnus_id=alumni["t10"].id,
                             questionnaire_id=questionnaire_id, status="partial",
                             answers={"consent": True}))
        session.add(OptOut(channel="email", address="t12@example.org",
                           alumnus_id=alumni["t12"].id, source="link"))
        alumni["t13"].consent_withdrawn_at = utcnow()
        campaign = Campaign(wave_id=wave.id, name="Undangan", status="running")
        session.add(campaign)
        session.flush()
        steps = [CampaignStep(campaign_id=campaign.id, position=position, channel="email")
                 for position in (0, 1)]
        session.add_all(steps)
        session.flush()
        for name, messages in MESSAGES.items():
            for step, (status, reason) in zip(steps, messages, strict=False):
                session.add(Message(campaign_step_id=step.id, alumnus_id=alumni[name].id,
                                    channel="email", address=f"{name}@example.org",
                                    status=status, failed_reason=reason,
                                    due_at=utcnow() - timedelta(days=1)))
        today = call_list.centre_today(session)
        for name, outcomes in CALLS.items():
            for outcome in outcomes:
                call_list.record_attempt(
                    session, wave, alumni[name].id, user_id=None, channel="phone",
                    outcome=outcome, today=today,
                    callback_on=today + timedelta(days=2) if outcome == "callback" else None)
        token = create_token(session, "viewer")
        session.commit()
        return {"id": wave.id, "slug": wave.slug, "program": program.id,
                "headers": {"Authorization": f"Bearer {token}"}}


# The hand computation (the module docstring's counts):
#   D  = (I + P) + (R + NC + O) + (UH + UO) = (9 + 2) + (3 + 2 + 1) + (4 + 2) = 11 + 6 + 6 = 23
#   e  = (I + P + R + NC + O) / (I + P + R + NC + O + NE) = 17 / (17 + 1) = 17/18
#   RR1 = I / D = 9/23                RR2 = (I + P) / D = 11/23
#   RR3 = I / (11 + 6 + e·6) = 9 / (17 + 17/3) = 9 / (68/3) = 27/68
#   RR4 = (I + P) / (68/3) = 33/68
#   COOP1 = I / ((I + P) + R + O) = 9 / (11 + 3 + 1) = 9/15 = 3/5
#   REF1 = R / D = 3/23               CON1 = ((I + P) + R + O) / D = 15/23
#   by mode, I of the mode / D: web 5/23, phone 2/23 (t06, t09), event 1/23, api 1/23, paper 0
COUNTS = {"I": 9, "P": 2, "R": 3, "NE": 1, "NC": 2, "O": 1, "UO": 2, "UH": 4}
EXPECTED = {"rr1": Fraction(9, 23), "rr2": Fraction(11, 23), "rr3": Fraction(27, 68),
            "rr4": Fraction(33, 68), "coop1": Fraction(3, 5), "ref1": Fraction(3, 23),
            "con1": Fraction(15, 23)}
BY_MODE = {"web": Fraction(5, 23), "api": Fraction(1, 23), "paper": Fraction(0),
           "phone": Fraction(2, 23), "event": Fraction(1, 23)}


def test_attempts_responses_and_messages_give_the_hand_computed_dispositions_and_rates(
        analytics_app, rates_wave) -> None:
    with analytics_app.app_context():
        found = response_rates(db.session(), rates_wave["id"])
    assert found.counts == COUNTS
    assert found.d == 23
    assert found.rates.e == Fraction(17, 18)
    assert found.rates.e_basis.startswith("eligible share among cases of known eligibility")
    for name, value in EXPECTED.items():
        assert getattr(found.rates, name) == value, name
    assert found.completes_by_mode == {"web": 5, "api": 1, "paper": 0, "phone": 2, "event": 1}
    assert found.rate_by_mode == BY_MODE


def test_rates_by_program_split_the_same_evidence_in_one_read(analytics_app,
                                                              rates_wave) -> None:
    # A second program with two targets: one complete on the web (I), one with nothing
    # (UH). Its D = 2, RR1 = 1/2, COOP1 = 1/1; Teknik Las keeps the hand-computed figures,
    # and the two programs' counts add up to the whole wave's.
    with analytics_app.app_context():
        session = db.session()
        wave = session.get(Wave, rates_wave["id"])
        program = Program(name="Tata Boga")
        session.add(program)
        session.flush()
        cohort = Cohort(program_id=program.id, label="Angkatan 2",
                        training_start=date(2025, 2, 3), training_end=date(2025, 4, 25))
        session.add(cohort)
        session.flush()
        for name in ("b1", "b2"):
            alumnus = Alumnus(registration_no=f"REG-{name}-{wave.id}", full_name=name,
                              gender="P", cohort_id=cohort.id)
            session.add(alumnus)
            session.flush()
            session.add(WaveTarget(wave_id=wave.id, alumnus_id=alumnus.id,
                                   program_id=program.id, cohort_id=cohort.id, gender="P"))
            if name == "b1":
                session.add(Response(wave_id=wave.id, alumnus_id=alumnus.id,
                                     questionnaire_id=wave.questionnaire_id, status="complete",
                                     source="web", answers={"consent": True, "f8": 1},
                                     submitted_at=utcnow()))
        session.commit()
        found = response_rates_by_program(session, wave.id)
        whole_wave = response_rates(session, wave.id)
        # Every filter summed from the one read by cell is the filtered read itself.
        cells = dispositions_by_cell(session, wave.id)
        cohorts = {cohort_id for _, cohort_id, _ in cells.cells}
        for program_id in (rates_wave["program"], program.id, None):
            for cohort_id in (*cohorts, None):
                for gender in ("L", "P", None):
                    assert cells.rates(program=program_id, cohort=cohort_id,
                                       gender=gender) == response_rates(
                        session, wave.id, program=program_id, cohort=cohort_id,
                        gender=gender), (program_id, cohort_id, gender)
    assert list(found) == sorted([rates_wave["program"], program.id])
    assert found[rates_wave["program"]].counts == COUNTS
    assert found[rates_wave["program"]].rates.rr1 == EXPECTED["rr1"]
    other = found[program.id]
    assert other.counts == {**dict.fromkeys(COUNTS, 0), "I": 1, "UH": 1}
    assert (other.rates.rr1, other.rates.coop1) == (Fraction(1, 2), Fraction(1))
    assert other.completes_by_mode["web"] == 1
    assert whole_wave.counts == {code: COUNTS[code] + other.counts[code] for code in COUNTS}


def test_a_filter_matching_no_target_gives_no_rate_rather_than_zero(
        analytics_app, rates_wave) -> None:
    with analytics_app.app_context():
        found = response_rates(db.session(), rates_wave["id"], gender="P")
    assert found.counts == dict.fromkeys(COUNTS, 0)
    assert found.rates.rr1 is None and found.rates.coop1 is None
    assert found.rates.e == 1 and found.rates.e_basis == "no case of known eligibility: e = 1"


def test_the_indicators_api_adds_the_aapor_keys_and_keeps_the_dispositions_block(
        analytics_app, rates_wave) -> None:
    full_refresh(factory(analytics_app), rates_wave["id"])
    response = analytics_app.test_client().get(
        "/api/v1/indicators", query_string={"wave": rates_wave["slug"]},
        headers=rates_wave["headers"])
    assert response.status_code == 200, response.get_json()
    figures = response.get_json()["indicators"]
    for name, value in EXPECTED.items():
        assert figures[name] == pytest.approx(float(value), abs=1e-12), name
    assert figures["aapor_e"]["value"] == pytest.approx(17 / 18)
    assert figures["aapor_dispositions"] == COUNTS
    assert figures["response_rate_by_mode"] == {
        mode: pytest.approx(float(value)) for mode, value in BY_MODE.items()}
    # The snapshot's own dispositions are unchanged by the new keys: 8 complete
    # responses (t09's interview is known from a call only), t10 partial, t12 t13
    # refused, t19 unreachable (its one message failed for good), t01 and t16 contacted
    # (t01 answered), the other 12 unknown.
    assert figures["dispositions"] == {"complete": 8, "partial": 1, "refusal": 2,
                                       "unreachable": 1, "non_contact": 1, "unknown": 11}


def test_a_selection_the_small_group_rule_hides_shows_no_aapor_number(
        analytics_app, rates_wave) -> None:
    # No woman is targeted: the selection is no group of the wave, hidden like a small one.
    full_refresh(factory(analytics_app), rates_wave["id"])
    figures = analytics_app.test_client().get(
        "/api/v1/indicators", query_string={"wave": rates_wave["slug"], "gender": "P"},
        headers=rates_wave["headers"]).get_json()["indicators"]
    assert figures["suppressed"] is True
    assert [figures[name] for name in EXPECTED] == [None] * 7
    assert figures["aapor_e"]["value"] is None
    assert set(figures["aapor_dispositions"].values()) == {None}
    assert set(figures["response_rate_by_mode"].values()) == {None}


def completed_call(app, wave_id: int, name: str) -> None:
    """Staff record a completed phone interview with target `name` of the wave."""
    with app.app_context():
        session = db.session()
        wave = session.get(Wave, wave_id)
        alumnus_id = session.scalar(
            WaveTarget.__table__.select().with_only_columns(WaveTarget.alumnus_id)
            .join(Alumnus, Alumnus.id == WaveTarget.alumnus_id)
            .where(WaveTarget.wave_id == wave.id, Alumnus.full_name == name))
        call_list.record_attempt(session, wave, alumnus_id, user_id=None, channel="phone",
                                 outcome="completed", today=call_list.centre_today(session))
        session.commit()


def api_rr1(client, rates_wave) -> float:
    return client.get("/api/v1/indicators", query_string={"wave": rates_wave["slug"]},
                      headers=rates_wave["headers"]).get_json()["indicators"]["rr1"]


def test_a_new_attempt_changes_the_rates_without_a_new_snapshot(analytics_app, rates_wave) -> None:
    full_refresh(factory(analytics_app), rates_wave["id"])
    client = analytics_app.test_client()

    def rr1() -> float:
        return api_rr1(client, rates_wave)

    assert rr1() == pytest.approx(9 / 23)
    completed_call(analytics_app, rates_wave["id"], "t21")
    # t21 moves from UH to I: D stays 23, I becomes 10.
    assert rr1() == pytest.approx(10 / 23)


def test_a_slow_wave_answers_its_kept_rates_while_they_are_read_again_in_the_background(
        analytics_app, rates_wave) -> None:
    # As on a wave whose read takes seconds (1M responses): every read counts as slow.
    cache = analytics_app.extensions["jejak_indicator_cache"]
    cache.kept_reads.sync_seconds = cache.kept_reads.rest_factor = 0.0
    full_refresh(factory(analytics_app), rates_wave["id"])
    client = analytics_app.test_client()

    def rr1() -> float:
        return api_rr1(client, rates_wave)

    assert rr1() == pytest.approx(9 / 23)  # nothing kept yet: read in the request
    completed_call(analytics_app, rates_wave["id"], "t21")
    # The first request after the call answers the kept 9/23 at once and starts the read;
    # the fresh 10/23 follows (t21 moves from UH to I) and is then kept.
    assert rr1() == pytest.approx(9 / 23)
    wait_for(lambda: rr1() == pytest.approx(10 / 23), timeout=20)
    assert rr1() == pytest.approx(10 / 23)


# --- the non-response bias check, on the dashboard and in the PDF ---------------------------
#
# Two programs of 20 targets (one cohort each, all men): Teknik Las answered 15 (12 of them
# working), Tata Boga 5 (1 working). N = 40, n = 20.
#   shares of targets 50 % / 50 %; of respondents 15/20 = 75 % and 5/20 = 25 %: +25 / −25 points
#   expected 20 · 0.5 = 10 each: χ² = (15 − 10)²/10 + (5 − 10)²/10 = 2.5 + 2.5 = 5.0, df = 1
#   p = P(χ²₁ ≥ 5) = erfc(√2.5) = 0.025347 < 0.05: the respondents differ by program (and by
#   cohort, the same split); gender: one category, nothing to test.
#   absorption 13/20 = 65 %; weighted (w = 20/15 = 4/3 and 20/5 = 4):
#   (12 · 4/3 + 1 · 4) / (15 · 4/3 + 5 · 4) = 20 / 40 = 50 %: moved by −15 points.


@pytest.fixture()
def bias_wave(analytics_app) -> dict[str, Any]:
    with analytics_app.app_context():
        session = db.session()
        questionnaire_id = catalog.ensure_default(session).id
        wave = Wave(slug=f"bias-{uuid.uuid4().hex[:6]}", title="Tracer 2026",
                    questionnaire_id=questionnaire_id, status="open", opened_at=utcnow())
        session.add(wave)
        session.flush()
        for program_name, answered, working in (("Teknik Las", 15, 12), ("Tata Boga", 5, 1)):
            program = Program(name=program_name)
            session.add(program)
            session.flush()
            cohort = Cohort(program_id=program.id, label=f"{program_name} 1",
                            training_start=date(2025, 2, 3), training_end=date(2025, 4, 25))
            session.add(cohort)
            session.flush()
            for number in range(20):
                alumnus = Alumnus(registration_no=f"{program_name}-{number}-{wave.id}",
                                  gender="L", cohort_id=cohort.id)
                session.add(alumnus)
                session.flush()
                session.add(WaveTarget(wave_id=wave.id, alumnus_id=alumnus.id,
                                       program_id=program.id, cohort_id=cohort.id, gender="L"))
                if number < answered:
                    session.add(Response(
                        wave_id=wave.id, alumnus_id=alumnus.id, questionnaire_id=questionnaire_id,
                        status="complete", submitted_at=utcnow(),
                        answers={"consent": True, "f8": 1 if number < working else 5}))
        create_user(session, "vina", "kata-sandi-vina", "viewer")
        session.commit()
        return {"id": wave.id, "slug": wave.slug}


def pdf_text(app, slug: str) -> str:
    """The text of the wave's PDF report, made as the worker makes it."""
    with app.app_context():
        session = db.session()
        export = Export(kind="pdf", params={"wave": slug})
        session.add(export)
        session.commit()
        assert report_tasks.export.run(str(export.id)) == "done"
        session.refresh(export)
        path = export.path
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


def test_the_bias_check_compares_respondents_with_targets_and_says_the_weights_are_needed(
        analytics_app, bias_wave) -> None:
    full_refresh(factory(analytics_app), bias_wave["id"])
    with analytics_app.app_context():
        snapshot = read_snapshot(db.session(), bias_wave["id"])
        checks = {check.by: check for check in bias_checks(snapshot.cells, None)}
    program = checks["program"]
    shares = sorted((category.respondents, category.population_share,
                     category.respondent_share) for category in program.check.categories)
    assert shares == [(5, 0.5, 0.25), (15, 0.5, 0.75)]
    assert program.check.chi_square == pytest.approx(5.0)
    assert program.check.degrees_of_freedom == 1
    assert program.check.p_value == pytest.approx(0.025347, abs=5e-7)
    assert checks["cohort"].differs and checks["gender"].single
    assert verdict(checks.values()) == ("needed", ["program", "cohort"])

    client = analytics_app.test_client()
    assert login(client, "vina", "kata-sandi-vina").status_code == 302
    page = " ".join(client.get(f"/?wave={bias_wave['slug']}").get_data(as_text=True).split())
    assert "Tingkat respons (AAPOR)" in page
    assert "Apakah responden mewakili sasaran?" in page
    assert "Responden berbeda dari sasaran menurut kejuruan, angkatan (p &lt; 0,05)" in page
    assert ("Bobot menggeser tingkat keterserapan dari 65,0% menjadi 50,0% (−15,0 poin)."
            in page)
    assert "Kejuruan: chi-kuadrat 5,0, db 1, p = 0,025." in page
    # RR1 = 20 complete / D 40 (no other evidence: the other 20 are UH): 50,0 %.
    assert "<th scope=\"row\">RR1</th><td>I / D</td><td>50,0%</td>" in page

    text = pdf_text(analytics_app, bias_wave["slug"])
    assert "Apakah responden mewakili sasaran?" in text
    assert "Responden berbeda dari sasaran menurut kejuruan, angkatan (p < 0,05)" in text
    assert "dari 65,0% menjadi 50,0% (-15,0 poin)" in text  # the PDF's fonts spell − as -
    assert "Kejuruan: chi-kuadrat 5,0, db 1, p = 0,025." in text
    assert "Tata Boga 50,0% 25,0% -25,0" in text and "Teknik Las 50,0% 75,0% +25,0" in text


def test_the_pdf_reports_the_aapor_rates(analytics_app, rates_wave) -> None:
    full_refresh(factory(analytics_app), rates_wave["id"])
    text = pdf_text(analytics_app, rates_wave["slug"])
    assert "Tingkat respons (AAPOR)" in text
    # RR1 9/23 = 39,1 %, RR2 11/23 = 47,8 %, RR3 27/68 = 39,7 %, RR4 33/68 = 48,5 %,
    # COOP1 3/5 = 60,0 %, REF1 3/23 = 13,0 %, CON1 15/23 = 65,2 %; e = 17/18 = 0,944.
    for label, value in (("RR1", "39,1%"), ("RR2", "47,8%"), ("RR3", "39,7%"),
                         ("RR4", "48,5%"), ("COOP1", "60,0%"), ("REF1", "13,0%"),
                         ("CON1", "65,2%")):
        assert f"{label} " in text and value in text, label
    assert "17 dari 18 (tidak memenuhi syarat: 1), e = 0,944" in text
    # By mode: web 5/23 = 21,7 %, phone 2/23 = 8,7 %.
    assert "Web (tautan sendiri) 5 21,7%" in text and "Telepon 2 8,7%" in text
