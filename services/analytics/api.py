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
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

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
    LEVELS,
    WAGE_RULE,
    minimum_wage_of,
    set_wage,
    wages_of_year,
    wave_year,
)
from shared import auth, db
from shared.indicator_inputs import V1_INPUTS, IndicatorInputs
from shared.models import MinimumWage, RefreshRun, Wave, utcnow
from shared.web import get_or_404, row_id

blp = Blueprint(
    "indicators",
    __name__,
    url_prefix="/api/v1",
    description="Indicators of a wave (docs/indicators.md), their refresh, and the minimum wages "
    "(UMK and UMP) per year and region that above_minimum_wage and decent_work compare "
    "incomes with: the wage of where the alumnus works, else the centre's own.",
)
GENDERS = ("L", "P")  # laki-laki, perempuan


# --- schemas ---------------------------------------------------------------------------


class IndicatorsQuery(Schema):
    class Meta:
        unknown = RAISE  # a misspelt filter must not silently return the whole wave

    wave = fields.String(required=True, validate=validate.Length(1, 80),
                         metadata={"description": "the wave's slug"})
    program = row_id(
                             metadata={"description": "only this program (kejuruan) id"})
    cohort = row_id(
                            metadata={"description": "only this cohort (angkatan) id"})
    gender = fields.String(validate=validate.OneOf(GENDERS),
                           metadata={"description": "only L (laki-laki) or P (perempuan)"})
    fpc = fields.Boolean(load_default=False, metadata={
        "description": "narrow the intervals of respondents' shares by the finite-population "
                       "correction sqrt((N − n) / (N − 1))"})
    by = fields.String(validate=validate.OneOf(tuple(BREAKDOWNS)), metadata={
        "description": "also give the indicators of each program, cohort or gender"})
    unsuppressed = fields.Boolean(load_default=False, metadata={
        "description": "admins only, audited: the figures without the small-group rule"})


class ShareOut(Schema):
    value = fields.Float(allow_none=True, metadata={"description": "count / n"})
    n = fields.Integer(allow_none=True, metadata={"description": "the base (denominator)"})
    count = fields.Integer(allow_none=True, metadata={"description": "the numerator"})
    ci_low = fields.Float(allow_none=True, metadata={"description": "95 % Wilson interval"})
    ci_high = fields.Float(allow_none=True)
    weighted = fields.Float(allow_none=True, metadata={
        "description": "weighted by N_h / n_h per program × cohort"})
    small_n = fields.Boolean(metadata={"description": "n below 5"})
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid this figure: its "
                       "numbers are null"})
    not_collected = fields.Boolean(metadata={
        "description": "present (true) only when the wave's questionnaire does not collect "
                       "this figure's inputs: its numbers are null, never zero"})


class StatisticOut(Schema):
    value = fields.Float(allow_none=True)
    n = fields.Integer(allow_none=True)
    small_n = fields.Boolean()
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid this figure"})
    not_collected = fields.Boolean(metadata={
        "description": "present (true) only when the questionnaire does not collect it"})


class CompetencyGapOut(StatisticOut):
    mean_a = fields.Float(allow_none=True, metadata={"description": "level after training"})
    mean_b = fields.Float(allow_none=True, metadata={"description": "level the job needs"})


class WageCasesOut(Schema):
    umk = fields.Integer(allow_none=True, metadata={
        "description": "incomes compared with the UMK of the work city or regency"})
    ump = fields.Integer(allow_none=True, metadata={
        "description": "incomes compared with the UMP of the work province"})
    centre = fields.Integer(allow_none=True, metadata={
        "description": "incomes compared with the centre's own wage (work place unknown, "
                       "or no wage set for it)"})


class DecentWorkOut(Schema):
    value = fields.Float(allow_none=True, metadata={
        "description": "mean weight Σ weight / n (null: no minimum wage for the wave)"})
    n = fields.Integer(allow_none=True, metadata={
        "description": "respondents weighed (status answered)"})
    ci_low = fields.Float(allow_none=True, metadata={
        "description": "95 % interval, normal approximation (docs/indicators.md)"})
    ci_high = fields.Float(allow_none=True)
    weighted = fields.Float(allow_none=True, metadata={
        "description": "Σ w·weight / Σ w with the shares' strata weights N_h / n_h"})
    weighted_ci_low = fields.Float(allow_none=True, metadata={
        "description": "95 % interval from the stratified variance"})
    weighted_ci_high = fields.Float(allow_none=True)
    small_n = fields.Boolean(metadata={"description": "n below 5"})
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid this figure"})


