"""The indicators of INDICATORS.md, derived from cells (program × cohort × gender).

`compute` gives every indicator for the union of the cells it is given, so a filter is a
`select` and a breakdown is one `compute` per group. Shares come with their numerator
(`count`), denominator (`n`), a 95% Wilson interval and the weighted share; means and
medians with their n. A non-respondent is never counted in anything but the dispositions
and the response rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from services.analytics.cells import (
    COMPETENCIES,
    JOB_SEARCH_CHANNELS,
    OPEN_DISPOSITIONS,
    STATUS_CODES,
    TRAINING_EVAL_ITEMS,
    Cell,
    CellKey,
    merge,
)
from services.analytics.stats import (
    finite_population_correction,
    mean,
    median,
    proportion,
    wilson_interval,
)

SMALL_N = 5  # fewer respondents than this: marked small_n, shares suppressed in public
# (label, largest waiting_months in the bin); the last bin is open-ended.
WAITING_BINS = (("<=3", 3), ("4-6", 6), ("7-12", 12), (">12", None))
BREAKDOWNS = {"program": "program_id", "cohort": "cohort_id", "gender": "gender"}
# What suppress_small blanks out: figures derived from few people; counts stay.
_DERIVED_FIGURES = ("value", "ci_low", "ci_high", "weighted", "mean_a", "mean_b")

KeyedCells = Iterable[tuple[CellKey, Cell]]
Count = Callable[[Cell], int]


def select(
    cells: KeyedCells,
    *,
    program: int | None = None,
    cohort: int | None = None,
    gender: str | None = None,
) -> list[tuple[CellKey, Cell]]:
    """The cells matching every filter given (None: any)."""
    return [
        (key, cell) for key, cell in cells
        if (program is None or key.program_id == program)
        and (cohort is None or key.cohort_id == cohort)
        and (gender is None or key.gender == gender)
    ]


def breakdown(
    cells: KeyedCells,
    by: Literal["program", "cohort", "gender"],
    *,
    minimum_wage: int | None,
    fpc: bool = False,
    figures: Callable[..., dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The indicators of each program, cohort or gender among the cells, in key order.

    `figures`: what computes one group (default `compute`; the API passes a memoised one).
    """
    if by not in BREAKDOWNS:
        raise ValueError(f"cannot break down by {by!r}; choose from {', '.join(BREAKDOWNS)}")
    groups: dict[int | str, list[tuple[CellKey, Cell]]] = {}
    for key, cell in cells:
        groups.setdefault(getattr(key, BREAKDOWNS[by]), []).append((key, cell))
    return {
        value: (figures or compute)(group, minimum_wage=minimum_wage, fpc=fpc)
        for value, group in sorted(groups.items())
    }


