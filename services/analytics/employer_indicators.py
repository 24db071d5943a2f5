"""The employer survey's indicators, from plain rows (framework-free: no database, no Flask).

What the people who hire our alumni say (docs/employers.md): per alumnus a supervisor rates
eight aspects on a 4-point scale (1 Kurang, 2 Cukup, 3 Baik, 4 Sangat baik) and says whether
they would hire another graduate of the program; once per company they name competencies
the centre should strengthen and how many more workers of each trade they expect to need in
the next 12 months.

Rules, each in one place here:
- **Satisfaction with an aspect** is the share of ratings of 3 or 4 among the ratings given
  for that aspect (a skipped aspect is not in the base), with its Wilson 95 % interval, the
  mean rating and n. Fewer than `SMALL_N` ratings: `small_n` is set, as for the alumni
  indicators, and the pages hide the figure below admin (the small-group rule).
- **Hiring again** is the share answering "yes" among those who answered the question;
  "maybe" counts in the base, not in the share.
- **Competencies to strengthen** are ranked per program by the number of companies naming
  them (a company counts once per competency), ties by name.
- **Demand** is the sum of the workers needed per trade, grouped by the company's sector
  or city; a company that did not answer adds nothing (not zero).
- **Employer response rate**: companies with at least one complete employer response among
  the companies invited (a company, not a contact, is the unit: one answer per company is
  what the questions ask).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.analytics.stats import proportion, wilson_interval

# The aspects, in the order of the questionnaire (blk-employer v1).
ASPECTS = ("integrity", "technical", "safety", "tools_it", "communication", "teamwork",
           "discipline", "learning")
SCALE = (1, 2, 3, 4)  # Kurang, Cukup, Baik, Sangat baik
SATISFIED = (3, 4)
HIRE_AGAIN = ("yes", "maybe", "no")
SMALL_N = 5  # as the alumni indicators (indicators.SMALL_N)


@dataclass(frozen=True)
class Rating:
    """One supervisor's ratings of one alumnus. `scores`: aspect -> 1..4; an aspect left
    out was not rated. `sector` is the company's KBLI section letter ("" unknown)."""

    program: str
    sector: str
    scores: Mapping[str, int]
    hire_again: str | None = None


@dataclass(frozen=True)
class CompanyAnswer:
    """A company's once-per-wave answers. `strengthen`: (program, competency) pairs it
    named; `workers_needed`: trade (program) -> workers it expects to need."""

    sector: str
    city: str
    strengthen: tuple[tuple[str, str], ...] = ()
    workers_needed: Mapping[str, int] = field(default_factory=dict)
    hosts_apprentices: bool | None = None
    joins_curriculum_review: bool | None = None


def share_figure(count: int, base: int) -> dict[str, Any]:
    """{"value", "count", "n", "ci_low", "ci_high", "small_n"} of count / base."""
    interval = wilson_interval(count, base)
    return {"value": proportion(count, base), "count": count, "n": base,
            "ci_low": interval[0] if interval else None,
            "ci_high": interval[1] if interval else None, "small_n": base < SMALL_N}


def aspect_satisfaction(ratings: Iterable[Rating]) -> dict[str, dict[str, Any]]:
    """Per aspect: the share rating it 3 or 4, with its interval, the mean rating and n."""
    given: dict[str, list[int]] = {aspect: [] for aspect in ASPECTS}
    for rating in ratings:
        for aspect, score in rating.scores.items():
            if aspect in given and type(score) is int and score in SCALE:
                given[aspect].append(score)
    return {aspect: {**share_figure(sum(score in SATISFIED for score in scores), len(scores)),
                     "mean": sum(scores) / len(scores) if scores else None}
            for aspect, scores in given.items()}


def satisfaction_by(ratings: Iterable[Rating], group_of: Callable[[Rating], str]
                    ) -> dict[str, dict[str, dict[str, Any]]]:
    """`aspect_satisfaction` per group (program or sector, say), groups in sorted order."""
    grouped: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        grouped[group_of(rating)].append(rating)
    return {group: aspect_satisfaction(grouped[group]) for group in sorted(grouped)}


def hire_again(ratings: Iterable[Rating]) -> dict[str, Any]:
    """The share answering "yes" among those who answered, and the count of each answer."""
    answers = Counter(rating.hire_again for rating in ratings
                      if rating.hire_again in HIRE_AGAIN)
    answered = sum(answers.values())
    return {**share_figure(answers["yes"], answered),
            "answers": {answer: answers[answer] for answer in HIRE_AGAIN}}


def strengthen_ranking(answers: Iterable[CompanyAnswer]) -> dict[str, list[tuple[str, int]]]:
    """Per program: (competency, companies naming it), most named first, ties by name."""
    named: dict[str, Counter[str]] = defaultdict(Counter)
    for answer in answers:
        for program, competency in set(answer.strengthen):
            named[program][competency] += 1
    return {program: sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            for program, counts in sorted(named.items())}


def demand(answers: Iterable[CompanyAnswer], by: str) -> dict[str, dict[str, int]]:
    """Workers needed in the next 12 months per trade, summed per `by` ("sector" or "city")."""
    if by not in ("sector", "city"):
        raise ValueError(f"demand is grouped by sector or city, not {by!r}")
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for answer in answers:
        for trade, workers in answer.workers_needed.items():
            if type(workers) is int and workers >= 0:
                totals[getattr(answer, by)][trade] += workers
    return {group: dict(sorted(counts.items())) for group, counts in sorted(totals.items())}


def willingness(answers: Iterable[CompanyAnswer]) -> dict[str, dict[str, Any]]:
    """Shares of companies willing to host apprentices and to join the curriculum review,
    among those that answered each question."""
    answers = list(answers)
    result = {}
    for name in ("hosts_apprentices", "joins_curriculum_review"):
        said = [getattr(answer, name) for answer in answers
                if getattr(answer, name) is not None]
        result[name] = share_figure(sum(said), len(said))
    return result


def employer_response_rate(invited: int, responded: int) -> dict[str, Any]:
    """Companies that answered among the companies invited (one answer per company)."""
    if not 0 <= responded <= invited:
        raise ValueError(f"{responded} companies answered of {invited} invited")
    return share_figure(responded, invited)
