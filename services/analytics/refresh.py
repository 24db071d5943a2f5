"""Indicator snapshots: full refreshes and one-cell live updates, and who may write when.

The cells come from `fill` (the projection reconciled, then the fill statement of
`statements`); this module decides when they are computed and how they are stored.

Snapshots (read through `snapshots.read_snapshot`): a full refresh writes one new
indicator_snapshots row holding every cell, in one transaction, so a refresh that fails
midway leaves the previous row in place; the row is never changed once written. A live
update (response submitted, message status) recomputes the alumnus's one cell with the same
statement restricted to that cell and replaces that cell's indicator_cells row of the newest
snapshot: the work is one cell, whatever the size of the wave. Recomputing from the tables
(never adding to the old figures) is what makes a redelivered or reordered event harmless.
The last `KEEP_SNAPSHOTS` snapshots per wave are kept, with their cell rows.

Serialisation. PostgreSQL: a full refresh takes `pg_try_advisory_xact_lock(REFRESH, wave)`
and gives up (returns None) when another refresh of the wave holds it; every writer of a
wave's snapshots (full or live) then waits for `pg_advisory_xact_lock(SNAPSHOT, wave)`, so
a live update never builds on a snapshot a full refresh is about to replace, and a full
refresh never overwrites a live update it did not see. SQLite: every transaction starts with
BEGIN IMMEDIATE (shared.db), which already serialises all writers; a second full refresh
waits for the first (up to the busy timeout) and then skips, because a refresh of the wave
finished after it was asked for (`_overtaken`), which is what the PostgreSQL lock gives.
Readers on SQLite begin the same way, so they wait for a running refresh instead of reading
the previous snapshot beside it; at the sizes SQLite serves that is milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.analytics.cells import CellKey, cells_to_json
from services.analytics.employer_projection import reconcile_employer
from services.analytics.fill import fill_cell, fill_cells
from services.analytics.statements import tune_for_full_refresh
from shared.db import is_postgres
from shared.models import (
    Campaign,
    CampaignStep,
    Cohort,
    IndicatorCell,
    IndicatorSnapshot,
    Message,
    Program,
    RefreshRun,
    Wave,
    WaveTarget,
    utcnow,
)

KEEP_SNAPSHOTS = 5  # per wave: the newest few, so a reader mid-read never loses its row
REFRESHED_STATUSES = ("open", "closed")  # the waves `refresh_all` and the nightly job cover
# pg advisory lock classes (first key); the second key is the wave id.
LOCK_REFRESH = 0x4A4A0001  # one full refresh per wave at a time: tried, never waited for
LOCK_SNAPSHOT = 0x4A4A0002  # one writer of a wave's snapshots at a time: waited for


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


def update_alumnus_cell(session: Session, wave_id: int, alumnus_id: int) -> int | None:
    """Recompute the cell of one targeted alumnus and store it as the snapshot's live cell.

    In the caller's transaction (the event consumer's). Returns the id of the new
    indicator_cells row; with no snapshot of the wave yet, a full refresh is written
    instead and its snapshot id returned. None when nothing changed: the alumnus is not a
    target of the wave, or their cell came out as its live row already holds it.

    The work is one cell whatever the size of the wave: recompute it (the fill statement
    restricted to the cell, through ix_wave_targets_cell), then replace the cell's row
    (delete + insert: a new id, which is how readers' caches see the change).
    """
    _lock_snapshots(session, wave_id)
    target = session.execute(
        select(WaveTarget.program_id, WaveTarget.cohort_id, WaveTarget.gender)
        .where(WaveTarget.wave_id == wave_id, WaveTarget.alumnus_id == alumnus_id)
    ).first()
    if target is None:
        return None  # answers from outside the population are counted nowhere
    snapshot_id = session.scalar(
        select(func.max(IndicatorSnapshot.id)).where(IndicatorSnapshot.wave_id == wave_id))
    if snapshot_id is None:
        run = RefreshRun(wave_id=wave_id, kind="full", status="running", started_at=utcnow())
        session.add(run)
        session.flush()
        return _write_full_snapshot(session, wave_id, run.id).id
    key = CellKey(*target)
    cell = fill_cell(session, wave_id, key, alumnus_id=alumnus_id).to_json()
    in_cell = and_(IndicatorCell.snapshot_id == snapshot_id,
                   IndicatorCell.program_id == key.program_id,
                   IndicatorCell.cohort_id == key.cohort_id, IndicatorCell.gender == key.gender)
    previous = session.execute(select(IndicatorCell.id, IndicatorCell.cell,
                                      IndicatorCell.labels).where(in_cell)).first()
    if previous is not None:
        if _as_dict(previous.cell) == cell:
            return None
        session.execute(delete(IndicatorCell).where(IndicatorCell.id == previous.id))
    # Labels ride along, so a cell the snapshot lacks (targets added since) is named; the
    # snapshot's own labels win for the cells it has. Looked up for a cell's first row.
    labels = previous.labels if previous is not None and previous.labels else {
        "program": session.scalar(select(Program.name).where(Program.id == key.program_id)),
        "cohort": session.scalar(select(Cohort.label).where(Cohort.id == key.cohort_id)),
    }
    return session.scalar(
        insert(IndicatorCell).values(
            snapshot_id=snapshot_id, program_id=key.program_id, cohort_id=key.cohort_id,
            gender=key.gender, computed_at=utcnow(), cell=cell, labels=labels,
        ).returning(IndicatorCell.id))


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def message_wave(session: Session, message_id: int) -> int | None:
    """The wave a message reaches out for (None: a broadcast, or no such message)."""
    return session.scalar(
        select(Campaign.wave_id)
        .join(CampaignStep, CampaignStep.campaign_id == Campaign.id)
        .join(Message, Message.campaign_step_id == CampaignStep.id)
        .where(Message.id == message_id)
    )



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
    tune_for_full_refresh(session)  # statements.DIALECT_TUNING
    cells = fill_cells(session, wave_id)
    reconcile_employer(session, wave_id)  # the employer survey's projection, same moment
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
    session.execute(delete(IndicatorCell).where(IndicatorCell.snapshot_id.in_(
        select(IndicatorSnapshot.id).where(IndicatorSnapshot.wave_id == wave_id,
                                           IndicatorSnapshot.id < oldest_kept))))
    # Live runs: written by live updates before they wrote indicator_cells rows.
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
