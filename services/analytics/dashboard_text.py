"""Figures as the dashboard writes them, in the reader's locale (`numbers` underneath).

The page's own words around a number ("n = 40", the small-group mark, "12 of 40") live
here; the digits come from `services.analytics.numbers`, shared with the PDF and workbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from services.analytics import numbers

SMALL_N_MARK = "n < 5"
LEVEL = "95%"


@dataclass
class Table:
    head: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    """A chart with the table of its numbers (and a heading above it)."""

    chart: Markup
    table: Table | None = None
    heading: str | None = None


def label_of(answer_labels: Mapping[str, str], key: str) -> str:
    """The form's label for "f8.1" (an option) or "f1761" (a matrix row), from
    `reports.content.answer_labels`; an unknown code shows as itself."""
    return answer_labels.get(key) or key.rsplit(".", 1)[-1]


def hidden(node: Mapping[str, Any]) -> bool:
    """Whether the small-group rule hid this figure."""
    return bool(node.get("suppressed"))


def not_collected(node: Mapping[str, Any]) -> bool:
    """Whether the wave's questionnaire does not collect this figure's inputs."""
    return bool(node.get("not_collected"))


def not_collected_text() -> str:
    return _("not collected by this questionnaire")


def n_text(node: Mapping[str, Any]) -> str:
    return SMALL_N_MARK if node.get("n") is None else whole(node["n"])


# --- numbers in the reader's locale: `numbers` with the request's locale bound ----------------


def pct(value: float) -> str:
    return numbers.percent(value, 1, locale=get_locale())


def whole(value: float) -> str:
    return numbers.whole(value, locale=get_locale())


def one_decimal(value: float) -> str:
    return numbers.decimal(value, 1, locale=get_locale())


def signed(value: float) -> str:
    return numbers.signed(value, 1, locale=get_locale())


def rupiah(value: float) -> str:
    return numbers.rupiah(value, locale=get_locale())


def rupiah_short(value: float) -> str:
    return numbers.rupiah_short(value, locale=get_locale())


def whole_percent(value: float) -> str:
    return numbers.percent(value, 0, locale=get_locale())


def share_text(share: Mapping[str, Any]) -> str:
    """A share with its n; the small-n mark alone when suppressed."""
    if not_collected(share):
        return not_collected_text()
    if hidden(share):
        return SMALL_N_MARK
    n = share["n"]
    if share["value"] is not None:
        return f"{pct(share['value'])} · n = {n}"
    if share.get("count") is not None and n and share.get("small_n"):
        return f"{SMALL_N_MARK} · {share['count']}/{n}"
    if share.get("small_n") and n:
        return f"{SMALL_N_MARK} · n = {n}"
    return f"– · n = {n}"


def statistic_text(statistic: Mapping[str, Any], fmt: Callable[[float], str]) -> str:
    if not_collected(statistic):
        return not_collected_text()
    if hidden(statistic):
        return SMALL_N_MARK
    n = statistic["n"]
    if statistic["value"] is not None:
        return f"{fmt(statistic['value'])} · n = {n}"
    return f"{SMALL_N_MARK} · n = {n}" if n else "– · n = 0"


def interval_text(share: Mapping[str, Any]) -> str:
    if share.get("ci_low") is None or share.get("ci_high") is None or share["value"] is None:
        return "–"
    return f"{pct(share['ci_low'])}–{pct(share['ci_high'])}"


def count_text(share: Mapping[str, Any]) -> str:
    if not_collected(share):
        return not_collected_text()
    if hidden(share):
        return SMALL_N_MARK
    if share.get("count") is None:
        return f"– / {share['n']}"
    return _("%(count)s of %(n)s", count=share["count"], n=share["n"])

