"""The dashboard's AAPOR response rates and non-response bias check (figures and words).

The rates come from `response_rates` (the tables, read now), the bias check from the
snapshot's cells (`bias_checks`), both through the small-group rule as the page's other
figures: a hidden selection shows neither, a hidden category no share and no test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from services.analytics import charts, numbers
from services.analytics.aapor import CODES
from services.analytics.bias_checks import BreakdownCheck, bias_checks, verdict
from services.analytics.cells import Cell, CellKey
from services.analytics.dashboard_queries import Filters
from services.analytics.dashboard_text import (
    Figure,
    Table,
    one_decimal,
    pct,
    signed,
    whole,
)
from services.analytics.disclosure import Disclosure
from services.analytics.response_rates import (
    ResponseRates,
    current_response_rates,
    current_response_rates_by_program,
)

RATE_FORMULAS = (
    ("rr1", "RR1", "I / D"),
    ("rr2", "RR2", "(I + P) / D"),
    ("rr3", "RR3", "I / ((I + P) + (R + NC + O) + e·(UH + UO))"),
    ("rr4", "RR4", "(I + P) / ((I + P) + (R + NC + O) + e·(UH + UO))"),
    ("coop1", "COOP1", "I / ((I + P) + R + O)"),
    ("ref1", "REF1", "R / D"),
    ("con1", "CON1", "((I + P) + R + O) / D"),
)


def _rate(value: Fraction | None) -> str:
    return "–" if value is None else pct(float(value))


def disposition_names() -> dict[str, str]:
    return {"I": _("Complete"), "P": _("Partial"), "R": _("Refusal"),
            "NE": _("Not eligible"), "NC": _("Non-contact"), "O": _("Other"),
            "UO": _("Unknown: every channel failed"), "UH": _("Unknown: never reached")}


def mode_names() -> dict[str, str]:
    return {"web": _("Web (own link)"), "api": _("API"), "paper": _("Paper"),
            "phone": _("Phone"), "event": _("Event day")}


def e_basis_text(rates: ResponseRates) -> str:
    """How e was derived, in the reader's language, with the counts."""
    counts = rates.counts
    known = sum(counts[code] for code in ("I", "P", "R", "NC", "O"))
    if known + counts["NE"] == 0:
        return _("No target's eligibility is known yet, so every case of unknown eligibility "
                 "is counted as eligible (e = 1).")
    return _("e is the eligible share among the targets whose eligibility is known: "
             "%(eligible)s of %(known)s (not eligible: %(ne)s).",
             eligible=whole(known), known=whole(known + counts["NE"]), ne=whole(counts["NE"]))


def rates_tables(rates: ResponseRates) -> dict[str, Any]:
    """The "Tingkat respons (AAPOR)" table, the final dispositions, the rate by mode."""
    found = rates.rates
    rows = [[label, formula, _rate(getattr(found, name))] for name, label, formula
            in RATE_FORMULAS]
    rows.append(["e", "(I + P + R + NC + O) / (I + P + R + NC + O + NE)",
                 numbers.decimal(float(found.e), 3, locale=get_locale())
                 if found.e is not None else "–"])
    d = rates.d
    names, modes = disposition_names(), mode_names()
    return {
        "rates": Table([_("Rate"), _("Formula"), _("Value")], rows),
        "e_text": e_basis_text(rates),
        "dispositions": Table(
            [_("Final disposition"), "AAPOR", _("Count")],
            [[names[code], code, whole(rates.counts[code])] for code in CODES]
            + [["D", "I+P+R+NC+O+UH+UO", whole(d)]]),
        "by_mode": Table(
            [_("Mode"), _("Complete interviews"), _("Share of D")],
            [[modes.get(mode, mode), whole(count), _rate(rates.rate_by_mode[mode])]
             for mode, count in rates.completes_by_mode.items()]),
    }


def program_rates_table(by_program: Mapping[int, ResponseRates],
                        name_of: Callable[[int], str]) -> Table:
    """"Tingkat respons per kejuruan": where calls are most needed. One row per program
    given (those the small-group rule shows), by name."""
    rows = [[name_of(program_id), whole(rates.d), whole(rates.counts["I"]),
             whole(rates.counts["P"]), _rate(rates.rates.rr1), _rate(rates.rates.rr2),
             _rate(rates.rates.coop1), _rate(rates.rates.con1)]
            for program_id, rates in by_program.items()]
    rows.sort(key=lambda row: row[0].casefold())
    return Table([_("Program"), "D", "I", "P", "RR1", "RR2", "COOP1", "CON1"], rows)


def breakdown_names() -> dict[str, str]:
    return {"program": _("Program"), "cohort": _("Cohort"), "gender": _("Gender")}


