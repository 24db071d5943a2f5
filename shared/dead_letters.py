"""Dead letters: events a consumer could not apply after its retries, and what admins do.

A consumer (shared/events.py `consumer`) applies each event of a batch on its own; one that
keeps failing is sent again alone a few times, then `bury` records it here with its last
error, and the rest of the batch has long been applied. An admin sees the list (the survey
admin's "Antrean gagal" page, `jejak events dead-letters`) and either

- **replays** it: the event's outbox row is marked unrelayed again (re-created from the dead
  letter if retention already pruned it), so the relay sends it to its subscribers once more
  in the ordinary way; subscribers that applied it already skip it (processed_events), and
  if the cause is still there it comes back here; or
- **discards** it: it stays here, marked, and nothing sends it again.

Both are audited. While a dead letter is `dead` or `discarded`, the redelivery sweep leaves
the event alone for that consumer.
"""

from __future__ import annotations

import json
import traceback
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from shared.db import insert_for
from shared.models import DeadLetter, OutboxEvent, utcnow

STATUSES = ("dead", "replayed", "discarded")
ERROR_LIMIT = 4000  # characters of the error kept: the end of the traceback says the most


class DeadLetterError(ValueError):
    """The dead letter cannot take this action (unknown id, already discarded)."""


def _message_id(message: Any) -> uuid.UUID:
    """The event id of a relayed message; a message too broken to carry one gets a stable
    id of its own content, so that burying it twice is still one row."""
    try:
        return uuid.UUID(str(message["id"]))
    except (KeyError, TypeError, ValueError):
        return uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(message, sort_keys=True, default=str))


def bury(db_session: Session, consumer: str, message: Any, exc: BaseException,
         attempts: int) -> None:
    """Record (or record again) that `consumer` gave up on this event, with the error."""
    body = message if isinstance(message, dict) else {"message": message}
    try:
        occurred_at = datetime.fromisoformat(str(body["occurred_at"]))
    except (KeyError, ValueError):
        occurred_at = utcnow()
    error = "".join(traceback.format_exception(exc))[-ERROR_LIMIT:]
    values = {
        "consumer": consumer, "event_id": _message_id(body),
        "event_type": str(body.get("type", "?"))[:64],
        "payload": body.get("payload") if isinstance(body.get("payload"), dict) else body,
        "occurred_at": occurred_at, "attempts": attempts, "error": error,
        "failed_at": utcnow(), "status": "dead",
    }
    insert = insert_for(db_session)
    statement = insert(DeadLetter).values(**values)
    db_session.execute(statement.on_conflict_do_update(
        index_elements=["consumer", "event_id"],
        set_={"attempts": DeadLetter.attempts + attempts, "error": error,
              "failed_at": values["failed_at"], "status": "dead", "resolved_by": None,
              "resolved_at": None},
    ))


def listing(status: str | None = "dead") -> Select[tuple[DeadLetter]]:
    """Dead letters, newest failure first; `status=None` lists every one."""
    query = select(DeadLetter)
    if status:
        query = query.where(DeadLetter.status == status)
    return query.order_by(DeadLetter.failed_at.desc(), DeadLetter.id.desc())


def _open(db_session: Session, dead_letter_id: int) -> DeadLetter:
    row = db_session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise DeadLetterError(f"no dead letter with id {dead_letter_id}")
    if row.status == "discarded":
        raise DeadLetterError(f"dead letter {dead_letter_id} was discarded")
    return row


def replay(db_session: Session, dead_letter_id: int, actor: str) -> DeadLetter:
    """Send the event again through the outbox, in the caller's transaction; audited."""
    from shared.auth import audit

    row = _open(db_session, dead_letter_id)
    outbox = OutboxEvent.__table__
    resent = db_session.execute(
        update(outbox).where(outbox.c.id == row.event_id).values(relayed_at=None)
    ).rowcount
    if not resent:  # pruned by retention: the dead letter kept all the relay needs
        db_session.add(OutboxEvent(id=row.event_id, type=row.event_type, payload=row.payload,
                                   created_at=row.occurred_at, attempts=0))
    row.status, row.resolved_by, row.resolved_at = "replayed", actor, utcnow()
    audit(db_session, actor, "event.replay", f"dead_letter:{row.id}", consumer=row.consumer,
          event_id=str(row.event_id), event_type=row.event_type)
    return row


def discard(db_session: Session, dead_letter_id: int, actor: str) -> DeadLetter:
    """Give up on the event for good, in the caller's transaction; audited."""
    from shared.auth import audit

    row = _open(db_session, dead_letter_id)
    row.status, row.resolved_by, row.resolved_at = "discarded", actor, utcnow()
    audit(db_session, actor, "event.discard", f"dead_letter:{row.id}", consumer=row.consumer,
          event_id=str(row.event_id), event_type=row.event_type)
    return row
