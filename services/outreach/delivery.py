"""Getting due messages out exactly once.

`dispatch` (a beat job) hands due messages to batches; `send_batch` (a task) sends them.
Each message moves planned → queued → sending → sent under conditional updates, one short
transaction per step, so a duplicate task, a second beat or a resumed campaign finds
nothing left to send. A worker killed between "sending" and "sent" leaves the message
`in_doubt`: it is never resent, because a second copy is worse than one to check by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.outreach import pacing, templating
from services.outreach.campaigns import Recipient, message_context
from services.outreach.channels import Channel, Outcome, Outgoing, channel_for
from shared.config import Settings
from shared.db import is_postgres
from shared.events import publish
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    DeliveryAttempt,
    Message,
    OptOut,
    Program,
    Response,
    Wave,
    utcnow,
)

log = logging.getLogger(__name__)
BATCH_SIZE = 100
STALE_QUEUE = timedelta(minutes=15)  # a batch task that never ran (lost with Redis)
STUCK_SENDING = timedelta(minutes=10)  # longer than any single send can take


def dispatch(
    session_factory: sessionmaker[Session],
    celery: Celery,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Queue due messages in batches and hand each batch to `outreach.send_batch`."""
    now = now or utcnow()
    with session_factory() as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.status == "sending", Message.queued_at < now - STUCK_SENDING)
            .values(
                status="in_doubt",
                failed_reason="a worker stopped while sending; not resent to avoid a duplicate",
            )
        )
    quiet = pacing.parse_quiet_hours(settings.quiet_hours)
    if pacing.in_quiet_hours(now, quiet, settings.timezone):
        return 0
    queued = 0
    while True:
        with session_factory() as session, session.begin():
            due = (
                select(Message.id)
                .join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
                .join(Campaign, Campaign.id == CampaignStep.campaign_id)
                .where(
                    Campaign.status == "running",
                    or_(
                        and_(
                            Message.status == "planned",
                            Message.due_at <= now,
                            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
                        ),
                        and_(Message.status == "queued", Message.queued_at < now - STALE_QUEUE),
                    ),
                )
                .order_by(Message.due_at, Message.id)
                .limit(BATCH_SIZE)
            )
            if is_postgres(session):
                due = due.with_for_update(skip_locked=True, of=Message)
            ids = list(session.scalars(due))
            if ids:
                session.execute(
                    update(Message)
                    .where(Message.id.in_(ids))
                    .values(status="queued", queued_at=now)
                )
        if not ids:
            return queued
        # After the commit: if this publish fails, the stale-queue sweep re-sends the ids.
        celery.send_task("outreach.send_batch", args=[ids])
        queued += len(ids)
        if len(ids) < BATCH_SIZE:
            return queued


@dataclass
class Channels:
    """The channels a batch uses, opened once and closed at the end (SMTP reuse)."""

    settings: Settings
    opened: dict[str, Channel] = field(default_factory=dict)

    def get(self, name: str) -> Channel:
        if name not in self.opened:
            self.opened[name] = channel_for(name, self.settings)
        return self.opened[name]

    def close(self) -> None:
        for channel in self.opened.values():
            try:
                channel.close()
            except Exception:  # closing must not hide what the batch did
                log.warning("closing %s failed", channel.name, exc_info=True)
        self.opened.clear()


def send_batch(
    session_factory: sessionmaker[Session],
    message_ids: list[int],
    settings: Settings,
    *,
    channels: Channels | None = None,
    rate_limit: pacing.RateLimit | None = None,
    now: Callable[[], datetime] = utcnow,
) -> dict[str, int]:
    """Send the queued messages among `message_ids`; returns counts by outcome."""
    own_channels = channels is None
    channels = channels or Channels(settings)
    counts: dict[str, int] = {}
    try:
        # Grouped by channel so one SMTP connection serves all the batch's emails.
        with session_factory() as session:
            order = session.execute(
                select(Message.id, Message.channel)
                .where(Message.id.in_(message_ids), Message.status == "queued")
                .order_by(Message.channel, Message.id)
            ).all()
        for message_id, _channel in order:
            result = _send_one(session_factory, message_id, settings, channels, rate_limit, now)
            counts[result] = counts.get(result, 0) + 1
    finally:
        if own_channels:
            channels.close()
    return counts


def _send_one(
    session_factory: sessionmaker[Session],
    message_id: int,
    settings: Settings,
    channels: Channels,
    rate_limit: pacing.RateLimit | None,
    now: Callable[[], datetime],
) -> str:
    with session_factory() as session, session.begin():
        claimed = _claim(session, message_id, settings, now())
        if isinstance(claimed, str):
            return claimed
        outgoing = claimed
    if rate_limit is not None:
        rate_limit.wait(outgoing.channel)
    try:
        outcome = channels.get(outgoing.channel).send([outgoing])[0]
    except Exception as exc:  # a channel bug must not leave the message "sending"
        log.exception("channel %s raised", outgoing.channel)
        outcome = Outcome("transient", reason=f"{type(exc).__name__}: {exc}"[:200])
    with session_factory() as session, session.begin():
        return _record(session, message_id, outcome, now())


