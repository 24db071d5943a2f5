"""fill_cells (set-based SQL) against a Python reference built from Cell.of_response.

A random wave on the real database (SQLite or PostgreSQL, whichever the run uses): answers
with valid codes and with the awkward values the JSON can hold ("1", 1.0, true, codes out of
range, f4 as a string or with duplicates), messages of every status in this wave's
campaigns and in other campaigns, opt-outs and withdrawn consent. The reference reads the
answers back as Python sees them and applies the disposition rules of docs/indicators.md one
target at a time; the SQL must give the very same cells.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from services.analytics.cells import Cell, CellKey
from services.analytics.fill import fill_cell, fill_cells
from services.analytics.inputs import wave_inputs
from services.analytics.statements import TRANSIENT_FAILURE_PREFIXES
from services.survey import catalog
from services.survey.questionnaire import shipped_definition
from shared.db import Database
from shared.indicator_inputs import (
    CANONICAL,
    V1_INPUTS,
    IndicatorInputs,
    code_of,
)
from shared.indicator_mapping import inputs_of
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    IndicatorAnswer,
    Message,
    OptOut,
    Program,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)

MESSAGE_STATUSES = ("planned", "queued", "sending", "sent", "delivered", "failed", "cancelled",
                    "skipped", "in_doubt")
FAILURE_REASONS = ("hard bounce: 550", "invalid number", "gave up after 5 attempts: timeout",
                   "template: missing name", None)


def awkward(rng: random.Random, valid: list[Any]) -> Any:
    """Mostly a valid value; sometimes what a JSON document may hold instead."""
    roll = rng.random()
    if roll < 0.75:
        return rng.choice(valid)
    value = rng.choice(valid)
    return rng.choice([str(value), float(value), float(value), True, False, None, 0, 9, -1,
                       10**20, [value], {"x": 1}])


# A mapping other than the shipped ones, on blk-tracer v2's items: status and relevance
# codes translated, competencies under names of their own, training aspects reordered.
TRANSLATED_INPUTS = {
    **shipped_definition(2)["indicator_inputs"],
    "status": {"item": "f8", "codes": {"1": 3, "3": 1, "2": 2, "4": 5, "5": 4}},
    "relevance": {"item": "f14", "codes": {"5": 1, "4": 2, "3": 3}},
    "competencies": [{"name": "etika", "a": "f1761", "b": "f1762"},
                     {"name": "k3", "a": "blk_k3_a", "b": "blk_k3_b"}],
    "training_eval": {"items": ["blk_eval_material", "blk_eval_instructor"]},
    "job_search_channels": {"item": "f4", "options": ["f416", "f401", "f409"]},
}
QUESTIONNAIRES = ("v1", "v2", "translated")


def random_answers(rng: random.Random, inputs: IndicatorInputs = V1_INPUTS) -> dict[str, Any]:
    """Random answers to every item the mapping reads (and v1's, which other mappings
    must ignore)."""
    answers: dict[str, Any] = {"consent": True}
    keys: dict[str, list[Any]] = {
        "f8": [1, 1, 1, 3, 3, 2, 4, 5], "f504": [1, 2], "f502": list(range(0, 8)),
        "f506": list(range(5, 40)), "f505": [0, 2_500_000, 3_600_000, 3_600_000, 4_250_000,
                                             7_000_000],
        "f14": [1, 2, 3, 4, 5], "f5a2": [1, 2, 3, 4], "blk_cert": [1, 2, 3],
        **{key: [1, 2, 3, 4, 5] for competency in (*V1_INPUTS.competencies,
                                                   *inputs.competencies)
           for key in (competency.a, competency.b)},
        **{key: [1, 2, 3, 4, 5] for key in (*V1_INPUTS.training_eval, *inputs.training_eval)},
        **{coded.item: list(CANONICAL[name]) for name, coded in inputs.coded
           if coded.item not in ("f8", "f14")},
    }
    for key, valid in keys.items():
        if rng.random() < 0.85:
            value = awkward(rng, valid)
            if value is not None:
                answers[key] = value
    roll = rng.random()
    channels = inputs.job_search_channels or V1_INPUTS.job_search_channels
    assert channels is not None
    if roll < 0.7:
        answers["f4"] = rng.sample(list(channels.options), rng.randrange(0, 4))
        if answers["f4"] and rng.random() < 0.2:
            answers["f4"].append(answers["f4"][0])  # a duplicate counts once
    elif roll < 0.8:
        answers["f4"] = "f401"  # not a list: no channel
    elif roll < 0.9:
        answers["f4"] = ["f401", 3, None, {"f402": 1}]
    return answers


def questionnaire_row(session, which: str) -> Any:
    """blk-tracer v1 or v2 as shipped, or v2 with `TRANSLATED_INPUTS`."""
    if which == "v1":
        return catalog.ensure_default(session)
    v2 = catalog.ensure_shipped(session)[1]
    if which == "v2":
        return v2
    return catalog.add_version(session, {**shipped_definition(2), "key": "translated",
                                         "indicator_inputs": TRANSLATED_INPUTS})


def build_wave(session, rng: random.Random, which: str = "v1") -> tuple[int, list[int]]:
    """A random wave on questionnaire `which`; returns its id and the ids of a second
    wave's targets (noise)."""
    row = questionnaire_row(session, which)
    questionnaire_id, inputs = row.id, inputs_of(row.definition)
    programs = [Program(name=f"Kejuruan {index}") for index in range(3)]
    session.add_all(programs)
    cohorts = [Cohort(program=program, label=f"A{index}", training_start=date(2025, 1, 6),
                      training_end=date(2025, 3, 28))
               for program in programs for index in range(2)]
    session.add_all(cohorts)
    session.flush()
    alumni = []
    for index in range(160):
        alumnus = Alumnus(registration_no=f"R-{index:03d}", full_name=f"Alumnus {index}",
                          gender=rng.choice("LP"), cohort_id=rng.choice(cohorts).id,
                          consent_withdrawn_at=utcnow() if rng.random() < 0.06 else None)
        alumni.append(alumnus)
    session.add_all(alumni)
    waves = [Wave(slug=f"w-{index}", title="W", questionnaire_id=questionnaire_id,
                  status="open", opened_at=utcnow()) for index in range(2)]
    session.add_all(waves)
    session.flush()
    cohort_program = {cohort.id: cohort.program_id for cohort in cohorts}
    wave, other = waves
    targeted = [alumnus for alumnus in alumni if rng.random() < 0.85]
    for alumnus in targeted:
        # The cell is fixed at opening: change some alumni's roster cohort afterwards.
        session.add(WaveTarget(wave_id=wave.id, alumnus_id=alumnus.id,
                               program_id=cohort_program[alumnus.cohort_id],
                               cohort_id=alumnus.cohort_id, gender=alumnus.gender))
    other_targets = [alumnus for alumnus in alumni if rng.random() < 0.5]
    for alumnus in other_targets:
        session.add(WaveTarget(wave_id=other.id, alumnus_id=alumnus.id,
                               program_id=cohort_program[alumnus.cohort_id],
                               cohort_id=alumnus.cohort_id, gender=alumnus.gender))
    session.flush()
    for alumnus in alumni[:10]:
        alumnus.cohort_id = rng.choice(cohorts).id
        alumnus.gender = rng.choice("LP")
    for target_wave in (wave, other):
        for alumnus in alumni:  # untargeted alumni may answer too: they count nowhere
            if rng.random() < 0.55:
                session.add(Response(
                    id=uuid.uuid4(), wave_id=target_wave.id, alumnus_id=alumnus.id,
                    questionnaire_id=questionnaire_id,
                    status="complete" if rng.random() < 0.7 else "partial",
                    answers=random_answers(rng, inputs)))
    campaigns = [Campaign(wave_id=wave.id, name="c1"), Campaign(wave_id=wave.id, name="c2"),
                 Campaign(wave_id=other.id, name="other"), Campaign(wave_id=None,
                                                                    name="broadcast")]
    session.add_all(campaigns)
    session.flush()
    steps = [CampaignStep(campaign_id=campaign.id, position=position, channel="email")
             for campaign in campaigns for position in range(2)]
    session.add_all(steps)
    session.flush()
    for alumnus in alumni:
        bounced = rng.random() < 0.2  # every message fails for good (unless none is sent)
        for step in steps:
            if rng.random() < 0.4:
                status = "failed" if bounced else rng.choice(MESSAGE_STATUSES)
                session.add(Message(
                    campaign_step_id=step.id, alumnus_id=alumnus.id, channel="email",
                    status=status, due_at=utcnow() - timedelta(days=1),
                    failed_reason=(FAILURE_REASONS[0] if bounced and rng.random() < 0.9
                                   else rng.choice(FAILURE_REASONS))
                    if status == "failed" else None))
    for index, alumnus in enumerate(alumni):
        if rng.random() < 0.08:
            session.add(OptOut(channel="email", address=f"a{index}@example.org",
                               alumnus_id=alumnus.id, source="link"))
    session.add(OptOut(channel="sms", address="+6281999", alumnus_id=None, source="sms_stop"))
    session.commit()
    return wave.id, [alumnus.id for alumnus in other_targets]


