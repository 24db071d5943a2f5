"""The dashboard's decent-work table and the line saying which wages incomes were compared
with (docs/indicators.md, "Which minimum wage" and "Decent work"), in the reader's locale."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from services.analytics.dashboard_text import LEVEL, SMALL_N_MARK, Table, hidden, pct, whole

PRESET_LABELS = {"iku2": "IKU 2 (Kepmendiktisaintek 358/M/KEP/2025)", "blk": "BLK"}


def decent_table(overall: Mapping[str, Any]) -> Table | None:
    """One row per preset: mean weight, its interval, the weighted mean and its interval,
    n. None when no preset has been weighed (no minimum wage for the wave)."""
    presets = overall.get("decent_work") or {}
    if not any(node.get("n") or hidden(node) for node in presets.values()):
        return None
    rows = []
    for name, node in presets.items():
        label = PRESET_LABELS.get(name, name)
        if hidden(node) or (node["value"] is None and node.get("n")):
            rows.append([label, SMALL_N_MARK, "–", "–", "–", SMALL_N_MARK])
            continue
        rows.append([label, _value(node["value"]),
                     _interval(node.get("ci_low"), node.get("ci_high")),
                     _value(node.get("weighted")),
                     _interval(node.get("weighted_ci_low"), node.get("weighted_ci_high")),
                     whole(node["n"]) if node.get("n") is not None else SMALL_N_MARK])
    return Table([_("Rule"), _("Decent work"), f"{_('Interval')} {LEVEL}", _("Weighted"),
                  f"{_('Interval (weighted)')} {LEVEL}", "n"], rows)


def wage_cases_text(overall: Mapping[str, Any]) -> str | None:
    """ "Incomes compared with the UMK of the work city: 2; ..."; None when hidden or when
    every income met the centre's own wage (no work place asked)."""
    cases = overall.get("minimum_wage_applied")
    if not cases or cases.get("umk") is None or not (cases["umk"] or cases["ump"]):
        return None
    return _("Incomes compared with the UMK of the work city or regency: %(umk)s; with the "
             "UMP of the work province: %(ump)s; with the centre's own wage: %(centre)s.",
             umk=whole(cases["umk"]), ump=whole(cases["ump"]), centre=whole(cases["centre"]))


def _value(value: float | None) -> str:
    return pct(value) if value is not None else "–"


def _interval(low: float | None, high: float | None) -> str:
    return f"{pct(low)}–{pct(high)}" if low is not None and high is not None else "–"
