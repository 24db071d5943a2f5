"""The indicators of docs/indicators.md, derived from cells (program × cohort × gender).

`compute` gives every indicator for the union of the cells it is given, so a filter is a
`select` and a breakdown is one `compute` per group. Shares come with their numerator
(`count`), denominator (`n`), a 95% Wilson interval and the weighted share; means and
medians with their n. A non-respondent is never counted in anything but the dispositions
and the response rates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from services.analytics.cells import (
    JOB_SEARCH_CHANNELS,
    OPEN_DISPOSITIONS,
    STATUS_CODES,
    Cell,
    CellKey,
    merge,
)
from services.analytics.decent import PRESET_NAMES, Wages, as_wages
from services.analytics.decent_figures import decent_work, place_resolver, wage_cases
from services.analytics.stats import (
    finite_population_correction,
    mean,
    median,
    proportion,
    wilson_interval,
)
from shared.indicator_inputs import V1_INPUTS, IndicatorInputs, indicators_lacking

SMALL_N = 5  # fewer respondents than this: marked small_n (the small-group rule: disclosure)
# (label, largest waiting_months in the bin); the last bin is open-ended.
WAITING_BINS = (("<=3", 3), ("4-6", 6), ("7-12", 12), (">12", None))
BREAKDOWNS = {"program": "program_id", "cohort": "cohort_id", "gender": "gender"}

KeyedCells = Iterable[tuple[CellKey, Cell]]
Count = Callable[[Cell], int]
MinimumWage = int | Wages | None  # the centre's wage alone, or every wage of the year


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
    minimum_wage: MinimumWage,
    fpc: bool = False,
    figures: Callable[..., dict[str, Any]] | None = None,
    inputs: IndicatorInputs = V1_INPUTS,
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
        value: (figures(group, minimum_wage=minimum_wage, fpc=fpc) if figures is not None
                else compute(group, minimum_wage=minimum_wage, fpc=fpc, inputs=inputs))
        for value, group in sorted(groups.items())
    }


def compute(
    cells: KeyedCells, *, minimum_wage: MinimumWage, fpc: bool = False,
    merged: Callable[[Sequence[Cell]], Cell] = merge,
    weighted: Weighted | None = None,
    inputs: IndicatorInputs = V1_INPUTS,
) -> dict[str, Any]:
    """Every indicator for the union of the cells, JSON-ready (string keys).

    Shares (response_rate, net_response_rate, status_share.<f8 code>, absorption_rate,
    employed_within_6_months, above_minimum_wage, relevance_share, local_absorption,
    certificate_share, job_search_channels.<f4 code>) are
    {"value", "n" (base), "count", "ci_low", "ci_high", "weighted", "small_n"};
    medians and means (waiting_months_median, waiting_months_mean, income_median,
    training_eval.<item>) are {"value", "n", "small_n"}; competency_gap.<A key> adds
    "mean_a" and "mean_b". Alongside: targets, respondents, unreachable, employed,
    status_answered, small_n, weight_coverage, minimum_wage, fpc, dispositions, waiting_bins,
    minimum_wage_applied ({"umk", "ump", "centre"}: incomes compared with each kind of
    wage) and decent_work.<preset> (`_decent_work`).

    `minimum_wage`: the wages of the wave's year (`decent.Wages`), or the centre's own wage
    alone as a number (None: not configured, then above_minimum_wage has no count). Each
    income is compared with the wage of where the alumnus works (`decent.applicable_wage`);
    incomes whose work place is unknown, with the centre's own. With `fpc`, intervals of
    respondents' shares are narrowed by sqrt((N − n) / (N − 1)) for this group's N targets
    and n respondents.
    `merged`: how a list of cells is summed (default `merge`; the API passes a memoised one,
    whose results must then be left unchanged, as here). `weighted`: how the weighted sums
    of the strata are found (default `weighted_sums`; the API passes a memoised one).

    `inputs`: the mapping of the wave's questionnaire (default blk-tracer v1's). It names
    the competencies, training aspects and job-search channels reported, and an indicator
    whose inputs it lacks is reported as not collected, never as zero: its figures are null
    with "not_collected": true, and its name is listed in the top-level "not_collected".
    """
    keyed = list(cells)
    wages = as_wages(minimum_wage)
    strata = _strata(keyed, merged)
    total = merged([stratum for _, stratum in strata])  # as merging the cells, fewer tables
    channels = inputs.job_search_channels.options if inputs.job_search_channels else ()
    sums = (weighted or _fresh_weighted)(strata, minimum_wage, channels)
    correction = (
        finite_population_correction(total.targets, total.respondents) if fpc else 1.0
    )
    parts = weighted_parts(minimum_wage, channels)
    shares = {
        path: _share(total, count_of, base_of, correction,
                     _ratio(sums.numerators[2 * index], sums.numerators[2 * index + 1]))
        for index, (path, count_of, base_of) in enumerate(parts)
    }
    if wages.centre is None:
        shares["above_minimum_wage", None] = _share_without_count(_with_income(total))
    figures = {
        "targets": total.targets,
        "respondents": total.respondents,
        "unreachable": total.unreachable,
        "employed": total.employed,
        "status_answered": total.status_answered,
        "small_n": total.respondents < SMALL_N,
        "weight_coverage": proportion(sums.covered, total.targets),
        "minimum_wage": wages.centre,
        "fpc": fpc,
        "dispositions": {
            "complete": total.respondents,
            **{name: getattr(total, name) for name in OPEN_DISPOSITIONS},
        },
        "response_rate": _rate(total.respondents, total.targets),
        "net_response_rate": _rate(total.respondents, total.targets - total.unreachable),
        "status_share": {str(code): shares["status_share", str(code)]
                         for code in STATUS_CODES},
        "absorption_rate": shares["absorption_rate", None],
        "employed_within_6_months": shares["employed_within_6_months", None],
        "waiting_months_median": _statistic(
            median(total.waiting_months), sum(total.waiting_months.values())
        ),
        "waiting_months_mean": _table_mean(total.waiting_months),
        "waiting_bins": _waiting_bins(total.waiting_months),
        "income_median": _statistic(median(total.income), _with_income(total)),
        "above_minimum_wage": shares["above_minimum_wage", None],
        "minimum_wage_applied": wage_cases(total, wages),
        "decent_work": {name: decent_work(total, [stratum for _, stratum in strata], name,
                                          correction, SMALL_N)
                        for name in PRESET_NAMES},
        "relevance_share": shares["relevance_share", None],
        "local_absorption": shares["local_absorption", None],
        "certificate_share": shares["certificate_share", None],
        "competency_gap": {competency.name: _competency_gap(total, competency.name)
                           for competency in inputs.competencies},
        "training_eval": {
            item: _statistic(
                mean(total.training_eval_sum.get(item, 0),
                     total.training_eval_answered.get(item, 0)),
                total.training_eval_answered.get(item, 0),
            )
            for item in inputs.training_eval
        },
        "job_search_channels": {code: shares["job_search_channels", code]
                                for code in channels},
    }
    lacking = indicators_lacking(inputs)
    for name in lacking:
        figures[name] = _not_collected(figures[name])
    if "status" not in inputs.collected:  # nobody is known to be employed, or not
        figures["employed"] = figures["status_answered"] = None
    figures["not_collected"] = list(lacking)
    return figures


def _not_collected(node: Any) -> Any:
    """A figure the questionnaire does not collect: the same shape, its numbers null."""
    if isinstance(node, Mapping) and "small_n" in node:
        return {**{name: None for name in node}, "small_n": False, "not_collected": True}
    if isinstance(node, Mapping):
        return {key: _not_collected(value) for key, value in node.items()}
    return None


# --- weighted shares -----------------------------------------------------------------------

StratumKey = tuple[int, int]  # (program_id, cohort_id)


class WeightedSums(NamedTuple):
    """Over the strata with respondents, exactly: Σ_h (N_h / n_h)·count_h and
    Σ_h (N_h / n_h)·base_h of every share of `weighted_parts` in turn (count, base, count,
    ...), and Σ_h N_h (weight_coverage's numerator).

    Exact fractions, `numerators[i] / scale`, over their least common denominator (so equal
    sums compare equal), so a stratum's part can be taken out and put back in exactly: the
    API updates a group's sums by the difference of the strata a live update changed
    (`weighted_sums_replaced`) instead of summing a thousand strata again. Plain integers
    rather than Fraction objects: a breakdown by cohort keeps 50,000 of them, and the
    garbage collector walks every object that is not a plain number.
    """

    numerators: tuple[int, ...]
    scale: int
    covered: int


Weighted = Callable[[Sequence[tuple[StratumKey, Cell]], MinimumWage, tuple[str, ...]],
                    WeightedSums]


def _respondents(cell: Cell) -> int:
    return cell.respondents


def _employed(cell: Cell) -> int:
    return cell.employed


def _with_income(cell: Cell) -> int:
    return sum(cell.income.values())


# The shares with a weighted figure, (path in the answer, count, base), in a fixed order;
# the job-search channels' are added per mapping (`weighted_parts`).
# Status shares are over all respondents, as absorption_rate: a missing status stays in the
# base. Job-search channels: "share of respondents with f8 ∈ {1,3} who ticked": the base is
# every employed respondent, a blank f4 included (f14 and f5a2 say "who answered").
_SHARES: tuple[tuple[tuple[str, str | None], Count, Count], ...] = (
    *((("status_share", str(code)),
       lambda cell, code=code: cell.status.get(code, 0), _respondents)
      for code in STATUS_CODES),
    (("absorption_rate", None), _employed, _respondents),
    (("employed_within_6_months", None), lambda cell: cell.employed_within_6_months,
     _respondents),
    (("relevance_share", None), lambda cell: cell.relevant,
     lambda cell: cell.relevance_answered),
    (("local_absorption", None), lambda cell: cell.local, lambda cell: cell.location_answered),
    (("certificate_share", None), lambda cell: cell.certified,
     lambda cell: cell.certificate_answered),
)


@functools.lru_cache(maxsize=64)
def weighted_parts(
    minimum_wage: MinimumWage, channels: tuple[str, ...] = JOB_SEARCH_CHANNELS,
) -> tuple[tuple[tuple[str, str | None], Count, Count], ...]:
    """The shares with a weighted figure for these wages (above_minimum_wage has one only
    when the centre's own wage is configured) and these job-search channels (option codes)."""
    shares = (*_SHARES, *((("job_search_channels", code),
                           lambda cell, code=code: cell.channels.get(code, 0), _employed)
                          for code in channels))
    wages = as_wages(minimum_wage)
    centre = wages.centre
    if centre is None:
        return shares
    resolved = place_resolver(wages)

    def above(cell: Cell) -> int:
        # Every income against the centre's wage, then those whose work place has a wage
        # of its own moved to it (none for a questionnaire that does not ask the place).
        count = sum(count for income, count in cell.income.items() if income >= centre)
        for key, number in cell.income_place.items():
            kind, threshold, income = resolved(key)
            if kind != "centre":
                count += number * ((income >= threshold) - (income >= centre))
        return count

    return (*shares, (("above_minimum_wage", None), above, _with_income))


def weighted_sums(strata: Iterable[Cell], minimum_wage: MinimumWage,
                  channels: tuple[str, ...] = JOB_SEARCH_CHANNELS) -> WeightedSums:
    """The weighted sums of these strata, w_h = N_h / n_h (strata without respondents carry
    no weight). Summed as integer numerators over the lcm of the n_h, one fraction each."""
    parts = weighted_parts(minimum_wage, channels)
    answered = [stratum for stratum in strata if stratum.respondents]
    scale = math.lcm(*(stratum.respondents for stratum in answered))
    numerators = [0] * (2 * len(parts))
    for stratum in answered:
        weight = stratum.targets * (scale // stratum.respondents)
        for index, (_, count_of, base_of) in enumerate(parts):
            numerators[2 * index] += weight * count_of(stratum)
            numerators[2 * index + 1] += weight * base_of(stratum)
    return _reduced(numerators, scale, sum(stratum.targets for stratum in answered))


def weighted_sums_replaced(sums: WeightedSums, removed: Iterable[Cell],
                           added: Iterable[Cell], minimum_wage: MinimumWage,
                           channels: tuple[str, ...] = JOB_SEARCH_CHANNELS) -> WeightedSums:
    """`sums` with the `removed` strata taken out and the `added` ones put in (each removed
    stratum must have been summed into `sums`): exactly `weighted_sums` of the new strata,
    at the cost of the strata that changed."""
    parts = weighted_parts(minimum_wage, channels)
    numerators, scale, covered = list(sums.numerators), sums.scale, sums.covered
    for sign, strata in ((-1, removed), (1, added)):
        for stratum in strata:
            if not stratum.respondents:
                continue
            wider = math.lcm(scale, stratum.respondents)
            if wider != scale:
                numerators = [numerator * (wider // scale) for numerator in numerators]
                scale = wider
            weight = sign * stratum.targets * (scale // stratum.respondents)
            for index, (_, count_of, base_of) in enumerate(parts):
                numerators[2 * index] += weight * count_of(stratum)
                numerators[2 * index + 1] += weight * base_of(stratum)
            covered += sign * stratum.targets
    return _reduced(numerators, scale, covered)


def _reduced(numerators: list[int], scale: int, covered: int) -> WeightedSums:
    # Divided by their common factor, the scale is the least common denominator of the
    # sums: it stays bounded by the lcm of the strata's n_h however many updates came.
    common = math.gcd(scale, *numerators)
    return WeightedSums(tuple(numerator // common for numerator in numerators),
                        scale // common, covered)


def _fresh_weighted(strata: Sequence[tuple[StratumKey, Cell]],
                    minimum_wage: MinimumWage, channels: tuple[str, ...]) -> WeightedSums:
    return weighted_sums((stratum for _, stratum in strata), minimum_wage, channels)


def _ratio(numerator: int, denominator: int) -> float | None:
    """Σ w·y / Σ w over respondents in the base: both over the same scale, so one integer
    division, rounded once."""
    return numerator / denominator if denominator else None


def _strata(cells: Iterable[tuple[CellKey, Cell]],
            merged: Callable[[Sequence[Cell]], Cell] = merge) -> list[tuple[StratumKey, Cell]]:
    # Weighting cells are program × cohort: gender is a reporting split, not a stratum.
    by_stratum: dict[StratumKey, list[Cell]] = {}
    for key, cell in cells:
        by_stratum.setdefault((key.program_id, key.cohort_id), []).append(cell)
    return [(key, merged(group)) for key, group in by_stratum.items()]


def _share(total: Cell, count_of: Count, base_of: Count, correction: float,
           weighted: float | None) -> dict[str, Any]:
    count, base = count_of(total), base_of(total)
    interval = wilson_interval(count, base, correction=correction)
    return {
        "value": proportion(count, base),
        "n": base,
        "count": count,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "weighted": weighted,
        "small_n": base < SMALL_N,
    }


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

