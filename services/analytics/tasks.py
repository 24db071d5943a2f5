"""Analytics' Celery tasks: consumers of survey and outreach events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.events import Event, consumer


@consumer("analytics.on_response_submitted")
def on_response_submitted(db_session: Session, event: Event) -> None:
    return None


@consumer("analytics.on_message_status")
def on_message_status(db_session: Session, event: Event) -> None:
    return None