def compute(
    cells: KeyedCells, *, minimum_wage: int | None, fpc: bool = False,
    merged: Callable[[Sequence[Cell]], Cell] = merge,
) -> dict[str, Any]:
    """Every indicator for the union of the cells, JSON-ready (string keys).

    Shares (response_rate, net_response_rate, status_share.<f8 code>, absorption_rate,
    employed_within_6_months, above_minimum_wage, relevance_share, local_absorption,
    certificate_share, job_search_channels.<f4 code>) are
    {"value", "n" (base), "count", "ci_low", "ci_high", "weighted", "small_n"};
    medians and means (waiting_months_median, waiting_months_mean, income_median,
    training_eval.<item>) are {"value", "n", "small_n"}; competency_gap.<A key> adds
    "mean_a" and "mean_b". Alongside: targets, respondents, unreachable, employed,
    status_answered, small_n, weight_coverage, minimum_wage, fpc, dispositions, waiting_bins.

    `minimum_wage` is the one configured for the wave's year (None: not configured, then
    above_minimum_wage has no count). With `fpc`, intervals of respondents' shares are
    narrowed by sqrt((N − n) / (N − 1)) for this group's N targets and n respondents.
    `merged`: how a list of cells is summed (default `merge`; the API passes a memoised one,
    whose results must then be left unchanged, as here).
    """
    keyed = list(cells)
    strata = _strata(keyed, merged)
    total = merged(strata)  # the same sums as merging the cells, over fewer tables
    weights = _weights(strata)
    correction = (
        finite_population_correction(total.targets, total.respondents) if fpc else 1.0
    )

    def share(count_of: Count, base_of: Count) -> dict[str, Any]:
        return _share(total, weights, count_of, base_of, correction)

    def respondents(cell: Cell) -> int:
        return cell.respondents

    def employed(cell: Cell) -> int:
        return cell.employed

    def with_income(cell: Cell) -> int:
        return sum(cell.income.values())

    if minimum_wage is None:
        above_minimum_wage = _share_without_count(with_income(total))
    else:
        threshold = minimum_wage
        above_minimum_wage = share(
            lambda cell: sum(count for income, count in cell.income.items()
                             if income >= threshold),
            with_income,
        )
    covered = sum(targets for targets, _ in weights.values())
    return {
        "targets": total.targets,
        "respondents": total.respondents,
        "unreachable": total.unreachable,
        "employed": total.employed,
        "status_answered": total.status_answered,
        "small_n": total.respondents < SMALL_N,
        "weight_coverage": proportion(covered, total.targets),
        "minimum_wage": minimum_wage,
        "fpc": fpc,
        "dispositions": {
            "complete": total.respondents,
            **{name: getattr(total, name) for name in OPEN_DISPOSITIONS},
        },
        "response_rate": _rate(total.respondents, total.targets),
        "net_response_rate": _rate(total.respondents, total.targets - total.unreachable),
        # Over all respondents, as absorption_rate: a missing status stays in the base.
        "status_share": {
            str(code): share(lambda cell, code=code: cell.status.get(code, 0), respondents)
            for code in STATUS_CODES
        },
        "absorption_rate": share(employed, respondents),
        "employed_within_6_months": share(
            lambda cell: cell.employed_within_6_months, respondents
        ),
        "waiting_months_median": _statistic(
            median(total.waiting_months), sum(total.waiting_months.values())
        ),
        "waiting_months_mean": _table_mean(total.waiting_months),
        "waiting_bins": _waiting_bins(total.waiting_months),
        "income_median": _statistic(median(total.income), with_income(total)),
        "above_minimum_wage": above_minimum_wage,
        "relevance_share": share(lambda cell: cell.relevant, lambda cell: cell.relevance_answered),
        "local_absorption": share(lambda cell: cell.local, lambda cell: cell.location_answered),
        "certificate_share": share(
            lambda cell: cell.certified, lambda cell: cell.certificate_answered
        ),
        "competency_gap": {a_key: _competency_gap(total, a_key) for a_key, _ in COMPETENCIES},
        "training_eval": {
            item: _statistic(
                mean(total.training_eval_sum.get(item, 0),
                     total.training_eval_answered.get(item, 0)),
                total.training_eval_answered.get(item, 0),
            )
            for item in TRAINING_EVAL_ITEMS
        },
        # "Share of respondents with f8 ∈ {1,3} who ticked": the base is every employed
        # respondent, a blank f4 included (f14 and f5a2 say "who answered"; this does not).
        "job_search_channels": {
            code: share(lambda cell, code=code: cell.channels.get(code, 0), employed)
            for code in JOB_SEARCH_CHANNELS
        },
    }


def suppress_small(indicators: Mapping[str, Any]) -> dict[str, Any]:
    """A copy for public and exported reports: in a small_n group every share, mean and
    median is None, and so is any single figure whose own n is below SMALL_N. Counts stay."""
    group_is_small = bool(indicators["small_n"])

    def suppressed(node: Any) -> Any:
        if not isinstance(node, Mapping):
            return node
        if "value" in node and "small_n" in node:  # one share or statistic
            hide = group_is_small or node["small_n"]
            return {name: None if hide and name in _DERIVED_FIGURES else figure
                    for name, figure in node.items()}
        return {name: suppressed(child) for name, child in node.items()}

    return suppressed(indicators)


