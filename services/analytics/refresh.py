"""Indicator snapshots: cells filled by set-based SQL, full refreshes and one-cell updates.

One statement fills every cell of a wave (DESIGN.md §7): the answer counters and sums of the
complete responses grouped by cell, the waiting-time and income value-frequency tables, and
the AAPOR disposition of every other target, as branches of one UNION ALL. One statement is
one consistent read on both databases, so a cell never counts a target twice or not at all
while responses arrive. `Cell.of_response` is the reference for every answer field; the
SQL twins of its `type(value) is int` tests are `JsonInteger` and `JsonArray` below.

Dispositions (INDICATORS.md, exactly one per target, first rule that applies):

1. complete (I): a complete response;
2. partial (P): a response that is not complete;
3. refusal (R): an opt-out row for the alumnus (any channel) or consent withdrawn;
4. unreachable (U): at least one message of the wave's campaigns, and every one of them ended
   `failed` with a permanent failure (not a transient failure outreach gave up on, not a
   template error: see `TRANSIENT_FAILURE_PREFIXES`), so none was sent or delivered;
5. non-contact (NC): a message of the wave was sent or delivered;
6. unknown (UH): anything else (no message yet, planned, in doubt, skipped, cancelled…).

Snapshots: readers take the newest row (highest id) of the wave. A full refresh writes one new
row in one transaction; a live update (response submitted, message status) copies the newest
row, recomputes the one cell of the alumnus with the same SQL restricted to that cell, and
writes a new row. The last `KEEP_SNAPSHOTS` rows per wave are kept.

Serialisation. PostgreSQL: a full refresh takes `pg_try_advisory_xact_lock(REFRESH, wave)`
and gives up (returns None) when another refresh of the wave holds it; every writer of a
wave's snapshots (full or live) then waits for `pg_advisory_xact_lock(SNAPSHOT, wave)`, so
a live update never builds on a snapshot a full refresh is about to replace, and a full
refresh never overwrites a live update it did not see. SQLite: every transaction starts with
BEGIN IMMEDIATE (shared.db), which already serialises all writers; a second full refresh
waits for the first (up to the busy timeout) and then skips, because a refresh of the wave
finished after it was asked for (`_overtaken`), which is what the PostgreSQL lock gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.visitors import InternalTraversal

from services.analytics.cells import (
    CERTIFICATE_CODES,
    CERTIFIED_CODE,
    COMPETENCIES,
    EMPLOYED_STATUSES,
    JOB_SEARCH_CHANNELS,
    LOCAL_CODE,
    LOCATION_CODES,
    RATINGS,
    RELEVANCE_CODES,
    RELEVANT_CODES,
    STATUS_CODES,
    TRAINING_EVAL_ITEMS,
    Cell,
    CellKey,
    cells_to_json,
)
from shared.db import is_postgres
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    IndicatorSnapshot,
    Message,
    MinimumWage,
    OptOut,
    Program,
    RefreshRun,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)

KEEP_SNAPSHOTS = 5  # per wave: the newest few, so a reader mid-read never loses its row
REFRESHED_STATUSES = ("open", "closed")  # the waves `refresh_all` and the nightly job cover
# pg advisory lock classes (first key); the second key is the wave id.
LOCK_REFRESH = 0x4A4A0001  # one full refresh per wave at a time: tried, never waited for
LOCK_SNAPSHOT = 0x4A4A0002  # one writer of a wave's snapshots at a time: waited for
# Outreach (services/outreach/delivery.py) marks a message `failed` for a hard bounce or an
# invalid number, and also when it gave up after transient failures or could not render
# the template. Only the first kind says the alumnus cannot be reached.
TRANSIENT_FAILURE_PREFIXES = ("gave up after", "template:")
CONTACTED_STATUSES = ("sent", "delivered")

# The answer keys read as integers, and the one read as an array (f4, job search channels).
_INTEGER_KEYS = (
    "f8", "f504", "f502", "f506", "f505", "f14", "f5a2", "blk_cert",
    *(key for pair in COMPETENCIES for key in pair),
    *TRAINING_EVAL_ITEMS,
)
_ARRAY_KEY = "f4"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")  # keys are rendered into the SQL text
# Kinds of rows in the fill statement, and the disposition codes of the `d` rows.
_ANSWERS, _WAITING, _INCOME, _DISPOSITION = 0, 1, 2, 3
_DISPOSITION_CODES = {1: "partial", 2: "refusal", 3: "unreachable", 4: "non_contact",
                      5: "unknown"}


# --- the SQL twins of `type(answers.get(key)) is int` -------------------------------------


class JsonInteger(ColumnElement[Any]):
    """`document[key]` when it is a JSON integer, else NULL (a string, 1.0, true: NULL).

    PostgreSQL gives a numeric (a JSON integer of any size; no cast can fail), SQLite an
    integer. Both read the stored JSON exactly as Python's json module reads it back.
    """

    inherit_cache = True
    type = BigInteger()
    _traverse_internals = [
        ("document", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
    ]

    def __init__(self, document: ColumnElement[Any], key: str) -> None:
        if not _KEY_PATTERN.match(key):
            raise ValueError(f"answer key {key!r} cannot be rendered into SQL")
        self.document = document
        self.key = key


class JsonArray(ColumnElement[Any]):
    """`document[key]` when it is a JSON array (jsonb / JSON text), else NULL."""

    inherit_cache = True
    _traverse_internals = JsonInteger._traverse_internals

    def __init__(self, document: ColumnElement[Any], key: str) -> None:
        if not _KEY_PATTERN.match(key):
            raise ValueError(f"answer key {key!r} cannot be rendered into SQL")
        self.document = document
        self.key = key


class ArrayHasString(ColumnElement[bool]):
    """True when the JSON array holds the string `value` (Python: `value in array`)."""

    inherit_cache = True
    _traverse_internals = [
        ("array", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_string),
    ]

    def __init__(self, array: ColumnElement[Any], value: str) -> None:
        if not _KEY_PATTERN.match(value):
            raise ValueError(f"option code {value!r} cannot be rendered into SQL")
        self.array = array
        self.value = value


@compiles(JsonInteger, "postgresql")
def _json_integer_pg(element: JsonInteger, compiler: Any, **kw: Any) -> str:
    field = f"({compiler.process(element.document, **kw)} -> '{element.key}')"
    # jsonb keeps a number's scale: 1.0 has scale 1 and reads back as a float, 1 as an int.
    return (f"CASE WHEN jsonb_typeof({field}) = 'number' AND scale({field}::numeric) = 0 "
            f"THEN {field}::numeric END")


@compiles(JsonInteger, "sqlite")
def _json_integer_sqlite(element: JsonInteger, compiler: Any, **kw: Any) -> str:
    document, path = compiler.process(element.document, **kw), f"'$.\"{element.key}\"'"
    return (f"CASE WHEN json_type({document}, {path}) = 'integer' "
            f"THEN json_extract({document}, {path}) END")


@compiles(JsonArray, "postgresql")
def _json_array_pg(element: JsonArray, compiler: Any, **kw: Any) -> str:
    field = f"({compiler.process(element.document, **kw)} -> '{element.key}')"
    return f"CASE WHEN jsonb_typeof({field}) = 'array' THEN {field} END"


@compiles(JsonArray, "sqlite")
def _json_array_sqlite(element: JsonArray, compiler: Any, **kw: Any) -> str:
    document, path = compiler.process(element.document, **kw), f"'$.\"{element.key}\"'"
    return (f"CASE WHEN json_type({document}, {path}) = 'array' "
            f"THEN json_extract({document}, {path}) END")


@compiles(ArrayHasString, "postgresql")
def _array_has_string_pg(element: ArrayHasString, compiler: Any, **kw: Any) -> str:
    # jsonb `?` matches string elements of an array only; the operand is an array or NULL.
    return f"({compiler.process(element.array, **kw)} ? '{element.value}')"


@compiles(ArrayHasString, "sqlite")
def _array_has_string_sqlite(element: ArrayHasString, compiler: Any, **kw: Any) -> str:
    return (f"EXISTS (SELECT 1 FROM json_each({compiler.process(element.array, **kw)}) "
            f"AS element WHERE element.type = 'text' AND element.value = '{element.value}')")


# --- filling cells -------------------------------------------------------------------------


def fill_cells(session: Session, wave_id: int) -> dict[CellKey, Cell]:
    """Every cell of the wave (program × cohort × gender of its targets), from one statement."""
    return _fill(session, wave_id, None)


def fill_cell(session: Session, wave_id: int, key: CellKey) -> Cell:
    """One cell, with the same statement restricted to the cell's targets."""
    return _fill(session, wave_id, key).get(key, Cell())


