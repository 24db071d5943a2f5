"""Outreach's part of erasure and consent withdrawal (the survey publishes the events).

Pending messages are cancelled with the reason; on erasure the addresses outreach copied
onto messages are blanked and provider replies are masked (shared.logs.mask), since a
bounce reason often quotes the address. Opt-out rows stay: they record the person's own
objection, and keeping them is what keeps a later roster entry with the same address from
being contacted (docs/decisions.md). The embedded mail and SMS/WhatsApp sinks under
JEJAK_HOME drop their copies of the person's messages (`drop_sink_copies`).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.outreach.channels import drop_from_sinks
from shared.config import Settings
from shared.logs import mask
from shared.models import DeliveryAttempt, Message

PENDING = ("planned", "queued")


def stop_messages(session: Session, alumnus_id: int, reason: str) -> int:
    """Cancel every message to the alumnus not yet handed to a provider; how many."""
    result = session.execute(
        update(Message)
        .where(Message.alumnus_id == alumnus_id, Message.status.in_(PENDING))
        .values(status="cancelled", cancel_reason=reason, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def forget_alumnus(session: Session, alumnus_id: int) -> int:
    """Erasure: stop pending messages, drop addresses, mask provider replies."""
    cancelled = stop_messages(session, alumnus_id, "erased")
    messages = session.scalars(select(Message).where(Message.alumnus_id == alumnus_id)).all()
    for message in messages:
        message.address = None
        if message.failed_reason:
            message.failed_reason = mask(message.failed_reason)
    if messages:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id.in_([message.id for message in messages]))
        ):
            if attempt.detail:
                attempt.detail = mask(attempt.detail)
    session.flush()
    return cancelled


def drop_sink_copies(session: Session, alumnus_id: int, settings: Settings) -> int:
    """Erasure: the embedded sinks forget every message ever made for the alumnus (by
    message id, so it works after the addresses were blanked); how many copies went."""
    message_ids = set(session.scalars(select(Message.id)
                                      .where(Message.alumnus_id == alumnus_id)))
    return drop_from_sinks(settings, message_ids)
