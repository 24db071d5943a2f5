"""The staff dashboard of a wave: its indicators, filtered, as server-drawn SVG charts.

`GET /` shows the newest snapshot of the chosen wave (the indicators of docs/indicators.md,
computed from its cells by `indicators`), the response progress and the cross-wave trend,
which two small statements below read. `POST /refresh` asks the worker for a full refresh.
Labels of answer codes come from the wave's questionnaire definition as stored in the
`questionnaires` table: analytics reads the table, it does not import the survey service.

Every figure goes through the small-group rule of the wave's cells (`disclosure`): a group
or figure over fewer than 5 respondents, or one from which such a figure could be worked
out, shows no number and says "n < 5" (these pages end up on projectors, and a viewer may
filter down to one person). A selection hidden as a whole shows nothing but a notice; hidden
programs are left out of the charts and named below them. An admin sees the figures
unsuppressed only with `unsuppressed=1`, which is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_compact_decimal
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_datetime, format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from kombu.exceptions import OperationalError
from markupsafe import Markup
from sqlalchemy import Date, Select, and_, cast, func, select
from sqlalchemy.orm import Session

from services.analytics import charts, disclosure
from services.analytics.cells import (
    COMPETENCIES,
    JOB_SEARCH_CHANNELS,
    STATUS_CODES,
    TRAINING_EVAL_ITEMS,
    Cell,
    CellKey,
)
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import WAITING_BINS, breakdown, compute
from services.analytics.indicators import select as select_cells
from services.analytics.refresh import minimum_wage_of, wave_year
from services.analytics.reports.content import answer_labels
from services.analytics.snapshots import read_snapshot
from shared import auth, db
from shared.db import is_postgres
from shared.models import IndicatorSnapshot, Questionnaire, Response, Wave, WaveTarget
from shared.web import filter_id

log = logging.getLogger(__name__)
bp = Blueprint("dashboard", __name__)

GENDERS = ("L", "P")
REFRESH_TASK = "analytics.refresh"
SMALL_N_MARK = "n < 5"
LEVEL = "95%"
# f8 codes in the colours of the status chart (Okabe–Ito; employed ones in blues).
STATUS_COLOURS = {1: charts.BLUE, 2: charts.PURPLE, 3: charts.SKY, 4: charts.GREEN,
                  5: charts.ORANGE}
WAITING_BIN_LABELS = {"<=3": "≤ 3", "4-6": "4–6", "7-12": "7–12", ">12": "> 12"}
LOCAL_CODE = "1"  # f5a2 = 1: the centre's own town (local_absorption)

Indicators = Mapping[str, Any]
KeyedCells = list[tuple[CellKey, Cell]]


# --- request parameters -----------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters; anything unreadable in the query is no filter."""

    program: int | None = None
    cohort: int | None = None
    gender: str | None = None
    fpc: bool = False
    unsuppressed: bool = False  # admins only, audited (index)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        gender = args.get("gender") or None
        return cls(
            program=filter_id(args.get("program"), "program"),
            cohort=filter_id(args.get("cohort"), "cohort"),
            gender=gender if gender in GENDERS else None,
            fpc=args.get("fpc") == "1",
            unsuppressed=args.get("unsuppressed") == "1",
        )

    def of(self, cells: Iterable[tuple[CellKey, Cell]]) -> KeyedCells:
        return select_cells(cells, program=self.program, cohort=self.cohort, gender=self.gender)

    def target_conditions(self, targets: Any) -> list[Any]:
        """The same filters on the `wave_targets` table, for SQL."""
        conditions = []
        if self.program is not None:
            conditions.append(targets.c.program_id == self.program)
        if self.cohort is not None:
            conditions.append(targets.c.cohort_id == self.cohort)
        if self.gender is not None:
            conditions.append(targets.c.gender == self.gender)
        return conditions

    def as_args(self) -> dict[str, str]:
        args = {"program": self.program, "cohort": self.cohort, "gender": self.gender,
                "fpc": "1" if self.fpc else None,
                "unsuppressed": "1" if self.unsuppressed else None}
        return {name: str(value) for name, value in args.items() if value is not None}


