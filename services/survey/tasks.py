"""Survey's Celery tasks: consumers of other services' events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.events import Event, consumer


@consumer("survey.on_message_status")
def on_message_status(db_session: Session, event: Event) -> None:
    # Dispositions read message status directly from the messages table; nothing to
    # denormalise yet. Recording the event keeps the contract honest.
    return None
