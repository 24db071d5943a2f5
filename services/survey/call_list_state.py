"""The call list's per-target state (call_states): kept up to date from the events that
change it, so the list reads one row per target instead of the wave's responses, messages
and attempts on every request (bench/call_list.py).

Three facts of a target's follow-up status (services/survey/followup.py) order the list:

- `closed`: erased, complete or opted out (off the list, whatever the attempts say);
- `reached`: invited, opened or partial (not `never_reached`);
- `pending`: a message of the wave is still to be sent to them (`waiting`, not
  `reminders_done`).

`refresh` RECOMPUTES them from their sources for the targets concerned; it never applies a
change on top of the stored value. So a consumer that runs twice (the outbox redelivers),
or two events handled out of order, end where one run would: the row is what the sources
say when the last refresh ran. Who refreshes:

- the wave's opening and late targets (services/survey/waves.py), in their transaction:
  the row of every target is made with the target;
- the first opening of the personal form (waves.mark_opened), in its transaction;
- an attempt or an assignment (services/survey/call_list.py), in its transaction;
- an erasure or a withdrawn consent (services/survey/privacy.py), in its transaction: no
  copy of an erased registration number outlives the erasure;
- the events `response.submitted` (off the intake's hot path) and `message.status` (sent
  by outreach) (services/survey/tasks.py).

What no event tells: a partial response saved, a message planned (a campaign launched, an
invitation sent again), a message skipped or given up in doubt, an opt-out by SMS reply.
The list reads opt-outs at query time (a small table, and calling someone who said stop is
worse than a slow page); for the others, each page re-checks its own rows against the rule
and mends the ones that drifted (`drifted`), and `jejak calls rebuild` recomputes a whole
wave.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from services.survey import followup
from shared.db import insert_for, is_postgres
from shared.models import (
    Alumnus,
    CallState,
    Campaign,
    CampaignStep,
    ContactAttempt,
    Message,
    Response,
    WaveTarget,
)

CLOSED = ("erased", "complete", "opted_out")
REACHED = ("invited", "opened", "partial")
FACT_COLUMNS = ("registration_no", "program_id", "cohort_id", "closed", "reached", "pending")


def facts(session: Session, wave_id: int, alumnus_ids: Sequence[int] | None = None) -> Select[Any]:
    """(wave_id, alumnus_id, registration_no, program_id, cohort_id, closed, reached,
    pending, status) of the wave's targets (only `alumnus_ids` when given), by followup's
    rule: one pass over the wave's messages (those of the given alumni only)."""
    step_ids = followup.wave_step_ids(session, wave_id)
    alumni = None
    if alumnus_ids is not None:
        alumni = select(WaveTarget.alumnus_id).where(WaveTarget.wave_id == wave_id,
                                                     WaveTarget.alumnus_id.in_(alumnus_ids))
    messages = followup.message_facts(step_ids, alumni) if step_ids else None
    status = followup.status_column(
        session, wave_id, messages.c.contact if messages is not None else None)
    pending: Any = (func.coalesce(messages.c.pending, 0) == 1) if messages is not None \
        else false()
    query = (
        select(WaveTarget.wave_id, WaveTarget.alumnus_id, Alumnus.registration_no,
               WaveTarget.program_id, WaveTarget.cohort_id,
               status.in_(CLOSED).label("closed"), status.in_(REACHED).label("reached"),
               pending.label("pending"), status.label("status"))
        .select_from(WaveTarget)
        .join(Alumnus, Alumnus.id == WaveTarget.alumnus_id)
        .outerjoin(Response, and_(Response.wave_id == WaveTarget.wave_id,
                                  Response.alumnus_id == WaveTarget.alumnus_id))
        .where(WaveTarget.wave_id == wave_id)
    )
    if messages is not None:
        query = query.outerjoin(messages, messages.c.alumnus_id == WaveTarget.alumnus_id)
    if alumnus_ids is not None:
        query = query.where(WaveTarget.alumnus_id.in_(alumnus_ids))
    return query


ATTEMPT_COLUMNS = ("attempts", "last_outcome", "callback_on", "last_attempt_at")


def _attempts(wave_id: int, found: Any) -> tuple[Any, list[Any]]:
    """`found` (the facts) outer-joined to each target's attempt count and latest attempt,
    and those four columns, in ATTEMPT_COLUMNS' order: one pass over the wave's attempts."""
    tally = (select(ContactAttempt.alumnus_id, func.count().label("n"),
                    func.max(ContactAttempt.id).label("last_id"))
             .where(ContactAttempt.wave_id == wave_id)
             .group_by(ContactAttempt.alumnus_id).subquery("tally"))
    latest = aliased(ContactAttempt, name="latest")
    joined = (found.outerjoin(tally, tally.c.alumnus_id == found.c.alumnus_id)
              .outerjoin(latest, latest.id == tally.c.last_id))
    return joined, [func.coalesce(tally.c.n, 0), latest.outcome, latest.callback_on,
                    latest.created_at]


