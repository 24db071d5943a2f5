"""The summary tiles at the top of the dashboard: one figure each, with its n and interval.

A tile of an indicator the wave's questionnaire does not collect says so ("not collected by
this questionnaire") instead of a number; a tile the small-group rule hid shows the small-n
mark only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from services.analytics.cells import LOCAL_CODE
from services.analytics.dashboard_text import (
    LEVEL,
    SMALL_N_MARK,
    count_text,
    hidden,
    label_of,
    not_collected,
    not_collected_text,
    one_decimal,
    pct,
    rupiah,
    rupiah_short,
)
from shared.indicator_inputs import IndicatorInputs

Indicators = Mapping[str, Any]


@dataclass
class Tile:
    label: str
    value: str
    details: list[str]
    small: bool = False


def share_tile(label: str, share: Mapping[str, Any], *extra: str) -> Tile:
    if not_collected(share):
        return Tile(label, "–", [not_collected_text()], True)
    if hidden(share):
        return Tile(label, SMALL_N_MARK, [], True)
    small = share["value"] is None and bool(share.get("small_n")) and bool(share["n"])
    value = pct(share["value"]) if share["value"] is not None else (
        SMALL_N_MARK if small else "–")
    details = [count_text(share) if share.get("count") is not None else f"n = {share['n']}"]
    if share["value"] is not None and share.get("ci_low") is not None:
        details.append(_("%(level)s interval: %(low)s–%(high)s", level=LEVEL,
                         low=pct(share["ci_low"]), high=pct(share["ci_high"])))
    return Tile(label, value, details + [line for line in extra if line], small)


def statistic_tile(label: str, statistic: Mapping[str, Any], fmt: Callable[[float], str],
                   *extra: str) -> Tile:
    if not_collected(statistic):
        return Tile(label, "–", [not_collected_text()], True)
    if hidden(statistic):
        return Tile(label, SMALL_N_MARK, [], True)
    n = statistic["n"]
    small = statistic["value"] is None and bool(n)
    value = fmt(statistic["value"]) if statistic["value"] is not None else (
        SMALL_N_MARK if small else "–")
    return Tile(label, value, [f"n = {n}", *(line for line in extra if line)], small)


def months_text(value: float) -> str:
    return _("%(months)s months", months=one_decimal(value))


def tiles(overall: Indicators, answers: Mapping[str, str],
          inputs: IndicatorInputs) -> list[Tile]:
    """The summary tiles; "working locally" names the centre's town as the form labels it."""
    absorption = overall["absorption_rate"]
    weighted = absorption.get("weighted")
    income = overall["income_median"]["value"]
    return [
        share_tile(_("Response rate"), overall["response_rate"]),
        share_tile(_("Net response rate"), overall["net_response_rate"],
                   _("%(n)d unreachable excluded", n=overall["unreachable"])),
        share_tile(_("Absorption rate"), absorption,
                   _("weighted %(value)s", value=pct(weighted)) if weighted is not None else ""),
        share_tile(_("Employed within 6 months"), overall["employed_within_6_months"]),
        statistic_tile(_("Median waiting time"), overall["waiting_months_median"], months_text),
        statistic_tile(_("Median income"), overall["income_median"], rupiah_short,
                       rupiah(income) if income is not None else ""),
        share_tile(_("Earning at least the minimum wage"), overall["above_minimum_wage"]),
        share_tile(_("Work related to the training"), overall["relevance_share"]),
        share_tile(_("Working locally (%(place)s)",
                     place=label_of(answers, inputs.option_key("work_location", LOCAL_CODE)))
                   if "work_location" in inputs.collected else _("Working locally"),
                   overall["local_absorption"]),
        share_tile(_("With a competency certificate"), overall["certificate_share"]),
    ]
