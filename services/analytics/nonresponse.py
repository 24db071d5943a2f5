"""The non-response bias check: do the respondents look like the people they stand for?

For one breakdown (program, cohort or gender) the wave's targets N_k and its respondents n_k
per category give the shares N_k / N and n_k / n side by side, their difference in
percentage points, and Pearson's chi-square goodness-of-fit test of the respondents against
the population's shares:

    expected_k = n · N_k / N,  χ² = Σ (n_k − expected_k)² / expected_k,  df = K − 1

over the K categories that have targets, with its p-value from the chi-square distribution
(the regularised upper incomplete gamma function Q(df/2, χ²/2), computed here: no SciPy).
A small p (below 0.05) says the respondents differ from the population in that breakdown,
so the post-stratification weights (docs/indicators.md) are needed. Framework-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

SIGNIFICANCE = 0.05
_EPSILON = 1e-15
_MAX_ITERATIONS = 10_000


@dataclass(frozen=True)
class Category:
    name: str
    population: int
    respondents: int
    population_share: float
    respondent_share: float | None

    @property
    def difference_points(self) -> float | None:
        """Respondents' share minus the population's, in percentage points."""
        if self.respondent_share is None:
            return None
        return 100 * (self.respondent_share - self.population_share)


@dataclass(frozen=True)
class BiasCheck:
    categories: tuple[Category, ...]
    chi_square: float | None
    degrees_of_freedom: int
    p_value: float | None

    @property
    def differs(self) -> bool | None:
        """True when the respondents differ from the population at the 5 % level; None
        when there is no test (one category, or no respondents)."""
        return None if self.p_value is None else self.p_value < SIGNIFICANCE


def bias_check(population: Mapping[str, int], respondents: Mapping[str, int]) -> BiasCheck:
    """Compare respondents with the population, category by category (names are the
    categories' labels; a respondent category the population lacks is an error)."""
    unknown = set(respondents) - set(population)
    if unknown:
        raise ValueError(f"respondents in categories with no targets: {sorted(unknown)}")
    total, answered = sum(population.values()), sum(respondents.values())
    if total == 0:
        return BiasCheck((), None, 0, None)
    categories = tuple(
        Category(name, size, respondents.get(name, 0), size / total,
                 respondents.get(name, 0) / answered if answered else None)
        for name, size in population.items() if size > 0)
    degrees = len(categories) - 1
    if answered == 0 or degrees < 1:
        return BiasCheck(categories, None, max(degrees, 0), None)
    statistic = sum((c.respondents - answered * c.population_share) ** 2
                    / (answered * c.population_share) for c in categories)
    return BiasCheck(categories, statistic, degrees, chi_square_p_value(statistic, degrees))


def chi_square_p_value(statistic: float, degrees: int) -> float:
    """P(X ≥ statistic) for X chi-square with `degrees` degrees of freedom."""
    if degrees < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if statistic <= 0:
        return 1.0
    return _upper_gamma_q(degrees / 2, statistic / 2)


def _upper_gamma_q(a: float, x: float) -> float:
    """The regularised upper incomplete gamma Q(a, x): the series of P for x < a + 1, else
    Lentz's continued fraction for Q (both converge fast in their range)."""
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        denominator = a
        for _ in range(_MAX_ITERATIONS):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * _EPSILON:
                break
        return max(0.0, 1 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    fraction = d
    for step in range(1, _MAX_ITERATIONS):
        an = -step * (step - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        fraction *= delta
        if abs(delta - 1) < _EPSILON:
            break
    return min(1.0, math.exp(log_prefix) * fraction)
