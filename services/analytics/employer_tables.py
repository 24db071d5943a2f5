"""The employer figures as titled tables of text: one wording for the dashboard section, the
PDF chapter and the XLSX sheet (services/analytics/employer_figures.py computes them).

`tables(figures, t, number)` takes the translation function of its reader: the dashboard
passes the request's gettext, the reports pass `indonesian()` (the reports are Indonesian,
and run in workers where no request chooses a language). A figure the small-group rule hid
reads "n < 5".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import Translations

from services.analytics import numbers
from services.analytics.employer_indicators import ASPECTS
from services.analytics.numbers import decimal, percent

SMALL_N_MARK = "n < 5"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "shared" / "translations"


def N_(message: str) -> str:
    """Marks a message for the catalog; the reader's `t` translates it."""
    return message


ASPECT_NAMES = {
    "integrity": N_("Integrity and work ethic"),
    "technical": N_("Technical skill in the trade"),
    "safety": N_("Occupational safety and health (K3)"),
    "tools_it": N_("Use of tools and information technology"),
    "communication": N_("Communication"),
    "teamwork": N_("Teamwork"),
    "discipline": N_("Discipline and attendance"),
    "learning": N_("Ability to learn and develop"),
}
ASPECT_SHORT = {
    "integrity": N_("Integrity"), "technical": N_("Technical"), "safety": "K3",
    "tools_it": N_("Tools/IT"), "communication": N_("Communic."), "teamwork": N_("Teamwork"),
    "discipline": N_("Discipline"), "learning": N_("Learning"),
}
# The f17 competencies by their A keys (the codes of blk-employer's emp_strengthen).
COMPETENCY_NAMES = {
    "f1761": N_("work ethic"), "f1763": N_("technical skill in the trade"),
    "f1765": N_("English"), "f1767": N_("information technology"),
    "f1769": N_("communication"), "f1771": N_("teamwork"), "f1773": N_("self-development"),
    "blk_k3_a": N_("occupational safety and health (K3)"),
    "blk_tools_a": N_("use of tools and machines"),
}
TRADE_NAMES = {"las": N_("Welding"), "otomotif": N_("Automotive"),
               "listrik": N_("Electrical"), "boga": N_("Culinary"),
               "ti": N_("Information technology"), "other": N_("Other trades")}


@dataclass
class EmployerTable:
    title: str
    head: list[str]
    rows: list[list[str]]
    note: str = ""
    widths: list[float] = field(default_factory=list)  # PDF millimetres, summing to ~180


@lru_cache(maxsize=1)
def _indonesian_catalog() -> Translations:
    return Translations.load(str(TRANSLATIONS), ["id"])


def indonesian(message: str, **values: Any) -> str:
    """`message` in Indonesian, outside any request (the reports)."""
    text = _indonesian_catalog().gettext(message)
    return text % values if values else text


def _whole(value: float, locale: str = "id") -> Any:
    return numbers.whole(value, locale=locale)


def _signed(value: float, digits: int = 1, locale: str = "id") -> Any:
    return numbers.signed(value, digits, locale=locale)


def share_text(figure: Mapping[str, Any], locale: str) -> str:
    """A share as the reader reads it ("75,0%"), "n < 5" when hidden, "–" without a base."""
    if figure.get("suppressed"):
        return SMALL_N_MARK
    if figure.get("value") is None:
        return "–"
    return f"{percent(figure['value'], 1, locale=locale)}"


_share_figure = share_text


def _interval(figure: Mapping[str, Any], locale: str) -> str:
    if figure.get("ci_low") is None or figure.get("ci_high") is None:
        return "–"
    return (f"{percent(figure['ci_low'], 1, locale=locale)}–"
            f"{percent(figure['ci_high'], 1, locale=locale)}")


def _mean_text(figure: Mapping[str, Any], locale: str) -> str:
    if figure.get("suppressed"):
        return SMALL_N_MARK
    return "–" if figure.get("mean") is None else decimal(figure["mean"], 2, locale=locale)


def sector_name(letter: str, figures: Mapping[str, Any], t: Callable[..., str]) -> str:
    if not letter:
        return t("Sector not recorded")
    name = figures.get("sectors", {}).get(letter)
    return f"{letter} · {t(name)}" if name else letter