def _fill(session: Session, wave_id: int, only: CellKey | None) -> dict[CellKey, Cell]:
    cells: dict[CellKey, Cell] = {}
    for row in session.execute(fill_statement(wave_id, only)):
        kind, program_id, cohort_id, gender, value, *measures = row
        key = CellKey(int(program_id), int(cohort_id), str(gender))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        if kind == _ANSWERS:
            _apply_measures(cell, measures)
        elif kind == _WAITING:
            cell.waiting_months[int(value)] = int(measures[0])
        elif kind == _INCOME:
            cell.income[int(value)] = int(measures[0])
        else:
            setattr(cell, _DISPOSITION_CODES[int(value)], int(measures[0]))
    return cells


def fill_statement(wave_id: int, only: CellKey | None = None) -> Select[Any]:
    """The one statement that fills the wave's cells (or one cell): see the module doc.

    Columns: kind, program_id, cohort_id, gender, value, then the measures of `_MEASURES`
    for answer rows; value-table and disposition rows carry their count in the first one.
    """
    targets = WaveTarget.__table__
    responses = Response.__table__
    in_scope = [targets.c.wave_id == wave_id]
    if only is not None:
        in_scope += [targets.c.program_id == only.program_id,
                     targets.c.cohort_id == only.cohort_id,
                     targets.c.gender == only.gender]
    cell_columns = (targets.c.program_id, targets.c.cohort_id, targets.c.gender)
    response_of_target = and_(responses.c.wave_id == targets.c.wave_id,
                              responses.c.alumnus_id == targets.c.alumnus_id)

    def answers() -> Any:
        # OFFSET 0 keeps both planners from inlining this subquery: each answer is then read
        # out of the JSON once per response, not once for every aggregate that uses it.
        return (
            select(*cell_columns,
                   *(JsonInteger(responses.c.answers, key).label(key) for key in _INTEGER_KEYS),
                   JsonArray(responses.c.answers, _ARRAY_KEY).label(_ARRAY_KEY))
            .select_from(targets.join(responses, response_of_target))
            .where(*in_scope, responses.c.status == "complete")
            .offset(0)
            .subquery()
        )

    padding = [null()] * (len(_MEASURES) - 1)

    aggregated = answers()
    measures = [expression(aggregated.c).label(name) for name, expression in _MEASURES]
    answer_rows = (
        select(literal(_ANSWERS).label("kind"), *_cell_of(aggregated),
               null().label("value"), *measures)
        .group_by(*_cell_of(aggregated))
    )

    def table_rows(kind: int, value_of: Any) -> Select[Any]:
        source = answers()
        value = value_of(source.c)
        return (
            select(literal(kind), *_cell_of(source), value, func.count(), *padding)
            .where(value.is_not(None))
            .group_by(*_cell_of(source), value)
        )

    waiting_rows = table_rows(_WAITING, _waiting_months)
    income_rows = table_rows(_INCOME, _income)

    messages = _messages_by_alumnus(wave_id, in_scope)
    disposition = _disposition(messages)
    disposition_rows = (
        select(literal(_DISPOSITION), *cell_columns, disposition, func.count(), *padding)
        .select_from(
            targets.join(Alumnus.__table__, Alumnus.id == targets.c.alumnus_id)
            .outerjoin(responses, response_of_target)
            .outerjoin(messages, messages.c.alumnus_id == targets.c.alumnus_id)
        )
        .where(*in_scope, or_(responses.c.id.is_(None), responses.c.status != "complete"))
        .group_by(*cell_columns, disposition)
    )
    return union_all(answer_rows, waiting_rows, income_rows, disposition_rows)  # type: ignore[return-value]


