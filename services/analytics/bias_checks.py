"""The non-response bias check of a selection of cells, by program, cohort and gender.

Targets N_k and respondents n_k per category come from the snapshot's cells (a cell's
`targets` and `respondents`), so the check describes the same figures as the rest of the
page; `nonresponse.bias_check` does the arithmetic. Through the small-group rule: a
category whose group the rule hides (`Disclosure.hidden`) shows neither share, and a
breakdown with a hidden category gives no chi-square (the statistic and the shares shown
would let the hidden count be worked out). The verdict on the weights (`verdict`) reads the
breakdowns the weights correct (program and cohort: w = N_h / n_h per program × cohort)
apart from gender, which they do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.analytics.cells import Cell, CellKey
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import BREAKDOWNS
from services.analytics.nonresponse import BiasCheck, bias_check

CHECKED = ("program", "cohort", "gender")
WEIGHTED_BY = ("program", "cohort")  # the weights' cells are program × cohort


@dataclass(frozen=True)
class BreakdownCheck:
    """One breakdown: the check over every category (named by its key as a string), and
    the categories whose figures the small-group rule hides."""

    by: str
    check: BiasCheck
    hidden: frozenset[str]

    @property
    def tested(self) -> bool:
        """Whether a chi-square may be shown: computed, and no category hidden."""
        return self.check.p_value is not None and not self.hidden

    @property
    def single(self) -> bool:
        """One category only (one program, say): nothing to compare, nothing to correct."""
        return len(self.check.categories) <= 1 and not self.hidden

    @property
    def differs(self) -> bool:
        return self.tested and bool(self.check.differs)


def bias_checks(cells: Iterable[tuple[CellKey, Cell]], rule: Disclosure | None,
                breakdowns: Iterable[str] = CHECKED) -> list[BreakdownCheck]:
    """The check of each breakdown of these cells (`rule` None: nothing hidden)."""
    keyed = list(cells)
    checks = []
    for by in breakdowns:
        groups: dict[str, list[CellKey]] = {}
        population: dict[str, int] = {}
        respondents: dict[str, int] = {}
        for key, cell in sorted(keyed, key=lambda item: str(getattr(item[0], BREAKDOWNS[by]))):
            name = str(getattr(key, BREAKDOWNS[by]))
            groups.setdefault(name, []).append(key)
            population[name] = population.get(name, 0) + cell.targets
            respondents[name] = respondents.get(name, 0) + cell.respondents
        hidden = frozenset(name for name, keys in groups.items()
                           if rule is not None and rule.hidden(keys))
        checks.append(BreakdownCheck(by, bias_check(population, respondents), hidden))
    return checks


def verdict(checks: Iterable[BreakdownCheck]) -> tuple[str, list[str]]:
    """What the checks say of the weights, and the breakdowns that differ:
    "needed" (respondents differ by program or cohort, which the weights correct),
    "not_corrected" (they differ by gender only, which the weights do not correct),
    "not_needed" (every breakdown tested, none differs), "unknown" (some could not be
    tested, none of the tested differs)."""
    checks = list(checks)
    differing = [check.by for check in checks if check.differs]
    if any(by in WEIGHTED_BY for by in differing):
        return "needed", differing
    if differing:
        return "not_corrected", differing
    if checks and all(check.tested or check.single for check in checks):
        return "not_needed", []
    return "unknown", []
