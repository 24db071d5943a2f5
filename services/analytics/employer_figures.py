"""The employer survey's figures for a wave, from analytics' own projection.

Reads employer_rating_facts, employer_company_facts (services/analytics/
employer_projection.py) and, for the alumni's own competency gap beside what employers ask
to strengthen, indicator_answers; computes through services/analytics/employer_indicators.py
(the one place of the rules). One dictionary, JSON-ready, serves the API, the dashboard
section, the PDF chapter and the XLSX sheet, so the four never disagree.

The small-group rule (`suppress`, applied unless an admin asks otherwise in the API): a
figure about alumni (a satisfaction share, a mean, hiring again, an alumni competency gap)
whose base is below SMALL_N shows no number; within a breakdown (by program, by sector),
when the hidden groups together hold fewer than SMALL_N, the smallest shown group is hidden
too, so that the total minus the shown groups cannot give them back. Company figures
(demand, competencies named, willingness, the response rate) are about companies, not
people, and are shown as they are.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from services.analytics.employer_indicators import (
    ASPECTS,
    SMALL_N,
    CompanyAnswer,
    Rating,
    aspect_satisfaction,
    demand,
    employer_response_rate,
    hire_again,
    satisfaction_by,
    share_figure,
    strengthen_ranking,
    willingness,
)
from services.analytics.inputs import wave_inputs
from services.analytics.projection import COMPETENCY_COLUMNS
from services.analytics.stats import mean
from shared.kbli import KBLI_SECTIONS
from shared.models import (
    Alumnus,
    Cohort,
    EmployerCompanyFact,
    EmployerRatingFact,
    IndicatorAnswer,
    Program,
)

UNKNOWN = ""  # a sector or city not recorded
HIDDEN = ("value", "count", "ci_low", "ci_high", "mean")


def _program_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Program.id, Program.name)).all())  # type: ignore[arg-type]


def alumni_gap(session: Session, wave_id: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Per program and competency (the name the wave's questionnaire mapping gives it,
    blk-tracer's A key): the alumni's own gap, mean of (needed B − had A) among those who
    answered both, with n; from indicator_answers (competencies in slots, by the mapping)."""
    inputs = wave_inputs(session, wave_id)
    projected = IndicatorAnswer.__table__
    pairs = list(zip(COMPETENCY_COLUMNS, inputs.competencies, strict=False))
    columns = []
    for (a_column, b_column), _competency in pairs:
        a, b = projected.c[a_column], projected.c[b_column]
        both = and_(a.is_not(None), b.is_not(None))
        columns += [func.sum(case((both, b - a), else_=0)), func.sum(case((both, 1), else_=0))]
    rows = session.execute(
        select(Program.name, *columns)
        .select_from(IndicatorAnswer)
        .join(Alumnus, Alumnus.id == IndicatorAnswer.alumnus_id)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
        .where(IndicatorAnswer.wave_id == wave_id)
        .group_by(Program.name)).all()
    gaps: dict[str, dict[str, dict[str, Any]]] = {}
    for name, *sums in rows:
        gaps[name] = {}
        for index, (_columns, competency) in enumerate(pairs):
            total, n = int(sums[2 * index] or 0), int(sums[2 * index + 1] or 0)
            gaps[name][competency.name] = {"value": mean(total, n), "n": n,
                                           "small_n": n < SMALL_N}
    return gaps


