"""The bias check of a selection's cells and its verdict on the weights, by hand.

Cells are (program, cohort, gender) with respondents (complete) and the other targets
counted as unknown, so targets = respondents + unknown.
"""

from __future__ import annotations

import pytest

from services.analytics.bias_checks import bias_checks, verdict
from services.analytics.cells import Cell, CellKey
from services.analytics.disclosure import Disclosure


def cell(program: int, cohort: int, gender: str, respondents: int,
         others: int) -> tuple[CellKey, Cell]:
    return CellKey(program, cohort, gender), Cell(respondents=respondents, unknown=others)


def test_respondents_leaning_to_one_program_make_the_weights_needed() -> None:
    # Targets 20 and 20, respondents 15 and 5: χ² = 5²/10 + 5²/10 = 5.0, df 1, p = 0.0253.
    cells = [cell(1, 10, "L", 15, 5), cell(2, 20, "L", 5, 15)]
    checks = {check.by: check for check in bias_checks(cells, Disclosure(cells))}
    assert checks["program"].check.chi_square == pytest.approx(5.0)
    assert checks["program"].differs and checks["cohort"].differs
    assert checks["gender"].single and not checks["gender"].tested
    assert verdict(checks.values()) == ("needed", ["program", "cohort"])


def test_a_difference_by_gender_alone_is_one_the_weights_do_not_correct() -> None:
    # One program and cohort; men 15 of 20 answered, women 5 of 20: the same χ² = 5.0.
    cells = [cell(1, 10, "L", 15, 5), cell(1, 10, "P", 5, 15)]
    checks = bias_checks(cells, Disclosure(cells))
    assert verdict(checks) == ("not_corrected", ["gender"])


def test_respondents_in_proportion_need_no_weights() -> None:
    # 10 of 20 and 10 of 20: shares equal, χ² = 0, p = 1.
    cells = [cell(1, 10, "L", 10, 10), cell(2, 20, "L", 10, 10)]
    checks = bias_checks(cells, Disclosure(cells))
    assert checks[0].check.p_value == 1.0
    assert verdict(checks) == ("not_needed", [])


def test_a_program_below_five_respondents_hides_its_breakdown_s_test() -> None:
    # Tata Boga has 2 respondents: its shares and the program test are not shown (the test
    # and the other shares would give its count away), so nothing can be said.
    cells = [cell(1, 10, "L", 15, 5), cell(2, 20, "L", 2, 18)]
    checks = {check.by: check for check in bias_checks(cells, Disclosure(cells))}
    assert "2" in checks["program"].hidden and not checks["program"].tested
    assert verdict(checks.values()) == ("unknown", [])
    # An admin asking for the figures unsuppressed (no rule) gets the test.
    assert bias_checks(cells, None)[0].tested