def tables(figures: Mapping[str, Any], t: Callable[..., str], locale: str = "id", *,
           raw: bool = False) -> list[EmployerTable]:
    """Every employer figure as a table, in the order the chapter reads them. `raw`: shares,
    means and counts as numbers (a share 0-1, a float, an int) for a spreadsheet; a figure
    hidden by the small-group rule is still the text "n < 5"."""
    out: list[EmployerTable] = []
    if raw:
        def whole(value: float, locale: str = "id") -> Any:  # noqa: ARG001
            return int(value)

        def share_text(figure: Mapping[str, Any], locale: str) -> Any:  # noqa: ARG001
            if figure.get("suppressed"):
                return SMALL_N_MARK
            return figure.get("value")

        def _mean(figure: Mapping[str, Any], locale: str) -> Any:  # noqa: ARG001
            return SMALL_N_MARK if figure.get("suppressed") else figure.get("mean")

        def signed(value: float, digits: int = 1, locale: str = "id") -> Any:  # noqa: ARG001
            return value
    else:
        whole, share_text, _mean, signed = _whole, _share_figure, _mean_text, _signed
    rate = figures["response_rate"]
    out.append(EmployerTable(
        t("Employer response rate"),
        [t("Companies invited"), t("Companies that answered"), t("Response rate"),
         t("Interval") + " 95%"],
        [[whole(rate["invited"], locale=locale),
          whole(rate["count"] or 0, locale=locale) if rate.get("count") is not None else "–",
          share_text(rate, locale), _interval(rate, locale)]],
        t("A company is invited when an alumnus's consent that holds names one of its "
          "people; it answered when it gave the company questions."),
        [45, 45, 40, 50]))
    overall = figures["satisfaction"]
    out.append(EmployerTable(
        t("Satisfaction per aspect"),
        [t("Aspect"), t("Rated 3–4"), t("Interval") + " 95%", t("Mean (1–4)"), "n"],
        [[t(ASPECT_NAMES[aspect]), share_text(overall[aspect], locale),
          _interval(overall[aspect], locale), _mean(overall[aspect], locale),
          whole(overall[aspect]["n"], locale=locale)] for aspect in ASPECTS],
        t("Share of supervisors rating the alumnus 3 (good) or 4 (very good) on the 4-point "
          "scale; fewer than 5 ratings show no figure."),
        [70, 25, 40, 25, 20]))
    for key, title, name_of in (
            ("satisfaction_by_program", t("Satisfaction by program (rated 3–4)"),
             lambda group: group),
            ("satisfaction_by_sector", t("Satisfaction by sector (rated 3–4)"),
             lambda group: sector_name(group, figures, t))):
        groups = figures[key]
        out.append(EmployerTable(
            title, [t("Group"), "n", *(t(ASPECT_SHORT[aspect]) for aspect in ASPECTS)],
            [[name_of(group), whole(max((groups[group][aspect]["n"] for aspect in ASPECTS),
                                        default=0), locale=locale),
              *(share_text(groups[group][aspect], locale) for aspect in ASPECTS)]
             for group in groups],
            widths=[36, 12, *([16.5] * len(ASPECTS))]))
    hire_rows = []
    for name, figure in (("", figures["hire_again"]),
                         *figures["hire_again_by_program"].items()):
        answers = figure.get("answers") or {}
        hire_rows.append([name or t("All"), share_text(figure, locale),
                          *(whole(answers[answer], locale=locale) if answers else SMALL_N_MARK
                            for answer in ("yes", "maybe", "no")),
                          whole(figure["n"], locale=locale)])
    out.append(EmployerTable(
        t("Would hire another graduate of the program"),
        [t("Group"), t("Share yes"), t("Yes"), t("Maybe"), t("No"), "n"], hire_rows,
        t("\"Maybe\" counts in the base, not in the share."), [55, 25, 25, 25, 25, 25]))
    strengthen_rows = []
    for program, ranked in figures["strengthen"].items():
        for row in ranked:
            gap = row["alumni_gap"]
            gap_text = (SMALL_N_MARK if gap.get("suppressed") else None if raw and
                        gap["value"] is None else "–" if gap["value"] is None
                        else signed(gap["value"], 1, locale=locale))
            competency = t(COMPETENCY_NAMES.get(row["competency"], row["competency"]))
            strengthen_rows.append([program, competency[:1].upper() + competency[1:],
                                    whole(row["companies"], locale=locale), gap_text,
                                    whole(gap["n"], locale=locale)])
    out.append(EmployerTable(
        t("Competencies employers ask to strengthen, beside the alumni's own gap"),
        [t("Program"), t("Competency"), t("Companies naming it"),
         t("Alumni's gap (B − A)"), "n"], strengthen_rows,
        t("Companies count once per competency; the alumni's gap is what the job needs minus "
          "what the training gave, on their own 1–5 scale."), [40, 55, 30, 35, 20]))
    for key, title, head, name_of in (
            ("demand_by_sector", t("Workers needed in the next 12 months, by sector"),
             t("Sector"), lambda group: sector_name(group, figures, t)),
            ("demand_by_city", t("Workers needed in the next 12 months, by city"),
             t("City"), lambda group: group or t("City not recorded"))):
        out.append(EmployerTable(
            title, [head, t("Trade"), t("Workers")],
            [[name_of(group), t(TRADE_NAMES.get(trade, trade)), whole(count, locale=locale)]
             for group, trades in figures[key].items() for trade, count in trades.items()],
            widths=[80, 60, 40]))
    willing = figures["willingness"]
    out.append(EmployerTable(
        t("Companies willing to work with the centre"),
        [t("Question"), t("Share yes"), t("Companies that answered")],
        [[t("Host apprentices (pemagangan)"), share_text(willing["hosts_apprentices"], locale),
          whole(willing["hosts_apprentices"]["n"], locale=locale)],
         [t("Join the curriculum review"),
          share_text(willing["joins_curriculum_review"], locale),
          whole(willing["joins_curriculum_review"]["n"], locale=locale)]],
        widths=[90, 45, 45]))
    return out
