"""The dashboard's filters and the two small statements it reads besides the snapshot.

`Filters` are the page's query arguments (program, cohort, gender, fpc, unsuppressed), as a
filter on cells and as SQL conditions on `wave_targets`. The statements: complete responses
per local day of submission (the progress chart) and the waves with a snapshot (the trend).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Select, and_, cast, func, select
from sqlalchemy.orm import Session

from services.analytics.cells import (
    Cell,
    CellKey,
)
from services.analytics.indicators import select as select_cells
from shared.db import is_postgres
from shared.models import IndicatorSnapshot, Response, Wave, WaveTarget
from shared.web import filter_id

GENDERS = ("L", "P")

KeyedCells = list[tuple[CellKey, Cell]]


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

