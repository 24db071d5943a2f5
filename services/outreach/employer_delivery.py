"""Sending employer campaign messages exactly once, opting out, and click-to-chat.

`send_due` runs with the outreach beat job. Each message moves planned → sending → sent
under conditional updates, one short transaction per step: the claim is committed before
anything goes to the provider, so a second beat, a duplicate job or a restart finds nothing
left to send; a worker killed between the claim and the outcome leaves the message
`sending`, swept to `in_doubt` and never resent (a second copy is worse than one to check
by hand), as for the alumni messages (services/outreach/delivery.py). Employer campaigns
are tens or hundreds of contacts, so the job sends directly, in the quiet-hours rule and
the channel order of the alumni campaigns.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.outreach import employer_campaigns as campaigns
from services.outreach import pacing, templating
from services.outreach.campaigns import CHANNELS, OutreachError
from services.outreach.channels import Outgoing, drop_from_sinks
from services.outreach.delivery import Channels, _send
from shared.config import Settings
from shared.i18n import translated as _
from shared.models import (
    EmployerAudience,
    EmployerCampaign,
    EmployerContact,
    EmployerMessage,
    EmployerReply,
    OptOut,
    utcnow,
)
from shared.tokens import unseal

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=15)  # a transient failure: tried again then
MAX_ATTEMPTS = 3
STUCK_SENDING = timedelta(minutes=10)
BATCH = 200  # messages per run of the beat job
# What channels and providers see as an employer message's id (the email's Message-ID, the
# sinks' records): apart from the alumni messages' ids, so a bounce, a sink copy or an
# erasure of alumni message 5 never reaches employer message 5.
OUTGOING_ID_BASE = 1 << 48


def outgoing_id(message_id: int) -> int:
    return OUTGOING_ID_BASE + message_id


def employer_message_of(outgoing: int) -> int | None:
    """The employer message behind an id channels saw, or None for an alumni message's."""
    return outgoing - OUTGOING_ID_BASE if outgoing >= OUTGOING_ID_BASE else None


