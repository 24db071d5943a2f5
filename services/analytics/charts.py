"""Charts as inline SVG drawn on the server: plain functions that return markup.

No script, no `style` attribute and no `<style>` element (the Content-Security-Policy
forbids them): colours are SVG presentation attributes, and dashboard.css scales the whole
drawing to its column through the viewBox. Every chart is `role="img"` with a `<title>` and
a `<desc>` naming its figures (the page adds a data table beside it). Every text that comes
from data (a program name, a label from the questionnaire) is escaped here, so a caller can
pass anything. Numbers arrive formatted by the caller (`text`, `fmt`): the charts know no
locale. Colours are the Okabe–Ito palette, told apart with colour blindness too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 360  # viewBox width: the drawing scales to its column, ~0.85 on a 360 px phone
FONT = 14
LINE = 17  # height of one line of text
CHAR = 0.56 * FONT  # average width of a character, for wrapping and fitting
BAR = 16

INK = "#1d2733"
MUTED = "#5b6776"
GRID = "#d9dee5"
TRACK_FILL = "#eef2f6"
BRAND = "#0b6e4f"
# Okabe–Ito
BLUE = "#0072B2"
SKY = "#56B4E9"
GREEN = "#009E73"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
DARK_FILLS = {BLUE, BRAND, INK, VERMILLION}  # white text on these, black on the others

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,60}$")


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart. `value` None: suppressed (small n) or no data; `text` is
    what the row says at its end (the caller formats it, e.g. "62,5% · n = 40")."""

    label: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    text: str | None = None
    marker: float | None = None  # a second value drawn as a diamond (e.g. weighted)


@dataclass(frozen=True)
class Stack:
    """One row of a stacked bar: counts per series, over `n` (e.g. respondents)."""

    label: str
    counts: Sequence[int]
    n: int
    text: str | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    colour: str = BLUE
    dashed: bool = False


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    shape: str = "box"  # box, diamond, line, dashed


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _check_id(chart_id: str) -> str:
    if not _ID.match(chart_id):
        raise ValueError(f"chart id {chart_id!r}: a letter, then letters, digits, - or _")
    return chart_id


def _text(
    x: float, y: float, content: object, *, anchor: str = "start", fill: str = INK,
    size: int | None = None, weight: str | None = None,
) -> str:
    extra = f' font-size="{size}"' if size else ""
    extra += f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f"{escape(content)}</text>")


def _wrap(text: str, width: float, max_lines: int = 2) -> list[str]:
    """Words into lines of at most `width` units; an overlong last line ends with …"""
    limit = max(4, int(width / CHAR))
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if len(candidate) <= limit or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: limit - 1].rstrip() + "…"
    return [line if len(line) <= limit else line[: limit - 1] + "…" for line in lines]


def _svg(chart_id: str, height: float, title: str, desc: str, body: list[str]) -> Markup:
    chart_id = _check_id(chart_id)
    labelled_by = f"{chart_id}-title" + (f" {chart_id}-desc" if desc else "")
    return Markup(
        f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" role="img" aria-labelledby="{labelled_by}" '
        f'font-size="{FONT}"><title id="{chart_id}-title">{escape(title)}</title>'
        + (f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' if desc else "")
        + "".join(body) + "</svg>"
    )


def _legend(items: Sequence[LegendItem], y: float) -> tuple[list[str], float]:
    """Legend entries flowing over lines; returns the parts and the height used."""
    parts: list[str] = []
    x, line = 0.0, 0
    for item in items:
        width = 22 + len(item.label) * CHAR + 14
        if x and x + width > WIDTH:
            x, line = 0.0, line + 1
        top = y + line * (LINE + 4)
        parts.append(_swatch(item, x, top + 3))
        parts.append(_text(x + 20, top + 14, item.label, fill=INK))
        x += width
    return parts, (line + 1) * (LINE + 4) + 4 if items else 0


def _swatch(item: LegendItem, x: float, y: float) -> str:
    if item.shape == "diamond":
        return _diamond(x + 7, y + 7, 6, item.colour)
    if item.shape in ("line", "dashed"):
        dash = ' stroke-dasharray="5 3"' if item.shape == "dashed" else ""
        return (f'<line x1="{_n(x)}" y1="{_n(y + 7)}" x2="{_n(x + 16)}" y2="{_n(y + 7)}" '
                f'stroke="{item.colour}" stroke-width="3"{dash}/>')
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="14" height="14" rx="2" '
            f'fill="{item.colour}"/>')


