"""The dashboard page of a wave: its tiles, charts and tables, from the snapshot's cells.

Every figure goes through the small-group rule of the wave's cells (`disclosure`); see
`dashboard` for what the page shows of a hidden group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from services.analytics import charts
from services.analytics.cells import (
    STATUS_CODES,
    Cell,
    CellKey,
)
from services.analytics.dashboard_decent import decent_table, wage_cases_text
from services.analytics.dashboard_queries import (
    Filters,
    cumulative_by_day,
    response_progress,
    trend_waves_statement,
)
from services.analytics.dashboard_rates import rates_page
from services.analytics.dashboard_text import (
    LEVEL,
    SMALL_N_MARK,
    Figure,
    Table,
    count_text,
    hidden,
    interval_text,
    label_of,
    n_text,
    one_decimal,
    pct,
    rupiah,
    rupiah_short,
    share_text,
    signed,
    statistic_text,
    whole,
    whole_percent,
)
from services.analytics.dashboard_tiles import months_text, tiles
from services.analytics.disclosure import Disclosure
from services.analytics.indicator_cache import entries_of
from services.analytics.indicators import WAITING_BINS, breakdown, compute
from services.analytics.inputs import wave_inputs
from services.analytics.reports.content import answer_labels
from services.analytics.snapshots import SnapshotView, read_snapshot
from services.analytics.wages import minimum_wage_of, wages_of_year, wave_year
from shared.indicator_inputs import INDICATOR_TITLES, IndicatorInputs
from shared.models import Questionnaire, Wave

# f8 codes in the colours of the status chart (Okabe–Ito; employed ones in blues).
STATUS_COLOURS = {1: charts.BLUE, 2: charts.PURPLE, 3: charts.SKY, 4: charts.GREEN,
                  5: charts.ORANGE}
WAITING_BIN_LABELS = {"<=3": "≤ 3", "4-6": "4–6", "7-12": "7–12", ">12": "> 12"}

Indicators = Mapping[str, Any]


@dataclass(frozen=True)
class TrendPoint:
    slug: str
    title: str
    indicators: Indicators


def wave_trend(session: Session, filters: Filters) -> list[TrendPoint]:
    """Each wave's overall indicators (filtered), from its current figures (read_snapshot),
    each through its own questionnaire's indicator inputs (a v1 and a v2 wave side by
    side); `_trend_figure` compares only the indicators every wave collects."""
    points = []
    for wave_id, slug, title in session.execute(trend_waves_statement()):
        snapshot = read_snapshot(session, wave_id)
        if snapshot is None:  # its snapshots were deleted meanwhile
            continue
        chosen = filters.of(snapshot.cells)
        points.append(TrendPoint(slug, title, _through_rule(
            _rule(session, wave_id, snapshot, filters), chosen,
            compute(chosen, minimum_wage=None, fpc=filters.fpc,
                    inputs=wave_inputs(session, wave_id)))))
    return points


def _rule(session: Session, wave_id: int, snapshot: SnapshotView,
          filters: Filters) -> Disclosure | None:
    """The small-group rule of a wave's cells; None when an admin asked for none. Kept in
    the app's indicator cache with the snapshot, as the API keeps it."""
    if filters.unsuppressed:
        return None
    return entries_of((str(session.get_bind().url), wave_id), snapshot.id).rule(
        snapshot.cells)


def _through_rule(rule: Disclosure | None, group: Iterable[tuple[CellKey, Cell]],
                  indicators: dict[str, Any]) -> dict[str, Any]:
    """A group's figures as the page may show them."""
    return indicators if rule is None else rule.suppress(indicators,
                                                          (key for key, _ in group))