# --- labels from the questionnaire definition ---------------------------------------------


def label_of(answer_labels: Mapping[str, str], key: str) -> str:
    """The form's label for "f8.1" (an option) or "f1761" (a matrix row), from
    `reports.content.answer_labels`; an unknown code shows as itself."""
    return answer_labels.get(key) or key.rsplit(".", 1)[-1]


# --- SQL: response progress and the cross-wave trend ---------------------------------------


def local_day(column: Any, *, postgres: bool, timezone: str) -> Any:
    """The calendar day of a stored UTC time in the centre's time zone, as SQL.

    SQLite has no time zones: it shifts by the zone's current UTC offset, which is exact
    for Indonesia's zones (no daylight saving time).
    """
    if postgres:
        return cast(func.timezone(timezone, column), Date)
    offset = datetime.now(ZoneInfo(timezone)).utcoffset() or timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def progress_statement(
    wave_id: int, filters: Filters, *, postgres: bool, timezone: str
) -> Select[Any]:
    """Complete responses of the wave's (filtered) targets per local day of submission.

    Grouped in an outer query over a derived day column, so that PostgreSQL sees one
    expression (a grouped expression with its own bound time-zone parameter would not be).
    """
    responses, targets = Response.__table__, WaveTarget.__table__
    days = (
        select(local_day(responses.c.submitted_at, postgres=postgres, timezone=timezone)
               .label("day"))
        .select_from(responses.join(targets, and_(
            targets.c.wave_id == responses.c.wave_id,
            targets.c.alumnus_id == responses.c.alumnus_id,
        )))
        .where(responses.c.wave_id == wave_id, responses.c.status == "complete",
               responses.c.submitted_at.is_not(None), *filters.target_conditions(targets))
        .subquery("submitted")
    )
    return (select(days.c.day, func.count().label("responses"))
            .group_by(days.c.day).order_by(days.c.day))


def response_progress(
    session: Session, wave_id: int, filters: Filters, timezone: str
) -> list[tuple[date, int]]:
    statement = progress_statement(wave_id, filters, postgres=is_postgres(session),
                                   timezone=timezone)
    return [(_as_date(day), int(count)) for day, count in session.execute(statement)]


def _as_date(value: Any) -> date:
    # PostgreSQL answers a date, SQLite the text YYYY-MM-DD.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def cumulative_by_day(
    daily: Iterable[tuple[date, int]], until: date | None = None
) -> list[tuple[date, int]]:
    """Running totals for every day from the first one with a count to the last (or to
    `until`, e.g. today while the wave is open); days without counts carry the total on."""
    counts = dict(daily)
    if not counts:
        return []
    day, last = min(counts), max(counts)
    if until is not None and until > last:
        last = until
    series: list[tuple[date, int]] = []
    total = 0
    while day <= last:
        total += counts.get(day, 0)
        series.append((day, total))
        day += timedelta(days=1)
    return series


def trend_waves_statement() -> Select[Any]:
    """Every wave with a snapshot, oldest wave first."""
    waves = Wave.__table__
    return (
        select(waves.c.id, waves.c.slug, waves.c.title)
        .where(select(IndicatorSnapshot.id).where(IndicatorSnapshot.wave_id == waves.c.id)
               .exists())
        .order_by(func.coalesce(waves.c.opened_at, waves.c.created_at), waves.c.id)
    )


@dataclass(frozen=True)
class TrendPoint:
    slug: str
    title: str
    indicators: Indicators


def wave_trend(session: Session, filters: Filters) -> list[TrendPoint]:
    """Each wave's overall indicators (filtered), from its current figures (read_snapshot)."""
    points = []
    for wave_id, slug, title in session.execute(trend_waves_statement()):
        snapshot = read_snapshot(session, wave_id)
        if snapshot is None:  # its snapshots were deleted meanwhile
            continue
        chosen = filters.of(snapshot.cells)
        points.append(TrendPoint(slug, title, _through_rule(
            _rule(session, wave_id, snapshot.cells, filters), chosen,
            compute(chosen, minimum_wage=None, fpc=filters.fpc))))
    return points


