"""Indicator tables as CSV: one row per indicator (and code), with n, count and interval.

A figure the wave's questionnaire does not collect has empty numbers and `not_collected`
"true" (as the API's `"not_collected": true`): an empty figure is otherwise one the
small-group rule hid (`small_n` "true") or one with no case.

Text goes through `safe_cell` (formula injection). Numbers are written as numbers: they
come from the indicator maths, never from a person, and `safe_cell` would turn a negative
competency gap such as -0.5 into the text "'-0.5".
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from services.analytics.reports.content import ReportGroup
from shared.csvsafe import safe_cell

FIGURE_COLUMNS = ("value", "n", "count", "ci_low", "ci_high", "weighted", "small_n",
                  "mean_a", "mean_b", "not_collected")
COLUMNS = ("indicator", "code", *FIGURE_COLUMNS)
GROUP_COLUMNS = ("breakdown", "group", *COLUMNS)
# Tables of figures keyed by a code, in the order `compute` documents them.
_CODED = ("status_share", "competency_gap", "training_eval", "job_search_channels",
          "decent_work")  # decent work: one row per preset
_FIGURES = ("response_rate", "net_response_rate", "absorption_rate",
            "employed_within_6_months", "waiting_months_median", "waiting_months_mean",
            "income_median", "above_minimum_wage", "relevance_share", "local_absorption",
            "certificate_share")
_COUNTS = ("targets", "respondents", "unreachable", "employed", "status_answered")


def indicator_rows(indicators: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of one group's indicators (a `compute` result, through the small-group rule
    or not)."""
    for name in _COUNTS:
        yield {"indicator": name, "code": "", "count": indicators.get(name)}
    yield {"indicator": "weight_coverage", "code": "",
           "value": indicators.get("weight_coverage")}
    yield {"indicator": "minimum_wage", "code": "", "value": indicators.get("minimum_wage")}
    for code, count in indicators.get("dispositions", {}).items():
        yield {"indicator": "dispositions", "code": code, "count": count,
               "n": indicators.get("targets")}
    for name in _FIGURES:
        if name in indicators:
            yield {"indicator": name, "code": "", **_figures(indicators[name])}
    bins = indicators.get("waiting_bins", {})
    hidden = None in bins.values()  # the small-group rule hid them
    for label, count in bins.items():
        yield {"indicator": "waiting_bins", "code": label, "count": count,
               "n": None if hidden else sum(bins.values())}
    for name in _CODED:
        for code, figure in indicators.get(name, {}).items():
            yield {"indicator": name, "code": code, **_figures(figure)}


def rate_rows(rates: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The AAPOR rows, named as the indicators API names them (`ResponseRates.as_json`):
    rr1 … con1 and aapor_e as values, aapor_dispositions as counts per code,
    response_rate_by_mode as a value per mode."""
    for name, value in rates.items():
        if name == "aapor_e":
            yield {"indicator": name, "code": "", "value": value["value"]}
        elif name == "aapor_dispositions":
            for code, count in value.items():
                yield {"indicator": name, "code": code, "count": count}
        elif name == "response_rate_by_mode":
            for mode, rate in value.items():
                yield {"indicator": name, "code": mode, "value": rate}
        else:
            yield {"indicator": name, "code": "", "value": value}


def write_report_csv(groups: Iterable[ReportGroup], out: TextIO,
                     rates: Mapping[str, Any] | None = None) -> int:
    """Every group of a report in one CSV: the group's breakdown and name lead each row.
    `rates` (the API's AAPOR keys of the whole selection) follow the first group's rows,
    unless the small-group rule hides that group."""
    writer = csv.writer(out)
    writer.writerow(GROUP_COLUMNS)
    rows = 0
    for index, group in enumerate(groups):
        found = indicator_rows(group.indicators)
        if index == 0 and rates is not None and not group.indicators.get("suppressed"):
            found = itertools.chain(found, rate_rows(rates))
        for row in found:
            writer.writerow([_cell(group.breakdown), _cell(group.name),
                             *(_cell(row.get(column)) for column in COLUMNS)])
            rows += 1
    return rows


def _figures(node: Any) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    return {column: node[column] for column in FIGURE_COLUMNS if column in node}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    return safe_cell(value)
