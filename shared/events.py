"""Event contracts, the outbox and idempotent consumers (docs/architecture.md §2).

A producer calls `publish(session, WaveOpened(wave_id=...))` (the typed events of
shared/event_types.py) inside its own transaction. The
relay process (`RelayLoop`, `jejak relay`) sends committed events within a tenth of a second
(one Celery task per subscriber per batch); a beat job relays anything left behind, so a
broker outage delays events but loses none. Consumers are wrapped by `consumer(...)`,
which records (consumer, event id) in `processed_events` in the same transaction as the
effect, so a redelivery changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import kombu.exceptions
import redis
from celery import Celery, shared_task
from flask import Flask, current_app
from sqlalchemy import delete, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy import tuple_ as sa_tuple
from sqlalchemy.orm import Session, sessionmaker

from shared.celery_app import broker_client, route_task
from shared.db import get_db, in_list, insert_for, is_postgres, unit_of_work
from shared.event_types import (
    AlumniImported,
    AlumnusErased,
    ChatOpened,
    ConsentWithdrawn,
    ContractError,
    EmployerAnswersSubmitted,
    EmployerContactAdded,
    EmployerContactErased,
    EventData,
    InvitationRequested,
    MessageStatus,
    ResponseSubmitted,
    WaveClosed,
    WaveOpened,
    WaveTargetsAdded,
    check,
    field_types,
    parse,
    payload_of,
)
from shared.models import DeadLetter, OutboxEvent, ProcessedEvent, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contract:
    """An event's class (shared/event_types.py: name, version, typed fields) and who
    receives it. An event nobody receives is not written at all."""

    data: type[EventData]
    subscribers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field_types(self.data))


# Who receives what: the one table of subscribers. Adding one is a line here plus a task with
# that name in the consuming service; an event type with no subscriber is never written.
CONTRACTS: dict[str, Contract] = {contract.data.name: contract for contract in (
    # Survey's call list drops the alumnus (services/survey/call_list_state.py).
    Contract(ResponseSubmitted,
             ("outreach.on_response_submitted", "analytics.on_response_submitted",
              "survey.on_response_submitted")),
    Contract(AlumniImported),  # campaigns pick up new alumni when they plan
    Contract(WaveOpened),
    Contract(WaveClosed),
    # Outreach plans the wave's running campaigns for them; analytics recomputes their cells.
    Contract(WaveTargetsAdded,
             ("outreach.on_wave_targets_added", "analytics.on_wave_targets_added")),
    Contract(InvitationRequested, ("outreach.on_invitation_requested",)),  # sent once
    # Outreach stops what is pending; analytics removes raw exports naming the person.
    Contract(AlumnusErased, ("outreach.on_alumnus_erased", "analytics.on_alumnus_erased")),
    # Outreach cancels what is pending; analytics counts the refusal in the response rates.
    Contract(ConsentWithdrawn,
             ("outreach.on_consent_withdrawn", "analytics.on_consent_withdrawn")),
    # A try at contact from the call list; the survey records it in its attempts.
    Contract(ChatOpened, ("survey.on_chat_opened",)),
    # A supervisor an alumnus consented to: outreach records them as a recipient.
    Contract(EmployerContactAdded, ("outreach.on_employer_contact_added",)),
    # A company's answers: outreach stops the contact's reminders of the wave.
    Contract(EmployerAnswersSubmitted, ("outreach.on_employer_answers_submitted",)),
    # A contact erased on request: outreach forgets them and stops what is pending.
    Contract(EmployerContactErased, ("outreach.on_employer_contact_erased",)),
    # Analytics recomputes the disposition; survey the alumnus's place on the call list
    # (reached, or no reminder left), both reading the messages table again.
    Contract(MessageStatus, ("analytics.on_message_status", "survey.on_message_status")),
)}

RELAY_BATCH = 500
# How often the relay process looks for new events: the longest an event waits for it. A
# relay run costs a few milliseconds of CPU (a transaction and one broker publish per
# subscriber) whether it carries one event or hundreds, so gathering for a tenth of a
# second keeps it cheap under load; an idle poll is one indexed read.
RELAY_INTERVAL = 0.1
RELAY_MAX_BACKOFF = 5.0  # seconds between attempts while the broker or database is down
# The beat relay leaves fresh rows to the relay process, so the two rarely race.
BEAT_RELAY_GRACE = timedelta(seconds=3)
OUTBOX = OutboxEvent.__table__  # Core: no ORM bookkeeping on the hot paths


@dataclass(frozen=True)
class Event:
    """An event as a consumer receives it; `data` is its typed instance (parsed on first
    read, raising ContractError when the payload does not fit its class)."""

    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    occurred_at: datetime
    version: int = 1

    @cached_property
    def data(self) -> EventData:
        contract = CONTRACTS.get(self.type)
        if contract is None:
            raise ContractError(f"unknown event type {self.type!r}")
        if self.version != contract.data.version:
            raise ContractError(f"{self.type}: version {self.version}, this code reads "
                                f"{contract.data.version}")
        return parse(contract.data, self.payload)

    def to_message(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "payload": self.payload,
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Event:
        return cls(
            id=uuid.UUID(message["id"]),
            type=message["type"],
            payload=message["payload"],
            occurred_at=datetime.fromisoformat(message["occurred_at"]),
            version=message.get("version", 1),  # relayed before versions were sent
        )


def _message(row: Any) -> dict[str, Any]:
    """The relayed message of an outbox row; it carries the version of the event's class."""
    contract = CONTRACTS.get(row.type)
    version = contract.data.version if contract is not None else 1
    return Event(row.id, row.type, row.payload, row.created_at, version).to_message()


