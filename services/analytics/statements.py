"""The fill statement: every cell of a wave (or one cell) from one hand-tuned SELECT.

One statement fills every cell of a wave (docs/architecture.md §7): the answer counters and
sums of the complete responses grouped by cell (`measures`), the waiting-time and income
value-frequency tables, and the AAPOR disposition of every other target, as branches of one
UNION ALL. One statement is one consistent read on both databases, so a cell never counts a
target twice or not at all while responses arrive. The answers come from indicator_answers
(`projection`), which the caller reconciles first (`fill`).

Dispositions (docs/indicators.md, exactly one per target, first rule that applies):

1. complete (I): a complete response;
2. partial (P): a response that is not complete;
3. refusal (R): an opt-out row for the alumnus (any channel) or consent withdrawn;
4. unreachable (U): at least one message of the wave's campaigns, and every one of them ended
   `failed` with a permanent failure (not a transient failure outreach gave up on, not a
   template error: see `TRANSIENT_FAILURE_PREFIXES`), so none was sent or delivered;
5. non-contact (NC): a message of the wave was sent or delivered;
6. unknown (UH): anything else (no message yet, planned, in doubt, skipped, cancelled…).

Hand-tuned, and measured (bench/README.md, "Indicator refresh and live update",
`python bench/analytics.py`): at 1,000,000 responses and 2,000 cells on PostgreSQL the
statement alone took 8.1 s of a 17.4 s full refresh on a shared 2-core machine at load 3
(14.8 s of 16.7 s on a machine half as fast), against 0.1 s for one plain GROUP BY scan of
the wave's responses; the one-cell form (`fill_cell`) took 29.7 ms at p50, 42.0 ms at p95.
The comments below say what each shape choice was measured against. Change the statement
only with the benchmark's figures before and after.

Dialects, side by side: the statement is the same Core expression on both databases except
for PostgreSQL's `MATERIALIZED` hint on the one-cell CTE, the settings of a full refresh's
transaction (`DIALECT_TUNING`: PostgreSQL's, and SQLite's none) and the JSON expressions of
`answer_sql` (one compiled form per dialect).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from services.analytics import decent
from services.analytics.answer_sql import MeasureList
from services.analytics.cells import EMPLOYED_STATUSES
from services.analytics.measures import count_where, measures_of
from services.analytics.projection import code_columns
from shared.db import is_postgres
from shared.indicator_inputs import V1_INPUTS, IndicatorInputs
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    IndicatorAnswer,
    Message,
    OptOut,
    Response,
    WaveTarget,
)

# Outreach (services/outreach/delivery.py) marks a message `failed` for a hard bounce or an
# invalid number, and also when it gave up after transient failures or could not render
# the template. Only the first kind says the alumnus cannot be reached.
TRANSIENT_FAILURE_PREFIXES = ("gave up after", "template:")
CONTACTED_STATUSES = ("sent", "delivered")
# Kinds of rows in the fill statement, and the disposition codes of the `DISPOSITION` rows.
ANSWERS, WAITING, INCOME, DISPOSITION = 0, 1, 2, 3
DISPOSITION_CODES = {1: "partial", 2: "refusal", 3: "unreachable", 4: "non_contact",
                     5: "unknown"}

# --- dialect variants, side by side ---------------------------------------------------------
REFRESH_WORK_MEM = "128MB"  # PostgreSQL, full refresh transactions only
DIALECT_TUNING = {
    # For a full refresh's transaction only. The planner sizes the answers aggregate (80
    # counters a group) for far more groups than there are cells and would sort on disk
    # under the 4 MB default; JIT-compiling the statement costs more than it saves.
    # Whole-wave work joins every row, so hash joins are right; and the statistics of
    # indicator_answers are stale while this very refresh fills it (empty when last
    # analysed). The planner then chose a nested-loop anti-join that re-scans the growing
    # table per response: the first refresh of 200,000 responses took 5 min, not 5 s.
    # Measured at 1M in steady state: no slower (16.8 s against 17.4 s).
    "postgresql": (f"SET LOCAL work_mem = '{REFRESH_WORK_MEM}'", "SET LOCAL jit = off",
                   "SET LOCAL enable_nestloop = off"),
    # SQLite: no planner settings; BEGIN IMMEDIATE (shared.db) already serialises writers.
    "sqlite": (),
}


def failed_for_good(messages: Any) -> ColumnElement[bool]:
    """A message of the `messages` table that failed for good (a hard bounce, an invalid
    number): failed, and not for one of the `TRANSIENT_FAILURE_PREFIXES` reasons."""
    return and_(
        messages.c.status == "failed",
        *(func.coalesce(messages.c.failed_reason, "").not_like(f"{prefix}%")
          for prefix in TRANSIENT_FAILURE_PREFIXES),
    )


def tune_for_full_refresh(session: Session) -> None:
    """The dialect's settings for a full refresh, in the caller's transaction."""
    for setting in DIALECT_TUNING["postgresql" if is_postgres(session) else "sqlite"]:
        session.execute(text(setting))


def fill_statement(*, one_cell: bool = False, inputs: IndicatorInputs = V1_INPUTS,
                   plan: decent.Plan | None = None) -> Select[Any]:
    """The statement behind fill_cells (one_cell: fill_cell); also for EXPLAIN.

    Parameters: wave_id; with one_cell also program_id, cohort_id, gender. Columns: kind,
    program_id, cohort_id, gender, value, count, measures. Answer rows (kind ANSWERS): count
    is the respondents, measures a JSON array of the `measures_of(inputs)` aggregates (the
    wave's questionnaire mapping: one statement per mapping and shape). Value-table rows
    (WAITING months, INCOME): how many have that value. Disposition rows (DISPOSITION): how
    many targets have the disposition coded in value (`DISPOSITION_CODES`). INCOME rows are
    per income and work place: measures is null when the place is unknown, else the JSON
    array [work city, work province] (`Cell.income_place`).

    `plan`: the wave's wages and decent-work presets; its measures (`decent.measures`)
    follow the mapping's in the answer rows' array. The statement is built once per mapping
    and plan (a new plan: a wage or preset was saved) and cached.
    """
    return _statement(one_cell, inputs, plan)


def measure_names(inputs: IndicatorInputs, plan: decent.Plan | None) -> tuple[str, ...]:
    """The names of the answer rows' measures for this mapping under `plan`, in order."""
    return (*(name for name, _ in measures_of(inputs)),
            *(name for name, _ in decent.measures(plan)))


def cell_of(source: Any) -> tuple[Any, Any, Any]:
    """The cell columns (program_id, cohort_id, gender) of a table or subquery."""
    return source.c.program_id, source.c.cohort_id, source.c.gender


@functools.lru_cache(maxsize=64)
def _statement(one_cell: bool, inputs: IndicatorInputs, plan: decent.Plan | None
               ) -> Select[Any]:
    # Built once per shape; the values are bound at execution, so SQLAlchemy's compiled
    # cache serves every later call (building it takes longer than a one-cell query).
    wave_targets = WaveTarget.__table__
    responses = Response.__table__
    wave_id = bindparam("wave_id", type_=Integer())
    in_scope = [wave_targets.c.wave_id == wave_id]
    if one_cell:
        in_scope += [wave_targets.c.program_id == bindparam("program_id", type_=Integer()),
                     wave_targets.c.cohort_id == bindparam("cohort_id", type_=Integer()),
                     wave_targets.c.gender == bindparam("gender", type_=String())]
    scoped = select(wave_targets.c.alumnus_id, wave_targets.c.program_id,
                    wave_targets.c.cohort_id, wave_targets.c.gender).where(*in_scope)
    # One cell: its targets are found once and read by the three branches (materialised:
    # without an index on the cell columns each lookup is a scan of the wave's targets).
    targets = (scoped.cte("targets_of_cell").prefix_with("MATERIALIZED", dialect="postgresql")
               if one_cell else scoped.subquery("targets_of_wave"))
    response_of_target = and_(responses.c.wave_id == wave_id,
                              responses.c.alumnus_id == targets.c.alumnus_id)
    # The complete responses' coded answers, from analytics' projection (reconciled first).
    # The wave: a subquery, joined again by each branch below (PostgreSQL runs each in
    # parallel workers; a CTE would be read by the leader alone). One cell: a CTE, so the
    # cell's few hundred rows are looked up once.
    projected = IndicatorAnswer.__table__
    employed = (projected.c.status.in_(EMPLOYED_STATUSES)
                if inputs.code("status") is not None else literal(False))
    answered = (
        select(*cell_of(targets),
               *(projected.c[column] for column in dict.fromkeys(
                   (*code_columns(inputs), *decent.PLACE_COLUMNS))),
               employed.label("employed"),
               projected.c.waiting, projected.c.income, projected.c.channels)
        .select_from(targets.join(projected, and_(
            projected.c.wave_id == wave_id, projected.c.alumnus_id == targets.c.alumnus_id)))
    )
    answered = (answered.cte("answers_of_cell") if one_cell
                else answered.subquery("answers_of_wave"))
    answer_rows = (
        select(literal(ANSWERS).label("kind"), *cell_of(answered), null().label("value"),
               func.count().label("count"),
               MeasureList(*(expression(answered.c) for _, expression
                             in (*measures_of(inputs), *decent.measures(plan))))
               .label("measures"))
        .group_by(*cell_of(answered))
    )

    # The value tables, one branch each (each a parallel scan of the projection). Incomes
    # are grouped by work place too (one group per income where no place is asked): the
    # place rides in the measures column, as `Cell.income_place` keys it.
    city = answered.c[decent.COLUMNS["work_city"]]
    province = answered.c[decent.COLUMNS["work_province"]]
    place = func.coalesce(province, city // 100)
    table_rows = [
        select(literal(WAITING), *cell_of(answered), answered.c.waiting, func.count(), null())
        .where(answered.c.waiting.is_not(None))
        .group_by(*cell_of(answered), answered.c.waiting),
        select(literal(INCOME), *cell_of(answered), answered.c.income, func.count(),
               case((place.is_not(None), MeasureList(city, place))))
        .where(answered.c.income.is_not(None))
        .group_by(*cell_of(answered), answered.c.income, city, place),
    ]

    # Targets without a complete response, with counts of the wave's messages to each.
    # (Counting the messages per alumnus first, then joining, took longer at 1M: 1.77M
    # messages make 1.33M groups.)
    messages = Message.__table__
    steps_of_wave = (select(CampaignStep.id).join(Campaign, Campaign.id == CampaignStep.campaign_id)
                     .where(Campaign.wave_id == wave_id))
    alumni = Alumnus.__table__
    withdrawn = alumni.c.consent_withdrawn_at.is_not(None)
    # Open: without a complete response. One cell: without an indicator_answers row, as the
    # answers branch counts them, so each target is counted once even if a response
    # completed without its event reaching this (live) fill, and the responses are read
    # for the open targets only. The wave: by the responses' status (the same targets, the
    # projection having just been reconciled; a join with the projection misleads the
    # planner's estimates into nested loops over 433,000 targets at 1M).
    scope = targets.join(alumni, alumni.c.id == targets.c.alumnus_id)
    if one_cell:
        scope = scope.outerjoin(projected, and_(projected.c.wave_id == wave_id,
                                                projected.c.alumnus_id == targets.c.alumnus_id))
        is_open = projected.c.alumnus_id.is_(None)
    else:
        is_open = or_(responses.c.id.is_(None), responses.c.status != "complete")
    open_targets = (
        select(targets.c.alumnus_id, *cell_of(targets), responses.c.id.label("response_id"),
               withdrawn.label("withdrawn"),
               func.count(messages.c.id).label("messages"),
               count_where(failed_for_good(messages)).label("failed_for_good"),
               count_where(messages.c.status.in_(CONTACTED_STATUSES)).label("contacted"))
        .select_from(
            scope.outerjoin(responses, response_of_target)
            .outerjoin(messages, and_(messages.c.alumnus_id == targets.c.alumnus_id,
                                      messages.c.campaign_step_id.in_(steps_of_wave)))
        )
        .where(is_open)
        .group_by(targets.c.alumnus_id, *cell_of(targets), responses.c.id, withdrawn)
        .subquery("open_targets")
    )
    disposition = _disposition(open_targets)
    disposition_rows = (
        select(literal(DISPOSITION), *cell_of(open_targets), disposition, func.count(),
               null())
        .group_by(*cell_of(open_targets), disposition)
    )
    return union_all(answer_rows, *table_rows, disposition_rows)  # type: ignore[return-value]



def _disposition(open_targets: Any) -> ColumnElement[Any]:
    target = open_targets.c
    # EXISTS, not IN (subquery): PostgreSQL may then probe ix_opt_outs_alumnus_id for the
    # few open targets of one cell (a live update) instead of hashing every opt-out
    # (~6 ms of a ~29 ms one-cell fill), and still hashes them for a full refresh.
    refused = or_(
        target.withdrawn,
        exists().where(OptOut.alumnus_id == target.alumnus_id),
    )
    return case(
        (target.response_id.is_not(None), 1),  # a response, not complete: partial
        (refused, 2),
        (and_(target.messages > 0, target.failed_for_good == target.messages), 3),
        (target.contacted > 0, 4),
        else_=5,
    ).label("value")