def _rule(session: Session, wave_id: int, cells: list[tuple[CellKey, Cell]],
          filters: Filters) -> Disclosure | None:
    """The small-group rule of a wave's cells; None when an admin asked for none."""
    return None if filters.unsuppressed else disclosure.of_cells(
        cells, wave=(str(session.get_bind().url), wave_id))


def _through_rule(rule: Disclosure | None, group: Iterable[tuple[CellKey, Cell]],
                  indicators: dict[str, Any]) -> dict[str, Any]:
    """A group's figures as the page may show them."""
    return indicators if rule is None else rule.suppress(indicators,
                                                          (key for key, _ in group))


def _hidden(node: Mapping[str, Any]) -> bool:
    return bool(node.get("suppressed"))


def n_text(node: Mapping[str, Any]) -> str:
    return SMALL_N_MARK if node.get("n") is None else whole(node["n"])


# --- numbers as the page writes them ------------------------------------------------------


def pct(value: float) -> str:
    return format_percent(value, "#,##0.0%")


def whole(value: float) -> str:
    return format_decimal(value, "#,##0")


def one_decimal(value: float) -> str:
    return format_decimal(value, "#,##0.0")


def signed(value: float) -> str:
    return format_decimal(value, "+#,##0.0;−#,##0.0")


def rupiah(value: float) -> str:
    return "Rp " + format_decimal(value, "#,##0")


def rupiah_short(value: float) -> str:
    return "Rp " + format_compact_decimal(value, locale=str(get_locale()), fraction_digits=2)


def share_text(share: Mapping[str, Any]) -> str:
    """A share with its n; the small-n mark alone when suppressed."""
    if _hidden(share):
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
    if _hidden(statistic):
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
    if _hidden(share):
        return SMALL_N_MARK
    if share.get("count") is None:
        return f"– / {share['n']}"
    return _("%(count)s of %(n)s", count=share["count"], n=share["n"])


# --- the page ------------------------------------------------------------------------------


@dataclass
class Table:
    head: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    chart: Markup
    table: Table | None = None
    heading: str | None = None


@dataclass
class Tile:
    label: str
    value: str
    details: list[str]
    small: bool = False


def _share_tile(label: str, share: Mapping[str, Any], *extra: str) -> Tile:
    if _hidden(share):
        return Tile(label, SMALL_N_MARK, [], True)
    small = share["value"] is None and bool(share.get("small_n")) and bool(share["n"])
    value = pct(share["value"]) if share["value"] is not None else (
        SMALL_N_MARK if small else "–")
    details = [count_text(share) if share.get("count") is not None else f"n = {share['n']}"]
    if share["value"] is not None and share.get("ci_low") is not None:
        details.append(_("%(level)s interval: %(low)s–%(high)s", level=LEVEL,
                         low=pct(share["ci_low"]), high=pct(share["ci_high"])))
    return Tile(label, value, details + [line for line in extra if line], small)


def _statistic_tile(label: str, statistic: Mapping[str, Any], fmt: Callable[[float], str],
                    *extra: str) -> Tile:
    if _hidden(statistic):
        return Tile(label, SMALL_N_MARK, [], True)
    n = statistic["n"]
    small = statistic["value"] is None and bool(n)
    value = fmt(statistic["value"]) if statistic["value"] is not None else (
        SMALL_N_MARK if small else "–")
    return Tile(label, value, [f"n = {n}", *(line for line in extra if line)], small)


