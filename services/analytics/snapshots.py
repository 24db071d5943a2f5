"""Reading a wave's indicators: the one function the API, the dashboard and the reports use.

A wave's figures are its newest snapshot (indicator_snapshots, highest id: the cells and
labels a full refresh wrote, as one document never changed once written) with the cells
live updates recomputed since (indicator_cells: at most one row per cell of the snapshot,
replaced by delete + insert, so a row is never changed either). A cell's figures are its
indicator_cells row if it has one, else the snapshot document's copy.

`read_snapshot` reads the newest header and its cell rows in one statement: one consistent
read on both databases, so a reader sees a full refresh either entirely or not at all, and
each live update either entirely or not at all. Nothing a writer does is visible before
its commit (a full refresh writes its header in one transaction; a live update replaces
one row in one transaction).

Parsing a large wave's document costs far more than the query (2,000 cells, 650,000
income entries at 1M responses), so parsed documents and cell rows are kept in the app's
`IndicatorCache` (services/analytics/indicator_cache.py), keyed by (database, wave) and the
row ids; the statement sends the document and a cell row's JSON only when this process has
not parsed that row yet. An app reads its open and closed waves' snapshots ahead as it
starts (services/analytics/warmup.py), so the first request after a restart finds them.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from services.analytics.cells import Cell, CellKey, cells_from_json
from services.analytics.indicator_cache import IndicatorCache, of_app
from shared.models import IndicatorCell, IndicatorSnapshot, JsonType

Labels = dict[str, dict[str, str]]


@dataclass(frozen=True)
class SnapshotView:
    """A wave's current figures: the snapshot header with live-updated cells applied.

    `id` is the full refresh's snapshot; `computed_at` the newest of the refresh and the
    live updates since; `responses_included` the complete responses counted in the cells.
    """

    id: int
    computed_at: datetime
    responses_included: int
    cells: list[tuple[CellKey, Cell]]
    labels: Labels
    live_cells: int = 0  # cells replaced or added by live updates since the refresh


@dataclass
class _Parsed:
    """What one process has parsed of one wave's newest snapshot."""

    snapshot_id: int
    computed_at: datetime
    cells: dict[CellKey, Cell]
    labels: Labels
    rows: dict[int, tuple[CellKey, Cell, dict[str, Any] | None, datetime]] = field(
        default_factory=dict)
    view: SnapshotView | None = None
    view_rows: frozenset[int] = frozenset()


_HEADER, _CELL = 0, 1


def _read_statement() -> Any:
    snapshots, cells = IndicatorSnapshot.__table__, IndicatorCell.__table__
    newest = (select(func.max(snapshots.c.id))
              .where(snapshots.c.wave_id == bindparam("wave_id", type_=Integer()))
              .scalar_subquery())
    header = select(
        literal(_HEADER).label("kind"), snapshots.c.id,
        null().cast(Integer()).label("program_id"), null().cast(Integer()).label("cohort_id"),
        null().cast(String()).label("gender"), snapshots.c.computed_at,
        # The document only when this process has not parsed it (it never changes).
        case((snapshots.c.id == bindparam("parsed_snapshot", type_=Integer()), null()),
             else_=snapshots.c.data).label("data"),
        null().cast(JsonType).label("labels"),
    ).where(snapshots.c.id == newest)
    rows = select(
        literal(_CELL), cells.c.id, cells.c.program_id, cells.c.cohort_id, cells.c.gender,
        cells.c.computed_at,
        # Row ids grow: a row above the highest one parsed is new to this process. A lower
        # id committed late comes without its JSON and is fetched by `_rows_by_id`.
        case((cells.c.id <= bindparam("parsed_row", type_=Integer()), null()),
             else_=cells.c.cell),
        cells.c.labels,
    ).where(cells.c.snapshot_id == newest)
    return union_all(header, rows)


_READ = _read_statement()


def read_snapshot(session: Session, wave_id: int,
                  cache: IndicatorCache | None = None) -> SnapshotView | None:
    """The wave's current figures (None: no full refresh yet), read in one statement.

    `cache`: where parsed snapshots are kept, by default the current app's (none outside an
    app: every read then parses the document).
    """
    cache = cache if cache is not None else of_app()
    key = (str(session.get_bind().url), wave_id)
    parsed = cache.parsed(key) if cache is not None else None
    for _ in range(5):
        view = _read(session, key, wave_id, parsed, cache)
        if view is not None or parsed is None:
            return view[0] if view else None
        parsed = None  # a row went missing between two statements: read everything again
    raise RuntimeError("the snapshot kept changing while it was read")