def employer_figures(session: Session, wave_id: int) -> dict[str, Any]:
    """Every employer indicator of the wave, unsuppressed (see `suppress`)."""
    programs = _program_names(session)
    facts = session.scalars(select(EmployerRatingFact)
                            .where(EmployerRatingFact.wave_id == wave_id)).all()
    ratings = [Rating(program=programs.get(fact.program_id, "?"), sector=fact.sector or UNKNOWN,
                      scores={aspect: getattr(fact, aspect) for aspect in ASPECTS
                              if getattr(fact, aspect) is not None},
                      hire_again=fact.hire_again) for fact in facts]
    companies = session.scalars(select(EmployerCompanyFact)
                                .where(EmployerCompanyFact.wave_id == wave_id)).all()
    answers = [CompanyAnswer(
        sector=company.sector or UNKNOWN, city=company.city or UNKNOWN,
        strengthen=tuple((programs.get(program_id, "?"), code)
                         for program_id in company.programs or () for code in company.strengthen),
        workers_needed=dict(company.workers_needed or {}),
        hosts_apprentices=None if company.apprentice is None else company.apprentice == 1,
        joins_curriculum_review=None if company.curriculum is None else company.curriculum == 1,
    ) for company in companies if company.answered]
    by_program: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_program[rating.program].append(rating)
    gaps = alumni_gap(session, wave_id)
    invited = [company for company in companies if company.invited]
    return {
        "ratings": len(ratings),
        "companies_answered": len(answers),
        "satisfaction": aspect_satisfaction(ratings),
        "satisfaction_by_program": satisfaction_by(ratings, lambda rating: rating.program),
        "satisfaction_by_sector": satisfaction_by(ratings, lambda rating: rating.sector),
        "hire_again": hire_again(ratings),
        "hire_again_by_program": {name: hire_again(group)
                                  for name, group in sorted(by_program.items())},
        "strengthen": {
            program: [{"competency": code, "companies": count,
                       "alumni_gap": gaps.get(program, {}).get(
                           code, {"value": None, "n": 0, "small_n": True})}
                      for code, count in ranked]
            for program, ranked in strengthen_ranking(answers).items()},
        "demand_by_sector": demand(answers, "sector"),
        "demand_by_city": demand(answers, "city"),
        "willingness": willingness(answers),
        "response_rate": {
            **employer_response_rate(len(invited),
                                     sum(company.answered for company in invited)),
            "invited": len(invited)},
        "sectors": {letter: name for letter, name in KBLI_SECTIONS.items()},
        "aspects": list(ASPECTS),
    }


def _blank(figure: dict[str, Any]) -> None:
    for key in HIDDEN:
        if key in figure:
            figure[key] = None
    if "answers" in figure:
        figure["answers"] = None
    figure["suppressed"] = True


def _suppress_groups(groups: list[dict[str, Any]]) -> None:
    """Primary (n below SMALL_N) and secondary (hidden groups together below SMALL_N: the
    smallest shown group too) suppression of one breakdown's figures."""
    for figure in groups:
        if figure["n"] < SMALL_N:
            _blank(figure)
    while True:
        hidden = sum(figure["n"] for figure in groups if figure.get("suppressed"))
        shown = sorted((figure for figure in groups if not figure.get("suppressed")),
                       key=lambda figure: figure["n"])
        if not 0 < hidden < SMALL_N or not shown:
            return
        _blank(shown[0])


def suppress(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as a role below admin sees them (in place, and returned)."""
    for aspect in ASPECTS:
        _suppress_groups([figures["satisfaction"][aspect]])
        for breakdown in ("satisfaction_by_program", "satisfaction_by_sector"):
            _suppress_groups([group[aspect] for group in figures[breakdown].values()])
    _suppress_groups([figures["hire_again"]])
    _suppress_groups(list(figures["hire_again_by_program"].values()))
    for ranked in figures["strengthen"].values():
        for row in ranked:
            if row["alumni_gap"]["small_n"]:
                row["alumni_gap"]["value"] = None
                row["alumni_gap"]["suppressed"] = True
    figures["suppressed"] = True
    return figures


def report_figures(session: Session, wave_id: int, unsuppressed: bool = False
                   ) -> dict[str, Any] | None:
    """The figures for the PDF and the workbook (suppressed unless the export is an admin's
    unsuppressed one); None when nobody could be asked and nobody answered, so the reports
    of a centre that does not run the employer survey have no empty chapter."""
    figures = employer_figures(session, wave_id)
    if not figures["ratings"] and not figures["response_rate"]["invited"] \
            and not figures["companies_answered"]:
        return None
    return figures if unsuppressed else suppress(figures)


__all__ = ["report_figures", "alumni_gap", "employer_figures", "share_figure", "suppress"]
