"""Survey's Celery tasks: the expiry of the personal-data files the survey is responsible
for, and the one event it consumes, a WhatsApp chat opened from the call list.
(Dispositions read message status from the messages table.)"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from sqlalchemy.orm import Session

from services.survey import call_list
from services.survey.waves import SurveyError
from shared.centre import applied
from shared.event_types import ChatOpened
from shared.events import Event, consumer
from shared.models import Wave
from shared.personal_files import BACKUPS, IMPORTS, expire


@shared_task(name="survey.expire_personal_files", ignore_result=True)
def expire_personal_files() -> int:
    """Beat job: delete rejected-rows files (`imports/`) and backups (`backups/`) under
    JEJAK_HOME last written more than JEJAK_PERSONAL_FILES_DAYS days ago; how many.

    Backups are the survey's to expire because erasure, which lists them, is the survey's.
    """
    settings = applied()  # the admin's retention days over the environment's (shared/centre.py)
    return sum(len(expire(settings.home / folder, settings.personal_files_days))
               for folder in (IMPORTS, BACKUPS))


@consumer("survey.on_chat_opened")
def on_chat_opened(db_session: Session, event: Event) -> None:
    """A WhatsApp chat opened from the call list (outreach rendered its text): one attempt,
    channel whatsapp, outcome chat_opened. Skipped when the wave or alumnus is gone."""
    data = event.data
    assert isinstance(data, ChatOpened)
    wave = db_session.get(Wave, data.wave_id)
    if wave is None:
        return
    try:
        call_list.record_attempt(db_session, wave, data.alumnus_id, user_id=data.user_id,
                                 channel="whatsapp", outcome=call_list.CHAT_OPENED,
                                 today=date.today())
    except SurveyError:
        return  # erased or no longer a target since: nothing to record
