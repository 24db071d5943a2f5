"""Small exact statistics for the indicators: Wilson intervals, midpoint medians, means."""

from __future__ import annotations

import math
from collections.abc import Mapping

Z_95 = 1.959963984540054  # two-sided 95%, as docs/indicators.md fixes it


def proportion(count: int, base: int) -> float | None:
    """count / base; None when nobody is in the base (a share of nobody is not 0)."""
    return count / base if base else None


def finite_population_correction(population: int, sample: int) -> float:
    """sqrt((N − n) / (N − 1)): the factor the Wilson half-width is multiplied by.

    A census (n ≥ N, including N = n = 1) leaves nothing unknown: 0. With N = 1 and n = 0
    nothing was observed, so there is no interval to correct: 1.
    """
    if sample > population:
        raise ValueError(f"sample {sample} is larger than the population {population}")
    if sample >= population:
        return 0.0
    if population == 1:
        return 1.0
    return math.sqrt((population - sample) / (population - 1))


def wilson_interval(
    count: int, base: int, *, correction: float = 1.0, z: float = Z_95
) -> tuple[float, float] | None:
    """Wilson score interval for count / base; None when base is 0.

    `correction` multiplies the half-width around the Wilson centre (not around the share),
    as docs/indicators.md defines the finite-population correction.
    """
    if not 0 <= count <= base:
        raise ValueError(f"count {count} is not between 0 and {base}")
    if base == 0:
        return None
    share = count / base
    z_squared = z * z
    denominator = 1 + z_squared / base
    centre = (share + z_squared / (2 * base)) / denominator
    half_width = (z / denominator) * math.sqrt(
        share * (1 - share) / base + z_squared / (4 * base * base)
    )
    half_width *= correction
    # Rounding can push a bound a hair outside [0, 1] when the share is 0 or 1.
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def median(frequencies: Mapping[int, int]) -> float | None:
    """Midpoint median of a value -> count table: the middle value, or the mean of the two
    middle values when the total count is even. None for an empty table."""
    total = sum(frequencies.values())
    if total == 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2  # 0-based ranks of the middle
    lower: int | None = None
    seen = 0
    for value in sorted(frequencies):
        seen += frequencies[value]
        if lower is None and seen > lower_rank:
            lower = value
        if seen > upper_rank:
            assert lower is not None  # lower_rank ≤ upper_rank
            return (lower + value) / 2
    raise AssertionError("unreachable: the ranks are below the total")


def mean(total: float, count: int) -> float | None:
    return total / count if count else None