def _read(session: Session, key: tuple[str, int], wave_id: int, parsed: _Parsed | None,
          cache: IndicatorCache | None) -> tuple[SnapshotView] | None:
    params = {"wave_id": wave_id,
              "parsed_snapshot": parsed.snapshot_id if parsed else -1,
              "parsed_row": max(parsed.rows, default=-1) if parsed else -1}
    header = None
    rows = []
    for kind, row_id, program_id, cohort_id, gender, computed_at, data, labels in (
            session.execute(_READ, params)):
        if kind == _HEADER:
            header = (row_id, computed_at, data)
        else:
            rows.append((row_id, CellKey(int(program_id), int(cohort_id), str(gender)),
                         computed_at, data, labels))
    if header is None:
        return None if parsed is None else _gone(key, cache)
    snapshot_id, computed_at, document = header
    # computed_at as well as the id: a database rebuilt under the same URL (tests) hands
    # out ids again.
    if (parsed is None or parsed.snapshot_id != snapshot_id
            or parsed.computed_at != computed_at):
        if document is None:
            document = session.scalar(select(IndicatorSnapshot.data)
                                      .where(IndicatorSnapshot.id == snapshot_id))
        document = document or {}
        known: dict[int, tuple[CellKey, Cell, dict[str, Any] | None, datetime]] = {}
        parsed = _Parsed(snapshot_id, computed_at, dict(cells_from_json(
            document.get("cells", []))), _copy_labels(document.get("labels", {})))
        if len(parsed.cells) >= FREEZE_CELLS:
            freeze_heap()
    else:
        known = parsed.rows
    current: dict[int, tuple[CellKey, Cell, dict[str, Any] | None, datetime]] = {}
    missing = []
    for row_id, cell_key, row_computed_at, data, labels in rows:
        cached = known.get(row_id)
        if cached is not None and cached[3] == row_computed_at:
            current[row_id] = cached
        elif data is not None:
            current[row_id] = (cell_key, Cell.from_json(data), labels, row_computed_at)
        else:
            missing.append((row_id, cell_key, row_computed_at))
    if missing:
        fetched = _rows_by_id(session, [row_id for row_id, _, _ in missing])
        if len(fetched) < len(missing):
            return _gone(key, cache)  # replaced meanwhile by a newer row: read again
        for row_id, cell_key, row_computed_at in missing:
            data, labels = fetched[row_id]
            current[row_id] = (cell_key, Cell.from_json(data), labels, row_computed_at)
    view = parsed.view
    if view is None or parsed.view_rows != frozenset(current) or known is not parsed.rows:
        view = None
    # A new object each time: other threads may be reading the previous one.
    updated = _Parsed(parsed.snapshot_id, parsed.computed_at, parsed.cells, parsed.labels,
                      current)
    updated.view = view or _view(updated)
    updated.view_rows = frozenset(current)
    if cache is not None:
        cache.keep_parsed(key, updated)
    return (updated.view,)


# A large wave's parsed snapshot and the process's modules are a heap that lives for hours;
# every full (generation 2) collection walked it again: ~90–155 ms, about one indicators
# request in eight after a live update at 1M responses. Frozen (after collecting what is
# already garbage), collections walk only what came later. Parsed cells hold no reference
# cycles, so they are still freed by reference counting when a newer snapshot replaces
# them; cyclic garbage that dies while frozen is collected at the next freeze.
FREEZE_CELLS = 500


def freeze_heap() -> None:
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _gone(key: tuple[str, int], cache: IndicatorCache | None) -> None:
    if cache is not None:
        cache.forget_parsed(key)
    return None


def _rows_by_id(session: Session, ids: list[int]) -> dict[int, tuple[Any, Any]]:
    cells = IndicatorCell.__table__
    return {row_id: (cell, labels) for row_id, cell, labels in session.execute(
        select(cells.c.id, cells.c.cell, cells.c.labels).where(cells.c.id.in_(ids)))}


def _view(parsed: _Parsed) -> SnapshotView:
    cells = dict(parsed.cells)
    labels = _copy_labels(parsed.labels)
    computed_at = parsed.computed_at
    for cell_key, cell, row_labels, row_computed_at in parsed.rows.values():
        cells[cell_key] = cell
        computed_at = max(computed_at, row_computed_at)
        if row_labels:
            if row_labels.get("program") is not None:
                labels["programs"].setdefault(str(cell_key.program_id), row_labels["program"])
            if row_labels.get("cohort") is not None:
                labels["cohorts"].setdefault(str(cell_key.cohort_id), row_labels["cohort"])
    keyed = sorted(cells.items())
    return SnapshotView(parsed.snapshot_id, computed_at,
                        sum(cell.respondents for _, cell in keyed), keyed, labels,
                        live_cells=len(parsed.rows))


def _copy_labels(labels: dict[str, Any]) -> Labels:
    return {"programs": dict(labels.get("programs", {})),
            "cohorts": dict(labels.get("cohorts", {}))}


WARMED_STATUSES = ("open", "closed")  # the waves an app reads ahead as it starts (warmup)