def refresh(session: Session, wave_id: int, alumnus_ids: Sequence[int] | None = None, *,
            with_attempts: bool = False) -> None:
    """Recompute the facts of the wave's targets (`alumnus_ids`, or all), making the rows
    that are missing: one INSERT … SELECT … ON CONFLICT DO UPDATE. The attempt columns are
    left as they are (record_attempt adds to them in its transaction) unless
    `with_attempts` (the rebuild), which recomputes them from the attempts in the same pass;
    the assignee has no other source and always stays.

    On PostgreSQL the rows are locked first, and the facts read after the lock is held:
    two refreshes of one target run one after the other, and the later one reads what the
    earlier committed. Without it, a refresh that read its sources before another event's
    change committed could write after that event's refresh, and leave the older facts."""
    if alumnus_ids is not None:
        alumnus_ids = sorted(set(alumnus_ids))
        if not alumnus_ids:
            return
        if is_postgres(session):
            session.execute(select(CallState.alumnus_id).where(
                CallState.wave_id == wave_id, CallState.alumnus_id.in_(alumnus_ids))
                .order_by(CallState.alumnus_id).with_for_update())
    else:
        followup._no_jit(session)  # a whole wave: estimated costly, compiled for seconds
    found = facts(session, wave_id, alumnus_ids).subquery("facts")
    columns = ["wave_id", "alumnus_id", *FACT_COLUMNS]
    values = [found.c.wave_id, found.c.alumnus_id, *(found.c[name] for name in FACT_COLUMNS)]
    source: Any = found
    if with_attempts:
        source, counted = _attempts(wave_id, found)
        columns += ATTEMPT_COLUMNS
        values += counted
    else:
        columns.append("attempts")
        values.append(literal(0))  # a new row only: an existing row keeps its count
    rows = (select(*values).select_from(source)
            .where(true()))  # SQLite reads "ON CONFLICT" after a join as the join's ON without it
    insert = insert_for(session)
    statement = insert(CallState).from_select(columns, rows)
    updated = FACT_COLUMNS + (ATTEMPT_COLUMNS if with_attempts else ())
    session.execute(statement.on_conflict_do_update(
        index_elements=[CallState.wave_id, CallState.alumnus_id],
        set_={name: statement.excluded[name] for name in updated}))


def rebuild(session: Session, wave_id: int) -> int:
    """Recompute every row of the wave from its sources, in one pass: the facts, and the
    attempt count, the latest outcome and its callback date from the attempts themselves
    (the repair for a state that drifted; the assignee has no other source and stays).
    How many targets the wave has."""
    refresh(session, wave_id, with_attempts=True)
    return session.scalar(select(func.count()).select_from(CallState)
                          .where(CallState.wave_id == wave_id)) or 0


def drifted(session: Session, wave_id: int,
            rows: Sequence[Any]) -> tuple[dict[int, str], list[int]]:
    """The exact status of each of `rows` (call_states rows of the page: alumnus_id, closed,
    reached, pending), and the ids whose stored facts differ from the rule's: a page
    re-checks what it shows, so a change no event announced is mended when staff see it."""
    if not rows:
        return {}, []
    exact = {row.alumnus_id: row for row in session.execute(
        facts(session, wave_id, [row.alumnus_id for row in rows]))}
    wrong = [row.alumnus_id for row in rows if row.alumnus_id in exact
             and (bool(row.closed), bool(row.reached), bool(row.pending))
             != (bool(exact[row.alumnus_id].closed), bool(exact[row.alumnus_id].reached),
                 bool(exact[row.alumnus_id].pending))]
    return {alumnus_id: row.status for alumnus_id, row in exact.items()}, wrong


def message_wave(session: Session, message_id: int) -> int | None:
    """The wave a message belongs to (None: a broadcast, or a message since deleted)."""
    return session.scalar(
        select(Campaign.wave_id).join(CampaignStep, CampaignStep.campaign_id == Campaign.id)
        .join(Message, Message.campaign_step_id == CampaignStep.id)
        .where(Message.id == message_id))


def refresh_alumnus(session: Session, alumnus_id: int) -> None:
    """Refresh the alumnus in every wave that targets them (erasure, withdrawn consent)."""
    for wave_id in session.scalars(select(WaveTarget.wave_id).where(
            WaveTarget.alumnus_id == alumnus_id)).all():
        refresh(session, wave_id, [alumnus_id])