def _strata(cells: Iterable[tuple[CellKey, Cell]],
            merged: Callable[[Sequence[Cell]], Cell] = merge) -> list[Cell]:
    # Weighting cells are program × cohort: gender is a reporting split, not a stratum.
    by_stratum: dict[tuple[int, int], list[Cell]] = {}
    for key, cell in cells:
        by_stratum.setdefault((key.program_id, key.cohort_id), []).append(cell)
    return [merged(group) for group in by_stratum.values()]


def _weights(strata: list[Cell]) -> dict[int, tuple[int, Cell]]:
    """Per stratum with respondents (by position): its N_h, and the stratum itself.

    The weights w = N_h / n_h of `_weighted_share` scaled to integers; computed once per
    `compute`, every share uses them.
    """
    return {index: (stratum.targets, stratum) for index, stratum in enumerate(strata)
            if stratum.respondents}


def _share(
    total: Cell, weights: dict[int, tuple[int, Cell]], count_of: Count, base_of: Count,
    correction: float,
) -> dict[str, Any]:
    count, base = count_of(total), base_of(total)
    interval = wilson_interval(count, base, correction=correction)
    return {
        "value": proportion(count, base),
        "n": base,
        "count": count,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "weighted": _weighted_share(weights, count_of, base_of),
        "small_n": base < SMALL_N,
    }


def _weighted_share(weights: dict[int, tuple[int, Cell]], count_of: Count,
                    base_of: Count) -> float | None:
    """Σ w·y / Σ w over respondents in the base, w = N_h / n_h.

    Exact: Σ_h (N_h / n_h)·c_h / Σ_h (N_h / n_h)·b_h as one fraction, summed with integer
    numerators over the lcm of the n_h (strata without respondents carry no weight), so
    the sums stay exact integers and the one division rounds once.
    """
    strata = list(weights.values())
    scale = math.lcm(*(stratum.respondents for _, stratum in strata))
    numerator = denominator = 0
    for targets, stratum in strata:
        weight = targets * (scale // stratum.respondents)
        numerator += weight * count_of(stratum)
        denominator += weight * base_of(stratum)
    return numerator / denominator if denominator else None


def _rate(respondents: int, base: int) -> dict[str, Any]:
    # The base is the population itself, not a sample of it: no fpc, and no weighting
    # (every respondent responded).
    interval = wilson_interval(respondents, base)
    return {
        "value": proportion(respondents, base),
        "n": base,
        "count": respondents,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "weighted": None,
        "small_n": base < SMALL_N,
    }


def _share_without_count(base: int) -> dict[str, Any]:
    return {"value": None, "n": base, "count": None, "ci_low": None, "ci_high": None,
            "weighted": None, "small_n": base < SMALL_N}


def _statistic(value: float | None, n: int) -> dict[str, Any]:
    return {"value": value, "n": n, "small_n": n < SMALL_N}


def _table_mean(frequencies: Mapping[int, int]) -> dict[str, Any]:
    n = sum(frequencies.values())
    return _statistic(mean(sum(value * count for value, count in frequencies.items()), n), n)


def _waiting_bins(frequencies: Mapping[int, int]) -> dict[str, int]:
    bins = dict.fromkeys((label for label, _ in WAITING_BINS), 0)
    for months, count in frequencies.items():
        label = next(label for label, upper in WAITING_BINS if upper is None or months <= upper)
        bins[label] += count
    return bins


def _competency_gap(total: Cell, a_key: str) -> dict[str, Any]:
    n = total.competency_answered.get(a_key, 0)
    mean_a = mean(total.competency_a_sum.get(a_key, 0), n)
    mean_b = mean(total.competency_b_sum.get(a_key, 0), n)
    gap = mean(total.competency_b_sum.get(a_key, 0) - total.competency_a_sum.get(a_key, 0), n)
    return {"value": gap, "n": n, "mean_a": mean_a, "mean_b": mean_b, "small_n": n < SMALL_N}