def build_page(
    session: Session, wave: Wave, filters: Filters, *, timezone: str, locale: str
) -> dict[str, Any]:
    """Everything the template shows for one wave (plain data, charts as markup)."""
    snapshot = read_snapshot(session, wave.id)
    wage = minimum_wage_of(session, wave, timezone)
    page: dict[str, Any] = {"snapshot": snapshot, "minimum_wage": wage,
                            "wage_year": wave_year(wave, timezone)}
    if snapshot is None:
        return page
    questionnaire = session.get(Questionnaire, wave.questionnaire_id)
    answers = answer_labels(questionnaire.definition if questionnaire else None, locale)
    cells = snapshot.cells
    names = {int(key): name for key, name in snapshot.labels["programs"].items()}
    cohort_labels = {int(key): label for key, label in snapshot.labels["cohorts"].items()}

    def program_name(program_id: int) -> str:
        return names.get(program_id, f"#{program_id}")

    chosen = filters.of(cells)
    # Every wage of the year: each income meets the wage of where the alumnus works.
    minimum = wages_of_year(session, wave_year(wave, timezone)) if wage is not None else None
    rule = _rule(session, wave.id, snapshot, filters)
    inputs = wave_inputs(session, wave.id)

    def figures(group: list[tuple[CellKey, Cell]], **options: Any) -> dict[str, Any]:
        return _through_rule(rule, group, compute(group, **options, inputs=inputs))

    overall = figures(chosen, minimum_wage=minimum, fpc=filters.fpc)
    page.update(
        overall=overall,
        # The wave's n in the header is the whole wave's figure: hidden with it.
        wave_hidden=rule is not None and rule.hidden(key for key, _cell in cells),
        program_options=sorted(
            ((pid, program_name(pid)) for pid in {key.program_id for key, _cell in cells}),
            key=lambda option: option[1].casefold()),
        cohort_options=sorted(
            ((cohort_id, f"{program_name(pid)} · {cohort_labels.get(cohort_id, cohort_id)}")
             for pid, cohort_id in {(key.program_id, key.cohort_id) for key, _cell in cells}),
            key=lambda option: option[1].casefold()),
    )
    if hidden(overall):
        return page  # the template says why, and shows no figure
    every_program = breakdown(chosen, "program", minimum_wage=minimum, fpc=filters.fpc,
                              figures=figures)
    by_program = {int(program_id): indicators for program_id, indicators
                  in every_program.items() if not hidden(indicators)}
    page["hidden_programs"] = sorted(
        (program_name(int(program_id)) for program_id, indicators in every_program.items()
         if hidden(indicators)), key=str.casefold)
    groups: list[tuple[str, Indicators]] = [(_("Overall"), overall)]
    if len(every_program) > 1:
        groups += sorted(((program_name(pid), ind) for pid, ind in by_program.items()),
                         key=lambda group: group[0].casefold())

    lacking = set(overall["not_collected"])
    page.update(
        not_collected_names=[_(INDICATOR_TITLES[name]) for name in overall["not_collected"]],
        waiting_not_collected="waiting_bins" in lacking,
        weight_coverage_text=pct(overall["weight_coverage"])
        if overall["weight_coverage"] is not None else None,
        waiting_median_text=statistic_text(overall["waiting_months_median"], months_text),
        waiting_mean_text=statistic_text(overall["waiting_months_mean"], months_text),
        minimum_wage_text=rupiah(wage.amount) if wage is not None else None,
        tiles=tiles(overall, answers, inputs),
        progress=_progress_figure(session, wave, filters, overall, timezone),
        funnel=_funnel_figure(overall),
        # A figure of indicators the questionnaire does not collect is left out (None or
        # empty); the template says "not collected by this questionnaire" in its place.
        status=None if "status_share" in lacking else _status_figure(groups, answers, inputs),
        absorption=None if "absorption_rate" in lacking else _absorption_figure(groups),
        waiting=None if "waiting_bins" in lacking else _waiting_figure(overall),
        income=[] if "income_median" in lacking else _income_figures(groups, wage),
        decent=None if "decent_work" in lacking else decent_table(overall),
        decent_not_collected="decent_work" in lacking,
        wage_cases=None if "above_minimum_wage" in lacking else wage_cases_text(overall),
        competency=[] if "competency_gap" in lacking else _competency_figures(
            overall, by_program, program_name, answers, several=len(every_program) > 1),
        channels=None if "job_search_channels" in lacking else _channels_figure(
            overall, answers, inputs),
        training=None if "training_eval" in lacking else _training_figure(overall, answers),
        trend=_trend_figure(wave_trend(session, filters)),
    )
    # The cohorts by their program and label, as the filter names them.
    cohort_names = dict(page["cohort_options"])
    page.update(rates_page(session, wave.id, snapshot, filters, chosen, rule,
                           overall["absorption_rate"],
                           {"programs": names, "cohorts": cohort_names},
                           shown_programs=sorted(by_program)))
    return page


