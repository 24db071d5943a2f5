"""Filling cells: bring the projection up to date, run the fill statement, fold its rows.

`fill_cells` gives every cell of a wave, `fill_cell` one cell (the live update); both run in
the caller's transaction, and the caller serialises writers (`refresh`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from services.analytics.cells import Cell, CellKey
from services.analytics.decent import place_key
from services.analytics.decent_store import plan_of_wave
from services.analytics.inputs import wave_inputs
from services.analytics.measures import apply_measures
from services.analytics.projection import reconcile_alumnus, reconcile_answers
from services.analytics.statements import (
    ANSWERS,
    DISPOSITION_CODES,
    INCOME,
    WAITING,
    fill_statement,
    measure_names,
)


def fill_cells(session: Session, wave_id: int) -> dict[CellKey, Cell]:
    """Every cell of the wave (program × cohort × gender of its targets), from one statement.

    First brings the wave's indicator_answers up to date (`reconcile_answers`), in the
    caller's transaction; the caller serialises writers (`refresh._lock_snapshots`). The
    projection and the statement follow the mapping of the wave's questionnaire.
    """
    inputs = wave_inputs(session, wave_id)
    reconcile_answers(session, wave_id, inputs=inputs)
    plan = plan_of_wave(session, wave_id)
    names = measure_names(inputs, plan)
    return _fill(session.execute(fill_statement(inputs=inputs, plan=plan),
                                 {"wave_id": wave_id}), names)


def fill_cell(session: Session, wave_id: int, key: CellKey, *,
              alumnus_id: int | None = None) -> Cell:
    """One cell, from the same statement restricted to the cell's targets.

    The cell's indicator_answers are reconciled first, or with `alumnus_id` (the live
    update) only that alumnus's: the event says whose response changed, and every other
    row was reconciled by an earlier fill (the nightly full refresh covers anything that
    changed without an event). Reconciling the whole cell reads every target's response.
    """
    inputs = wave_inputs(session, wave_id)
    if alumnus_id is None:
        reconcile_answers(session, wave_id, key, inputs=inputs)
    else:
        reconcile_alumnus(session, wave_id, alumnus_id, inputs)
    plan = plan_of_wave(session, wave_id)
    rows = session.execute(fill_statement(one_cell=True, inputs=inputs, plan=plan),
                           {"wave_id": wave_id, **key._asdict()})
    return _fill(rows, measure_names(inputs, plan)).get(key, Cell())


def _fill(rows: Iterable[Any], names: Sequence[str]) -> dict[CellKey, Cell]:
    cells: dict[tuple[Any, Any, Any], tuple[CellKey, Cell]] = {}
    # Not streamed: PostgreSQL runs no parallel workers for a cursor's query. Seven columns a
    # row keep the buffered result small (a row per distinct income of every cell).
    for kind, program_id, cohort_id, gender, value, count, measures in rows:
        found = cells.get((program_id, cohort_id, gender))
        if found is None:
            found = cells[program_id, cohort_id, gender] = (
                CellKey(int(program_id), int(cohort_id), str(gender)), Cell())
        cell = found[1]
        if kind == WAITING:
            cell.waiting_months[int(value)] = count
        elif kind == INCOME:
            # One row per income and work place: the income table sums the places.
            income = int(value)
            cell.income[income] = cell.income.get(income, 0) + count
            if measures is not None:
                city, province = (json.loads(measures) if isinstance(measures, str)
                                  else measures)
                cell.income_place[place_key(city, province, income)] = count
        elif kind == ANSWERS:
            apply_measures(cell, json.loads(measures) if isinstance(measures, str)
                           else measures, names)
        else:
            setattr(cell, DISPOSITION_CODES[int(value)], count)
    return dict(cells.values())
