"""Figures of the decent-work indicator and of the wage each income is compared with.

Derived from cells at read time, beside `indicators.compute` (which calls them): which wage
each income with a known work place meets (`place_resolver`, `wage_cases`), and the mean
decent-work weight with its intervals (`decent_work`; docs/indicators.md, "Decent work").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from services.analytics.cells import Cell
from services.analytics.decent import Wages, applicable_wage, at_or_above, parse_place_key

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval


def place_resolver(wages: Wages) -> Callable[[str], tuple[str, int, int]]:
    """key of Cell.income_place -> (which wage, smallest income at or above it, income)."""
    @functools.lru_cache(maxsize=4096)
    def place(city: int | None, province: int | None) -> tuple[str, int]:
        kind, sen = applicable_wage(wages, city, province)
        return kind, at_or_above(sen) if sen is not None else 0

    def resolved(key: str) -> tuple[str, int, int]:
        city, province, income = parse_place_key(key)
        return (*place(city, province), income)

    return resolved


def wage_cases(total: Cell, wages: Wages) -> dict[str, int]:
    """How many incomes were compared with a UMK, a UMP and the centre's own wage."""
    resolved = place_resolver(wages)
    cases = {"umk": 0, "ump": 0, "centre": 0}
    for key, number in total.income_place.items():
        cases[resolved(key)[0]] += number
    cases["centre"] = sum(total.income.values()) - cases["umk"] - cases["ump"]
    return cases


def decent_work(total: Cell, strata: Sequence[Cell], name: str, correction: float,
                small_n: int) -> dict[str, Any]:
    """The mean decent-work weight under preset `name` (docs/indicators.md, "Decent work"):
    {"value", "n", "ci_low", "ci_high", "weighted", "weighted_ci_low", "weighted_ci_high",
    "small_n"}; value None when nobody was weighed (no minimum wage for the wave).

    Unweighted: Σ weight / n, interval mean ± z·s/√n (s² the sample variance from
    Σ weight², times the fpc factor when asked), clipped to [0, 1]. Weighted: Σ_h w_h·S_h /
    Σ_h w_h·n_h with the shares' w_h = N_h / (respondents_h), interval from the stratified
    variance Σ_h W_h²·s_h²/n_h (W_h = w_h·n_h / Σ w·n; a stratum of one weighed person
    borrows the pooled s²). No interval below two weighed.
    """
    n = total.decent_n.get(name, 0)
    if not n:  # not weighed (no minimum wage for the wave): no pass over the strata
        return {"value": None, "n": 0, "ci_low": None, "ci_high": None, "weighted": None,
                "weighted_ci_low": None, "weighted_ci_high": None, "small_n": True}
    value = _decent_mean(total, name)
    spread = _decent_variance(total, name)
    low = high = None
    if value is not None and spread is not None:
        low, high = _clipped(value, Z95 * math.sqrt(spread / n) * correction)
    weighted, w_low, w_high = _decent_weighted(strata, name, spread)
    return {"value": value, "n": n, "ci_low": low, "ci_high": high, "weighted": weighted,
            "weighted_ci_low": w_low, "weighted_ci_high": w_high, "small_n": n < small_n}


def _decent_mean(cell: Cell, name: str) -> float | None:
    n = cell.decent_n.get(name, 0)
    return cell.decent_sum.get(name, 0) / (100 * n) if n else None


def _decent_variance(cell: Cell, name: str) -> float | None:
    """The sample variance of the weights (as fractions of 1) of the cell's weighed."""
    n = cell.decent_n.get(name, 0)
    if n < 2:
        return None
    total, squares = cell.decent_sum.get(name, 0), cell.decent_squares.get(name, 0)
    # In ten-thousandths, exactly: n·Σw² − (Σw)² over n(n − 1).
    return max(n * squares - total * total, 0) / (10_000 * n * (n - 1))


def _decent_weighted(strata: Sequence[Cell], name: str,
                     pooled: float | None) -> tuple[float | None, float | None, float | None]:
    # One pass, plain locals: the whole wave has ~2,000 strata, and this runs again for each
    # group a live update changed.
    weighted_sum = base = 0.0
    parts: list[tuple[float, int, int, int]] = []
    for stratum in strata:
        n_h = stratum.decent_n.get(name, 0)
        respondents = stratum.respondents
        if not n_h or not respondents:
            continue
        weight = (respondents + stratum.partial + stratum.refusal + stratum.non_contact
                  + stratum.unknown + stratum.unreachable) / respondents  # N_h / n_h
        total = stratum.decent_sum.get(name, 0)
        weighted_sum += weight * total
        base += weight * n_h
        parts.append((weight, n_h, total, stratum.decent_squares.get(name, 0)))
    if not base:
        return None, None, None
    value = weighted_sum / 100 / base
    if pooled is None:
        return value, None, None
    variance = 0.0
    for weight, n_h, total, squares in parts:
        # s_h² = (n·Σw² − (Σw)²) / (n(n − 1)) in ten-thousandths; one person: the pooled s².
        own = (max(n_h * squares - total * total, 0) / (10_000 * n_h * (n_h - 1))
               if n_h > 1 else pooled)
        share = weight * n_h / base
        variance += share * share * own / n_h
    return (value, *_clipped(value, Z95 * math.sqrt(variance)))


def _clipped(value: float, half: float) -> tuple[float, float]:
    return max(0.0, value - half), min(1.0, value + half)