def _cell_of(source: Any) -> tuple[Any, Any, Any]:
    return source.c.program_id, source.c.cohort_id, source.c.gender


def _employed(a: Any) -> ColumnElement[bool]:
    return a.f8.in_(EMPLOYED_STATUSES)


def _waiting_months(a: Any) -> ColumnElement[Any]:
    # engine.waiting_months: f502 when f504 = 1, f506 when f504 = 2, for the employed only.
    return case((_employed(a), case((a.f504 == 1, a.f502), (a.f504 == 2, a.f506))))


def _income(a: Any) -> ColumnElement[Any]:
    return case((and_(_employed(a), a.f505 > 0), a.f505))


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.count(case((condition, 1)))


def _sum(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.sum(case((condition, value)))


def _both_rated(a: Any, a_key: str, b_key: str) -> ColumnElement[bool]:
    return and_(a[a_key].in_(RATINGS), a[b_key].in_(RATINGS))


# (name, expression over the answers subquery's columns) for the answer rows, in order.
_MEASURES: list[tuple[str, Any]] = [
    ("respondents", lambda a: func.count()),
    *((f"status_{code}", lambda a, code=code: _count(a.f8 == code)) for code in STATUS_CODES),
    ("employed_within_6_months", lambda a: _count(_waiting_months(a) <= 6)),
    ("relevance_answered", lambda a: _count(and_(_employed(a), a.f14.in_(RELEVANCE_CODES)))),
    ("relevant", lambda a: _count(and_(_employed(a), a.f14.in_(RELEVANT_CODES)))),
    ("location_answered", lambda a: _count(and_(_employed(a), a.f5a2.in_(LOCATION_CODES)))),
    ("local", lambda a: _count(and_(_employed(a), a.f5a2 == LOCAL_CODE))),
    ("certificate_answered", lambda a: _count(a.blk_cert.in_(CERTIFICATE_CODES))),
    ("certified", lambda a: _count(a.blk_cert == CERTIFIED_CODE)),
    *(item for a_key, b_key in COMPETENCIES for item in (
        (f"competency_answered.{a_key}",
         lambda a, a_key=a_key, b_key=b_key: _count(_both_rated(a, a_key, b_key))),
        (f"competency_a_sum.{a_key}",
         lambda a, a_key=a_key, b_key=b_key: _sum(_both_rated(a, a_key, b_key), a[a_key])),
        (f"competency_b_sum.{a_key}",
         lambda a, a_key=a_key, b_key=b_key: _sum(_both_rated(a, a_key, b_key), a[b_key])),
    )),
    *(item for key in TRAINING_EVAL_ITEMS for item in (
        (f"training_eval_answered.{key}", lambda a, key=key: _count(a[key].in_(RATINGS))),
        (f"training_eval_sum.{key}", lambda a, key=key: _sum(a[key].in_(RATINGS), a[key])),
    )),
    *((f"channels.{code}",
       lambda a, code=code: _count(and_(_employed(a), ArrayHasString(a.f4, code))))
      for code in JOB_SEARCH_CHANNELS),
]


def _apply_measures(cell: Cell, measures: Sequence[Any]) -> None:
    for (name, _), raw in zip(_MEASURES, measures, strict=True):
        value = int(raw or 0)  # SUM of nothing is NULL; PostgreSQL sums numerics as Decimal
        if name.startswith("status_"):
            if value:
                cell.status[int(name.removeprefix("status_"))] = value
        elif "." in name:
            table, key = name.split(".", 1)
            if value:  # zero entries are absent, as Cell keeps them
                getattr(cell, table)[key] = value
        else:
            setattr(cell, name, value)


def _messages_by_alumnus(wave_id: int, in_scope: list[Any]) -> Any:
    messages = Message.__table__
    failed_for_good = and_(
        messages.c.status == "failed",
        *(func.coalesce(messages.c.failed_reason, "").not_like(f"{prefix}%")
          for prefix in TRANSIENT_FAILURE_PREFIXES),
    )
    query = (
        select(
            messages.c.alumnus_id,
            func.count().label("messages"),
            _count(failed_for_good).label("failed_for_good"),
            _count(messages.c.status.in_(CONTACTED_STATUSES)).label("contacted"),
        )
        .select_from(
            messages.join(CampaignStep.__table__, CampaignStep.id == messages.c.campaign_step_id)
            .join(Campaign.__table__, Campaign.id == CampaignStep.campaign_id)
        )
        .where(Campaign.wave_id == wave_id)
        .group_by(messages.c.alumnus_id)
    )
    if len(in_scope) > 1:  # one cell: only its targets' messages, not the wave's
        query = query.where(messages.c.alumnus_id.in_(
            select(WaveTarget.alumnus_id).where(*in_scope)))
    return query.subquery("messages_of_wave")


def _disposition(messages_of_wave: Any) -> ColumnElement[Any]:
    targets = WaveTarget.__table__
    messages = messages_of_wave.c
    refused = or_(
        Alumnus.consent_withdrawn_at.is_not(None),
        targets.c.alumnus_id.in_(select(OptOut.alumnus_id).where(OptOut.alumnus_id.is_not(None))),
    )
    return case(
        (Response.__table__.c.id.is_not(None), 1),  # a response, not complete: partial
        (refused, 2),
        (and_(messages.messages > 0, messages.failed_for_good == messages.messages), 3),
        (messages.contacted > 0, 4),
        else_=5,
    ).label("value")


# --- snapshots -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshOutcome:
    """What `refresh_all` did for one wave: the new snapshot, or None when it was skipped."""

    wave_id: int
    slug: str
    snapshot: IndicatorSnapshot | None


def full_refresh(
    session_factory: sessionmaker[Session], wave_id: int, *, run_id: int | None = None
) -> IndicatorSnapshot | None:
    """Recompute every cell of the wave and write one new snapshot; None if skipped.

    Skipped (returns None, the run row says "skipped") when another full refresh of the
    wave is running, or finished after this one was asked for. `run_id`: a RefreshRun row
    created beforehand (the API creates one to answer with its id); else one is created.
    """
    requested_at = utcnow()
    with session_factory() as session, session.begin():
        if run_id is None:
            run = RefreshRun(wave_id=wave_id, kind="full", status="running",
                             started_at=requested_at)
            session.add(run)
            session.flush()
            run_id = run.id
        else:
            session.execute(update(RefreshRun).where(RefreshRun.id == run_id)
                            .values(status="running", started_at=requested_at))
    try:
        with session_factory() as session, session.begin():
            if not _claim_refresh(session, wave_id, run_id, requested_at):
                _finish_run(session, run_id, "skipped", "another refresh of the wave ran")
                return None
            return _write_full_snapshot(session, wave_id, run_id)
    except Exception as exc:
        with session_factory() as session, session.begin():
            _finish_run(session, run_id, "failed", f"{type(exc).__name__}: {exc}"[:2000])
        raise


def refresh_all(session_factory: sessionmaker[Session]) -> list[RefreshOutcome]:
    """Full refresh of every open and closed wave, oldest first (`jejak analytics refresh`)."""
    with session_factory() as session:
        waves = session.execute(
            select(Wave.id, Wave.slug).where(Wave.status.in_(REFRESHED_STATUSES))
            .order_by(Wave.id)
        ).all()
    return [RefreshOutcome(wave_id, slug, full_refresh(session_factory, wave_id))
            for wave_id, slug in waves]


def update_alumnus_cell(
    session: Session, wave_id: int, alumnus_id: int
) -> IndicatorSnapshot | None:
    """Recompute the cell of one targeted alumnus in a new copy of the newest snapshot.

    In the caller's transaction (the event consumer's). With no snapshot yet, a full
    refresh is written instead. None when nothing changed: the alumnus is not a target of
    the wave, or their cell came out as it was.
    """
    _lock_snapshots(session, wave_id)
    target = session.execute(
        select(WaveTarget.program_id, WaveTarget.cohort_id, WaveTarget.gender)
        .where(WaveTarget.wave_id == wave_id, WaveTarget.alumnus_id == alumnus_id)
    ).first()
    if target is None:
        return None  # answers from outside the population are counted nowhere
    latest = session.execute(
        select(IndicatorSnapshot.id, IndicatorSnapshot.responses_included,
               IndicatorSnapshot.data)
        .where(IndicatorSnapshot.wave_id == wave_id)
        .order_by(IndicatorSnapshot.id.desc()).limit(1)
    ).first()
    if latest is None:
        run = RefreshRun(wave_id=wave_id, kind="full", status="running", started_at=utcnow())
        session.add(run)
        session.flush()
        return _write_full_snapshot(session, wave_id, run.id)
    key = CellKey(*target)
    cell = fill_cell(session, wave_id, key).to_json()
    cells: list[dict[str, Any]] = list(latest.data.get("cells", []))
    position = next((index for index, row in enumerate(cells)
                     if (row["program_id"], row["cohort_id"], row["gender"]) == key), None)
    previous = cells[position]["cell"] if position is not None else {}
    if previous == cell:
        return None
    replacement = {**key._asdict(), "cell": cell}
    if position is None:
        cells.append(replacement)
    else:
        cells[position] = replacement
    labels = _copy_labels(latest.data.get("labels", {}))
    if (str(key.program_id) not in labels["programs"]
            or str(key.cohort_id) not in labels["cohorts"]):
        _add_labels(session, labels, [key])
    now = utcnow()
    run = RefreshRun(wave_id=wave_id, kind="live", status="done", started_at=now,
                     finished_at=now,
                     detail=f"alumnus {alumnus_id}: cell {key.program_id}/{key.cohort_id}/"
                            f"{key.gender}, from snapshot {latest.id}")
    session.add(run)
    session.flush()
    snapshot = IndicatorSnapshot(
        wave_id=wave_id, refresh_run_id=run.id, computed_at=now,
        responses_included=latest.responses_included - int(previous.get("respondents", 0))
        + int(cell.get("respondents", 0)),
        data={"cells": cells, "labels": labels},
    )
    session.add(snapshot)
    session.flush()
    _prune(session, wave_id)
    return snapshot


def message_wave(session: Session, message_id: int) -> int | None:
    """The wave a message reaches out for (None: a broadcast, or no such message)."""
    return session.scalar(
        select(Campaign.wave_id)
        .join(CampaignStep, CampaignStep.campaign_id == Campaign.id)
        .join(Message, Message.campaign_step_id == CampaignStep.id)
        .where(Message.id == message_id)
    )


def latest_snapshot(session: Session, wave_id: int) -> IndicatorSnapshot | None:
    """The snapshot readers use: the newest one written for the wave."""
    return session.scalar(
        select(IndicatorSnapshot).where(IndicatorSnapshot.wave_id == wave_id)
        .order_by(IndicatorSnapshot.id.desc()).limit(1)
    )


def wave_year(wave: Wave, timezone: str) -> int:
    """The year whose minimum wage applies: of opening, else of creation, in local time."""
    moment: datetime = wave.opened_at or wave.created_at
    return moment.astimezone(ZoneInfo(timezone)).year


def minimum_wage_of(session: Session, wave: Wave, timezone: str) -> MinimumWage | None:
    return session.get(MinimumWage, wave_year(wave, timezone))


def _claim_refresh(session: Session, wave_id: int, run_id: int, requested_at: datetime) -> bool:
    if is_postgres(session) and not session.scalar(
        select(func.pg_try_advisory_xact_lock(LOCK_REFRESH, wave_id))
    ):
        return False
    # SQLite got here by waiting for the write lock: if a refresh of the wave finished
    # meanwhile, it covered this request (on PostgreSQL this only closes a narrow race).
    return not _overtaken(session, wave_id, run_id, requested_at)


def _overtaken(session: Session, wave_id: int, run_id: int, requested_at: datetime) -> bool:
    return session.scalar(
        select(func.count()).select_from(RefreshRun).where(
            RefreshRun.wave_id == wave_id, RefreshRun.kind == "full",
            RefreshRun.status == "done", RefreshRun.id != run_id,
            RefreshRun.finished_at > requested_at,
        )
    ) > 0


def _lock_snapshots(session: Session, wave_id: int) -> None:
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(LOCK_SNAPSHOT, wave_id)))