def reference_cells(session, wave_id: int, plan: Any = None) -> dict[CellKey, Cell]:
    """docs/indicators.md applied one target at a time, answers as Python reads them back;
    `plan`: the wave's wages and decent-work presets (decent.Plan)."""
    cells: dict[CellKey, Cell] = {}
    inputs = inputs_of(session.scalar(select(Wave).where(Wave.id == wave_id))
                       .questionnaire.definition)
    opted_out = set(session.scalars(select(OptOut.alumnus_id)))
    for target in session.scalars(select(WaveTarget).where(WaveTarget.wave_id == wave_id)):
        key = CellKey(target.program_id, target.cohort_id, target.gender)
        cell = cells.setdefault(key, Cell())
        response = session.scalar(select(Response).where(
            Response.wave_id == wave_id, Response.alumnus_id == target.alumnus_id))
        alumnus = session.get(Alumnus, target.alumnus_id)
        statuses = [(message.status, message.failed_reason) for message in session.scalars(
            select(Message).join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
            .join(Campaign, Campaign.id == CampaignStep.campaign_id)
            .where(Campaign.wave_id == wave_id, Message.alumnus_id == target.alumnus_id))]

        def for_good(status: str, reason: str | None) -> bool:
            return status == "failed" and not (reason or "").startswith(
                TRANSIENT_FAILURE_PREFIXES)

        if response is not None and response.status == "complete":
            cell.add_response(response.answers, inputs, plan)
        elif response is not None:
            cell.partial += 1
        elif target.alumnus_id in opted_out or alumnus.consent_withdrawn_at is not None:
            cell.refusal += 1
        elif statuses and all(for_good(*status) for status in statuses):
            cell.unreachable += 1
        elif any(status in ("sent", "delivered") for status, _ in statuses):
            cell.non_contact += 1
        else:
            cell.unknown += 1
    return cells


