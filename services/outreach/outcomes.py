"""Recording what became of a sent message: its delivery attempt, its new status (sent,
failed, or planned again for a retry) and, when final, its `message.status` event.

`send_batch` (services/outreach/delivery.py) hands each outcome to an `OutcomeWriter`,
chosen once per batch for the database: the outcome is written in the transaction of the
next message's claim (or alone after the last one), so a batch commits once per message.
SQLite writes it in separate statements; PostgreSQL folds a final outcome into one
statement, or into the next claim's own statement (services/outreach/statements.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.outreach import pacing
from services.outreach.channels import Outcome
from services.outreach.statements import (
    ATTEMPT,
    CLAIM,
    FAILED,
    PG_RECORD,
    PG_RECORD_AND_CLAIM,
    RETRY,
    SENT,
)
from shared.db import is_postgres
from shared.event_types import MessageStatus
from shared.events import outbox_row, publish


@dataclass(frozen=True)
class Sent:
    """A message handed to its channel, whose outcome is not recorded yet."""

    message_id: int
    alumnus_id: int
    attempts: int
    outcome: Outcome
    at: datetime  # when the channel answered: the attempt's time, whenever it is recorded

    @property
    def final(self) -> bool:
        """Sent or failed for good, not a retry."""
        return self.outcome.kind != "transient" or self.attempts >= pacing.MAX_ATTEMPTS

    def final_status(self) -> tuple[str, dict[str, Any]]:
        """`sent` or `failed`, and the parameters of its update."""
        outcome = self.outcome
        if outcome.kind == "sent":
            return "sent", {"provider_id": outcome.provider_id}
        why = outcome.reason or outcome.kind
        if outcome.kind == "transient":
            why = f"gave up after {self.attempts} attempts: {outcome.reason}"
        return "failed", {"why": why[:500]}


class OutcomeWriter:
    """Holds the outcome of the batch's last send until the next transaction writes it.

    `record(sent)` hands an outcome over; the next `claim` (or `write`, when no claim
    follows) writes it inside `transaction()`, and the batch's `counts` count it once that
    transaction commits. If the transaction fails, the outcome stays held, for the batch's
    last transaction to write. This one writes separate statements (SQLite; any database).
    """

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.held: Sent | None = None
        self._written: str | None = None

    def record(self, sent: Sent) -> None:
        self.held = sent

    @contextmanager
    def transaction(self, session: Session) -> Iterator[None]:
        """One transaction of the batch; the outcome it wrote counts when it commits."""
        self._written = None
        with session.begin():
            yield
        if self._written is not None:
            self.counts[self._written] = self.counts.get(self._written, 0) + 1
            self.held = None

    def write(self, session: Session) -> None:
        """Write the held outcome, if any, alone."""
        if self.held is not None:
            self._written = self._write(session, self.held)

    def claim(self, session: Session, params: dict[str, Any]) -> int | None:
        """Write the held outcome and run the claim (services/outreach/statements.py,
        CLAIM) with `params`; the message's attempts once claimed, None if not."""
        self.write(session)
        return session.connection().execute(CLAIM, params).scalar()

    def _write(self, session: Session, sent: Sent) -> str:
        db = session.connection()  # Core statements on the session's connection: less overhead
        outcome = sent.outcome
        db.execute(ATTEMPT, {"message_id": sent.message_id, "attempted_at": sent.at,
                             "outcome": outcome.kind, "detail": (outcome.reason or "")[:500]})
        if not sent.final:
            db.execute(RETRY, {"m_id": sent.message_id, "why": outcome.reason,
                               "retry_at": sent.at + pacing.backoff(sent.attempts)})
            return "retry"
        status, params = sent.final_status()
        db.execute(SENT if status == "sent" else FAILED,
                   {**params, "m_id": sent.message_id, "at": sent.at})
        publish(session, MessageStatus(message_id=sent.message_id, alumnus_id=sent.alumnus_id,
                                       status=status))
        return status


class PostgresOutcomeWriter(OutcomeWriter):
    """A final outcome in one statement with its event (PG_RECORD), or carried in front of
    the next claim's statement (PG_RECORD_AND_CLAIM): one round trip per message. A retry,
    and an outcome whose event has no subscriber, are written as plain statements."""

    def _write(self, session: Session, sent: Sent) -> str:
        carried = _carried(sent)
        if carried is None:
            return super()._write(session, sent)
        session.connection().execute(PG_RECORD[carried["r_status"]], carried)
        return carried["r_status"]

    def claim(self, session: Session, params: dict[str, Any]) -> int | None:
        carried = _carried(self.held) if self.held is not None else None
        if carried is None:
            return super().claim(session, params)
        self._written = carried["r_status"]
        return session.connection().execute(PG_RECORD_AND_CLAIM[carried["r_status"]],
                                            {**carried, **params}).scalar()


def _carried(sent: Sent) -> dict[str, Any] | None:
    """The `r_*`/`ev_*` parameters of PG_RECORD for a final outcome (its outbox row rides in
    the same statement); None for a retry, or when nobody subscribes to `message.status`
    (then there is no event to ride along, and the plain statements write none)."""
    if not sent.final:
        return None
    status, params = sent.final_status()
    event = outbox_row(MessageStatus(message_id=sent.message_id, alumnus_id=sent.alumnus_id,
                                     status=status))
    if event is None:
        return None
    return {"r_status": status, "r_id": sent.message_id, "r_at": sent.at,
            "r_kind": sent.outcome.kind, "r_detail": (sent.outcome.reason or "")[:500],
            "r_provider_id": params.get("provider_id"), "r_why": params.get("why"),
            "ev_id": event["id"], "ev_type": event["type"], "ev_payload": event["payload"],
            "ev_at": event["created_at"]}


def outcome_writer(session: Session, counts: dict[str, int]) -> OutcomeWriter:
    """The writer for the session's database, chosen once per batch."""
    return PostgresOutcomeWriter(counts) if is_postgres(session) else OutcomeWriter(counts)