def _months(value: float) -> str:
    return _("%(months)s months", months=one_decimal(value))


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
    minimum = wage.amount if wage is not None else None
    rule = _rule(session, wave.id, cells, filters)

    def figures(group: list[tuple[CellKey, Cell]], **options: Any) -> dict[str, Any]:
        return _through_rule(rule, group, compute(group, **options))

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
    if _hidden(overall):
        return page  # the template says why, and shows no figure
    every_program = breakdown(chosen, "program", minimum_wage=minimum, fpc=filters.fpc,
                              figures=figures)
    by_program = {int(program_id): indicators for program_id, indicators
                  in every_program.items() if not _hidden(indicators)}
    page["hidden_programs"] = sorted(
        (program_name(int(program_id)) for program_id, indicators in every_program.items()
         if _hidden(indicators)), key=str.casefold)
    groups: list[tuple[str, Indicators]] = [(_("Overall"), overall)]
    if len(every_program) > 1:
        groups += sorted(((program_name(pid), ind) for pid, ind in by_program.items()),
                         key=lambda group: group[0].casefold())

    page.update(
        weight_coverage_text=pct(overall["weight_coverage"])
        if overall["weight_coverage"] is not None else None,
        waiting_median_text=statistic_text(overall["waiting_months_median"], _months),
        waiting_mean_text=statistic_text(overall["waiting_months_mean"], _months),
        minimum_wage_text=rupiah(wage.amount) if wage is not None else None,
        tiles=_tiles(overall, answers),
        progress=_progress_figure(session, wave, filters, overall, timezone),
        funnel=_funnel_figure(overall),
        status=_status_figure(groups, answers),
        absorption=_absorption_figure(groups),
        waiting=_waiting_figure(overall),
        income=_income_figures(groups, wage),
        competency=_competency_figures(overall, by_program, program_name, answers,
                                       several=len(every_program) > 1),
        channels=_channels_figure(overall, answers),
        training=_training_figure(overall, answers),
        trend=_trend_figure(wave_trend(session, filters)),
    )
    return page