def _write_full_snapshot(session: Session, wave_id: int, run_id: int) -> IndicatorSnapshot:
    _lock_snapshots(session, wave_id)
    cells = fill_cells(session, wave_id)
    keys = sorted(cells)
    labels: dict[str, dict[str, str]] = {"programs": {}, "cohorts": {}}
    _add_labels(session, labels, keys)
    snapshot = IndicatorSnapshot(
        wave_id=wave_id, refresh_run_id=run_id, computed_at=utcnow(),
        responses_included=sum(cell.respondents for cell in cells.values()),
        data={"cells": cells_to_json((key, cells[key]) for key in keys), "labels": labels},
    )
    session.add(snapshot)
    session.flush()
    _finish_run(session, run_id, "done", f"snapshot {snapshot.id}: {len(keys)} cells, "
                                         f"{snapshot.responses_included} responses")
    _prune(session, wave_id)
    return snapshot


def _finish_run(session: Session, run_id: int, status: str, detail: str) -> None:
    session.execute(update(RefreshRun).where(RefreshRun.id == run_id)
                    .values(status=status, finished_at=utcnow(), detail=detail))


def _copy_labels(labels: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {"programs": dict(labels.get("programs", {})),
            "cohorts": dict(labels.get("cohorts", {}))}


def _add_labels(
    session: Session, labels: dict[str, dict[str, str]], keys: Iterable[CellKey]
) -> None:
    keys = list(keys)
    program_ids = {key.program_id for key in keys}
    cohort_ids = {key.cohort_id for key in keys}
    if program_ids:
        for program_id, name in session.execute(
            select(Program.id, Program.name).where(Program.id.in_(program_ids))
        ):
            labels["programs"][str(program_id)] = name
    if cohort_ids:
        for cohort_id, label in session.execute(
            select(Cohort.id, Cohort.label).where(Cohort.id.in_(cohort_ids))
        ):
            labels["cohorts"][str(cohort_id)] = label


def _prune(session: Session, wave_id: int) -> None:
    """Keep the newest KEEP_SNAPSHOTS snapshots of the wave, and the live runs they name."""
    oldest_kept = session.scalar(
        select(IndicatorSnapshot.id).where(IndicatorSnapshot.wave_id == wave_id)
        .order_by(IndicatorSnapshot.id.desc()).offset(KEEP_SNAPSHOTS - 1).limit(1)
    )
    if oldest_kept is None:
        return
    dropped_runs = select(IndicatorSnapshot.refresh_run_id).where(
        IndicatorSnapshot.wave_id == wave_id, IndicatorSnapshot.id < oldest_kept,
        IndicatorSnapshot.refresh_run_id.is_not(None),
    )
    live_runs = list(session.scalars(
        select(RefreshRun.id).where(RefreshRun.kind == "live", RefreshRun.id.in_(dropped_runs))
    ))
    session.execute(delete(IndicatorSnapshot).where(
        IndicatorSnapshot.wave_id == wave_id, IndicatorSnapshot.id < oldest_kept))
    if live_runs:
        session.execute(delete(RefreshRun).where(RefreshRun.id.in_(live_runs)))
