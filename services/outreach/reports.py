"""What staff see of a campaign: a preview with real data, and which step got the answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.outreach import campaigns, templating
from shared.config import Settings
from shared.models import Campaign, CampaignStep, Message, Response, Wave


def preview(
    session: Session, campaign: Campaign, settings: Settings, alumnus_id: int | None = None
) -> dict[str, Any]:
    people = campaigns.recipients(session, campaign)
    person = next((p for p in people if alumnus_id in (None, p.alumnus_id)), None)
    if person is None:
        return {"recipients": len(people), "alumnus": None, "steps": []}
    wave_title = session.scalar(select(Wave.title).where(Wave.id == campaign.wave_id))
    steps = []
    for step in campaign.steps:
        resolved = campaigns.resolve_channel(step.channel, person, settings.channel_order)
        if resolved is None:
            steps.append(
                {
                    "step": step.position + 1,
                    "channel": step.channel,
                    "error": "no contact for this channel",
                }
            )
            continue
        context = campaigns.message_context(
            person, campaign.wave_id, wave_title, settings, resolved[0]
        )
        try:
            rendered = templating.render(step.template, campaign.language, context)
            steps.append(
                {
                    "step": step.position + 1,
                    "channel": resolved[0],
                    "day_offset": step.day_offset,
                    "address": resolved[1],
                    "subject": rendered.subject,
                    "body": rendered.body,
                }
            )
        except templating.TemplateProblem as exc:
            steps.append({"step": step.position + 1, "channel": resolved[0], "error": str(exc)})
    return {
        "recipients": len(people),
        "alumnus": {"id": person.alumnus_id, "name": person.full_name},
        "steps": steps,
    }


def attribution(session: Session, campaign: Campaign) -> dict[int, int]:
    """Complete responses by the step of the last message sent before them."""
    if campaign.wave_id is None:
        return {}
    sent = session.execute(
        select(Message.alumnus_id, Message.sent_at, CampaignStep.position)
        .join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
        .where(CampaignStep.campaign_id == campaign.id, Message.sent_at.is_not(None))
    ).all()
    answered = dict(
        session.execute(
            select(Response.alumnus_id, Response.submitted_at).where(
                Response.wave_id == campaign.wave_id, Response.status == "complete"
            )
        ).all()
    )
    last_step: dict[int, tuple[Any, int]] = {}
    for alumnus_id, sent_at, position in sent:
        submitted = answered.get(alumnus_id)
        if submitted is None or sent_at > submitted:
            continue
        if alumnus_id not in last_step or sent_at > last_step[alumnus_id][0]:
            last_step[alumnus_id] = (sent_at, position)
    by_step: dict[int, int] = {}
    for _sent_at, position in last_step.values():
        by_step[position + 1] = by_step.get(position + 1, 0) + 1
    return by_step