def _progress_figure(
    session: Session, wave: Wave, filters: Filters, overall: Indicators, timezone: str
) -> Figure | None:
    today = datetime.now(ZoneInfo(timezone)).date()
    series = cumulative_by_day(response_progress(session, wave.id, filters, timezone),
                               until=today if wave.status == "open" else None)
    if not series:
        return None
    targets = overall["targets"]
    last_day, total = series[-1]
    title = _("Complete responses, cumulative")
    chart = charts.line_chart(
        [format_date(day, "d MMM") for day, _count in series],
        [charts.Series(title, [count for _day, count in series], charts.BLUE)],
        chart_id="chart-progress", title=title,
        desc=_("%(count)d complete responses of %(n)d targets by %(day)s.", count=total,
               n=targets, day=format_date(last_day, "d MMMM y")),
        max_value=max(targets, total, 1), fmt=whole,
        reference=(targets, f"N = {targets}"), label_points="last",
    )
    rows, previous = [], 0
    for day, count in series:
        if count != previous or day == last_day:
            rows.append([format_date(day, "d MMM y"), whole(count - previous), whole(count),
                         pct(count / targets) if targets else "–"])
        previous = count
    table = Table([_("Date"), _("New"), _("Cumulative"), _("Share of N")], rows)
    return Figure(chart, table)


def _funnel_figure(overall: Indicators) -> Figure:
    dispositions = overall["dispositions"]
    targets = overall["targets"]
    # Contacted: every target but those never reached (UH) and the unreachable (U).
    contacted = targets - dispositions["unknown"] - dispositions["unreachable"]
    started = dispositions["complete"] + dispositions["partial"]
    steps = [(_("Targets"), targets), (_("Contacted"), contacted), (_("Started"), started),
             (_("Complete"), dispositions["complete"])]

    def of_n(count: int) -> float | None:
        return count / targets if targets else None

    rows = [charts.Bar(label, of_n(count),
                       text=f"N = {count}" if index == 0 else
                       f"{count} ({pct(of_n(count) or 0)})")
            for index, (label, count) in enumerate(steps)]
    chart = charts.bar_chart(
        rows, chart_id="chart-funnel", title=_("From targets to complete responses"),
        desc="; ".join(f"{label}: {count}" for label, count in steps), colour=charts.BLUE)
    outcomes = [
        (_("Complete"), "I", dispositions["complete"]),
        (_("Partial"), "P", dispositions["partial"]),
        (_("Refused"), "R", dispositions["refusal"]),
        (_("Contacted, no answer"), "NC", dispositions["non_contact"]),
        (_("Not reached yet"), "UH", dispositions["unknown"]),
        (_("Unreachable"), "U", dispositions["unreachable"]),
    ]
    table = Table([_("Disposition"), "AAPOR", _("Count"), _("Share of N")],
                  [[label, code, whole(count), pct(count / targets) if targets else "–"]
                   for label, code, count in outcomes])
    return Figure(chart, table)


def _status_figure(
    groups: Sequence[tuple[str, Indicators]], answers: Mapping[str, str],
    inputs: IndicatorInputs,
) -> Figure:
    labels = [label_of(answers, inputs.option_key("status", code)) for code in STATUS_CODES]
    series = [(label, STATUS_COLOURS[code]) for label, code in zip(labels, STATUS_CODES,
                                                                    strict=True)]
    rows = [charts.Stack(name, [ind["status_share"][str(code)]["count"] for code in STATUS_CODES],
                         ind["respondents"], suppressed=bool(ind["small_n"]))
            for name, ind in groups]
    chart = charts.stacked_bar(
        rows, series, chart_id="chart-status", title=_("Status by program"),
        desc="; ".join(
            f"{name}: " + ", ".join(
                f"{label} {ind['status_share'][str(code)]['count']}"
                for label, code in zip(labels, STATUS_CODES, strict=True))
            + f" (n = {ind['respondents']})" for name, ind in groups),
        suppressed_text=SMALL_N_MARK)
    table = Table(
        [_("Group"), *labels, "n"],
        [[name, *(_cell_share(ind["status_share"][str(code)]) for code in STATUS_CODES),
          whole(ind["respondents"])] for name, ind in groups])
    return Figure(chart, table)


def _cell_share(share: Mapping[str, Any]) -> str:
    count = share.get("count")
    if share["value"] is None:
        return f"{count}" if count is not None else "–"
    return f"{count} ({pct(share['value'])})"


