"""Outreach's Celery tasks: consumers of survey events."""

from __future__ import annotations

from celery import shared_task
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.outreach import (
    bounces,
    campaigns,
    delivery,
    employer_campaigns,
    employer_delivery,
    pacing,
    privacy,
)
from shared.centre import applied
from shared.db import get_db
from shared.event_types import (
    AlumnusErased,
    ConsentWithdrawn,
    EmployerAnswersSubmitted,
    EmployerContactAdded,
    EmployerContactErased,
    InvitationRequested,
    ResponseSubmitted,
    WaveTargetsAdded,
)
from shared.events import Event, consumer
from shared.models import Campaign, CampaignStep, Message


@shared_task(name="outreach.dispatch", ignore_result=True)
def dispatch() -> int:
    """Beat job: hand every due message to a batch."""
    settings = applied()  # the admin's quiet hours and time zone (shared/centre.py)
    return delivery.dispatch(get_db().session_factory, current_app.extensions["celery"], settings)


@shared_task(name="outreach.send_batch", ignore_result=True)
def send_batch(message_ids: list[int]) -> dict[str, int]:
    """Send one batch; ids in, everything re-loaded and re-checked inside."""
    settings = applied()  # the admin's public URL, quiet hours, centre name
    return delivery.send_batch(
        get_db().session_factory,
        message_ids,
        settings,
        rate_limit=pacing.RateLimit(settings.redis_url),
    )


@shared_task(name="outreach.send_employer_messages", ignore_result=True)
def send_employer_messages() -> dict[str, int]:
    """Beat job: send the employer campaigns' due messages (services/outreach/
    employer_delivery.py), each exactly once."""
    return employer_delivery.send_due(get_db().session_factory, applied())


@shared_task(name="outreach.read_bounces", ignore_result=True)
def read_bounces() -> dict[str, int]:
    """Beat job: read the bounce mailbox (JEJAK_BOUNCE_IMAP_URL), fail the hard bounces."""
    settings = current_app.config["JEJAK_SETTINGS"]
    return bounces.read_bounces(get_db().session_factory, settings)


@consumer("outreach.on_response_submitted")
def on_response_submitted(db_session: Session, event: Event) -> None:
    """Stop at the answer: cancel every pending message to this alumnus for this wave."""
    data = event.data
    assert isinstance(data, ResponseSubmitted)
    steps_of_wave = (
        select(CampaignStep.id)
        .join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .where(Campaign.wave_id == data.wave_id)
    )
    db_session.execute(
        update(Message)
        .where(
            Message.alumnus_id == data.alumnus_id,
            Message.status.in_(("planned", "queued")),
            Message.campaign_step_id.in_(steps_of_wave),
        )
        .values(status="cancelled", cancel_reason="answered", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


@consumer("outreach.on_wave_targets_added")
def on_wave_targets_added(db_session: Session, event: Event) -> None:
    """Alumni added to an open wave: the wave's running campaigns plan them, from now."""
    data = event.data
    assert isinstance(data, WaveTargetsAdded)
    campaigns.plan_added_targets(db_session, data.wave_id,
                                 current_app.config["JEJAK_SETTINGS"])


@consumer("outreach.on_invitation_requested")
def on_invitation_requested(db_session: Session, event: Event) -> None:
    """Staff asked for the invitation again: one message, due now, on the chosen channel."""
    data = event.data
    assert isinstance(data, InvitationRequested)
    campaigns.resend_invitation(db_session, data.wave_id, data.alumnus_id, data.channel)


@consumer("outreach.on_alumnus_erased")
def on_alumnus_erased(db_session: Session, event: Event) -> None:
    data = event.data
    assert isinstance(data, AlumnusErased)
    privacy.forget_alumnus(db_session, data.alumnus_id)
    employer_campaigns.forget_alumnus(db_session, data.alumnus_id, "erased")
    privacy.drop_sink_copies(db_session, data.alumnus_id,
                             current_app.config["JEJAK_SETTINGS"])


@consumer("outreach.on_consent_withdrawn")
def on_consent_withdrawn(db_session: Session, event: Event) -> None:
    data = event.data
    assert isinstance(data, ConsentWithdrawn)
    privacy.stop_messages(db_session, data.alumnus_id, "consent_withdrawn")
    employer_campaigns.forget_alumnus(db_session, data.alumnus_id, "consent_withdrawn")


@consumer("outreach.on_employer_contact_added")
def on_employer_contact_added(db_session: Session, event: Event) -> None:
    """A supervisor an alumnus consented to: who may be asked about whom."""
    data = event.data
    assert isinstance(data, EmployerContactAdded)
    employer_campaigns.record_audience(db_session, data.wave_id, data.alumnus_id,
                                       data.contact_id, data.employer_id)


@consumer("outreach.on_employer_answers_submitted")
def on_employer_answers_submitted(db_session: Session, event: Event) -> None:
    """A contact gave their company's answers: their reminders of the wave stop."""
    data = event.data
    assert isinstance(data, EmployerAnswersSubmitted)
    employer_campaigns.record_reply(db_session, data.wave_id, data.contact_id)


@consumer("outreach.on_employer_contact_erased")
def on_employer_contact_erased(db_session: Session, event: Event) -> None:
    """A contact erased on request: outreach forgets them; nothing pending goes."""
    data = event.data
    assert isinstance(data, EmployerContactErased)
    employer_campaigns.forget_contact(db_session, data.contact_id)
    employer_delivery.drop_sink_copies(db_session, data.contact_id,
                                       current_app.config["JEJAK_SETTINGS"])