def check_contract(event_type: str, payload: dict[str, Any]) -> Contract:
    """The contract of `event_type`, or ContractError naming what does not fit (a missing or
    unexpected field, or a field of the wrong type)."""
    contract = CONTRACTS.get(event_type)
    if contract is None:
        raise ContractError(f"unknown event type {event_type!r}")
    check(contract.data, payload)
    return contract


def publish(session: Session, event: EventData | str,
            payload: dict[str, Any] | None = None) -> uuid.UUID | None:
    """Write an event to the outbox in the caller's transaction; the relay sends it once
    committed. `publish(session, WaveOpened(wave_id=1))`; the older
    `publish(session, "wave.opened", {"wave_id": 1})` is checked against the same class.
    Returns the event's id, or None when nobody subscribes to it (nothing is written)."""
    row = outbox_row(event, payload)
    if row is None:
        return None
    # A Core insert, not session.add: no unit-of-work bookkeeping on every request.
    session.execute(insert(OUTBOX), row)
    return row["id"]


def outbox_row(event: EventData | str,
               payload: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The outbox row of a new event, for a producer that writes it in its own statement
    (`publish` writes it for everyone else); None when nobody subscribes to it."""
    if isinstance(event, str):
        contract = check_contract(event, payload or {})
        checked = payload or {}
    else:
        if payload is not None:
            raise TypeError("a typed event carries its own payload")
        contract = CONTRACTS.get(event.name)
        if contract is None or contract.data is not type(event):
            raise ContractError(f"unknown event type {event.name!r}")
        checked = payload_of(event)
    if not contract.subscribers:
        return None
    return {"id": uuid.uuid4(), "type": contract.data.name, "payload": checked,
            "created_at": utcnow(), "attempts": 0}


class RelayLoop:
    """The relay process (`jejak relay`): polls the outbox and sends what is unsent.

    Producers only write outbox rows; this loop, in a process of its own, sends them, many
    events per run. Relaying from the web workers instead cost them about a sixth of their
    throughput (bench/intake.py): a relay run costs a few milliseconds whatever it carries,
    and in a web worker it competes with the requests. Several may run (rows are claimed
    with SKIP LOCKED); the beat job still sweeps up behind them.
    """

    def __init__(self, app: Flask, *, interval: float = RELAY_INTERVAL) -> None:
        self.app = app
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        """Relay until `stop()`; while runs fail (broker or database down) it backs off."""
        backoff = self.interval
        with self.app.app_context():
            session_factory = get_db().session_factory
            celery = self.app.extensions["celery"]
            while not self.stopping.is_set():
                try:
                    waiting = _has_unrelayed(session_factory)
                    sent = relay(session_factory, celery) if waiting else 0
                except Exception:  # the loop must outlive an outage
                    log.warning("relay failed; retrying", exc_info=True)
                    waiting, sent = True, 0
                # Rows are there but none was sent: the broker or database is down (or,
                # for a moment, another relay holds them).
                if waiting and not sent:
                    backoff = min(backoff * 2, RELAY_MAX_BACKOFF)
                    self.stopping.wait(backoff)
                    continue
                backoff = self.interval
                if sent < RELAY_BATCH:  # a full batch: more are waiting, go on at once
                    self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()


def _has_unrelayed(session_factory: sessionmaker[Session]) -> bool:
    """A plain read first, so an idle poll takes no lock (a relay run on SQLite is a write
    transaction, which would queue behind the web's writes ten times a second)."""
    with session_factory() as db_session:
        return db_session.execute(
            select(OUTBOX.c.id).where(OUTBOX.c.relayed_at.is_(None)).limit(1)
        ).first() is not None


def relay(
    session_factory: sessionmaker[Session],
    celery: Celery,
    *,
    older_than: timedelta | None = None,
    limit: int = RELAY_BATCH,
) -> int:
    """Send unrelayed outbox rows to their subscribers; return how many were relayed.

    Rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite's BEGIN IMMEDIATE
    serialises writers instead), so two relays never send the same row at once. Each
    subscriber gets ONE task carrying every event of the batch meant for it: a publish
    costs about a millisecond, so under load batching is what keeps intake fast. Rows are
    marked relayed only after the broker took the tasks; when it is down they stay
    unrelayed and the next run sends them (consumers ignore what they already applied).
    """
    with session_factory() as db_session, db_session.begin():
        query = select(OUTBOX.c.id, OUTBOX.c.type, OUTBOX.c.payload, OUTBOX.c.created_at).where(
            OUTBOX.c.relayed_at.is_(None))
        if older_than is not None:
            query = query.where(OUTBOX.c.created_at <= utcnow() - older_than)
        query = query.order_by(OUTBOX.c.created_at).limit(limit)
        if is_postgres(db_session):
            query = query.with_for_update(skip_locked=True)
        rows = db_session.execute(query).all()
        if not rows:
            return 0
        per_subscriber: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            message = _message(row)
            contract = CONTRACTS.get(row.type)
            for task_name in contract.subscribers if contract is not None else ():
                per_subscriber.setdefault(task_name, []).append(message)
        claimed = in_list(db_session, OUTBOX.c.id, [row.id for row in rows])
        try:
            # One broker connection for the whole batch (a publish per task would reconnect),
            # and the publishes in one pipelined round trip (kombu's publish batch).
            with celery.producer_or_acquire() as producer, producer.batch():
                for task_name, messages in per_subscriber.items():
                    # argsrepr: Celery would otherwise build a safe repr of every message
                    # for its logs, a quarter of a relay's CPU.
                    celery.send_task(task_name, args=[messages], retry=False,
                                     producer=producer, argsrepr=f"[{len(messages)} events]")
        except Exception as exc:  # broker unreachable: everything stays for the next run
            log.warning("relay of %d events failed: %s", len(rows), exc)
            db_session.execute(update(OUTBOX).where(claimed)
                               .values(attempts=OUTBOX.c.attempts + 1))
            return 0
        db_session.execute(update(OUTBOX).where(claimed).values(relayed_at=utcnow()))
        return len(rows)


@shared_task(name="events.relay", ignore_result=True)
def relay_outbox() -> int:
    """Beat job: relay whatever the relay process has not sent (or none runs)."""
    celery = current_app.extensions["celery"]
    total = 0
    while True:
        sent = relay(get_db().session_factory, celery, older_than=BEAT_RELAY_GRACE)
        total += sent
        if sent < RELAY_BATCH:
            return total


def mark_processed(session: Session, consumer_name: str, event_id: uuid.UUID) -> bool:
    """Record that `consumer_name` applied `event_id`; False if it already had."""
    insert = insert_for(session)
    statement = (
        insert(ProcessedEvent)
        .values(consumer=consumer_name, event_id=event_id, processed_at=utcnow())
        .on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg 3 reports -1 for an upsert's rowcount.
        .returning(ProcessedEvent.event_id)
    )
    return session.execute(statement).scalar() is not None


# A failing event is tried this many times, alone, before it goes to the dead letters; the
# waits between tries (seconds) are short enough for a countdown (docs/architecture.md §2:
# no long ETAs on Redis).
EVENT_RETRY_DELAYS = (1, 2, 4, 8)
# The database or the broker is down: no event can be applied, so the whole task waits and
# retries (Celery's autoretry) instead of burying every event of the batch.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, redis.RedisError,
    kombu.exceptions.OperationalError,
)


def consumer(name: str) -> Callable[[Callable[[Session, Event], None]], Any]:
    """Turn `handler(session, event)` into an idempotent Celery task called `name`.

    The handler's effect and the processed_events row commit together, one transaction per
    event. An event whose handler fails does not hold up the rest of its batch: the others
    are applied, and the failing one is sent again alone (`retry_alone`), after
    EVENT_RETRY_DELAYS, then recorded in the dead letters (shared/dead_letters.py) with its
    error. Only an outage (OUTAGE_ERRORS) fails the whole task, which Celery retries with
    backoff; the events it already applied are skipped then.
    """

    def register(handler: Callable[[Session, Event], None]) -> Any:
        @shared_task(
            name=name,
            ignore_result=True,
            autoretry_for=OUTAGE_ERRORS,
            retry_backoff=True,
            retry_backoff_max=300,
            max_retries=20,
        )
        def task(messages: list[dict[str, Any]] | dict[str, Any], attempt: int = 1) -> int:
            """Apply each event once; returns how many were new."""
            applied = 0
            for message in messages if isinstance(messages, list) else [messages]:
                try:
                    event = Event.from_message(message)
                    event.data  # noqa: B018 - a payload that does not fit fails this event
                    with unit_of_work() as db_session:
                        if not mark_processed(db_session, name, event.id):
                            continue
                        handler(db_session, event)
                        db_session.commit()
                        applied += 1
                except OUTAGE_ERRORS:
                    raise
                except Exception as exc:  # this event only: the batch goes on
                    log.warning("%s failed on event %s (try %d): %s", name,
                                message.get("id") if isinstance(message, dict) else "?",
                                attempt, exc, exc_info=True)
                    retry_alone(task, name, message, exc, attempt)
            return applied

        task.handler = handler
        return task

    return register


def retry_alone(task: Any, consumer_name: str, message: Any, exc: BaseException,
                attempt: int) -> None:
    """Send one failed event to its consumer again, alone, or bury it after the last try."""
    if attempt <= len(EVENT_RETRY_DELAYS):
        task.apply_async(args=[[message]], kwargs={"attempt": attempt + 1},
                         countdown=EVENT_RETRY_DELAYS[attempt - 1])
        return
    from shared.dead_letters import bury

    with unit_of_work() as db_session:
        bury(db_session, consumer_name, message, exc, attempts=attempt)
        db_session.commit()
    log.error("%s: event %s moved to the dead letters after %d tries", consumer_name,
              message.get("id") if isinstance(message, dict) else "?", attempt)


# --- redelivery: the outbox as the safety net under the broker ------------------------------

# Redis hands a task to a worker with BRPOP, which removes it from the queue: when the
# connection breaks while the reply is on its way (Redis stopped, a network cut), the task
# is gone, and no visibility timeout brings it back (tests/faults/test_redis_outage.py saw
# it). The outbox knows better: an event relayed REDELIVER_AFTER ago that a subscriber has
# not applied, while that subscriber's queue is empty (else it may simply be waiting), is
# sent to it again; the consumer ignores it if it was applied meanwhile. A watermark per
# subscriber in Redis (relayed_at up to which everything was checked) keeps each sweep to
# the events relayed since the last one, and sends each missing event again once.
REDELIVER_AFTER = timedelta(minutes=2)
REDELIVER_HORIZON = timedelta(days=1)  # how far back a sweep without a watermark looks
REDELIVER_SCAN = 5000
_CHECKED_KEY = "jejak:redeliver:checked:"


def redeliver(
    session_factory: sessionmaker[Session], celery: Celery, *, now: datetime | None = None,
) -> int:
    """Send relayed events a subscriber has not applied to it again; return how many."""
    now = now or utcnow()
    upper = now - REDELIVER_AFTER
    subscribers = sorted({name for contract in CONTRACTS.values() for name in contract.subscribers})
    client = broker_client(celery)
    sent = 0
    try:
        for task_name in subscribers:
            if client.llen(route_task(task_name)["queue"]):
                continue
            checked = client.get(_CHECKED_KEY + task_name)
            lower = now - REDELIVER_HORIZON
            if checked:
                lower = max(lower, datetime.fromisoformat(checked.decode()))
            types = [name for name, contract in CONTRACTS.items()
                     if task_name in contract.subscribers]
            applied = select(ProcessedEvent.event_id).where(
                ProcessedEvent.consumer == task_name, ProcessedEvent.event_id == OUTBOX.c.id)
            # A dead letter waits for an admin (replay or discard), not for the sweep.
            buried = select(DeadLetter.id).where(
                DeadLetter.consumer == task_name, DeadLetter.event_id == OUTBOX.c.id,
                DeadLetter.status != "replayed")
            with session_factory() as db_session:
                rows = db_session.execute(
                    select(OUTBOX.c.id, OUTBOX.c.type, OUTBOX.c.payload, OUTBOX.c.created_at,
                           OUTBOX.c.relayed_at)
                    .where(OUTBOX.c.type.in_(types), OUTBOX.c.relayed_at >= lower,
                           OUTBOX.c.relayed_at <= upper, ~applied.exists(),
                           ~buried.exists())
                    .order_by(OUTBOX.c.relayed_at).limit(REDELIVER_SCAN)
                ).all()
            if rows:
                log.warning("redelivering %d events to %s: not applied %s after relay",
                            len(rows), task_name, REDELIVER_AFTER)
                for start in range(0, len(rows), RELAY_BATCH):
                    messages = [_message(row) for row in rows[start:start + RELAY_BATCH]]
                    celery.send_task(task_name, args=[messages], retry=False)
                sent += len(rows)
            # A full scan may have stopped inside a batch sharing one relayed_at: resume there
            # (a few events may go twice; applying is idempotent). Else everything up to
            # `upper` is checked; a hair after it, so the next sweep does not see it again.
            full = len(rows) == REDELIVER_SCAN
            mark = rows[-1].relayed_at if full else upper + timedelta(microseconds=1)
            client.set(_CHECKED_KEY + task_name, mark.isoformat())
    finally:
        client.close()
    return sent


@shared_task(name="events.redeliver", ignore_result=True)
def redeliver_outbox() -> int:
    """Beat job: redeliver what a subscriber never got (see `redeliver`)."""
    return redeliver(get_db().session_factory, current_app.extensions["celery"])


# --- retention -----------------------------------------------------------------------------

# Rows deleted per transaction: short transactions never hold a long lock (on SQLite every
# write transaction holds the one write lock the web is waiting for).
PRUNE_BATCH = 2000


def prune_events(session_factory: sessionmaker[Session], older_than: timedelta, *,
                 now: datetime | None = None, batch: int = PRUNE_BATCH) -> tuple[int, int]:
    """Delete relayed outbox rows and processed_events rows older than `older_than`;
    return how many of each. Unrelayed rows are never touched, whatever their age.

    `older_than` must exceed REDELIVER_HORIZON: the redelivery sweep compares the outbox
    with processed_events over that window, and a pruned record would look unapplied.
    """
    if older_than <= REDELIVER_HORIZON:
        raise ValueError(f"retention must be longer than {REDELIVER_HORIZON}")
    cutoff = (now or utcnow()) - older_than
    counts = []
    for table, id_columns, age in (
        (OUTBOX, (OUTBOX.c.id,), OUTBOX.c.relayed_at),
        (ProcessedEvent.__table__, (ProcessedEvent.consumer, ProcessedEvent.event_id),
         ProcessedEvent.processed_at),
    ):
        deleted = 0
        while True:
            with session_factory() as db_session, db_session.begin():
                keys = db_session.execute(
                    select(*id_columns).where(age < cutoff).limit(batch)).all()
                if not keys:
                    break
                if len(id_columns) == 1:
                    where = in_list(db_session, id_columns[0], [key[0] for key in keys])
                else:
                    where = sa_tuple(*id_columns).in_([tuple(key) for key in keys])
                db_session.execute(delete(table).where(where))
            deleted += len(keys)
            if len(keys) < batch:
                break
        counts.append(deleted)
    return counts[0], counts[1]


@shared_task(name="events.prune", ignore_result=True)
def prune_outbox() -> tuple[int, int]:
    """Beat job (daily): retention of the outbox and processed_events (`prune_events`)."""
    days = current_app.config["JEJAK_SETTINGS"].event_retention_days
    outbox, processed = prune_events(get_db().session_factory, timedelta(days=days))
    log.info("pruned %d outbox rows and %d processed_events rows older than %d days",
             outbox, processed, days)
    return outbox, processed
