"""Indicators from cells, checked against numbers worked out by hand (docs/indicators.md).

The wave: 2 programs × 2 cohorts × 2 genders, 20 targets, 13 complete respondents.

    stratum (program, cohort)  gender  respondents            open dispositions     N
    A (1, 11)                  L       r1 r2 r3               partial 1             4
    A (1, 11)                  P       r4 r5                  -                     2
    B (1, 12)                  L       r6 r7                  refusal 1             3
    B (1, 12)                  P       r8 r9                  non_contact 1         3
    C (2, 21)                  L       r10                    -                     1
    C (2, 21)                  P       r11 r12 r13            unreachable 1         4
    D (2, 22)                  L       -                      unknown 2             2
    D (2, 22)                  P       -                      unreachable 1         1
                                       n = 13                 P1 R1 NC1 UH2 U2      N = 20

Expected Wilson bounds were derived as the two roots of the score equation
(p̂ − p)² = z² p (1 − p) / n, i.e. (1 + z²/n) p² − (2p̂ + z²/n) p + p̂² = 0, with 40-digit
decimals, and are cross-checked below by `wilson_roots`, which solves that quadratic
(a different route from the centre ± half-width form in the code).
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.analytics.cells import (
    Cell,
    CellKey,
    cells_from_json,
    cells_to_json,
    merge,
)
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import breakdown, compute, select
from services.analytics.stats import (
    finite_population_correction,
    median,
    wilson_interval,
)

Z = 1.959963984540054
MINIMUM_WAGE = 3_600_000  # UMK of the wave's year in this example


def approx6(value: float) -> Any:
    """Equal to a literal written with 6 decimals."""
    return pytest.approx(value, abs=5e-7)


def wilson_roots(count: int, base: int, factor: float = 1.0) -> tuple[float, float]:
    p = count / base
    a, b, c = 1 + Z * Z / base, -(2 * p + Z * Z / base), p * p
    root = math.sqrt(b * b - 4 * a * c)
    low, high = (-b - root) / (2 * a), (-b + root) / (2 * a)
    centre, half = (low + high) / 2, (high - low) / 2 * factor
    return centre - half, centre + half


# fmt: off
R1 = {"consent": True, "f8": 1, "f504": 1, "f502": 0, "f505": 4_000_000, "f14": 1, "f5a2": 1,
      "f4": ["f404", "f411"], "blk_cert": 1, "f1761": 4, "f1762": 5,
      "blk_eval_instructor": 5, "blk_eval_facilities": 2}
R2 = {"consent": True, "f8": 3, "f504": 2, "f506": 9, "f505": 0, "f14": 4, "f5a2": 1,
      "f4": ["f412"], "blk_cert": 2, "f1761": 3, "f1762": 4, "blk_eval_instructor": 4}
# Job seeking, with stale job answers that must not count (waiting time is for f8 ∈ {1,3}).
R3 = {"consent": True, "f8": 5, "f504": 1, "f502": 1, "f4": ["f404"], "blk_cert": 1,
      "blk_k3_a": 3, "blk_k3_b": 5, "blk_eval_instructor": 4}
R4 = {"consent": True, "f8": 1, "f504": 1, "f502": 3, "f505": 3_000_000, "f14": 2, "f5a2": 2,
      "f4": ["f404"], "blk_cert": 3, "f1761": 5, "f1762": 5, "blk_eval_facilities": 3}
R5 = {"consent": True, "f8": 4, "f505": 9_000_000, "blk_cert": 1, "blk_eval_instructor": 3}
R6 = {"consent": True, "f8": 1, "f504": 1, "f502": 5, "f505": 5_500_000, "f14": 3, "f5a2": 1,
      "f4": ["f404", "f408"], "blk_cert": 1, "f1761": 2, "f1762": 4}
R7 = {"consent": True, "f8": 1, "f504": 2, "f506": 14, "f505": 3_600_000, "f14": 5, "f5a2": 3}
R8 = {"consent": True, "f8": 2, "f14": 1, "blk_cert": 2, "blk_k3_a": 4, "blk_k3_b": 3}
R9 = {"consent": True, "blk_eval_instructor": 5}  # status missing
R10 = {"consent": True, "f8": 3, "f504": 1, "f502": 6, "f5a2": 1, "f4": ["f412", "f411"],
       "blk_cert": 1}
R11 = {"consent": True, "f8": 1, "f504": 2, "f505": 2_500_000, "f14": 1, "f4": ["f409"],
       "blk_cert": 2, "f1761": 4}  # no f506: no waiting time; no f1762: no competency pair
# Status stored as text: not a recognised code, so not working, whatever else it says.
R12 = {"consent": True, "f8": "1", "f504": 1, "f502": 1, "f505": 7_000_000, "blk_cert": 1}
R13 = {"consent": True, "f8": 1, "f504": 1, "f502": 2, "f505": 6_000_000, "f5a2": 4}
# fmt: on

PLAN = [  # key, respondents' answers, open dispositions
    (CellKey(1, 11, "L"), [R1, R2, R3], {"partial": 1}),
    (CellKey(1, 11, "P"), [R4, R5], {}),
    (CellKey(1, 12, "L"), [R6, R7], {"refusal": 1}),
    (CellKey(1, 12, "P"), [R8, R9], {"non_contact": 1}),
    (CellKey(2, 21, "L"), [R10], {}),
    (CellKey(2, 21, "P"), [R11, R12, R13], {"unreachable": 1}),
    (CellKey(2, 22, "L"), [], {"unknown": 2}),
    (CellKey(2, 22, "P"), [], {"unreachable": 1}),
]


def build(plan: list[tuple[CellKey, list[dict[str, Any]], dict[str, int]]]
          ) -> list[tuple[CellKey, Cell]]:
    cells = []
    for key, responses, open_dispositions in plan:
        cell = Cell(**open_dispositions)
        for answers in responses:
            cell.add_response(answers)
        cells.append((key, cell))
    return cells


@pytest.fixture
def cells() -> list[tuple[CellKey, Cell]]:
    return build(PLAN)


@pytest.fixture
def overall(cells: list[tuple[CellKey, Cell]]) -> dict[str, Any]:
    return compute(cells, minimum_wage=MINIMUM_WAGE)


def test_wilson_literals_match_the_quadratic() -> None:
    for count, base, low, high in [(13, 20, 0.432854, 0.818808), (8, 13, 0.355229, 0.822903),
                                   (4, 6, 0.299993, 0.903229), (0, 4, 0.0, 0.489891)]:
        assert wilson_roots(count, base) == (approx6(low), approx6(high))


def test_populations_and_dispositions(overall: dict[str, Any]) -> None:
    assert overall["targets"] == 20
    assert overall["respondents"] == 13
    assert overall["unreachable"] == 2
    assert overall["dispositions"] == {"complete": 13, "partial": 1, "refusal": 1,
                                       "non_contact": 1, "unknown": 2, "unreachable": 2}
    # response_rate 13/20 = 0.65; net 13/(20 − 2) = 13/18 = 0.722222
    rate = overall["response_rate"]
    assert (rate["value"], rate["count"], rate["n"]) == (0.65, 13, 20)
    assert (rate["ci_low"], rate["ci_high"]) == (approx6(0.432854), approx6(0.818808))
    net = overall["net_response_rate"]
    assert (net["value"], net["count"], net["n"]) == (approx6(0.722222), 13, 18)
    assert (net["ci_low"], net["ci_high"]) == (approx6(0.491273), approx6(0.875002))
    assert (net["ci_low"], net["ci_high"]) == tuple(map(approx6, wilson_roots(13, 18)))


def test_status_and_absorption(overall: dict[str, Any]) -> None:
    # f8: 1 → r1 r4 r6 r7 r11 r13 (6); 2 → r8; 3 → r2 r10; 4 → r5; 5 → r3.
    # r9 (no f8) and r12 (f8 = "1") are respondents with no recognised status.
    assert overall["status_answered"] == 11
    assert {code: s["count"] for code, s in overall["status_share"].items()} == {
        "1": 6, "2": 1, "3": 2, "4": 1, "5": 1}
    assert overall["status_share"]["1"]["n"] == 13
    assert overall["status_share"]["1"]["value"] == approx6(0.461538)  # 6/13
    # Employed = f8 ∈ {1,3}: 6 + 2 = 8 of the 13 respondents (not of the 20 targets).
    absorption = overall["absorption_rate"]
    assert overall["employed"] == 8
    assert (absorption["count"], absorption["n"]) == (8, 13)
    assert absorption["value"] == approx6(0.615385)
    assert (absorption["ci_low"], absorption["ci_high"]) == (approx6(0.355229),
                                                             approx6(0.822903))
    assert absorption["small_n"] is False
    # Employed with waiting ≤ 6: r1 (0), r4 (3), r6 (5), r10 (6), r13 (2) = 5 of 13.
    within = overall["employed_within_6_months"]
    assert (within["count"], within["n"], within["value"]) == (5, 13, approx6(0.384615))
    assert (within["ci_low"], within["ci_high"]) == (approx6(0.177097), approx6(0.644771))


def test_non_respondents_are_not_counted_as_not_working(
    cells: list[tuple[CellKey, Cell]],
) -> None:
    more_targets = [(key, Cell.from_json(cell.to_json())) for key, cell in cells]
    more_targets[0][1].non_contact += 30
    indicators = compute(more_targets, minimum_wage=MINIMUM_WAGE)
    assert indicators["targets"] == 50
    assert indicators["response_rate"]["value"] == 13 / 50
    assert indicators["absorption_rate"]["count"] == 8
    assert indicators["absorption_rate"]["n"] == 13


def test_unrecognised_or_missing_status_is_not_working() -> None:
    cell = Cell()
    for answers in ({"f8": "1", "f504": 1, "f502": 1, "f505": 5_000_000},
                    {"f8": True, "f505": 5_000_000}, {"f8": 7}, {"f505": 5_000_000}):
        cell.add_response(answers)
    indicators = compute([(CellKey(1, 11, "L"), cell)], minimum_wage=MINIMUM_WAGE)
    assert indicators["respondents"] == 4
    assert indicators["status_answered"] == 0
    assert indicators["absorption_rate"]["count"] == 0
    assert indicators["absorption_rate"]["n"] == 4
    assert indicators["income_median"] == {"value": None, "n": 0, "small_n": True}
    assert indicators["waiting_months_median"]["value"] is None


def test_waiting_time(overall: dict[str, Any]) -> None:
    # Employed with a waiting time: r1 0, r2 9, r4 3, r6 5, r7 14, r10 6, r13 2
    # (r11 has f504 = 2 and no f506; r3 and r12 are not employed).
    # Sorted 0 2 3 5 6 9 14: median = the 4th = 5; mean = 39 / 7 = 5.571429.
    assert overall["waiting_months_median"] == {"value": 5, "n": 7, "small_n": False}
    assert overall["waiting_months_mean"]["value"] == approx6(5.571429)
    # ≤3: 0 2 3; 4–6: 5 6; 7–12: 9; >12: 14
    assert overall["waiting_bins"] == {"<=3": 3, "4-6": 2, "7-12": 1, ">12": 1}


def test_income_is_the_midpoint_median_not_the_mean(overall: dict[str, Any]) -> None:
    # Employed with f505 > 0: 2.5M 3.0M 3.6M 4.0M 5.5M 6.0M (r2 has 0; r5 and r12 are not
    # employed). Median = (3.6M + 4.0M) / 2 = 3.8M; the mean would be 24.6M / 6 = 4.1M.
    assert overall["income_median"] == {"value": 3_800_000, "n": 6, "small_n": False}
    # ≥ 3,600,000 (inclusive): 3.6M 4.0M 5.5M 6.0M = 4 of 6.
    above = overall["above_minimum_wage"]
    assert (above["count"], above["n"], above["value"]) == (4, 6, approx6(0.666667))
    assert (above["ci_low"], above["ci_high"]) == (approx6(0.299993), approx6(0.903229))


def test_above_minimum_wage_follows_the_threshold(cells: list[tuple[CellKey, Cell]]) -> None:
    assert compute(cells, minimum_wage=3_600_001)["above_minimum_wage"]["count"] == 3
    unset = compute(cells, minimum_wage=None)["above_minimum_wage"]
    assert (unset["value"], unset["count"], unset["n"]) == (None, None, 6)


def test_relevance_location_certificate(overall: dict[str, Any]) -> None:
    # f14 of the employed: r1 1, r2 4, r4 2, r6 3, r7 5, r11 1 → 4 of 6 (r8's f14 is stale)
    relevance = overall["relevance_share"]
    assert (relevance["count"], relevance["n"]) == (4, 6)
    # f5a2 of the employed: r1 1, r2 1, r4 2, r6 1, r7 3, r10 1, r13 4 → 4 of 7 in Bontang
    local = overall["local_absorption"]
    assert (local["count"], local["n"], local["value"]) == (4, 7, approx6(0.571429))
    assert (local["ci_low"], local["ci_high"]) == (approx6(0.250458), approx6(0.841780))
    # blk_cert = 1: r1 r3 r5 r6 r10 r12 of the 10 who answered (r7 r9 r13 did not)
    certificate = overall["certificate_share"]
    assert (certificate["count"], certificate["n"], certificate["value"]) == (6, 10, 0.6)
    assert (certificate["ci_low"], certificate["ci_high"]) == (approx6(0.312674),
                                                               approx6(0.831820))


def test_competency_gap_and_training_eval(overall: dict[str, Any]) -> None:
    # f1761/f1762: r1 4/5, r2 3/4, r4 5/5, r6 2/4 (r11 has no B): A 14/4 = 3.5, B 18/4 = 4.5
    assert overall["competency_gap"]["f1761"] == {
        "value": 1.0, "n": 4, "mean_a": 3.5, "mean_b": 4.5, "small_n": True}
    # K3: r3 3/5, r8 4/3 → (8 − 7) / 2 = 0.5
    assert overall["competency_gap"]["blk_k3_a"]["value"] == 0.5
    assert overall["competency_gap"]["f1765"] == {
        "value": None, "n": 0, "mean_a": None, "mean_b": None, "small_n": True}
    # instructor: 5 4 4 3 5 → 21 / 5 = 4.2; facilities: 2 3 → 2.5
    assert overall["training_eval"]["blk_eval_instructor"] == {
        "value": 4.2, "n": 5, "small_n": False}
    assert overall["training_eval"]["blk_eval_facilities"]["value"] == 2.5
    assert overall["training_eval"]["blk_eval_material"]["value"] is None


def test_job_search_channels(overall: dict[str, Any]) -> None:
    # Among the 8 employed: f404 r1 r4 r6 (r3 is not employed); f411 r1 r10; f412 r2 r10;
    # f408 r6; f409 r11. r7 and r13 ticked nothing and stay in the base.
    channels = overall["job_search_channels"]
    assert {code: s["count"] for code, s in channels.items() if s["count"]} == {
        "f404": 3, "f411": 2, "f412": 2, "f408": 1, "f409": 1}
    assert channels["f404"]["n"] == 8
    assert channels["f404"]["value"] == 0.375
    assert (channels["f404"]["ci_low"], channels["f404"]["ci_high"]) == (
        approx6(0.136844), approx6(0.694258))


def test_weighted_shares_and_coverage(overall: dict[str, Any]) -> None:
    # Strata: A N 6 n 5 (w 1.2), B N 6 n 4 (w 1.5), C N 5 n 4 (w 1.25), D N 3 n 0 (none).
    # Coverage = (6 + 6 + 5) / 20 = 0.85 of N is in strata with respondents.
    assert overall["weight_coverage"] == 0.85
    # Absorption: employed A 3 (r1 r2 r4), B 2 (r6 r7), C 3 (r10 r11 r13)
    # (1.2·3 + 1.5·2 + 1.25·3) / (1.2·5 + 1.5·4 + 1.25·4) = 10.35 / 17 = 0.608824
    assert overall["absorption_rate"]["weighted"] == approx6(0.608824)
    # Relevance: A 2 of 3 (r1 r4 of r1 r2 r4), B 1 of 2 (r6 of r6 r7), C 1 of 1 (r11)
    # (1.2·2 + 1.5·1 + 1.25·1) / (1.2·3 + 1.5·2 + 1.25·1) = 5.15 / 7.85 = 0.656051
    assert overall["relevance_share"]["weighted"] == approx6(0.656051)
    assert overall["response_rate"]["weighted"] is None


def test_fpc_narrows_around_the_wilson_centre(cells: list[tuple[CellKey, Cell]]) -> None:
    # factor = sqrt((20 − 13) / (20 − 1)) = sqrt(7/19) = 0.606977
    assert finite_population_correction(20, 13) == approx6(0.606977)
    corrected = compute(cells, minimum_wage=MINIMUM_WAGE, fpc=True)
    # 8/13: centre 0.589066, half-width 0.233837 × 0.606977 = 0.141934
    absorption = corrected["absorption_rate"]
    assert (absorption["ci_low"], absorption["ci_high"]) == (approx6(0.447132),
                                                             approx6(0.731000))
    assert (absorption["ci_low"], absorption["ci_high"]) == tuple(
        map(approx6, wilson_roots(8, 13, math.sqrt(7 / 19))))
    above = corrected["above_minimum_wage"]  # 4/6 with the group's factor
    assert (above["ci_low"], above["ci_high"]) == (approx6(0.418536), approx6(0.784686))
    assert absorption["value"] == approx6(0.615385)
    # The response rate's base is the population itself: no correction.
    assert corrected["response_rate"]["ci_low"] == approx6(0.432854)


def test_stats_edges() -> None:
    assert wilson_interval(0, 0) is None
    assert wilson_interval(0, 0, correction=0.0) is None
    assert finite_population_correction(1, 1) == 0.0  # census of one
    assert finite_population_correction(1, 0) == 1.0
    assert finite_population_correction(0, 0) == 0.0
    with pytest.raises(ValueError):
        finite_population_correction(3, 4)
    assert wilson_interval(3, 4) == (approx6(0.300642), approx6(0.954413))
    assert wilson_interval(4, 4) == (approx6(0.510109), 1.0)
    assert median({}) is None
    assert median({7: 1}) == 7
    assert median({1: 1, 2: 1, 10: 2}) == 6  # 1 2 10 10 → (2 + 10) / 2; mean 5.75
    assert median({1: 2, 2: 1}) == 1  # 1 1 2


def test_small_n_and_suppression(cells: list[tuple[CellKey, Cell]]) -> None:
    by_program = breakdown(cells, "program", minimum_wage=MINIMUM_WAGE)
    program_2 = by_program[2]
    # Program 2: C (N 5: r10 r11 r12 r13 + 1 unreachable) and D (N 3, nobody answered)
    assert (program_2["targets"], program_2["respondents"], program_2["unreachable"]) == (8, 4, 2)
    assert program_2["small_n"] is True and by_program[1]["small_n"] is False
    assert program_2["weight_coverage"] == 5 / 8
    # r10 r11 r13 employed, r12's "1" is not: 3 of 4
    assert program_2["absorption_rate"]["value"] == 0.75
    assert program_2["absorption_rate"]["weighted"] == 0.75  # one stratum: 1.25·3 / 1.25·4
    # The small-group rule (below admin): 4 respondents, so no number at all, not even
    # the counts (with n they give the share) or the dispositions.
    rule = Disclosure(cells)
    public = rule.suppress(program_2, [key for key, _ in select(cells, program=2)])
    assert public["suppressed"] is True
    assert public["absorption_rate"] == {"value": None, "n": None, "count": None,
                                         "ci_low": None, "ci_high": None, "weighted": None,
                                         "small_n": True, "suppressed": True}
    assert public["response_rate"]["count"] is None
    assert set(public["waiting_bins"].values()) == {None}
    assert public["respondents"] is None and set(public["dispositions"].values()) == {None}
    assert program_2["absorption_rate"]["value"] == 0.75  # the input is not changed
    # In a large group only the figures with their own small base go.
    overall = compute(cells, minimum_wage=MINIMUM_WAGE)
    overall_public = rule.suppress(overall, [key for key, _ in cells])
    assert overall_public["absorption_rate"] == overall["absorption_rate"]
    assert overall_public["absorption_rate"]["value"] == approx6(0.615385)
    assert overall["competency_gap"]["f1761"]["n"] == 4
    assert overall_public["competency_gap"]["f1761"] == {
        "value": None, "n": None, "mean_a": None, "mean_b": None, "small_n": True,
        "suppressed": True}
    json.dumps(overall_public)


def test_breakdown_equals_computing_the_group_alone(cells: list[tuple[CellKey, Cell]]) -> None:
    by_program = breakdown(cells, "program", minimum_wage=MINIMUM_WAGE, fpc=True)
    assert list(by_program) == [1, 2]
    program_1_alone = build([row for row in PLAN if row[0].program_id == 1])
    assert by_program[1] == compute(program_1_alone, minimum_wage=MINIMUM_WAGE, fpc=True)
    assert by_program[2] == compute(select(cells, program=2), minimum_wage=MINIMUM_WAGE,
                                    fpc=True)
    by_gender = breakdown(cells, "gender", minimum_wage=MINIMUM_WAGE)
    # L: r1 r2 r3 r6 r7 r10, employed r1 r2 r6 r7 r10; targets 4 + 3 + 1 + 2
    assert (by_gender["L"]["targets"], by_gender["L"]["respondents"]) == (10, 6)
    assert by_gender["L"]["absorption_rate"]["count"] == 5
    assert by_gender["P"]["respondents"] == 7
    by_cohort = breakdown(cells, "cohort", minimum_wage=MINIMUM_WAGE)
    assert by_cohort[22]["respondents"] == 0
    assert by_cohort[22]["absorption_rate"]["value"] is None
    assert by_cohort[22]["weight_coverage"] == 0.0
    assert select(cells, program=1, gender="P") == [cells[1], cells[3]]
    with pytest.raises(ValueError):
        breakdown(cells, "region", minimum_wage=None)  # type: ignore[arg-type]


def test_cells_round_trip_through_json(cells: list[tuple[CellKey, Cell]]) -> None:
    stored = json.loads(json.dumps(cells_to_json(cells)))
    assert cells_from_json(stored) == cells
    assert cells[0][1].targets == 4 and cells[0][1].employed == 2
    with pytest.raises(ValueError):
        Cell.from_json({"respondents": 1, "spelling_mistake": 2})


def test_an_edit_changes_one_cell(cells: list[tuple[CellKey, Cell]]) -> None:
    # r7 corrects the answer: now self-employed in Bontang, relevant work.
    edited = {**R7, "f8": 3, "f5a2": 1, "f14": 2}
    cell = cells[2][1]
    cell.remove_response(R7)
    cell.add_response(edited)
    plan = [(key, [edited if answers is R7 else answers for answers in responses], other)
            for key, responses, other in PLAN]
    assert cells == build(plan)
    indicators = compute(cells, minimum_wage=MINIMUM_WAGE)
    assert indicators["respondents"] == 13
    assert indicators["relevance_share"]["count"] == 5
    assert indicators["local_absorption"]["count"] == 5


def test_removing_answers_never_added_is_refused() -> None:
    cell = Cell()
    cell.add_response(R1)
    before = Cell.from_json(cell.to_json())
    with pytest.raises(ValueError):
        cell.remove_response(R2)
    assert cell == before


# --- properties over generated answers -------------------------------------------------------

ratings = st.none() | st.integers(0, 6) | st.just("3")
plausible_answers = st.fixed_dictionaries({
    "f8": st.none() | st.integers(1, 5) | st.sampled_from([0, 6, "1", True]),
    "f504": st.none() | st.sampled_from([1, 2, 3, "1"]),
    "f502": st.none() | st.integers(0, 120) | st.just(True),
    "f506": st.none() | st.integers(0, 120),
    "f505": st.none() | st.integers(-1, 20_000_000) | st.sampled_from([0, 3_600_000, "5000"]),
    "f14": st.none() | st.integers(0, 6),
    "f5a2": st.none() | st.integers(0, 5),
    "f4": st.none() | st.lists(st.sampled_from(["f401", "f404", "f411", "f416", "f499", 3]),
                               max_size=4),
    "blk_cert": st.none() | st.integers(0, 4),
    "f1761": ratings, "f1762": ratings, "blk_k3_a": ratings, "blk_k3_b": ratings,
    "blk_eval_instructor": ratings, "blk_eval_material": ratings,
}).map(lambda answers: {key: value for key, value in answers.items() if value is not None})


def cell_of(responses: list[dict[str, Any]]) -> Cell:
    cell = Cell()
    for answers in responses:
        cell.add_response(answers)
    return cell


@settings(max_examples=200, deadline=None)
@given(answers=plausible_answers)
def test_add_then_remove_leaves_the_empty_cell(answers: dict[str, Any]) -> None:
    cell = Cell()
    cell.add_response(answers)
    assert cell.respondents == 1
    cell.remove_response(answers)
    assert cell == Cell()


@settings(max_examples=100, deadline=None)
@given(others=st.lists(plausible_answers, max_size=5), old=plausible_answers,
       new=plausible_answers)
def test_an_edit_is_remove_then_add(others: list[dict[str, Any]], old: dict[str, Any],
                                    new: dict[str, Any]) -> None:
    cell = cell_of([*others, old])
    cell.remove_response(old)
    cell.add_response(new)
    assert cell == cell_of([*others, new])
    assert Cell.from_json(json.loads(json.dumps(cell.to_json()))) == cell


@settings(max_examples=100, deadline=None)
@given(groups=st.lists(st.lists(plausible_answers, max_size=3), min_size=3, max_size=3))
def test_merge_is_a_sum(groups: list[list[dict[str, Any]]]) -> None:
    a, b, c = (cell_of(group) for group in groups)
    assert merge([a, b]) == merge([b, a])
    assert merge([merge([a, b]), c]) == merge([a, merge([b, c])]) == merge([a, b, c])
    assert merge([a, b, c]) == cell_of([answers for group in groups for answers in group])
    assert merge([a]) == a and merge([]) == Cell()


@settings(max_examples=50, deadline=None)
@given(groups=st.lists(st.lists(plausible_answers, max_size=3), min_size=12, max_size=12),
       fresh=st.lists(st.lists(plausible_answers, max_size=3), min_size=1, max_size=1))
def test_replaced_equals_merging_the_new_parts(groups: list[list[dict[str, Any]]],
                                               fresh: list[list[dict[str, Any]]]) -> None:
    from services.analytics.cells import replaced

    parts = [cell_of(group) for group in groups]
    total = merge(parts)
    new_parts = [*parts[:5], cell_of(fresh[0]), *parts[6:]]
    assert replaced(total, [parts[5]], [new_parts[5]]) == merge(new_parts)
    assert total == merge(parts)  # left as it was


def test_the_api_merges_incrementally_and_exactly() -> None:
    """The API's memoised sum of many parts, after one part changed, equals a fresh merge."""
    from services.analytics.indicator_cache import SnapshotEntries

    entries = SnapshotEntries(snapshot_id=1)
    parts = [Cell.of_response({"f8": 1, "f505": 3_000_000 + index, "f504": 1, "f502": 2})
             for index in range(30)]
    assert entries.merged(parts) == merge(parts)
    changed = [*parts[:7], Cell.of_response({"f8": 5}), *parts[8:]]
    assert entries.merged(changed) == merge(changed)
    assert entries.merged(changed) is entries.merged(changed)


