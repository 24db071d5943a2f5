"""Click-to-chat: a WhatsApp message sent by staff from their own phone, no Cloud API.

The call list (survey) posts here; outreach, which owns the message texts, renders the
step's message for the alumnus with their personal link, and answers with a
`https://wa.me/<number>?text=<message>` address that opens the chat on the staff phone
with the text ready to send. The try is recorded by the survey service, which owns the
call list, through the `contact.chat_opened` event.

The step: the latest step of the wave's campaigns that has a message for the alumnus (what
they were last sent), else the first step of the wave's first campaign; a wave without a
campaign gets a short standard invitation in the campaign language Indonesian.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.outreach import templating
from services.outreach.campaigns import OutreachError, Recipient, message_context
from shared.config import Settings
from shared.event_types import ChatOpened
from shared.events import publish
from shared.i18n import translated as _
from shared.models import Alumnus, Campaign, CampaignStep, Cohort, Message, Program, Wave

# WhatsApp's own limit on a prefilled text is not published; long texts are cut by some
# phones. A step written for SMS or WhatsApp is well under it.
MAX_TEXT = 2000


def _step(session: Session, wave_id: int, alumnus_id: int) -> CampaignStep | None:
    last_sent = session.scalar(
        select(CampaignStep).join(Message, Message.campaign_step_id == CampaignStep.id)
        .join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .where(Campaign.wave_id == wave_id, Message.alumnus_id == alumnus_id)
        .order_by(Message.id.desc()).limit(1))
    if last_sent is not None:
        return last_sent
    return session.scalar(
        select(CampaignStep).join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .where(Campaign.wave_id == wave_id)
        .order_by(Campaign.id, CampaignStep.position).limit(1))


def chat_address(session: Session, wave: Wave, alumnus_id: int, settings: Settings,
                 *, user_id: int) -> str:
    """The wa.me address with the message for this alumnus, and the `contact.chat_opened`
    event published in the caller's transaction. OutreachError when the alumnus is not a
    target who may be contacted or has no phone."""
    row = session.execute(
        select(Alumnus.id, Alumnus.full_name, Alumnus.email, Alumnus.phone, Program.name,
               Cohort.label, Alumnus.erased_at, Alumnus.consent_withdrawn_at)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
        .where(Alumnus.id == alumnus_id)).first()
    if row is None or wave.status != "open":
        raise OutreachError("alumnus", _("This alumnus cannot be contacted for this wave."), 404)
    if row.erased_at is not None or row.consent_withdrawn_at is not None:
        raise OutreachError("alumnus", _("This alumnus may not be contacted."), 409)
    if not row.phone:
        raise OutreachError("phone", _("No phone number: correct the contact first."), 409)
    recipient = Recipient(*row[:6])
    context = message_context(recipient, wave.id, wave.title, settings, "whatsapp")
    step = _step(session, wave.id, alumnus_id)
    if step is not None:
        text = templating.render(step.template, step.campaign.language, context).body
    else:
        text = _("Hello %(name)s, this is %(centre)s. Please fill in the alumni survey "
                 "%(wave)s: %(link)s", name=context["name"], centre=context["centre"],
                 wave=context["wave_title"], link=context["survey_link"])
    publish(session, ChatOpened(wave_id=wave.id, alumnus_id=alumnus_id, user_id=user_id))
    digits = "".join(character for character in row.phone if character.isdigit())
    return f"https://wa.me/{digits}?text={quote(text[:MAX_TEXT], safe='')}"
