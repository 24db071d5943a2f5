"""AAPOR dispositions and rates (services/analytics/aapor.py) on a hand-computed wave."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.analytics.aapor import Evidence, disposition, rates, tally

# Twenty targets, each with the evidence a wave would hold, and the disposition worked out
# by hand from the order I > P > R > NE > NC > O > UO > UH.
WAVE = [
    (Evidence(response="complete"), "I"),
    (Evidence(response="complete", delivered=True), "I"),
    (Evidence(response="complete", refused=True), "I"),           # answered, then opted out
    (Evidence(response="complete", calls=("no_answer",)), "I"),    # entered by phone
    (Evidence(calls=("no_answer", "completed")), "I"),             # interview on the phone
    (Evidence(response="complete", delivered=True, calls=("callback",)), "I"),
    (Evidence(response="partial", delivered=True), "P"),
    (Evidence(response="partial", calls=("refused",)), "P"),       # started, then refused
    (Evidence(refused=True, delivered=True), "R"),                 # consent withdrawn
    (Evidence(refused=True), "R"),                                 # opted out of SMS
    (Evidence(delivered=True, calls=("refused",)), "R"),
    (Evidence(delivered=True, calls=("not_eligible",)), "NE"),     # deceased
    (Evidence(delivered=True), "NC"),
    (Evidence(delivered=True, pending=1), "NC"),
    (Evidence(calls=("no_answer", "callback")), "NC"),             # someone else answered
    (Evidence(calls=("cannot_take_part",)), "O"),                  # illness
    (Evidence(failed_for_good=2), "UO"),                           # both messages bounced
    (Evidence(failed_for_good=1, calls=("wrong_number",)), "UO"),
    (Evidence(), "UH"),                                            # never contacted
    (Evidence(pending=1, calls=("no_answer", "chat_opened")), "UH"),
]


@pytest.mark.parametrize(("evidence", "expected"), WAVE)
def test_each_target_gets_the_strongest_disposition_its_evidence_shows(evidence, expected):
    assert disposition(evidence) == expected


def test_the_rates_of_the_hand_computed_wave():
    counts = tally(disposition(evidence) for evidence, _ in WAVE)
    # I 6, P 2, R 3, NE 1, NC 3, O 1, UO 2, UH 2.
    assert counts == {"I": 6, "P": 2, "R": 3, "NE": 1, "NC": 3, "O": 1, "UO": 2, "UH": 2}
    result = rates(counts)
    # D = (I + P) + (R + NC + O) + (UH + UO) = 8 + 7 + 4 = 19 (NE is in no denominator).
    assert result.rr1 == Fraction(6, 19)
    assert result.rr2 == Fraction(8, 19)
    # e = (8 + 7) / (8 + 7 + 1) = 15/16; estimated eligible = 8 + 7 + 15/16 · 4 = 18.75.
    assert result.e == Fraction(15, 16)
    assert result.rr3 == Fraction(6) / Fraction(75, 4) == Fraction(8, 25)   # 0.32
    assert result.rr4 == Fraction(8) / Fraction(75, 4) == Fraction(32, 75)  # 0.4267
    assert result.coop1 == Fraction(6, 8 + 3 + 1) == Fraction(1, 2)
    assert result.ref1 == Fraction(3, 19)
    assert result.con1 == Fraction(8 + 3 + 1, 19) == Fraction(12, 19)
    assert "NE" in result.e_basis


def test_without_any_case_of_known_eligibility_e_is_one_and_says_so():
    result = rates({"UH": 4})
    assert result.e == 1 and "e = 1" in result.e_basis
    assert result.rr1 == 0 and result.rr3 == 0
    assert result.coop1 is None  # no one contacted: no cooperation rate, not zero


def test_an_empty_wave_has_no_rates_rather_than_zeros():
    result = rates(tally([]))
    assert (result.rr1, result.rr2, result.rr3, result.rr4, result.ref1, result.con1) == (
        None, None, None, None, None, None)