@pytest.mark.parametrize(("seed", "which"), [(1, "v1"), (2, "v1"), (3, "v1"), (6, "v2"),
                                             (7, "translated")])
def test_fill_cells_equals_the_python_reference(clean_db: Database, seed: int,
                                                which: str) -> None:
    """On blk-tracer v1, v2 and a mapping that translates codes: the SQL reads each
    questionnaire's items through its own mapping, as Cell.of_response does."""
    rng = random.Random(seed)
    with clean_db.session_factory() as session:
        wave_id, _ = build_wave(session, rng, which)
    with clean_db.session_factory() as session:
        expected = reference_cells(session, wave_id)
        filled = fill_cells(session, wave_id)
        # Guard against a dataset too tame to test anything.
        assert sum(cell.respondents for cell in expected.values()) > 20
        assert all(sum(getattr(cell, name) for cell in expected.values()) > 0 for name in
                   ("partial", "refusal", "unreachable", "non_contact", "unknown"))
        assert filled.keys() == expected.keys()
        for key in expected:
            assert filled[key] == expected[key], key
            assert fill_cell(session, wave_id, key) == expected[key], key
        assert fill_cell(session, wave_id, CellKey(-1, -1, "L")) == Cell()
        # Every coded input column holds the canonical code of its item's answer.
        inputs = wave_inputs(session, wave_id)
        for row in session.scalars(select(IndicatorAnswer)
                                   .where(IndicatorAnswer.wave_id == wave_id)):
            answers = session.get(Response, row.response_id).answers
            for name, coded in inputs.coded:
                assert getattr(row, name) == code_of(answers, coded), (name, answers)