def send_due(session_factory: sessionmaker[Session], settings: Settings, *,
             channels: Channels | None = None, now: datetime | None = None) -> dict[str, int]:
    """Send the employer messages that are due; returns counts by outcome."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    with session_factory() as session, session.begin():
        session.execute(update(EmployerMessage).where(
            EmployerMessage.status == "sending",
            EmployerMessage.due_at < now - STUCK_SENDING).values(
            status="in_doubt",
            failed_reason="a worker stopped while sending; not resent to avoid a duplicate"))
    quiet, timezone = pacing.quiet_hours_of(settings)
    if pacing.in_quiet_hours(now, quiet, timezone):
        return counts
    with session_factory() as session:
        ids = list(session.scalars(
            select(EmployerMessage.id)
            .join(EmployerCampaign, EmployerCampaign.id == EmployerMessage.campaign_id)
            .where(EmployerMessage.status == "planned", EmployerMessage.due_at <= now,
                   EmployerCampaign.status == "running")
            .order_by(EmployerMessage.due_at, EmployerMessage.id).limit(BATCH)))
    own = channels is None
    channels = channels or Channels(settings)
    try:
        for message_id in ids:
            outcome = _send_one(session_factory, settings, channels, message_id, now)
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        if own:
            channels.close()
    return counts


def _send_one(session_factory: sessionmaker[Session], settings: Settings, channels: Channels,
              message_id: int, now: datetime) -> str:
    with session_factory() as session, session.begin():
        message = session.get(EmployerMessage, message_id)
        if message is None or message.status != "planned":
            return "gone"
        campaign = session.get(EmployerCampaign, message.campaign_id)
        assert campaign is not None
        contact = session.get(EmployerContact, message.contact_id)
        stop = _stop_reason(session, message, campaign, contact)
        if stop is not None:
            message.status = "skipped" if stop == "opted_out" else "cancelled"
            message.cancel_reason = stop
            return stop
        assert contact is not None and message.channel and message.address
        step = campaign.steps[message.step]
        context = campaigns.message_context(session, campaign, contact, settings,
                                            message.channel)
        try:
            rendered = templating.render(step["template"], campaign.language, context)
        except templating.TemplateProblem as exc:
            message.status, message.failed_reason = "failed", f"template: {exc}"[:500]
            return "failed"
        claimed = session.execute(
            update(EmployerMessage)
            .where(EmployerMessage.id == message_id, EmployerMessage.status == "planned")
            # due_at becomes the claim's moment: the in-doubt sweep measures from it.
            .values(status="sending", attempts=EmployerMessage.attempts + 1, due_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            return "gone"  # another worker took it between the read and the claim
        outgoing = Outgoing(
            message_id=outgoing_id(message_id), channel=message.channel, address=message.address,
            body=rendered.body, subject=rendered.subject,
            unsubscribe_url=context["unsubscribe_link"],
            template_name=templating.WHATSAPP_TEMPLATE,
            template_params=(context["name"], context["survey_link"]),
            language=campaign.language)
        attempts = message.attempts + 1
    # Committed: the message is `sending` before the provider sees it.
    outcome = _send(channels, outgoing)
    with session_factory() as session, session.begin():
        values: dict[str, object]
        if outcome.kind == "sent":
            values = {"status": "sent", "sent_at": utcnow(),
                      "provider_message_id": outcome.provider_id}
        elif outcome.kind == "transient" and attempts < MAX_ATTEMPTS:
            values = {"status": "planned", "due_at": now + RETRY_AFTER,
                      "failed_reason": (outcome.reason or "")[:500]}
        else:
            values = {"status": "failed", "failed_reason": (outcome.reason or outcome.kind)[:500]}
        session.execute(update(EmployerMessage).where(
            EmployerMessage.id == message_id, EmployerMessage.status == "sending").values(**values))
    return "sent" if outcome.kind == "sent" else str(values["status"])


def _stop_reason(session: Session, message: EmployerMessage, campaign: EmployerCampaign,
                 contact: EmployerContact | None) -> str | None:
    """Why this message may no longer go, checked again at send time, or None."""
    if contact is None:
        return "erased"
    named = session.scalar(select(exists().where(
        EmployerAudience.wave_id == campaign.wave_id,
        EmployerAudience.contact_id == contact.id)))
    if not named:
        return "consent_withdrawn"
    if session.get(EmployerReply, (campaign.wave_id, contact.id)) is not None:
        return "answered"
    if session.scalar(select(OptOut.id).where(OptOut.channel == message.channel,
                                              OptOut.address == message.address)):
        return "opted_out"
    if message.address not in (contact.email, contact.phone):
        return "address_changed"  # the survey corrected it: not to the old one
    if session.scalar(select(exists().where(
            EmployerMessage.contact_id == contact.id, EmployerMessage.channel == message.channel,
            EmployerMessage.address == message.address, EmployerMessage.status == "failed",
            EmployerMessage.failed_reason.startswith("bounce")))):
        return "bounced"  # a hard bounce said this address does not exist
    return None


def record_bounce(session: Session, message_id: int, address: list[str], reason: str) -> str:
    """A hard bounce of an employer email (services/outreach/bounces.py): the message is
    `failed` with the reason when the bounce names its address; "hard", "already" or
    "not_ours"."""
    message = session.get(EmployerMessage, message_id)
    if message is None or message.channel != "email" or not message.address \
            or message.address.lower() not in address:
        return "not_ours"
    if message.status == "failed":
        return "already"
    message.status, message.failed_reason = "failed", reason[:500]
    return "hard"


def drop_sink_copies(session: Session, contact_id: int, settings: Settings) -> int:
    """Erasure of a contact: the embedded sinks forget every message made for them."""
    ids = session.scalars(select(EmployerMessage.id)
                          .where(EmployerMessage.contact_id == contact_id))
    return drop_from_sinks(settings, {outgoing_id(message_id) for message_id in ids})


# --- opting out (no login) -------------------------------------------------------------


def unsubscribe_target(session: Session, settings: Settings, token: str
                       ) -> tuple[EmployerContact, str, str] | None:
    """(contact, channel, address) an opt-out link names, or None for a wrong or stale link."""
    ids = unseal(settings.secret_key, campaigns.UNSUBSCRIBE, token, 2)
    if ids is None or ids[1] >= len(CHANNELS):
        return None
    contact = session.get(EmployerContact, ids[0])
    channel = CHANNELS[ids[1]]
    address = contact and (contact.email if channel == "email" else contact.phone)
    if contact is None or not address:
        return None
    return contact, channel, address


def opt_out(session: Session, channel: str, address: str, source: str) -> int:
    """Record the opt-out once (the alumni's table: an address opted out is one for every
    campaign) and skip the pending employer messages to it. Returns the messages stopped."""
    if session.scalar(select(OptOut.id).where(OptOut.channel == channel,
                                              OptOut.address == address)) is None:
        session.add(OptOut(channel=channel, address=address, alumnus_id=None, source=source))
    return session.execute(
        update(EmployerMessage)
        .where(EmployerMessage.channel == channel, EmployerMessage.address == address,
               EmployerMessage.status == "planned")
        .values(status="skipped", cancel_reason="opted_out")
        .execution_options(synchronize_session=False)).rowcount or 0


# --- click-to-chat ---------------------------------------------------------------------

MAX_TEXT = 2000


def chat_address(session: Session, campaign: EmployerCampaign, contact_id: int,
                 settings: Settings) -> str:
    """A wa.me address with the campaign's first message for this contact, to send from a
    staff phone. OutreachError when the contact is not in the wave's audience or has no
    phone."""
    contact = session.get(EmployerContact, contact_id)
    if contact is None or contact_id not in campaigns.audience_contacts(session,
                                                                        campaign.wave_id):
        raise OutreachError("contact", _("This contact cannot be asked in this wave."), 404)
    if not contact.phone:
        raise OutreachError("phone", _("No phone number: correct the contact first."), 409)
    if session.scalar(select(OptOut.id).where(OptOut.channel == "whatsapp",
                                              OptOut.address == contact.phone)):
        raise OutreachError("contact", _("This contact asked not to be contacted."), 409)
    context = campaigns.message_context(session, campaign, contact, settings, "whatsapp")
    text = templating.render(campaign.steps[0]["template"], campaign.language, context).body
    digits = "".join(character for character in contact.phone if character.isdigit())
    return f"https://wa.me/{digits}?text={quote(text[:MAX_TEXT], safe='')}"
