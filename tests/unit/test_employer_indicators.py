"""The employer indicators on a hand-computed dataset (services/analytics/employer_indicators).

Six ratings of alumni by their supervisors (program, KBLI sector, three aspects, hire again):

    R1  las   C  integrity 4  technical 3  safety 2          yes
    R2  las   C  integrity 3  technical 2  safety 2          maybe
    R3  las   F  integrity 2  technical 4  (safety skipped)  yes
    R4  boga  I  integrity 4  technical 1  safety 3          no
    R5  boga  I  integrity 1  technical 3  safety 4          (not answered)
    R6  las   F  integrity 3  technical 3  safety 5 (not on the scale: ignored)  "perhaps" (ignored)

Three companies' answers (sector, city, competencies to strengthen, workers needed,
hosts apprentices, joins the curriculum review):

    A  C  Bontang    (las, K3) (las, Las TIG) (las, K3 again)  las 3, boga 0  yes  no
    B  C  Samarinda  (las, K3) (boga, Sanitasi)                las 2          yes  -
    C  I  Bontang    (boga, Sanitasi) (boga, Plating)          -              no   yes
"""

from __future__ import annotations

import pytest

from services.analytics.employer_indicators import (
    CompanyAnswer,
    Rating,
    aspect_satisfaction,
    demand,
    employer_response_rate,
    hire_again,
    satisfaction_by,
    strengthen_ranking,
    willingness,
)
from services.analytics.stats import wilson_interval

RATINGS = [
    Rating("las", "C", {"integrity": 4, "technical": 3, "safety": 2}, "yes"),
    Rating("las", "C", {"integrity": 3, "technical": 2, "safety": 2}, "maybe"),
    Rating("las", "F", {"integrity": 2, "technical": 4}, "yes"),
    Rating("boga", "I", {"integrity": 4, "technical": 1, "safety": 3}, "no"),
    Rating("boga", "I", {"integrity": 1, "technical": 3, "safety": 4}, None),
    Rating("las", "F", {"integrity": 3, "technical": 3, "safety": 5}, "perhaps"),
]
COMPANIES = [
    CompanyAnswer("C", "Bontang", (("las", "K3"), ("las", "Las TIG"), ("las", "K3")),
                  {"las": 3, "boga": 0}, True, False),
    CompanyAnswer("C", "Samarinda", (("las", "K3"), ("boga", "Sanitasi")), {"las": 2},
                  True, None),
    CompanyAnswer("I", "Bontang", (("boga", "Sanitasi"), ("boga", "Plating")), {},
                  False, True),
]


def test_satisfaction_is_the_share_rating_3_or_4_among_the_ratings_given() -> None:
    found = aspect_satisfaction(RATINGS)
    # integrity 4 3 2 4 1 3: n 6, rated 3 or 4: 4, mean 17 / 6.
    integrity = found["integrity"]
    assert (integrity["count"], integrity["n"]) == (4, 6)
    assert integrity["value"] == pytest.approx(4 / 6)
    assert integrity["mean"] == pytest.approx(17 / 6)
    assert (integrity["ci_low"], integrity["ci_high"]) == pytest.approx(wilson_interval(4, 6))
    assert integrity["small_n"] is False
    # technical 3 2 4 1 3 3: 4 of 6, mean 16 / 6.
    assert found["technical"]["value"] == pytest.approx(4 / 6)
    assert found["technical"]["mean"] == pytest.approx(16 / 6)
    # safety 2 2 3 4 (R3 skipped it, R6's 5 is not on the scale): 2 of 4, small.
    assert (found["safety"]["count"], found["safety"]["n"]) == (2, 4)
    assert found["safety"]["mean"] == pytest.approx(11 / 4)
    assert found["safety"]["small_n"] is True
    # Nobody rated communication: no figure, not 0.
    assert found["communication"]["value"] is None and found["communication"]["mean"] is None


def test_satisfaction_by_program_and_by_sector_splits_the_same_ratings() -> None:
    by_program = satisfaction_by(RATINGS, lambda rating: rating.program)
    assert list(by_program) == ["boga", "las"]
    assert by_program["las"]["integrity"]["value"] == pytest.approx(3 / 4)  # 4 3 2 3
    assert by_program["boga"]["integrity"]["value"] == pytest.approx(1 / 2)  # 4 1
    by_sector = satisfaction_by(RATINGS, lambda rating: rating.sector)
    assert by_sector["C"]["integrity"]["value"] == 1  # 4 3
    assert by_sector["F"]["technical"]["mean"] == pytest.approx(7 / 2)  # 4 3


def test_hiring_again_counts_yes_among_those_who_answered_maybe_in_the_base() -> None:
    found = hire_again(RATINGS)
    # yes, maybe, yes, no (R5 did not answer, R6's "perhaps" is not an answer): 2 of 4.
    assert found["answers"] == {"yes": 2, "maybe": 1, "no": 1}
    assert (found["count"], found["n"], found["value"]) == (2, 4, 0.5)


def test_competencies_are_ranked_per_program_by_companies_naming_them() -> None:
    # A names K3 twice: it counts once. las: K3 (A, B) 2, Las TIG 1; boga: Sanitasi 2.
    assert strengthen_ranking(COMPANIES) == {
        "boga": [("Sanitasi", 2), ("Plating", 1)],
        "las": [("K3", 2), ("Las TIG", 1)],
    }


def test_demand_sums_workers_needed_per_trade_by_sector_and_by_city() -> None:
    # Company C answered no number: it adds nothing, its sector does not appear.
    assert demand(COMPANIES, "sector") == {"C": {"boga": 0, "las": 5}}
    assert demand(COMPANIES, "city") == {"Bontang": {"boga": 0, "las": 3},
                                         "Samarinda": {"las": 2}}
    with pytest.raises(ValueError, match="sector or city"):
        demand(COMPANIES, "program")


def test_willingness_and_the_employer_response_rate_are_shares_of_companies() -> None:
    found = willingness(COMPANIES)
    assert (found["hosts_apprentices"]["count"], found["hosts_apprentices"]["n"]) == (2, 3)
    # B did not answer the review question: 1 of 2.
    assert found["joins_curriculum_review"]["value"] == 0.5
    rate = employer_response_rate(invited=8, responded=3)
    assert rate["value"] == 3 / 8 and rate["n"] == 8
    with pytest.raises(ValueError):
        employer_response_rate(invited=2, responded=3)
