"""One export, start to finish: the work behind the task `analytics.export`.

Ids in, everything re-loaded inside (docs/architecture.md §2). The Export row moves
queued → running → done or failed; `progress` is committed in its own short transactions as
the file grows, so the page polling it sees it move. The file is written beside its final
name and renamed when complete: a download never gets half a file.

A redelivered task (acks_late: the worker died mid-export) finds the row `running` and
starts over; one that finds it done or failed does nothing.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.analytics.cells import Cell, CellKey
from services.analytics.decent import Wages
from services.analytics.disclosure import Disclosure
from services.analytics.employer_figures import report_figures
from services.analytics.indicators import select as select_cells
from services.analytics.reports.content import (
    WaveInfo,
    answer_labels,
    report_groups,
    scope_in_words,
)
from services.analytics.reports.indicator_csv import write_report_csv
from services.analytics.reports.kinds import KINDS, export_path
from services.analytics.reports.pdf import write_pdf
from services.analytics.reports.xlsx import write_raw_responses, write_workbook
from services.analytics.response_rates import ResponseRates, response_rates
from services.analytics.snapshots import read_snapshot
from services.analytics.wages import label, minimum_wage_of, wages_of_year, wave_year
from shared.centre import Centre
from shared.centre import centre as centre_of_app
from shared.config import Settings
from shared.indicator_mapping import inputs_of
from shared.models import Export, Questionnaire, Wave, utcnow
from shared.personal_files import private_folder, reserve_private

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
ERROR_LIMIT = 2_000


class ExportError(Exception):
    """An export that cannot be made as asked; the message is shown to staff."""


@dataclass(frozen=True)
class ReportInput:
    """What the aggregate writers need, read in one short transaction."""

    cells: list[tuple[CellKey, Cell]]
    labels: dict[str, Any]
    wave: WaveInfo
    minimum_wage: Wages | None  # every wage of the wave's year; None: no wage of its own
    # The small-group rule of the whole wave's cells (not of the filtered ones: a group gets
    # the same decision in every export and API answer); None with `unsuppressed`.
    rule: Disclosure | None = None
    unsuppressed: bool = False  # an admin's audited export (exports_api)
    # The AAPOR rates of the same selection, read in the same transaction (the PDF's).
    response_rates: ResponseRates | None = None
    # The employer figures of the wave (its "Pengguna lulusan" chapter and sheet).
    employer: dict[str, Any] | None = None


def load_report_input(session: Session, params: dict[str, Any], timezone: str) -> ReportInput:
    """The newest snapshot of the wave, filtered as asked, with its labels and UMK."""
    wave = _wave(session, params)
    snapshot = read_snapshot(session, wave.id)
    if snapshot is None:
        raise ExportError("the indicators of this wave have not been computed yet "
                          "(jejak analytics refresh)")
    cells = select_cells(snapshot.cells,
                         program=params.get("program"), cohort=params.get("cohort"),
                         gender=params.get("gender"))
    definition = session.scalar(select(Questionnaire.definition)
                                .where(Questionnaire.id == wave.questionnaire_id))
    labels = {"programs": dict(snapshot.labels["programs"]),
              "cohorts": dict(snapshot.labels["cohorts"]),
              "answers": answer_labels(definition),
              "inputs": inputs_of(definition or {})}
    wage = minimum_wage_of(session, wave, timezone)
    info = WaveInfo(
        slug=wave.slug, title=wave.title, computed_at=snapshot.computed_at, timezone=timezone,
        scope=scope_in_words(labels, program=params.get("program"),
                             cohort=params.get("cohort"), gender=params.get("gender")),
        minimum_wage_year=wave_year(wave, timezone),
        centre=centre_of(session), wage_label=label(wage) if wage is not None else "",
    )
    unsuppressed = bool(params.get("unsuppressed"))
    # Every wage of the year: each income meets the wage of where the alumnus works.
    wages = wages_of_year(session, wave_year(wave, timezone))
    return ReportInput(cells, labels, info, wages if wage is not None else None,
                       rule=None if unsuppressed else Disclosure(snapshot.cells),
                       unsuppressed=unsuppressed,
                       response_rates=response_rates(
                           session, wave.id, program=params.get("program"),
                           cohort=params.get("cohort"), gender=params.get("gender")),
                       # The employer figures are the whole wave's: only in its own report.
                       employer=None if any(params.get(name) for name in (
                           "program", "cohort", "gender"))
                       else report_figures(session, wave.id, unsuppressed))


def run_export(session_factory: sessionmaker[Session], export_id: uuid.UUID,
               settings: Settings) -> str:
    """Make the export's file; returns the status it ended in."""
    with session_factory() as session:
        export = session.get(Export, export_id)
        if export is None:
            log.warning("export %s: no such export", export_id)
            return "missing"
        if export.status not in ACTIVE:
            return export.status
        export.status, export.progress, export.error = "running", 0, None
        kind, params = export.kind, dict(export.params)
        session.commit()
    if kind not in KINDS:
        return _finish(session_factory, export_id, "failed", error=f"unknown kind {kind!r}")

    target = export_path(settings.home, export_id, kind)
    # 0600 in a 0700 folder (shared.personal_files): a raw workbook names every respondent.
    private_folder(target.parent)
    partial = target.with_name(target.name + ".part")
    progress = _ProgressWriter(session_factory, export_id)
    try:
        reserve_private(partial)  # the writers open the path themselves and keep its mode
        _write(session_factory, kind, params, partial, settings, progress)
        os.replace(partial, target)
    except ExportError as exc:
        partial.unlink(missing_ok=True)
        return _finish(session_factory, export_id, "failed", error=str(exc))
    except Exception as exc:  # the row must say it failed, whatever broke
        log.exception("export %s (%s) failed", export_id, kind)
        partial.unlink(missing_ok=True)
        return _finish(session_factory, export_id, "failed",
                       error=f"{type(exc).__name__}: {exc}")
    return _finish(session_factory, export_id, "done", path=target)