def _absorption_figure(groups: Sequence[tuple[str, Indicators]]) -> Figure:
    rows = []
    for name, ind in groups:
        share = ind["absorption_rate"]
        rows.append(charts.Bar(name, share["value"], share["ci_low"], share["ci_high"],
                               share["n"], share_text(share), share["weighted"]))
    chart = charts.bar_chart(
        rows, chart_id="chart-absorption", title=_("Absorption rate by program"),
        desc="; ".join(f"{name}: {share_text(ind['absorption_rate'])}" for name, ind in groups),
        colour=charts.SKY,
        legend=[charts.LegendItem(_("unweighted, with its %(level)s interval", level=LEVEL),
                                  charts.SKY),
                charts.LegendItem(_("weighted"), charts.VERMILLION, "diamond")])
    table = Table(
        [_("Group"), _("Unweighted"), _("%(level)s interval", level=LEVEL), _("Weighted"),
         _("Count")],
        [[name, share_text(share), interval_text(share),
          pct(share["weighted"]) if share["weighted"] is not None else "–", count_text(share)]
         for name, share in ((name, ind["absorption_rate"]) for name, ind in groups)])
    return Figure(chart, table)


def _waiting_figure(overall: Indicators) -> Figure | None:
    if None in overall["waiting_bins"].values():
        return None  # suppressed: the template says "n < 5"
    bins = [(WAITING_BIN_LABELS.get(label, label), overall["waiting_bins"].get(label, 0))
            for label, _upper in WAITING_BINS]
    counted = sum(count for _label, count in bins)
    chart = charts.histogram(
        bins, chart_id="chart-waiting", title=_("Months until the first job"),
        desc="; ".join(f"{label}: {count}" for label, count in bins) + f" (n = {counted})",
        axis_label=_("months after the training (n = %(n)d)", n=counted))
    table = Table([_("Months"), _("Count")], [[label, whole(count)] for label, count in bins])
    return Figure(chart, table)


def _income_figures(
    groups: Sequence[tuple[str, Indicators]], wage: Any
) -> list[Figure]:
    medians = [(name, ind["income_median"]) for name, ind in groups]
    values = [median["value"] for _name, median in medians if median["value"] is not None]
    ceiling = charts.nice_ceiling(max([*values, wage.amount if wage else 0, 1]) * 1.05)
    reference = (wage.amount, _("minimum wage %(amount)s", amount=rupiah_short(wage.amount))
                 ) if wage is not None else None
    income_chart = charts.bar_chart(
        [charts.Bar(name, median["value"], n=median["n"],
                    text=statistic_text(median, rupiah_short)) for name, median in medians],
        chart_id="chart-income", title=_("Median monthly income by program"),
        desc="; ".join(f"{name}: {statistic_text(median, rupiah)}" for name, median in medians)
        + (f"; {reference[1]}" if reference else ""),
        max_value=ceiling, fmt=rupiah_short, colour=charts.BRAND, reference=reference)
    figures = [Figure(income_chart, Table(
        [_("Group"), _("Median income"), "n", _("Earning at least the minimum wage")],
        [[name, rupiah(ind["income_median"]["value"])
          if ind["income_median"]["value"] is not None else SMALL_N_MARK
          if ind["income_median"]["n"] or hidden(ind["income_median"]) else "–",
          n_text(ind["income_median"]), share_text(ind["above_minimum_wage"])]
         for name, ind in groups]))]
    if wage is not None:
        shares = [(name, ind["above_minimum_wage"]) for name, ind in groups]
        figures.append(Figure(charts.bar_chart(
            [charts.Bar(name, share["value"], share["ci_low"], share["ci_high"], share["n"],
                        share_text(share)) for name, share in shares],
            chart_id="chart-above-wage", title=_("Earning at least the minimum wage"),
            desc="; ".join(f"{name}: {share_text(share)}" for name, share in shares),
            colour=charts.SKY), heading=_("Earning at least the minimum wage")))
    return figures


