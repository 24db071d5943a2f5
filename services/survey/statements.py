"""The survey service's hand-tuned statements, each with what it does, why it is written so
and the figure that measured it (bench/README.md). Dialect variants stand side by side.

Built once at import, with bound parameters: the intake runs them for every submission,
and building a statement costs measurable CPU at hundreds of requests per second. The
code that runs them lives beside its rule (`services/survey/intake.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.events import OUTBOX
from shared.models import Alumnus, Response, WaveTarget


@dataclass(frozen=True)
class StoredResponse:
    """A first response as the one INSERT stored it: the reply is built from this, not from
    an ORM object (constructing one costs more than the reply's serialisation)."""

    id: uuid.UUID
    wave_id: int
    alumnus_id: int
    questionnaire_id: int
    answers: dict[str, Any]
    source: str
    status: str
    started_at: datetime
    updated_at: datetime
    submitted_at: datetime | None


# The targeted, not erased alumnus's name, by (alumnus_id, wave_id): the personal link's
# look-up, and the intake's check once its first-submission insert stored nothing (a replay,
# an edit, invalid answers or no target). Both ids come from the link's token, so this is two
# primary-key probes. Not on the path bench/intake.py measures (first submissions only).
TARGETED_ALUMNUS = (
    select(Alumnus.full_name)
    .join(WaveTarget, WaveTarget.alumnus_id == Alumnus.id)
    .where(Alumnus.id == bindparam("alumnus_id"), WaveTarget.wave_id == bindparam("wave_id"),
           Alumnus.erased_at.is_(None))
)

_RESPONSES = Response.__table__
# What a first response stores: the fields of StoredResponse, which the reply is built from.
RESPONSE_COLUMNS = tuple(column.name for column in fields(StoredResponse))
_EVENT_COLUMNS = ("id", "type", "payload", "created_at", "attempts")


def _store_first() -> dict[str, Executable]:
    """The intake's first-submission insert, per dialect: store the response if the wave
    targets this (not erased) alumnus and nothing is stored for it yet.

    `INSERT … SELECT <values> WHERE EXISTS (target) ON CONFLICT DO NOTHING RETURNING id`:
    no look-up before it (the token already names wave and alumnus), the target check and
    the replay check cost no extra round trip, and no ORM object is flushed. A row back
    means stored; none means a replay, an edit, or no target, which the caller then tells
    apart on its slower path. Storing went from 1.20 ms of app CPU (look-up, ORM insert,
    outbox insert, commit) to 0.61 ms (bench/README.md, intake, "Where an intake request's
    CPU went").
    """
    values = {name: bindparam(name, type_=_RESPONSES.c[name].type) for name in RESPONSE_COLUMNS}
    targeted = exists().where(
        WaveTarget.wave_id == values["wave_id"], WaveTarget.alumnus_id == values["alumnus_id"],
        Alumnus.id == WaveTarget.alumnus_id, Alumnus.erased_at.is_(None),
    )
    new_row = select(*values.values()).where(targeted)
    return {
        dialect: insert(_RESPONSES).from_select(list(values), new_row).on_conflict_do_nothing()
        .returning(_RESPONSES.c.id)
        for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
    }


# SQLite: the response alone; a complete one's outbox row follows in a second statement
# (`shared.events.publish`, same transaction): no network round trip to save there.
# PostgreSQL: the same statement, used when the response is partial (no event) or when
# `response.submitted` has no subscriber.
STORE_FIRST = _store_first()


def _store_first_with_event() -> Executable:
    """PostgreSQL only: the first-submission insert with its `response.submitted` outbox row
    in the same statement, as a data-modifying CTE (the event is inserted only when the
    response was):
    `WITH stored AS (INSERT INTO responses … RETURNING id) INSERT INTO outbox … SELECT …
    FROM stored RETURNING id`. One statement in place of two (and of three round trips
    with BEGIN and COMMIT, see STORE_FIRST_WITH_EVENT_SQL). In EXPLAIN ANALYZE it runs in
    0.36 ms warm, 0.20 ms of which are the three foreign-key checks of `responses`, kept for
    integrity; two clients store 2,093 submissions/s with it (bench/README.md, intake,
    "Now")."""
    stored = STORE_FIRST["postgresql"].cte("stored")
    event = {name: bindparam(f"event_{name}", type_=OUTBOX.c[name].type)
             for name in _EVENT_COLUMNS}
    return (
        pg_insert(OUTBOX).from_select(list(event), select(*event.values()).select_from(stored))
        .returning(OUTBOX.c.id)
    )


STORE_FIRST_WITH_EVENT = _store_first_with_event()
# The same statement as psycopg's own SQL, compiled once, for the intake to send straight
# to psycopg, prepared on the server and autocommitted when the request holds no transaction:
# one round trip instead of three (BEGIN, statement, COMMIT; a round trip costs ~0.1–0.2 ms
# of CPU on these machines, BEGIN + COMMIT and the session ~0.4–0.5 ms per submission), and
# SQLAlchemy's execution layer, which cost as much CPU as the statement's own round trip,
# skipped (bench/intake.py --profile; bench/README.md, intake, "Session 3"). The intake with
# it: 0.24 of the bare endpoint's rate, p99 26.1 ms at half the maximum ("Now"); 0.23–0.24
# side by side with main on 2026-12-07, when it moved here.
# The JSON columns are cast in the SQL; the caller passes them as JSON text.
# Behind PgBouncer (transaction pooling) prepared statements need `max_prepared_statements`
# (docs/scaling.md).
STORE_FIRST_WITH_EVENT_SQL = str(STORE_FIRST_WITH_EVENT.compile(dialect=pg_psycopg.dialect()))
