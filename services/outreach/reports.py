"""What staff see of a campaign: a preview with real data, and which step got the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from services.outreach import campaigns, pacing, templating
from shared.config import Settings
from shared.models import Campaign, CampaignStep, Message, Response, Wave, utcnow

MASK = "••••••"


def masked_link(link: str) -> str:
    """A personal link with its token hidden: `https://…/survey/s/••••••`. A preview shows
    staff what a message looks like without handing them a working link to someone's form
    (or to their opt-out)."""
    return f"{link.rsplit('/', 1)[0]}/{MASK}" if link else link


def preview(
    session: Session, campaign: Campaign, settings: Settings, alumnus_id: int | None = None
) -> dict[str, Any]:
    """Every step rendered for one real alumnus, personal links masked, and the audience:
    how many the segment holds now and the first ten with the first step's channel."""
    count, sample = campaigns.audience(session, campaign, settings)
    audience = {
        "recipients": count,
        "sample": [{"id": person.alumnus_id, "name": person.full_name, "channel": channel}
                   for person, channel in sample],
    }
    person = campaigns.recipient(session, campaign, alumnus_id)
    if person is None:
        return {**audience, "alumnus": None, "steps": []}
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
        for key in ("survey_link", "unsubscribe_link"):
            context[key] = masked_link(context[key])
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
        **audience,
        "alumnus": {"id": person.alumnus_id, "name": person.full_name},
        "steps": steps,
    }


def waiting(
    session: Session, campaign: Campaign, settings: Settings, now: datetime | None = None
) -> pacing.NextSending:
    """When the campaign's next message may go and why not sooner (`pacing.next_sending`),
    from its waiting messages: two aggregate queries on the campaign's steps."""
    now = now or utcnow()
    step_ids = [step.id for step in campaign.steps]
    waiting_ = [Message.campaign_step_id.in_(step_ids),
                Message.status.in_(("planned", "queued", "sending"))]
    ready = or_(Message.status != "planned", and_(
        Message.due_at <= now,
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now)))
    due_now = dict(session.execute(
        select(Message.channel, func.count()).where(*waiting_, ready).group_by(Message.channel)
    ).all())
    # A retry waits for the later of its step's day and its backoff; a first send for its day.
    # One row: MIN skips the NULLs of the rows each column is not about. The columns are typed
    # UTCDateTime (shared/models.py), so both come back timezone-aware on SQLite too.
    first_send, retry = session.execute(
        select(func.min(case((Message.next_attempt_at.is_(None), Message.due_at))),
               func.min(Message.next_attempt_at)).where(*waiting_, ~ready)
    ).one()
    candidates = [(at, is_retry) for at, is_retry in ((first_send, False), (retry, True)) if at]
    next_due, is_retry = min(candidates) if candidates else (None, False)
    quiet, timezone = pacing.quiet_hours_of(settings)
    return pacing.next_sending(
        now, status=campaign.status, due_now={k or "": v for k, v in due_now.items()},
        next_due=next_due, next_is_retry=is_retry, quiet=quiet, timezone=timezone,
    )


def people_reached(session: Session, campaign: Campaign) -> int:
    """How many alumni the launched campaign has messages for (any status): the number the
    page puts beside its counts, not the segment evaluated now."""
    return session.scalar(
        select(func.count(func.distinct(Message.alumnus_id))).where(
            Message.campaign_step_id.in_([step.id for step in campaign.steps]))
    ) or 0


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