def _diamond(cx: float, cy: float, r: float, fill: str) -> str:
    corners = ((cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy))
    points = " ".join(f"{_n(x)},{_n(y)}" for x, y in corners)
    return f'<polygon points="{points}" fill="{fill}" stroke="#fff" stroke-width="1.5"/>'


def _row_head(label: str, text: str, y: float) -> tuple[list[str], float]:
    """A row's label at the left (wrapped) and its figures at the right, on one line."""
    text_width = len(text) * CHAR + 10
    lines = _wrap(label, WIDTH - text_width)
    parts = [_text(0, y + LINE * (index + 1) - 4, line) for index, line in enumerate(lines)]
    parts.append(_text(WIDTH, y + LINE - 4, text, anchor="end", weight="600"))
    return parts, LINE * len(lines) + 3


def _track_row(label: str, text: str, y: float, height: float = BAR) -> tuple[list[str], float]:
    """A row's head, then the empty track of its bar; returns the parts and the bar's top."""
    parts, head_height = _row_head(label, text, y)
    y += head_height
    parts.append(f'<rect x="0" y="{_n(y)}" width="{WIDTH}" height="{_n(height)}" rx="3" '
                 f'fill="{TRACK_FILL}"/>')
    return parts, y


def percent(value: float) -> str:
    """The default formatter: a share as a whole percent (callers pass a localised one)."""
    return f"{value * 100:.0f}%"


def _row_text(bar: Bar, fmt: Callable[[float], str]) -> str:
    if bar.text is not None:
        return bar.text
    shown = fmt(bar.value) if bar.value is not None else "–"
    return shown + (f" · n = {bar.n}" if bar.n is not None else "")


def bar_chart(
    rows: Sequence[Bar | tuple[object, ...]],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    max_value: float = 1.0,
    fmt: Callable[[float], str] = percent,
    colour: str = BRAND,
    reference: tuple[float, str] | None = None,
    legend: Sequence[LegendItem] = (),
) -> Markup:
    """Horizontal bars, one per row: its label and figures on a line, the bar below.

    Rows are `Bar`s or tuples (label, value, ci_low, ci_high, n[, text[, marker]]). An
    interval draws as a whisker with caps, `marker` as a diamond, `reference` (value, label)
    as a dashed vertical line over every bar. A row without a value draws an empty track.
    """
    bars = [row if isinstance(row, Bar) else Bar(*row) for row in rows]  # type: ignore[arg-type]
    scale = WIDTH / max_value if max_value > 0 else 0.0

    def x_of(value: float) -> float:
        return max(0.0, min(float(WIDTH), value * scale))

    parts, y = _legend(legend, 0)
    if reference is not None:
        # Its label on a line of its own; its line is drawn across each bar, not the labels.
        x = x_of(reference[0])
        anchor = "end" if x > WIDTH / 2 else "start"
        parts.append(_text(x + (-4 if anchor == "end" else 4), y + LINE - 4, reference[1],
                           anchor=anchor, size=13))
        y += LINE + 2
    for bar in bars:
        row, y = _track_row(str(bar.label), _row_text(bar, fmt), y)
        parts += row
        if bar.value is not None:
            parts.append(f'<rect x="0" y="{_n(y)}" width="{_n(x_of(bar.value))}" '
                         f'height="{BAR}" rx="3" fill="{colour}"/>')
        middle = y + BAR / 2
        if bar.value is not None and bar.ci_low is not None and bar.ci_high is not None:
            low, high = x_of(bar.ci_low), x_of(bar.ci_high)
            parts.append(
                f'<path d="M{_n(low)} {_n(middle)}H{_n(high)}M{_n(low)} {_n(middle - 7)}'
                f'V{_n(middle + 7)}M{_n(high)} {_n(middle - 7)}V{_n(middle + 7)}" '
                f'stroke="{INK}" stroke-width="1.8" fill="none"/>'
            )
        if bar.marker is not None and bar.value is not None:
            parts.append(_diamond(x_of(bar.marker), middle, 7, VERMILLION))
        if reference is not None:
            x = x_of(reference[0])
            parts.append(f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x)}" '
                         f'y2="{_n(y + BAR + 4)}" stroke="{INK}" stroke-width="2" '
                         f'stroke-dasharray="3 2"/>')
        y += BAR + 12
    return _svg(chart_id, max(y, 20), title, desc, parts)