def _competency_figures(
    overall: Indicators,
    by_program: Mapping[int, Indicators],
    program_name: Callable[[int], str],
    answers: Mapping[str, str],
    several: bool,
) -> list[Figure]:
    groups: list[tuple[str, str, Indicators]] = [("chart-gap", _("Overall"), overall)]
    if several:
        groups += sorted(((f"chart-gap-{pid}", program_name(pid), ind)
                          for pid, ind in by_program.items()),
                         key=lambda group: group[1].casefold())
    gaps = [abs(gap["value"]) for _id, _name, ind in groups
            for gap in ind["competency_gap"].values() if gap["value"] is not None]
    limit = max([1.0, *gaps])  # one scale for every chart, so they compare side by side
    legend = (charts.LegendItem(_("job needs more"), charts.VERMILLION),
              charts.LegendItem(_("training gave more"), charts.BLUE))
    figures = []
    for chart_id, name, ind in groups:
        rows, table_rows = [], []
        for a_key, gap in ind["competency_gap"].items():
            label = label_of(answers, a_key)
            rows.append(charts.Bar(label, gap["value"], n=gap["n"],
                                   text=statistic_text(gap, signed)))
            table_rows.append([
                label,
                *(one_decimal(gap[part]) if gap[part] is not None else "–"
                  for part in ("mean_a", "mean_b")),
                signed(gap["value"]) if gap["value"] is not None else (
                    SMALL_N_MARK if gap["n"] or hidden(gap) else "–"),
                n_text(gap),
            ])
        chart = charts.diverging_bar(
            rows, chart_id=chart_id, title=_("Competency gap: %(group)s", group=name),
            desc="; ".join(f"{row.label}: {row.text}" for row in rows), limit=limit,
            fmt=signed, positive=legend[0], negative=legend[1], legend=not figures)
        table = Table([_("Competency"), _("A: end of training"), _("B: job needs"),
                       _("Gap (B − A)"), "n"], table_rows)
        figures.append(Figure(chart, table, name))
    return figures


def _channels_figure(overall: Indicators, answers: Mapping[str, str],
                     inputs: IndicatorInputs) -> Figure:
    channels = [(label_of(answers, inputs.channel_key(code)), share)
                for code, share in overall["job_search_channels"].items()]
    channels.sort(key=lambda item: (-(item[1]["value"] or 0), -(item[1]["count"] or 0)))
    # Channels nobody used stay out of the chart (it is long on a phone), not the table.
    used = [(label, share) for label, share in channels if share["count"]] or channels
    chart = charts.bar_chart(
        [charts.Bar(label, share["value"], n=share["n"], text=share_text(share))
         for label, share in used],
        chart_id="chart-channels", title=_("Job-search channels"),
        desc="; ".join(f"{label}: {share_text(share)}" for label, share in channels))
    table = Table([_("Channel"), _("Share"), _("%(level)s interval", level=LEVEL), _("Count")],
                  [[label, share_text(share), interval_text(share), count_text(share)]
                   for label, share in channels])
    return Figure(chart, table)


def _training_figure(overall: Indicators, answers: Mapping[str, str]) -> Figure:
    items = [(label_of(answers, item), rating)
             for item, rating in overall["training_eval"].items()]
    chart = charts.bar_chart(
        [charts.Bar(label, rating["value"], n=rating["n"],
                    text=statistic_text(rating, one_decimal)) for label, rating in items],
        chart_id="chart-training", title=_("Rating of the training (1–5)"),
        desc="; ".join(f"{label}: {statistic_text(rating, one_decimal)}"
                       for label, rating in items),
        max_value=5, fmt=one_decimal, colour=charts.BRAND)
    return Figure(chart)


def _trend_figure(points: Sequence[TrendPoint]) -> Figure | None:
    """The response rate of every wave, and the absorption rate when every wave's
    questionnaire collects it: a trend compares only what all its waves share."""
    if not points:
        return None
    shared = not any("absorption_rate" in point.indicators.get("not_collected", ())
                     for point in points)
    names = [_("Absorption rate"), _("Response rate")] if shared else [_("Response rate")]
    keys = ["absorption_rate", "response_rate"] if shared else ["response_rate"]
    colours = [(charts.BLUE, False), (charts.ORANGE, True)] if shared else [(charts.ORANGE, True)]
    shares = [[point.indicators[key] for point in points] for key in keys]
    chart = charts.line_chart(
        [point.slug for point in points],
        [charts.Series(name, [share["value"] for share in series], colour, dashed=dashed)
         for name, series, (colour, dashed) in zip(names, shares, colours, strict=True)],
        chart_id="chart-trend", title=_("Trends across waves"),
        desc="; ".join(
            f"{point.slug}: " + ", ".join(
                f"{name} {share_text(series[index])}"
                for name, series in zip(names, shares, strict=True))
            for index, point in enumerate(points)),
        fmt=whole_percent)
    table = Table([_("Wave"), *names],
                  [[f"{point.title} ({point.slug})",
                    *(share_text(series[index]) for series in shares)]
                   for index, point in enumerate(points)])
    return Figure(chart, table)
