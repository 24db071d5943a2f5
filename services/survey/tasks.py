"""Survey's Celery tasks: the expiry of the personal-data files the survey is responsible
for, and the events it consumes: a WhatsApp chat opened from the call list, and those that
change where a target stands on the call list (services/survey/call_list_state.py: each
recomputes the target's state from its sources, so a redelivered event changes nothing).
(Dispositions read message status from the messages table.)"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from sqlalchemy.orm import Session

from services.survey import call_list, call_list_state
from services.survey.waves import SurveyError
from shared.centre import applied
from shared.event_types import ChatOpened, MessageStatus, ResponseSubmitted
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


@consumer("survey.on_response_submitted")
def on_response_submitted(db_session: Session, event: Event) -> None:
    """A complete response: the alumnus leaves the wave's call list."""
    data = event.data
    assert isinstance(data, ResponseSubmitted)
    call_list_state.refresh(db_session, data.wave_id, [data.alumnus_id])


@consumer("survey.on_message_status")
def on_message_status(db_session: Session, event: Event) -> None:
    """A message of a wave sent, delivered or failed: the alumnus may be reached now, or
    have no reminder left to come. A broadcast (no wave) concerns no call list."""
    data = event.data
    assert isinstance(data, MessageStatus)
    wave_id = call_list_state.message_wave(db_session, data.message_id)
    if wave_id is not None:
        call_list_state.refresh(db_session, wave_id, [data.alumnus_id])
