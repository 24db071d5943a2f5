"""Indicators API: the figures of a wave from its current snapshot, refreshes, minimum wages.

Figures come from `indicators.compute` (and `breakdown`) over the cells of the wave's newest
snapshot with its live-updated cells (`snapshots.read_snapshot`), filtered by program,
cohort and gender. Every role below admin, and an admin by default, gets them through the
small-group rule (`disclosure`): a group or figure over fewer than 5 respondents, or one
that would let such a figure be worked out, keeps its shape with no number in it and says
`"suppressed": true`. An admin sees the figures unsuppressed only by asking
`unsuppressed=true`, which is written to the audit log.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.analytics.api_schemas import (
    IndicatorsOut,
    IndicatorsQuery,
    IndicatorsResponse,
    MinimumWageIn,
    MinimumWageRowOut,
    RefreshIn,
    RefreshQueued,
    RefreshRunOut,
)
from services.analytics.cells import Cell, CellKey
from services.analytics.decent import Wages
from services.analytics.decent_store import queue_refreshes, waves_of_year
from services.analytics.disclosure import Disclosure
from services.analytics.indicator_cache import SnapshotEntries, entries_of
from services.analytics.indicators import (
    BREAKDOWNS,
    breakdown,
    compute,
)
from services.analytics.indicators import select as select_cells
from services.analytics.inputs import wave_inputs
from services.analytics.response_rates import ResponseRates, current_response_rates
from services.analytics.snapshots import WARMED_STATUSES, SnapshotView, read_snapshot
from services.analytics.wages import (
    WAGE_RULE,
    minimum_wage_of,
    set_wage,
    wages_of_year,
    wave_year,
)
from shared import auth, db
from shared.indicator_inputs import V1_INPUTS, IndicatorInputs
from shared.models import MinimumWage, RefreshRun, Wave, utcnow
from shared.web import get_or_404

blp = Blueprint(
    "indicators",
    __name__,
    url_prefix="/api/v1",
    description="Indicators of a wave (docs/indicators.md), their refresh, and the minimum wages "
    "(UMK and UMP) per year and region that above_minimum_wage and decent_work compare "
    "incomes with: the wage of where the alumnus works, else the centre's own.",
)

def _wave(session: Session, slug: str) -> Wave:
    wave = session.scalar(select(Wave).where(Wave.slug == slug))
    if wave is None:
        abort(404, message="no wave with this slug", errors={"wave": ["no wave with this slug"]})
    return wave


@functools.lru_cache(maxsize=8192)
def _key_and_label(key: int | str, label: str | None) -> str:
    """`"key": …, "label": …` of a group, as the app's JSON provider writes an int, a
    string or null (the same as json.dumps). Cached: a breakdown by cohort writes a
    thousand of them per answer, a sixth of a first answer after a live update."""
    return f'"key": {json.dumps(key)}, "label": {json.dumps(label)}'


def _label(labels: dict[str, dict[str, str]], by: str, key: int | str) -> str | None:
    if by == "gender":
        return str(key)
    return labels.get("programs" if by == "program" else "cohorts", {}).get(str(key))


# --- routes ----------------------------------------------------------------------------------


@blp.route("/indicators")
class Indicators(MethodView):
    @auth.requires("viewer")
    @blp.arguments(IndicatorsQuery, location="query", unknown=RAISE)
    @blp.response(200, IndicatorsResponse)
    @blp.alt_response(404, description="no such wave, or its indicators are not computed yet")
    @blp.alt_response(422, description="problem+json naming the bad query argument")
    @blp.alt_response(403, description="unsuppressed figures asked for by a non-admin")
    def get(self, query: dict[str, Any]) -> Any:
        """Every indicator of a wave, or of part of it, from its newest snapshot."""
        session = db.session()
        principal = auth.current_principal()
        if query["unsuppressed"] and not principal.may("admin"):
            abort(403, message="unsuppressed figures are for admins only")
        wave = _wave(session, query["wave"])
        snapshot = read_snapshot(session, wave.id)
        if snapshot is None:
            message = "the indicators of this wave have not been computed yet; refresh it"
            abort(404, message=message, errors={"wave": [message]})
        if query["unsuppressed"]:
            auth.audit(session, principal.name, "indicators.unsuppressed", wave.slug,
                       **{name: query[name] for name in ("program", "cohort", "gender", "by")
                          if query.get(name) is not None})
            session.commit()
        body = answer_text(session, wave, snapshot, query)
        return current_app.response_class(body, mimetype="application/json")


def answer_text(session: Session, wave: Wave, snapshot: SnapshotView,
                query: dict[str, Any]) -> str:
    """The JSON text of the answer to `query` (as IndicatorsQuery loads it) from this view
    of the wave's figures; in an app context (its settings, JSON provider and cache).

    What the app keeps for this snapshot (indicator_cache): answers already serialised per
    query, each group's figures, their sums. A large wave's figures take from a quarter of a
    second (the whole wave) to over a second (by cohort: a thousand groups) to compute and
    serialise; an answer is reused exactly as long as the view it came from is the one
    read_snapshot hands out.
    """
    timezone = current_app.config["JEJAK_SETTINGS"].timezone
    wage = minimum_wage_of(session, wave, timezone)
    wages = wages_of_year(session, wave_year(wave, timezone))
    entries = entries_of((str(session.get_bind().url), wave.id), snapshot.id)
    rates = current_response_rates(session, wave.id, snapshot, program=query.get("program"),
                                   cohort=query.get("cohort"), gender=query.get("gender"))
    # Everything the answer depends on besides the figures (the view object itself); the
    # AAPOR rates also follow contact attempts, so their counts are part of it.
    key = (wave.slug, wave_year(wave, timezone), tuple(sorted(query.items())),
           None if wage is None else (wage.amount, wage.source, wage.updated_at), wages,
           tuple(rates.counts.items()), tuple(rates.completes_by_mode.items()))
    body = entries.answer(key, snapshot)
    if body is None:
        body = _answer(entries, wave, snapshot, wage, wages, query, timezone, rates,
                       wave_inputs(session, wave.id))
        entries.remember_answer(key, snapshot, body)
    return body


# The queries a client asks first: the whole wave and each breakdown, unfiltered, as anyone
# below admin sees them. What an app answers ahead as it starts (`warm`).
FIRST_BREAKDOWNS = (None, *BREAKDOWNS)


def warm(session: Session) -> int:
    """Parse the newest snapshot of every open and closed wave into the app's cache and
    answer its `FIRST_BREAKDOWNS`; returns how many waves. In an app context. At 1M
    responses the first request of a process paid 0.5–2.5 s for the parse alone, and by
    cohort seconds more for a thousand groups (bench/README.md)."""
    waves = list(session.scalars(select(Wave).where(Wave.status.in_(WARMED_STATUSES))
                                 .order_by(Wave.id.desc())))
    for wave in waves:
        snapshot = read_snapshot(session, wave.id)
        if snapshot is not None:
            for by in FIRST_BREAKDOWNS:
                query = {"wave": wave.slug, **({"by": by} if by else {})}
                answer_text(session, wave, snapshot, IndicatorsQuery().load(query))
        session.rollback()  # one short read each: a reader on SQLite holds the write lock
    return len(waves)


def _answer(entries: SnapshotEntries, wave: Wave, snapshot: SnapshotView,
            wage: MinimumWage | None, wages: Wages, query: dict[str, Any], timezone: str,
            rates: ResponseRates, inputs: IndicatorInputs) -> str:
    """The answer as JSON text: serialised by IndicatorsResponse except the figures, which
    come as JSON text (IndicatorsOut, as the nested field would dump them) from
    `_group_figures` and are spliced in. The text is what `app.json.dumps` of the whole
    answer gives; a breakdown by cohort holds a thousand groups, and dumping them all again
    after one changed took longer than computing the changed one."""
    # Every wage of the year: each income meets the wage of where the alumnus works. The
    # centre's own is `wage` (its amount is wages.centre).
    amount = wages
    chosen = select_cells(snapshot.cells, program=query.get("program"),
                          cohort=query.get("cohort"), gender=query.get("gender"))
    by = query.get("by")
    rule = None if query["unsuppressed"] else entries.rule(snapshot.cells)
    # The wave's n is the whole wave's figure: hidden with it.
    wave_hidden = rule is not None and rule.hidden(key for key, _ in snapshot.cells)
    answer = IndicatorsResponse().dump({
        "wave": wave.slug,
        "snapshot_id": snapshot.id,
        "computed_at": snapshot.computed_at,
        "responses_included": None if wave_hidden else snapshot.responses_included,
        "filters": {name: query.get(name) for name in ("program", "cohort", "gender")},
        "minimum_wage": wage,
        "minimum_wage_year": wave_year(wave, timezone),
        "minimum_wage_rule": WAGE_RULE,
        "indicators": None,
        "by": by,
        "breakdown": None,
    })
    dumps = current_app.json.dumps
    figures = functools.partial(
        _group_figures, entries=entries, dumps=dumps, disclosure=rule,
        inputs=inputs)
    overall = figures(chosen, minimum_wage=amount, fpc=query["fpc"])
    # The selection's AAPOR rates join its figures (new keys only; a hidden selection
    # shows none of their numbers either).
    selection_hidden = rule is not None and rule.hidden(key for key, _ in chosen)
    overall = dumps({**json.loads(overall),
                     **(rates.hidden() if selection_hidden else rates.as_json())})
    groups = "null"
    if by is not None:
        # As GroupOut dumps a group (key: raw, label: a string or None) and dumps() writes
        # it: keys sorted, the default separators.
        groups = "[" + ", ".join(
            f'{{"indicators": {text}, {_key_and_label(key, _label(snapshot.labels, by, key))}}}'
            for key, text in breakdown(chosen, by, minimum_wage=amount, fpc=query["fpc"],
                                       figures=figures).items()) + "]"
    # Top-level keys are sorted and nothing nested has these keys, and an encoded string
    # cannot hold an unescaped quote: each placeholder occurs once.
    body = dumps(answer)
    for name, text in (("indicators", overall), ("breakdown", groups)):
        placeholder = f'"{name}": null'
        assert body.count(placeholder) == 1
        body = body.replace(placeholder, f'"{name}": {text}')
    return body


def _group_figures(keyed: list[tuple[CellKey, Cell]], *, minimum_wage: Wages | int | None,
                   fpc: bool, entries: SnapshotEntries, dumps: Callable[[Any], str],
                   disclosure: Disclosure | None = None,
                   inputs: IndicatorInputs = V1_INPUTS) -> str:
    """The figures of one group of cells as JSON text, reused while the group holds the
    very same cell objects: read_snapshot keeps the parsed cells a live update did not
    touch, so after one cell changed only the groups holding it are computed again (by
    cohort: one of a thousand). `disclosure`: the small-group rule of the whole wave's
    cells (None: unsuppressed). What it hides of a group depends on every cell of the
    wave, so it is part of the key. `inputs`: the mapping of the wave's questionnaire."""
    hidden = None if disclosure is None else disclosure.decision(
        cell_key for cell_key, _ in keyed)
    group = tuple(cell_key for cell_key, _ in keyed)
    key = (minimum_wage, fpc, group, hidden, inputs)
    cells = tuple(cell for _, cell in keyed)
    found = entries.group(key, cells)
    if found is not None:
        return found
    computed = compute(
        keyed, minimum_wage=minimum_wage, fpc=fpc,
        merged=functools.partial(entries.merged, group=group),
        weighted=functools.partial(entries.weighted, group=group), inputs=inputs)
    if disclosure is not None:
        computed = disclosure.suppress(computed, group)
    figures = dumps(IndicatorsOut().dump(computed))
    entries.remember_group(key, cells, figures)
    return figures