def _tiles(overall: Indicators, answers: Mapping[str, str]) -> list[Tile]:
    absorption = overall["absorption_rate"]
    weighted = absorption.get("weighted")
    income = overall["income_median"]["value"]
    return [
        _share_tile(_("Response rate"), overall["response_rate"]),
        _share_tile(_("Net response rate"), overall["net_response_rate"],
                    _("%(n)d unreachable excluded", n=overall["unreachable"])),
        _share_tile(_("Absorption rate"), absorption,
                    _("weighted %(value)s", value=pct(weighted)) if weighted is not None else ""),
        _share_tile(_("Employed within 6 months"), overall["employed_within_6_months"]),
        _statistic_tile(_("Median waiting time"), overall["waiting_months_median"], _months),
        _statistic_tile(_("Median income"), overall["income_median"], rupiah_short,
                        rupiah(income) if income is not None else ""),
        _share_tile(_("Earning at least the minimum wage"), overall["above_minimum_wage"]),
        _share_tile(_("Work related to the training"), overall["relevance_share"]),
        _share_tile(_("Working locally (%(place)s)",
                      place=label_of(answers, f"f5a2.{LOCAL_CODE}")),
                    overall["local_absorption"]),
        _share_tile(_("With a competency certificate"), overall["certificate_share"]),
    ]


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
    groups: Sequence[tuple[str, Indicators]], answers: Mapping[str, str]
) -> Figure:
    labels = [label_of(answers, f"f8.{code}") for code in STATUS_CODES]
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
          if ind["income_median"]["n"] or _hidden(ind["income_median"]) else "–",
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
        for a_key, _b_key in COMPETENCIES:
            gap, label = ind["competency_gap"][a_key], label_of(answers, a_key)
            rows.append(charts.Bar(label, gap["value"], n=gap["n"],
                                   text=statistic_text(gap, signed)))
            table_rows.append([
                label,
                *(one_decimal(gap[part]) if gap[part] is not None else "–"
                  for part in ("mean_a", "mean_b")),
                signed(gap["value"]) if gap["value"] is not None else (
                    SMALL_N_MARK if gap["n"] or _hidden(gap) else "–"),
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


def _channels_figure(overall: Indicators, answers: Mapping[str, str]) -> Figure:
    channels = [(label_of(answers, f"f4.{code}"), overall["job_search_channels"][code])
                for code in JOB_SEARCH_CHANNELS]
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
    items = [(label_of(answers, item), overall["training_eval"][item])
             for item in TRAINING_EVAL_ITEMS]
    chart = charts.bar_chart(
        [charts.Bar(label, rating["value"], n=rating["n"],
                    text=statistic_text(rating, one_decimal)) for label, rating in items],
        chart_id="chart-training", title=_("Rating of the training (1–5)"),
        desc="; ".join(f"{label}: {statistic_text(rating, one_decimal)}"
                       for label, rating in items),
        max_value=5, fmt=one_decimal, colour=charts.BRAND)
    return Figure(chart)


def _trend_figure(points: Sequence[TrendPoint]) -> Figure | None:
    if not points:
        return None
    absorption = [point.indicators["absorption_rate"] for point in points]
    response = [point.indicators["response_rate"] for point in points]
    chart = charts.line_chart(
        [point.slug for point in points],
        [charts.Series(_("Absorption rate"), [share["value"] for share in absorption],
                       charts.BLUE),
         charts.Series(_("Response rate"), [share["value"] for share in response],
                       charts.ORANGE, dashed=True)],
        chart_id="chart-trend", title=_("Trends across waves"),
        desc="; ".join(
            f"{point.slug}: {_('Absorption rate')} {share_text(a)}, "
            f"{_('Response rate')} {share_text(r)}"
            for point, a, r in zip(points, absorption, response, strict=True)),
        fmt=lambda value: format_percent(value, "#,##0%"))
    table = Table([_("Wave"), _("Absorption rate"), _("Response rate")],
                  [[f"{point.title} ({point.slug})", share_text(a), share_text(r)]
                   for point, a, r in zip(points, absorption, response, strict=True)])
    return Figure(chart, table)


# --- routes -----------------------------------------------------------------------------------


def _settings() -> Any:
    return current_app.config["JEJAK_SETTINGS"]


def _choose_wave(waves: Sequence[Wave], slug: str | None) -> Wave | None:
    """The wave asked for (404 when unknown), else the newest open one, else the newest
    that ran, else the newest."""
    if slug:
        for wave in waves:
            if wave.slug == slug:
                return wave
        abort(404)
    for wanted in (("open",), ("open", "closed")):
        for wave in waves:
            if wave.status in wanted:
                return wave
    return waves[0] if waves else None


@bp.route("/")
@auth.requires("viewer")
def index() -> Any:
    session = db.session()
    waves = session.scalars(select(Wave).order_by(Wave.created_at.desc(), Wave.id.desc())).all()
    wave = _choose_wave(waves, request.args.get("wave"))
    filters = Filters.from_args(request.args)
    if filters.unsuppressed:
        principal = auth.current_principal()
        if not principal.may("admin"):
            abort(403)
        if wave is not None:
            auth.audit(session, principal.name, "dashboard.unsuppressed", wave.slug,
                       **{name: value for name, value in filters.as_args().items()
                          if name in ("program", "cohort", "gender")})
            session.commit()
    page = (build_page(session, wave, filters, timezone=_settings().timezone,
                       locale=str(get_locale())) if wave is not None else {})
    return render_template(
        "analytics/dashboard.html", waves=waves, wave=wave, filters=filters,
        genders=[("L", _("Men")), ("P", _("Women"))],
        computed_at=format_datetime(page["snapshot"].computed_at, "d MMM y, HH:mm")
        if page.get("snapshot") else None,
        **page,
    )


@bp.route("/refresh", methods=["POST"])
@auth.requires("operator")
def refresh() -> Any:
    session = db.session()
    wave = session.scalar(select(Wave).where(Wave.slug == request.form.get("wave", "")))
    if wave is None:
        abort(404)
    back = {"wave": wave.slug, **Filters.from_args(request.form).as_args()}
    try:
        # No publish retries: with the broker down, say so now rather than hang the page.
        current_app.extensions["celery"].send_task(REFRESH_TASK, args=[wave.id], retry=False)
    except OperationalError:
        log.exception("could not queue %s for wave %s", REFRESH_TASK, wave.slug)
        flash(_("The task queue cannot be reached. Try again in a minute."), "error")
        return redirect(url_for(".index", **back))
    auth.audit(session, auth.current_principal().name, "analytics.refresh", wave.slug)
    session.commit()
    flash(_("Refresh requested. Reload this page in a minute to see the new figures."), "ok")
    return redirect(url_for(".index", **back))
