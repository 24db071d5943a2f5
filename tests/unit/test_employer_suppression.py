"""The employer figures' small-group rule (services/analytics/employer_figures.py `suppress`),
on hand-made figures: a group under 5 shows no number, and when the hidden groups of a
breakdown hold fewer than 5 together, the smallest shown group is hidden too."""

from __future__ import annotations

from typing import Any

from services.analytics.employer_figures import _suppress_groups, suppress
from services.analytics.employer_indicators import ASPECTS, share_figure


def figure(count: int, n: int) -> dict[str, Any]:
    return {**share_figure(count, n), "mean": 3.0 if n else None}


def test_a_lone_small_group_takes_the_smallest_other_with_it() -> None:
    # Las 3 (hidden), Boga 6, Listrik 9: total minus Boga minus Listrik would give Las back.
    groups = [figure(2, 3), figure(5, 6), figure(9, 9)]
    _suppress_groups(groups)
    assert [group.get("suppressed", False) for group in groups] == [True, True, False]
    assert groups[1]["value"] is None and groups[1]["n"] == 6  # n stays, the figure goes
    assert groups[2]["value"] == 1.0


def test_hidden_groups_of_five_together_need_no_second_suppression() -> None:
    groups = [figure(1, 2), figure(2, 3), figure(5, 8)]  # 2 + 3 = 5 hidden together
    _suppress_groups(groups)
    assert [group.get("suppressed", False) for group in groups] == [True, True, False]


def test_nothing_small_nothing_hidden() -> None:
    groups = [figure(4, 5), figure(6, 7)]
    _suppress_groups(groups)
    assert not any(group.get("suppressed") for group in groups)


def test_suppress_keeps_company_figures_and_hides_answers_of_small_hiring_again() -> None:
    aspects = {aspect: figure(3, 4) for aspect in ASPECTS}
    figures = {
        "satisfaction": aspects, "satisfaction_by_program": {"Las": dict(aspects)},
        "satisfaction_by_sector": {}, "hire_again": {**figure(2, 4), "answers": {"yes": 2}},
        "hire_again_by_program": {}, "strengthen": {"Las": [
            {"competency": "f1765", "companies": 1,
             "alumni_gap": {"value": 2.0, "n": 1, "small_n": True}}]},
        "demand_by_sector": {"C": {"las": 5}},
    }
    shown = suppress(figures)
    assert shown["satisfaction"]["integrity"]["value"] is None
    assert shown["hire_again"]["answers"] is None
    assert shown["strengthen"]["Las"][0]["alumni_gap"]["value"] is None
    assert shown["strengthen"]["Las"][0]["companies"] == 1
    assert shown["demand_by_sector"] == {"C": {"las": 5}} and shown["suppressed"] is True