@blp.route("/refresh")
class Refresh(MethodView):
    @auth.requires("operator")
    @blp.arguments(RefreshIn)
    @blp.response(202, RefreshQueued)
    @blp.alt_response(503, description="the task queue is unavailable")
    def post(self, body: dict[str, Any]) -> Any:
        """Queue a full refresh of one wave (or of every open and closed wave)."""
        session = db.session()
        principal = auth.current_principal()
        wave = _wave(session, body["wave"]) if body["wave"] else None
        run = None
        if wave is not None:
            run = RefreshRun(wave_id=wave.id, kind="full", status="queued", started_at=utcnow())
            session.add(run)
            session.flush()
        auth.audit(session, principal.name, "analytics.refresh",
                   wave.slug if wave else "all waves")
        session.commit()
        try:
            result = current_app.extensions["celery"].send_task(
                "analytics.refresh",
                kwargs={"wave_id": wave.id if wave else None, "run_id": run.id if run else None},
                retry=False,
            )
        except Exception as exc:  # broker down: say so now rather than queue forever
            if run is not None:
                run.status, run.finished_at = "failed", utcnow()
                run.detail = f"could not queue the refresh: {exc}"[:2000]
                session.commit()
            abort(503, message="the task queue is unavailable; try again shortly")
        return {"task_id": result.id, "run_id": run.id if run else None,
                "wave": wave.slug if wave else None}