def stratum_of(responses: list[dict[str, Any]], open_targets: int) -> Cell:
    """A stratum with these complete responses and `open_targets` more targets (N ≠ n)."""
    cell = cell_of(responses)
    cell.partial = open_targets
    return cell


strata_lists = st.lists(st.tuples(st.lists(plausible_answers, max_size=3), st.integers(0, 7)),
                        min_size=12, max_size=12)


@settings(max_examples=50, deadline=None)
@given(groups=strata_lists, fresh=st.tuples(st.lists(plausible_answers, max_size=3),
                                            st.integers(0, 7)),
       minimum_wage=st.none() | st.sampled_from([1, 3_600_000]))
def test_weighted_sums_replaced_equal_summing_the_new_strata(
        groups: list[tuple[list[dict[str, Any]], int]],
        fresh: tuple[list[dict[str, Any]], int], minimum_wage: int | None) -> None:
    from services.analytics.indicators import weighted_sums, weighted_sums_replaced

    strata = [stratum_of(*group) for group in groups]
    sums = weighted_sums(strata, minimum_wage)
    new_strata = [*strata[:5], stratum_of(*fresh), *strata[6:]]
    updated = weighted_sums_replaced(sums, [strata[5]], [new_strata[5]], minimum_wage)
    assert updated == weighted_sums(new_strata, minimum_wage)
    # And the figures: the memoised sums give every weighted share of a fresh compute.
    keyed = [(CellKey(1, index, "L"), stratum) for index, stratum in enumerate(new_strata)]
    assert compute(keyed, minimum_wage=minimum_wage,
                   weighted=lambda _strata, wage, _channels: updated) == compute(
        keyed, minimum_wage=minimum_wage)