def bias_figures(checks: Sequence[BreakdownCheck],
                 name_of: Callable[[str, str], str]) -> list[Figure]:
    """One chart and table per breakdown: respondents' share (bar) against the targets'
    share (diamond), the difference in points, and the chi-square test. A category the
    small-group rule hides is left out (its heading says one is)."""
    figures = []
    headings = breakdown_names()
    for check in checks:
        if check.single:  # one program (say): nothing to compare
            continue
        rows, bars = [], []
        categories = sorted(check.check.categories,
                            key=lambda category: name_of(check.by, category.name).casefold())
        for category in categories:
            if category.name in check.hidden:
                continue  # left out, as hidden programs are elsewhere on the page
            label = name_of(check.by, category.name)
            respondent = category.respondent_share
            difference = category.difference_points
            rows.append([label, pct(category.population_share),
                         pct(respondent) if respondent is not None else "–",
                         signed(difference) if difference is not None else "–"])
            bars.append(charts.Bar(
                label, respondent, marker=category.population_share,
                text=_("%(respondents)s of respondents, %(targets)s of targets",
                       respondents=pct(respondent) if respondent is not None else "–",
                       targets=pct(category.population_share))))
        title = _("Respondents and targets by %(breakdown)s",
                  breakdown=headings[check.by].lower())
        chart = charts.bar_chart(
            bars, chart_id=f"chart-bias-{check.by}", title=title,
            desc="; ".join(f"{row[0]}: {row[2]} / {row[1]}" for row in rows),
            legend=(charts.LegendItem(_("Respondents"), charts.BRAND),
                    charts.LegendItem(_("All targets"), charts.ORANGE, "diamond")))
        figures.append(Figure(chart, Table(
            [headings[check.by], _("Share of targets"), _("Share of respondents"),
             _("Difference (points)")], rows), heading=_test_text(check)))
    return figures


def _test_text(check: BreakdownCheck) -> str:
    heading = breakdown_names()[check.by]
    if check.hidden:
        return _("%(breakdown)s: no test shown (a group of fewer than 5 respondents).",
                 breakdown=heading)
    if not check.tested:
        return _("%(breakdown)s: nothing to test.", breakdown=heading)
    return _("%(breakdown)s: chi-square %(chi)s, df %(df)d, p = %(p)s.",
             breakdown=heading, chi=one_decimal(check.check.chi_square or 0.0),
             df=check.check.degrees_of_freedom, p=_p_text(check.check.p_value or 0.0))


def _p_text(p: float) -> str:
    locale = get_locale()
    if p < 0.001:
        return "< " + numbers.decimal(0.001, 3, locale=locale)
    return numbers.decimal(p, 3, locale=locale)


def weights_sentence(checks: Sequence[BreakdownCheck], absorption: Mapping[str, Any]) -> str:
    """The plain-language verdict: are the weights needed, and how far did they move the
    headline absorption rate."""
    said, differing = verdict(checks)
    names = breakdown_names()
    which = ", ".join(names[by].lower() for by in differing)
    opening = {
        "needed": _("The respondents differ from the targets by %(which)s (p < 0.05): read the "
                    "weighted figures, which correct for it.", which=which),
        "not_corrected": _("The respondents differ from the targets by %(which)s (p < 0.05), "
                           "which the weights (by program and cohort) do not correct: read "
                           "every figure with care.", which=which),
        "not_needed": _("The respondents do not differ significantly from the targets by "
                        "program, cohort or gender: the weights are not needed, though they "
                        "are shown."),
        "unknown": _("The respondents could not be compared with the targets in every "
                     "breakdown (small groups or no respondents yet)."),
    }[said]
    value, weighted = absorption.get("value"), absorption.get("weighted")
    if value is None or weighted is None:
        return opening
    return opening + " " + _(
        "The weights moved the absorption rate from %(unweighted)s to %(weighted)s "
        "(%(points)s points).", unweighted=pct(value), weighted=pct(weighted),
        points=signed(100 * (weighted - value)))


def rates_page(session: Session, wave_id: int, snapshot: Any, filters: Filters,
               chosen: Sequence[tuple[CellKey, Cell]], rule: Disclosure | None,
               absorption: Mapping[str, Any], names: Mapping[str, Mapping[int, str]],
               shown_programs: Sequence[int] = ()) -> dict[str, Any]:
    """What the page shows of the rates and the bias check (a selection the rule hides as
    a whole never gets here). `names`: "programs" and "cohorts", id → label.
    `shown_programs`: the programs the rule shows; with more than one and no program
    filter, their rates side by side."""
    rates = current_response_rates(session, wave_id, snapshot, program=filters.program,
                                   cohort=filters.cohort, gender=filters.gender)
    tables = rates_tables(rates)
    if filters.program is None and len(shown_programs) > 1:
        every = current_response_rates_by_program(session, wave_id, snapshot,
                                                  cohort=filters.cohort, gender=filters.gender)
        tables["by_program"] = program_rates_table(
            {pid: every[pid] for pid in shown_programs if pid in every},
            lambda pid: names["programs"].get(pid, f"#{pid}"))
    genders = {"L": _("Men"), "P": _("Women")}

    def name_of(by: str, key: str) -> str:
        if by == "gender":
            return genders.get(key, key)
        return names["programs" if by == "program" else "cohorts"].get(int(key), f"#{key}")

    checks = bias_checks(chosen, rule)
    return {"aapor": tables, "bias": bias_figures(checks, name_of),
            "bias_sentence": weights_sentence(checks, absorption)}