@blp.route("/refresh/<int:run_id>")
class RefreshRunById(MethodView):
    @auth.requires("viewer")
    @blp.response(200, RefreshRunOut)
    def get(self, run_id: int) -> Any:
        """One refresh run: queued, running, done, skipped or failed."""
        return get_or_404(RefreshRun, run_id, "refresh run")


@blp.route("/minimum-wages")
class MinimumWages(MethodView):
    @auth.requires("viewer")
    @blp.response(200, MinimumWageRowOut(many=True))
    def get(self) -> Any:
        """The minimum wages (UMK and UMP) by year and region, newest first."""
        return db.session().scalars(select(MinimumWage).order_by(
            MinimumWage.year.desc(), MinimumWage.level, MinimumWage.region_code)).all()

    @auth.requires("admin")
    @blp.arguments(MinimumWageIn)
    @blp.response(200, MinimumWageRowOut)
    def put(self, body: dict[str, Any]) -> Any:
        """Set the minimum wage of a year and region (creates or replaces it); without a
        region, the year's wage wherever the centre is."""
        session = db.session()
        wage = set_wage(session, body, auth.current_principal().name)
        session.commit()
        # Decent work is weighed when cells are filled: recompute the year's waves.
        queue_refreshes(waves_of_year(session, wage.year))
        session.commit()
        return wage