def edit_responses(session, wave_id: int, rng: random.Random) -> None:
    """What intake and staff do to a wave's responses after a fill: edits, a complete one
    reopened, partial ones completed, replaced rows (a new id), deleted rows, new answers."""
    inputs = inputs_of(session.get(Wave, wave_id).questionnaire.definition)
    responses = list(session.scalars(select(Response).where(Response.wave_id == wave_id)
                                     .order_by(Response.alumnus_id)))
    for response in rng.sample(responses, len(responses) // 3):
        roll = rng.random()
        if roll < 0.5:
            response.answers = random_answers(rng, inputs)  # updated_at moves (onupdate)
        elif roll < 0.65:
            response.status = "partial" if response.status == "complete" else "complete"
        elif roll < 0.8:
            session.delete(response)
            session.flush()
            session.add(Response(id=uuid.uuid4(), wave_id=wave_id,
                                 alumnus_id=response.alumnus_id,
                                 questionnaire_id=response.questionnaire_id,
                                 status="complete", answers=random_answers(rng, inputs)))
        else:
            session.delete(response)
    answered = {response.alumnus_id for response in responses}
    for target in session.scalars(select(WaveTarget).where(WaveTarget.wave_id == wave_id)):
        if target.alumnus_id not in answered and rng.random() < 0.5:
            session.add(Response(id=uuid.uuid4(), wave_id=wave_id,
                                 alumnus_id=target.alumnus_id,
                                 questionnaire_id=responses[0].questionnaire_id,
                                 status="complete", answers=random_answers(rng, inputs)))
    session.commit()


@pytest.mark.parametrize(("seed", "which"), [(4, "v1"), (5, "v1"), (8, "v2")])
def test_the_projection_follows_edits_and_replacements(clean_db: Database, seed: int,
                                                       which: str) -> None:
    """Cells from indicator_answers kept up to date by reconciliation equal cells from the
    raw answers (the Python reference, and a projection rebuilt from nothing), after the
    responses changed under an earlier fill: of the wave, then of one cell at a time."""
    rng = random.Random(seed)
    with clean_db.session_factory() as session:
        wave_id, _ = build_wave(session, rng, which)
    with clean_db.session_factory() as session:
        fill_cells(session, wave_id)
        session.commit()
    with clean_db.session_factory() as session:
        edit_responses(session, wave_id, rng)
    with clean_db.session_factory() as session:
        assert fill_cells(session, wave_id) == reference_cells(session, wave_id)
        session.commit()
        projected = session.scalar(select(func.count()).select_from(IndicatorAnswer))
        assert projected > 20
    with clean_db.session_factory() as session:
        edit_responses(session, wave_id, rng)
    with clean_db.session_factory() as session:
        expected = reference_cells(session, wave_id)
        for key in expected:  # the live path: one cell at a time
            assert fill_cell(session, wave_id, key) == expected[key], key
        session.commit()
        kept = {row.alumnus_id: row.response_updated_at
                for row in session.scalars(select(IndicatorAnswer))}
        session.execute(delete(IndicatorAnswer))  # rebuilt from the raw answers alone
        assert fill_cells(session, wave_id) == expected
        rebuilt = {row.alumnus_id: row.response_updated_at
                   for row in session.scalars(select(IndicatorAnswer))}
        # Only targets' rows are compared: answers from outside the wave's targets are
        # projected by the wave's fill but never by a cell's.
        targets = set(session.scalars(select(WaveTarget.alumnus_id)
                                      .where(WaveTarget.wave_id == wave_id)))
        assert ({alumnus: at for alumnus, at in kept.items() if alumnus in targets}
                == {alumnus: at for alumnus, at in rebuilt.items() if alumnus in targets})


# --- wages where the alumnus works, and decent work -------------------------------------------

# 2026 wages: the centre's own (UMK Kota Bontang), another city's UMK, two provinces' UMP;
# Kabupaten Paser (6401) has none of its own. One with sen (the thresholds round exactly).
PLACE_WAGES = (("city", "6474", "3799480"), ("city", "6472", "3500000.50"),
               ("province", "64", "3579313.77"), ("province", "31", "5000000"))


def place_answers(rng: random.Random) -> dict[str, Any]:
    """random_answers with a work place and contract, sometimes awkward or missing."""
    answers = random_answers(rng)
    roll = rng.random()
    if roll < 0.35:
        answers.update(work_province=64, work_city=awkward(rng, [6474, 6472, 6401, 6403]))
    elif roll < 0.6:
        answers["work_province"] = awkward(rng, [64, 31, 32, 99])
    elif roll < 0.7:
        answers["work_city"] = rng.choice([6474, 6472, 6401])  # a city without its province
    if rng.random() < 0.7:
        answers["contract"] = awkward(rng, [1, 2, 3])
    if rng.random() < 0.5 and type(answers.get("f505")) is int:
        # Around the thresholds: 1.2 × 3.799.480 = 4.559.376; 1.2 × 3.579.313,77 =
        # 4.295.176,52; 1.2 × 3.500.000,50 = 4.200.000,60.
        answers["f505"] = rng.choice([4_559_376, 4_559_377, 4_295_176, 4_295_177, 4_200_000,
                                      4_200_001, 3_579_313, 3_579_314, 3_500_000, 3_500_001])
    return answers


@pytest.mark.parametrize("seed", [6, 7])
def test_decent_work_and_work_places_fill_as_the_python_reference(clean_db: Database,
                                                                   seed: int) -> None:
    """With wages set for the wave's year, the fill's decent-work sums (both presets, the
    blk one changed) and its incomes by work place equal `Cell.of_response` with the same
    plan, on the whole wave and one cell at a time."""
    from decimal import Decimal

    from services.analytics.decent_store import plan_of_wave, save_preset

    rng = random.Random(seed)
    with clean_db.session_factory() as session:
        wave_id, _ = build_wave(session, rng, "v2")  # v2 asks the work place and contract
        for response in session.scalars(select(Response)):
            response.answers = place_answers(rng)
        for level, code, amount in PLACE_WAGES:
            session.add(_wage(level, code, Decimal(amount)))
        assert save_preset(session, "blk", {
            "pay_percent": "100", "contract_required": "1", "further_study": "70",
            "employee.full_months": "3", "employee.partial_months": "9", "employee.full": "100",
            "employee.partial_paid": "75", "employee.partial_unpaid": "40",
            "self_employed.full_months": "6", "self_employed.partial_months": "12",
            "self_employed.full": "90", "self_employed.partial_paid": "70",
            "self_employed.partial_unpaid": "50"}, "test") == {}
        session.commit()
    with clean_db.session_factory() as session:
        plan = plan_of_wave(session, wave_id)
        assert plan is not None and plan.wages.centre == 3_799_480
        expected = reference_cells(session, wave_id, plan)
        filled = fill_cells(session, wave_id)
        # Guard against a dataset too tame to test anything.
        total = {name: sum(cell.decent_sum.get(name, 0) for cell in expected.values())
                 for name in ("iku2", "blk")}
        assert total["iku2"] != total["blk"] and min(total.values()) > 0
        assert sum(len(cell.income_place) for cell in expected.values()) > 5
        assert filled == expected
        for key in expected:
            assert fill_cell(session, wave_id, key) == expected[key], key


def _wage(level: str, code: str, amount: Any) -> Any:
    import math

    from shared.models import MinimumWage

    whole = math.ceil(amount)
    return MinimumWage(year=utcnow().year, level=level, region_code=code, amount=whole,
                       exact_amount=amount if amount != whole else None, source="test")
