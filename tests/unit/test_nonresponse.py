"""The non-response bias check (services/analytics/nonresponse.py), worked by hand."""

from __future__ import annotations

import math

import pytest

from services.analytics.nonresponse import bias_check, chi_square_p_value


def test_respondents_who_overrepresent_one_program_are_flagged():
    # Targets: Las 60, Boga 40 (N = 100). Respondents: Las 20, Boga 5 (n = 25).
    # Expected under the population's shares: Las 25 · 0.6 = 15, Boga 25 · 0.4 = 10.
    # χ² = (20 − 15)² / 15 + (5 − 10)² / 10 = 1.6667 + 2.5 = 4.1667, df = 1.
    # p = Q(1/2, 4.1667 / 2) = erfc(√2.0833) = 0.04123.
    check = bias_check({"Teknik Las": 60, "Tata Boga": 40}, {"Teknik Las": 20, "Tata Boga": 5})
    las, boga = check.categories
    assert (las.population_share, las.respondent_share) == (0.6, 0.8)
    assert las.difference_points == pytest.approx(20.0)
    assert boga.difference_points == pytest.approx(-20.0)
    assert check.chi_square == pytest.approx(25 / 6)
    assert check.degrees_of_freedom == 1
    assert check.p_value == pytest.approx(math.erfc(math.sqrt(25 / 12)), rel=1e-9)
    assert check.p_value == pytest.approx(0.04123, abs=5e-5)
    assert check.differs is True


def test_respondents_in_the_populations_proportions_show_no_difference():
    check = bias_check({"L": 50, "P": 50}, {"L": 10, "P": 10})
    assert check.chi_square == 0 and check.p_value == 1.0 and check.differs is False


@pytest.mark.parametrize(("statistic", "degrees", "expected"), [
    (3.841458820694124, 1, 0.05),      # the familiar 5 % point of df 1
    (5.991464547107979, 2, 0.05),      # of df 2: there p = exp(−χ²/2) exactly
    (2.0, 2, math.exp(-1.0)),
    (18.307038053275146, 10, 0.05),    # a continued-fraction case
    (0.5, 3, 0.9188914116),            # a series case
])
def test_the_chi_square_p_value_matches_known_points(statistic, degrees, expected):
    assert chi_square_p_value(statistic, degrees) == pytest.approx(expected, rel=1e-8)


def test_no_test_without_respondents_or_with_one_category():
    assert bias_check({"A": 10, "B": 5}, {}).p_value is None
    assert bias_check({"A": 10}, {"A": 3}).differs is None
    assert bias_check({}, {}).categories == ()
    with pytest.raises(ValueError, match="no targets"):
        bias_check({"A": 1}, {"B": 1})