def stacked_bar(
    rows: Sequence[Stack],
    series: Sequence[tuple[str, str]],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    suppressed_text: str = "n < 5",
) -> Markup:
    """One 100% bar per row, a segment per series (label, colour) of count / n.

    A segment wide enough carries its percent. A suppressed row (small n) draws no
    segments: its text says why, and the counts belong in the table beside the chart.
    """
    parts, y = _legend([LegendItem(label, colour) for label, colour in series], 0)
    height = BAR + 6
    for row in rows:
        text = row.text if row.text is not None else (
            f"{suppressed_text} · n = {row.n}" if row.suppressed else f"n = {row.n}")
        track, y = _track_row(row.label, text, y, height)
        parts += track
        x = 0.0
        if not row.suppressed and row.n:
            for count, (_label, colour) in zip(row.counts, series, strict=False):
                if not count:
                    continue
                width = WIDTH * count / row.n
                parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
                             f'height="{height}" fill="{colour}" stroke="#fff" '
                             f'stroke-width="1"/>')
                share = f"{100 * count / row.n:.0f}%"
                if width >= len(share) * CHAR * 0.9 + 6:
                    parts.append(_text(x + width / 2, y + height - 6, share, anchor="middle",
                                       fill="#fff" if colour in DARK_FILLS else "#000",
                                       size=12))
                x += width
        y += height + 12
    return _svg(chart_id, max(y, 20), title, desc, parts)


def histogram(
    bins: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    axis_label: str = "",
    colour: str = BRAND,
) -> Markup:
    """Vertical bars of counts per bin, each with its count above it."""
    height, top, bottom = 210.0, 24.0, 44.0
    plot = height - top - bottom
    largest = max((count for _, count in bins), default=0) or 1
    slot = WIDTH / max(len(bins), 1)
    parts = [f'<line x1="0" y1="{_n(top + plot)}" x2="{WIDTH}" y2="{_n(top + plot)}" '
             f'stroke="{GRID}" stroke-width="1.5"/>']
    for index, (label, count) in enumerate(bins):
        bar_height = plot * count / largest
        x = index * slot + slot * 0.15
        parts.append(f'<rect x="{_n(x)}" y="{_n(top + plot - bar_height)}" '
                     f'width="{_n(slot * 0.7)}" height="{_n(bar_height)}" rx="3" fill="{colour}"/>')
        parts.append(_text(x + slot * 0.35, top + plot - bar_height - 6, count,
                           anchor="middle", weight="600"))
        parts.append(_text(x + slot * 0.35, top + plot + 18, label, anchor="middle"))
    if axis_label:
        parts.append(_text(WIDTH / 2, height - 4, axis_label, anchor="middle", fill=MUTED,
                           size=13))
    return _svg(chart_id, height, title, desc, parts)