class DispositionsOut(Schema):
    complete = fields.Integer()
    partial = fields.Integer()
    refusal = fields.Integer()
    non_contact = fields.Integer()
    unknown = fields.Integer()
    unreachable = fields.Integer()


class AaporEOut(Schema):
    value = fields.Float(allow_none=True, metadata={
        "description": "e: the estimated eligible share of the cases of unknown eligibility"})
    basis = fields.String(metadata={"description": "how e was derived"})


class IndicatorsOut(Schema):
    targets = fields.Integer(metadata={"description": "population N"})
    respondents = fields.Integer(metadata={"description": "complete responses n"})
    unreachable = fields.Integer(metadata={"description": "U"})
    employed = fields.Integer(allow_none=True, metadata={
        "description": "respondents with status 1 or 3 (working, self-employed); null when "
                       "the questionnaire does not ask the status"})
    status_answered = fields.Integer(allow_none=True)
    not_collected = fields.List(fields.String(), metadata={
        "description": "the indicators the wave's questionnaire does not collect (its "
                       "indicator inputs lack what they need): reported with null numbers "
                       "and \"not_collected\": true"})
    small_n = fields.Boolean(metadata={"description": "fewer than 5 respondents"})
    suppressed = fields.Boolean(metadata={
        "description": "present (true) only when the small-group rule hid the whole group: "
                       "every figure is null"})
    weight_coverage = fields.Float(allow_none=True)
    minimum_wage = fields.Integer(allow_none=True)
    fpc = fields.Boolean()
    dispositions = fields.Nested(DispositionsOut)
    response_rate = fields.Nested(ShareOut)
    net_response_rate = fields.Nested(ShareOut)
    status_share = fields.Dict(keys=fields.String(), values=fields.Nested(ShareOut),
                               metadata={"description": "by f8 code 1–5"})
    absorption_rate = fields.Nested(ShareOut)
    employed_within_6_months = fields.Nested(ShareOut)
    waiting_months_median = fields.Nested(StatisticOut)
    waiting_months_mean = fields.Nested(StatisticOut)
    waiting_bins = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    income_median = fields.Nested(StatisticOut)
    above_minimum_wage = fields.Nested(ShareOut)
    minimum_wage_applied = fields.Nested(WageCasesOut, metadata={
        "description": "how many incomes above_minimum_wage compared with each kind of wage "
                       "(the rule: minimum_wage_rule)"})
    decent_work = fields.Dict(keys=fields.String(), values=fields.Nested(DecentWorkOut),
                              metadata={"description": "mean decent-work weight per preset "
                                        "(iku2, blk; docs/indicators.md, 'Decent work')"})
    relevance_share = fields.Nested(ShareOut)
    local_absorption = fields.Nested(ShareOut)
    certificate_share = fields.Nested(ShareOut)
    competency_gap = fields.Dict(keys=fields.String(), values=fields.Nested(CompetencyGapOut))
    training_eval = fields.Dict(keys=fields.String(), values=fields.Nested(StatisticOut))
    job_search_channels = fields.Dict(keys=fields.String(), values=fields.Nested(ShareOut))
    # AAPOR rates (docs/indicators.md, "Response rates from dispositions"): of the selection
    # only (`indicators`), not of each breakdown group; read from the tables at request time.
    rr1 = fields.Float(allow_none=True, metadata={"description": "AAPOR RR1 = I / D"})
    rr2 = fields.Float(allow_none=True, metadata={"description": "AAPOR RR2 = (I + P) / D"})
    rr3 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR RR3 = I / ((I + P) + (R + NC + O) + e·(UH + UO))"})
    rr4 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR RR4 = (I + P) / ((I + P) + (R + NC + O) + e·(UH + UO))"})
    coop1 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR COOP1 = I / ((I + P) + R + O)"})
    ref1 = fields.Float(allow_none=True, metadata={"description": "AAPOR REF1 = R / D"})
    con1 = fields.Float(allow_none=True, metadata={
        "description": "AAPOR CON1 = ((I + P) + R + O) / D"})
    aapor_e = fields.Nested(AaporEOut)
    aapor_dispositions = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True),
                                     metadata={"description": "targets per final AAPOR "
                                               "disposition: I P R NE NC O UO UH"})
    response_rate_by_mode = fields.Dict(
        keys=fields.String(), values=fields.Float(allow_none=True),
        metadata={"description": "complete interviews (I) of each mode / D"})