def _write(session_factory: sessionmaker[Session], kind: str, params: dict[str, Any],
           out: Path, settings: Settings, progress: _ProgressWriter) -> None:
    if kind == "raw_xlsx":
        with session_factory() as session:
            wave = _wave(session, params)
            write_raw_responses(session, wave.id, out, progress,
                                program=params.get("program"), cohort=params.get("cohort"),
                                gender=params.get("gender"), timezone=settings.timezone)
        return
    with session_factory() as session:
        report = load_report_input(session, params, settings.timezone)
    # The read transaction is over: nothing is held while the file is written.
    progress(10)
    if kind == "xlsx":
        write_workbook(report.cells, report.labels, report.wave, report.minimum_wage, out,
                       on_progress=progress, rule=report.rule,
                       unsuppressed=report.unsuppressed, response_rates=report.response_rates,
                       employer=report.employer)
    elif kind == "pdf":
        write_pdf(report.cells, report.labels, report.wave, report.minimum_wage, out,
                  on_progress=progress, rule=report.rule, unsuppressed=report.unsuppressed,
                  response_rates=report.response_rates, employer=report.employer)
    else:
        groups = report_groups(report.cells, report.labels, report.minimum_wage,
                               rule=report.rule, unsuppressed=report.unsuppressed)
        progress(60)
        # utf-8-sig: Excel reads the BOM and shows names with accents correctly.
        with open(out, "w", encoding="utf-8-sig", newline="") as file:
            write_report_csv(groups, file, rates=None if report.response_rates is None
                             else report.response_rates.as_json())


def centre_of(session: Session) -> Centre:
    """The centre's settings inside the task's app context, else the defaults (a test or a
    script calling run_export bare)."""
    from flask import has_app_context

    return centre_of_app(session) if has_app_context() else Centre()


def _wave(session: Session, params: dict[str, Any]) -> Wave:
    wave = None
    if params.get("wave_id") is not None:
        wave = session.get(Wave, params["wave_id"])
    elif params.get("wave"):
        wave = session.scalar(select(Wave).where(Wave.slug == params["wave"]))
    if wave is None:
        raise ExportError(f"no wave {params.get('wave') or params.get('wave_id')!r}")
    return wave


class _ProgressWriter:
    """`progress(percent)`: commits a higher percentage in its own short transaction."""

    def __init__(self, session_factory: sessionmaker[Session], export_id: uuid.UUID) -> None:
        self.session_factory = session_factory
        self.export_id = export_id
        self.percent = 0

    def __call__(self, percent: int) -> None:
        percent = max(0, min(99, int(percent)))  # 100 is for done, with the file in place
        if percent <= self.percent:
            return
        self.percent = percent
        with self.session_factory() as session:
            session.execute(update(Export)
                            .where(Export.id == self.export_id, Export.status == "running")
                            .values(progress=percent))
            session.commit()


def _finish(session_factory: sessionmaker[Session], export_id: uuid.UUID, status: str, *,
            path: Path | None = None, error: str | None = None) -> str:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(),
                              "error": error[:ERROR_LIMIT] if error else None}
    if status == "done":
        values.update(progress=100, path=str(path))
    with session_factory() as session:
        session.execute(update(Export).where(Export.id == export_id).values(**values))
        session.commit()
    return status
