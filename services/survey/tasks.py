"""Survey's Celery tasks: consumers of other services' events, and the expiry of the
personal-data files the survey is responsible for."""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.orm import Session

from shared.centre import applied
from shared.events import Event, consumer
from shared.personal_files import BACKUPS, IMPORTS, expire


@consumer("survey.on_message_status")
def on_message_status(db_session: Session, event: Event) -> None:
    # Dispositions read message status directly from the messages table; nothing to
    # denormalise yet. Recording the event keeps the contract honest.
    return None


@shared_task(name="survey.expire_personal_files", ignore_result=True)
def expire_personal_files() -> int:
    """Beat job: delete rejected-rows files (`imports/`) and backups (`backups/`) under
    JEJAK_HOME last written more than JEJAK_PERSONAL_FILES_DAYS days ago; how many.

    Backups are the survey's to expire because erasure, which lists them, is the survey's.
    """
    settings = applied()  # the admin's retention days over the environment's (shared/centre.py)
    return sum(len(expire(settings.home / folder, settings.personal_files_days))
               for folder in (IMPORTS, BACKUPS))