def test_the_api_weights_incrementally_and_exactly() -> None:
    """The API's memoised weighted sums of many strata, after one stratum changed, equal a
    fresh sum, and so do the figures computed with them."""
    from services.analytics.indicator_cache import SnapshotEntries
    from services.analytics.indicators import weighted_sums

    entries = SnapshotEntries(snapshot_id=1)
    strata = [stratum_of([{"f8": 1 + index % 5, "f505": 3_000_000 + index, "f504": 1,
                           "f502": 2, "f4": ["f401"]}] * (1 + index % 3), index % 4)
              for index in range(30)]
    keyed = [((1, index), stratum) for index, stratum in enumerate(strata)]
    group = tuple(CellKey(1, index, "P") for index in range(30))
    assert (entries.weighted(keyed, 3_600_000, group=group)
            == weighted_sums(strata, 3_600_000))
    changed = [*keyed[:7], ((1, 7), stratum_of([{"f8": 5}], 3)), *keyed[8:]]
    changed_strata = [stratum for _, stratum in changed]
    assert (entries.weighted(changed, 3_600_000, group=group)
            == weighted_sums(changed_strata, 3_600_000))
    as_cells = [(CellKey(1, index, "P"), stratum) for (_, index), stratum in changed]
    assert compute(as_cells, minimum_wage=3_600_000, weighted=functools.partial(
        entries.weighted, group=group)) == compute(as_cells, minimum_wage=3_600_000)