def _claim(
    session: Session, message_id: int, settings: Settings, moment: datetime
) -> Outgoing | str:
    """Re-check right before sending; mark the message `sending` and render it."""
    row = session.execute(
        select(Message, CampaignStep, Campaign, Alumnus, Program.name, Cohort.label, Wave.title)
        .join(CampaignStep, CampaignStep.id == Message.campaign_step_id)
        .join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .join(Alumnus, Alumnus.id == Message.alumnus_id)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
        .outerjoin(Wave, Wave.id == Campaign.wave_id)
        .where(Message.id == message_id, Message.status == "queued")
    ).first()
    if row is None:
        return "gone"  # sent, cancelled or taken by another task meanwhile
    message, step, campaign, alumnus, program, cohort, wave_title = row
    quiet = pacing.parse_quiet_hours(settings.quiet_hours)
    if campaign.status != "running" or pacing.in_quiet_hours(moment, quiet, settings.timezone):
        message.status, message.queued_at = "planned", None  # back in line, sent later
        return "deferred"
    stop = _stop_reason(session, message, campaign, alumnus)
    if stop:
        message.status = "skipped" if stop == "opted_out" else "cancelled"
        message.cancel_reason = stop
        return stop
    recipient = Recipient(
        alumnus.id, alumnus.full_name, alumnus.email, alumnus.phone, program, cohort
    )
    context = message_context(recipient, campaign, wave_title, settings, message.channel)
    try:
        rendered = templating.render(step.template, campaign.language, context)
    except templating.TemplateProblem as exc:
        message.status, message.failed_reason = "failed", f"template: {exc}"[:500]
        return "failed"
    claimed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "queued")
        .values(status="sending", attempts=Message.attempts + 1, queued_at=moment)
        .returning(Message.id)
    ).first()
    if claimed is None:
        return "gone"
    return Outgoing(
        message_id=message_id,
        channel=message.channel,
        address=message.address,
        body=rendered.body,
        subject=rendered.subject,
        unsubscribe_url=context["unsubscribe_link"],
        template_name=templating.WHATSAPP_TEMPLATE,
        template_params=(context["name"], context["survey_link"] or context["centre"]),
        language=campaign.language,
    )


def _stop_reason(
    session: Session, message: Message, campaign: Campaign, alumnus: Alumnus
) -> str | None:
    if alumnus.erased_at is not None or alumnus.consent_withdrawn_at is not None:
        return "erased" if alumnus.erased_at else "consent_withdrawn"
    opted_out = session.scalar(
        select(
            exists().where(
                OptOut.channel == message.channel,
                or_(OptOut.address == message.address, OptOut.alumnus_id == alumnus.id),
            )
        )
    )
    if opted_out:
        return "opted_out"
    if campaign.wave_id is not None:
        answered = session.scalar(
            select(
                exists().where(
                    Response.wave_id == campaign.wave_id,
                    Response.alumnus_id == alumnus.id,
                    Response.status == "complete",
                )
            )
        )
        if answered:
            return "answered"
    return None


def _record(session: Session, message_id: int, outcome: Outcome, moment: datetime) -> str:
    message = session.get(Message, message_id)
    session.add(
        DeliveryAttempt(
            message_id=message_id,
            attempted_at=moment,
            outcome=outcome.kind,
            detail=(outcome.reason or "")[:500],
        )
    )
    if outcome.kind == "sent":
        message.status, message.sent_at = "sent", moment
        message.provider_message_id = outcome.provider_id
    elif outcome.kind == "transient" and message.attempts < pacing.MAX_ATTEMPTS:
        message.status, message.queued_at = "planned", None
        message.next_attempt_at = moment + pacing.backoff(message.attempts)
        message.failed_reason = outcome.reason
        return "retry"
    else:
        message.status = "failed"
        message.failed_reason = (outcome.reason or outcome.kind)[:500]
        if outcome.kind == "transient":
            message.failed_reason = f"gave up after {message.attempts} attempts: {outcome.reason}"[
                :500
            ]
    publish(
        session,
        "message.status",
        {"message_id": message_id, "alumnus_id": message.alumnus_id, "status": message.status},
    )
    return message.status


def counts_by_status(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """Per step: planned, sent, delivered, failed (by reason), cancelled, skipped…"""
    from sqlalchemy import func

    rows = session.execute(
        select(
            CampaignStep.position,
            CampaignStep.channel,
            CampaignStep.day_offset,
            Message.status,
            Message.cancel_reason,
            Message.failed_reason,
            func.count(),
        )
        .join(Message, Message.campaign_step_id == CampaignStep.id)
        .where(CampaignStep.campaign_id == campaign_id)
        .group_by(
            CampaignStep.position,
            CampaignStep.channel,
            CampaignStep.day_offset,
            Message.status,
            Message.cancel_reason,
            Message.failed_reason,
        )
        .order_by(CampaignStep.position)
    ).all()
    steps: dict[int, dict[str, Any]] = {}
    for position, channel, day, status, cancel_reason, failed_reason, count in rows:
        step = steps.setdefault(
            position,
            {
                "step": position + 1,
                "channel": channel,
                "day_offset": day,
                "planned": 0,
                "queued": 0,
                "sent": 0,
                "delivered": 0,
                "failed": 0,
                "in_doubt": 0,
                "cancelled_answered": 0,
                "cancelled_other": 0,
                "opted_out": 0,
                "no_contact": 0,
                "failed_reasons": {},
            },
        )
        if status in ("planned", "queued", "sending"):
            step["planned" if status == "planned" else "queued"] += count
        elif status in ("sent", "delivered", "in_doubt"):
            step[status] += count
            if status == "delivered":
                step["sent"] += count  # delivered messages were sent first
        elif status == "failed":
            step["failed"] += count
            reason = (failed_reason or "unknown").split(":")[0]
            step["failed_reasons"][reason] = step["failed_reasons"].get(reason, 0) + count
        elif status == "cancelled":
            step["cancelled_answered" if cancel_reason == "answered" else "cancelled_other"] += (
                count
            )
        elif status == "skipped":
            step["opted_out" if cancel_reason == "opted_out" else "no_contact"] += count
    return list(steps.values())