def diverging_bar(
    rows: Sequence[Bar | tuple[object, ...]],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    limit: float | None = None,
    fmt: Callable[[float], str] = lambda value: f"{value:+.1f}",
    positive: LegendItem | None = None,
    negative: LegendItem | None = None,
    legend: bool = True,
) -> Markup:
    """Bars to the right of a centre line for positive values, to the left for negative.

    For competency gaps: value = mean B − mean A, positive (the job needs more) drawn in
    the `positive` colour. `limit` fixes the half-scale (default: the largest |value|,
    at least 1), so charts side by side can share a scale; small multiples after the
    first may leave out the legend (`legend=False`).
    """
    bars = [row if isinstance(row, Bar) else Bar(*row) for row in rows]  # type: ignore[arg-type]
    values = [abs(bar.value) for bar in bars if bar.value is not None]
    half_scale = limit or max([1.0, *values])
    centre = WIDTH / 2
    plus = positive or LegendItem("+", VERMILLION)
    minus = negative or LegendItem("−", BLUE)
    parts, y = _legend([minus, plus], 0) if legend else ([], 0.0)
    for bar in bars:
        row, y = _track_row(str(bar.label), _row_text(bar, fmt), y)
        parts += row
        if bar.value is not None and bar.value != 0:
            width = min(centre, abs(bar.value) / half_scale * centre)
            x = centre if bar.value > 0 else centre - width
            fill = plus.colour if bar.value > 0 else minus.colour
            parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
                         f'height="{BAR}" fill="{fill}"/>')
        # The zero line, drawn per bar so that it never crosses a label.
        parts.append(f'<line x1="{_n(centre)}" y1="{_n(y - 3)}" x2="{_n(centre)}" '
                     f'y2="{_n(y + BAR + 3)}" stroke="{INK}" stroke-width="1.5"/>')
        y += BAR + 12
    return _svg(chart_id, max(y, 20), title, desc, parts)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    desc: str = "",
    max_value: float = 1.0,
    fmt: Callable[[float], str] = percent,
    reference: tuple[float, str] | None = None,
    label_points: str = "all",
    max_x_labels: int = 5,
) -> Markup:
    """Lines over categories spaced evenly (waves, or consecutive days).

    A None value breaks the line. `label_points`: "all" writes every point's value,
    "last" only each series' last one. `reference` (value, label) draws a dashed
    horizontal line, e.g. the population N a cumulative count runs against.
    """
    legend = [LegendItem(item.label, item.colour, "dashed" if item.dashed else "line")
              for item in series]
    parts, legend_height = _legend(legend if len(series) > 1 else [], 0)
    left, right, top = 44.0, 24.0, legend_height + 14
    height = top + 170 + 40
    plot_height, plot_width = 170.0, WIDTH - left - right
    count = len(x_labels)
    ceiling = max_value if max_value > 0 else 1.0

    def x_of(index: int) -> float:
        return left + (plot_width * index / (count - 1) if count > 1 else plot_width / 2)

    def y_of(value: float) -> float:
        return top + plot_height - plot_height * min(max(value, 0.0), ceiling) / ceiling

    for tick in (0.0, 0.5, 1.0):
        y = y_of(tick * ceiling)
        parts.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_width)}" '
                     f'y2="{_n(y)}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(left - 6, y + 5, fmt(tick * ceiling), anchor="end", fill=MUTED,
                           size=12))
    if reference is not None:
        y = y_of(reference[0])
        parts.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_width)}" '
                     f'y2="{_n(y)}" stroke="{INK}" stroke-width="1.5" stroke-dasharray="5 3"/>')
        parts.append(_text(left + plot_width, y - 5, reference[1], anchor="end", size=13))
    shown = _spread(count, max_x_labels)
    room = WIDTH / max(len(shown), 1) - 6
    for index in shown:
        # The outer labels lean inwards so they stay inside the drawing.
        anchor, x = "middle", x_of(index)
        if count > 1 and index == 0:
            anchor, x = "start", x - 12
        elif count > 1 and index == count - 1:
            anchor, x = "end", x + 12
        label = _wrap(x_labels[index], room, max_lines=1)[0]
        parts.append(_text(x, top + plot_height + 20, label, anchor=anchor, size=12))
    for number, item in enumerate(series):
        points = [(x_of(index), y_of(value), value) for index, value in enumerate(item.values)
                  if value is not None]
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(item.values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((x_of(index), y_of(value)))
        dash = ' stroke-dasharray="6 4"' if item.dashed else ""
        for run in runs:
            if len(run) > 1:
                path = "M" + "L".join(f"{_n(x)} {_n(y)}" for x, y in run)
                parts.append(f'<path d="{path}" fill="none" stroke="{item.colour}" '
                             f'stroke-width="2.5"{dash}/>')
        labelled = points if label_points == "all" else points[-1:]
        for x, y, _value in points:
            if number % 2:
                parts.append(f'<rect x="{_n(x - 4.5)}" y="{_n(y - 4.5)}" width="9" height="9" '
                             f'fill="{item.colour}" stroke="#fff" stroke-width="1"/>')
            else:
                parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="4.5" fill="{item.colour}" '
                             f'stroke="#fff" stroke-width="1"/>')
        for x, y, value in labelled:
            above = number % 2 == 0
            parts.append(_text(min(max(x, left + 14), left + plot_width - 14),
                               y - 9 if above else y + 20, fmt(value), anchor="middle",
                               size=12, weight="600"))
    return _svg(chart_id, height, title, desc, parts)


def _spread(count: int, most: int) -> list[int]:
    """Indexes of at most `most` labels, evenly spread, first and last included."""
    if count <= most:
        return list(range(count))
    step = (count - 1) / (most - 1)
    return sorted({round(step * index) for index in range(most)})


def nice_ceiling(value: float) -> float:
    """A round number at or above value (1, 1.2, 1.5, 2, … 8 × 10^k), for an axis maximum."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * power:
            return step * power
    return 10 * power