class MinimumWageOut(Schema):
    year = fields.Integer()
    amount = fields.Integer(metadata={"description": "rupiah per month"})
    source = fields.String()
    updated_at = fields.DateTime(dump_only=True)


class GroupOut(Schema):
    key = fields.Raw(metadata={"description": "program or cohort id, or the gender"})
    label = fields.String(allow_none=True)
    indicators = fields.Nested(IndicatorsOut)


class FiltersOut(Schema):
    program = fields.Integer(allow_none=True)
    cohort = fields.Integer(allow_none=True)
    gender = fields.String(allow_none=True)


class IndicatorsResponse(Schema):
    wave = fields.String()
    snapshot_id = fields.Integer()
    computed_at = fields.DateTime(metadata={"description": "when the snapshot was written"})
    responses_included = fields.Integer(allow_none=True, metadata={
        "description": "complete responses of the wave's targets in the snapshot; null when "
                       "the small-group rule hides the whole wave"})
    filters = fields.Nested(FiltersOut)
    minimum_wage = fields.Nested(MinimumWageOut, allow_none=True, metadata={
        "description": "the UMK of the wave's year; null: not set (above_minimum_wage has "
                       "no count)"})
    minimum_wage_year = fields.Integer()
    minimum_wage_rule = fields.String(metadata={
        "description": "which wage each income is compared with"})
    indicators = fields.Nested(IndicatorsOut, metadata={"description": "of the selection"})
    by = fields.String(allow_none=True)
    breakdown = fields.List(fields.Nested(GroupOut), allow_none=True)


class RefreshIn(Schema):
    wave = fields.String(load_default=None, validate=validate.Length(1, 80), metadata={
        "description": "the wave's slug; empty: every open and closed wave"})


class RefreshQueued(Schema):
    task_id = fields.String()
    run_id = fields.Integer(allow_none=True, metadata={
        "description": "poll GET /refresh/{run_id}; empty when refreshing every wave"})
    wave = fields.String(allow_none=True)


class RefreshRunOut(Schema):
    id = fields.Integer()
    wave_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"description": "full or live"})
    status = fields.String(metadata={
        "description": "queued, running, done, skipped (another refresh ran) or failed"})
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    detail = fields.String(allow_none=True)


class MinimumWageRowOut(MinimumWageOut):
    """A row of the minimum-wage table: the wage, its region and its note."""

    id = fields.Integer()
    level = fields.String(metadata={"description": "city (UMK) or province (UMP)"})
    region_code = fields.String(metadata={"description": "BPS code; empty: no region"})
    region_name = fields.String()
    exact_amount = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "the decreed figure with sen, when it has them (amount is it rounded "
                       "up)"})
    note = fields.String(allow_none=True)


MAX_WAGE = 999_999_999


def _wage_out_of_range() -> bool:
    raise ValidationError(f"Must be greater than or equal to 1 and less than or equal to "
                          f"{MAX_WAGE}.")


class MinimumWageIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    # Bounded so an absurd figure is a 422, not a database overflow. Sen are allowed (UMP
    # Kalimantan Timur 2025 is Rp 3.579.313,77); incomes compare with it rounded up.
    # A plain check, not validate.Range: apispec would write Range's bound as the string
    # "999999999.00" (a Decimal), which is no OpenAPI number.
    amount = fields.Decimal(required=True, places=2, allow_nan=False,
                            validate=lambda value: 1 <= value <= MAX_WAGE or _wage_out_of_range(),
                            metadata={"description": "rupiah per month", "minimum": 1,
                                      "maximum": MAX_WAGE})
    source = fields.String(required=True, validate=validate.Length(1, 300), metadata={
        "description": "where the figure comes from, e.g. the governor's decree"})
    level = fields.String(load_default="city", validate=validate.OneOf(LEVELS), metadata={
        "description": "city: UMK of a city or regency; province: UMP"})
    region_code = fields.String(load_default="", validate=validate.Regexp(r"^[0-9]{0,16}$"),
                                metadata={"description": "BPS code (6474 Kota Bontang, 64 "
                                          "Kalimantan Timur); empty: a wage without region"})
    region_name = fields.String(load_default="", validate=validate.Length(0, 120))
    note = fields.String(load_default=None, validate=validate.Length(0, 300))


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
