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
from sqlalchemy import Integer, exists, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from services.outreach import pacing, templating
from services.outreach.campaigns import Recipient, message_context
from services.outreach.channels import Channel, Outcome, Outgoing, channel_for
from services.outreach.outcomes import OutcomeWriter, Sent, outcome_writer
from services.outreach.statements import (
    ATTEMPT,
    BATCH,
    FAIL_TEMPLATE,
    FAILED_LATE,
    PUT_BACK,
    STOP,
    claim_params,
)
from shared import metrics
from shared.config import Settings
from shared.db import in_list, is_postgres
from shared.event_types import MessageStatus
from shared.events import publish
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Message,
    OptOut,
    Response,
    utcnow,
)

log = logging.getLogger(__name__)
BATCH_SIZE = 100  # ids per send_batch task
QUEUE_CHUNK = 1000  # ids queued per dispatch transaction
STALE_QUEUE = timedelta(minutes=15)  # a batch task that never ran (lost with Redis)
STUCK_SENDING = timedelta(minutes=10)  # longer than any single send can take


def dispatch(
    session_factory: sessionmaker[Session],
    celery: Celery,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Queue due messages in batches and hand each batch to `outreach.send_batch`.

    Linear in the messages due: the planned ones are walked in (due_at, id) order along the
    partial index `ix_messages_planned_due`, a thousand per transaction, each walk resuming
    after the last row it saw (so rows it passes over, of a paused campaign or waiting for
    a retry, are not read again); on PostgreSQL `FOR UPDATE SKIP LOCKED` lets two
    dispatchers share the work without waiting on each other.
    """
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
    quiet, timezone = pacing.quiet_hours_of(settings)
    if pacing.in_quiet_hours(now, quiet, timezone):
        return 0
    running = (
        select(CampaignStep.id)
        .join(Campaign, Campaign.id == CampaignStep.campaign_id)
        .where(Campaign.status == "running")
    )
    planned = [
        Message.status == "planned",
        Message.due_at <= now,
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
        Message.campaign_step_id.in_(running),
    ]
    # A batch task that never ran (lost with Redis): handed out again, still `queued`.
    stale = [
        Message.status == "queued",
        Message.queued_at < now - STALE_QUEUE,
        Message.campaign_step_id.in_(running),
    ]
    queued = 0
    for where in (planned, stale):
        after: tuple[datetime, int] | None = None
        while True:
            with session_factory() as session, session.begin():
                due = select(Message.due_at, Message.id).where(*where)
                if after is not None:
                    due = due.where(tuple_(Message.due_at, Message.id) > tuple_(
                        literal(after[0], Message.due_at.type), literal(after[1], Integer)))
                due = due.order_by(Message.due_at, Message.id).limit(QUEUE_CHUNK)
                if is_postgres(session):
                    due = due.with_for_update(skip_locked=True)
                rows = session.execute(due).all()
                ids = []
                if rows:  # the status again: SQLite locks nothing while selecting
                    ids = sorted(session.scalars(
                        update(Message.__table__)
                        .where(in_list(session, Message.id, [row.id for row in rows]),
                               where[0])
                        .values(status="queued", queued_at=now)
                        .returning(Message.id)
                    ))
            # After the commit: if a publish fails, the stale-queue sweep re-sends its ids.
            for first in range(0, len(ids), BATCH_SIZE):
                celery.send_task("outreach.send_batch", args=[ids[first : first + BATCH_SIZE]])
            queued += len(ids)
            if len(rows) < QUEUE_CHUNK:
                break
            after = (rows[-1].due_at, rows[-1].id)
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
    """Send the queued messages among `message_ids`; returns counts by outcome.

    Exactly once, message by message:
    1. claim: one conditional UPDATE moves it `queued` → `sending` only if, at that moment,
       it is still queued, its campaign runs, and the alumnus has not opted out, answered,
       withdrawn consent or been erased; committed BEFORE anything goes to the provider.
       A message that is not `queued` is never claimed, so a duplicate task, a second
       worker or a restart finds nothing to send;
    2. send it;
    3. record the outcome (`sent`, a retry, `failed`), committed in the same transaction
       as the next message's claim (or alone after the last one): one commit per message
       (services/outreach/outcomes.py).
    Only one message of a batch is ever `sending`. If the worker dies between 1 and 3 its
    outcome is unknown: it stays `sending` until dispatch marks it `in_doubt`, never resent.
    """
    own_channels = channels is None
    channels = channels or Channels(settings)
    counts: dict[str, int] = {}
    quiet, timezone = pacing.quiet_hours_of(settings)
    try:
        with session_factory() as session:
            with session.begin():
                # Grouped by channel so one SMTP connection serves all the batch's emails.
                batch = session.execute(
                    BATCH.where(in_list(session, Message.id, message_ids),
                                Message.status == "queued")
                    .order_by(Message.channel, Message.id)
                ).all()
            outcomes = outcome_writer(session, counts)
            try:
                for row in batch:
                    quiet_now = pacing.in_quiet_hours(now(), quiet, timezone)
                    if rate_limit is not None and not quiet_now:
                        rate_limit.wait(row.channel)
                    moment = now()
                    with outcomes.transaction(session):  # the previous outcome is written here
                        claimed = _claim(session, row, settings, moment, quiet_now, outcomes)
                    if isinstance(claimed, str):
                        counts[claimed] = counts.get(claimed, 0) + 1
                        continue
                    outgoing, attempts = claimed
                    outcome = _send(channels, outgoing)
                    outcomes.record(Sent(row.id, row.alumnus_id, attempts, outcome, now()))
            finally:
                if outcomes.held is not None:  # the last one, or the one before a failure
                    with outcomes.transaction(session):
                        outcomes.write(session)
    finally:
        if own_channels:
            channels.close()
    return counts


def _send(channels: Channels, outgoing: Outgoing) -> Outcome:
    try:
        outcome = channels.get(outgoing.channel).send([outgoing])[0]
    except Exception as exc:  # a channel bug must not leave the message "sending"
        log.exception("channel %s raised", outgoing.channel)
        outcome = Outcome("transient", reason=f"{type(exc).__name__}: {exc}"[:200])
    metrics.MESSAGES.labels(outgoing.channel, outcome.kind).inc()
    return outcome


def _claim(
    session: Session, row: Any, settings: Settings, moment: datetime, quiet_now: bool,
    outcomes: OutcomeWriter,
) -> tuple[Outgoing, int] | str:
    """Mark the message `sending` if it may still go, and render it; or say why not.
    The outcome `outcomes` holds (the previous message's) is written in the same
    transaction, on PostgreSQL in the claim's own statement."""
    if quiet_now:
        outcomes.write(session)
        return _put_back(session, row.id)
    recipient = Recipient(row.alumnus_id, row.full_name, None, None, row.program, row.cohort)
    context = message_context(recipient, row.wave_id, row.wave_title, settings, row.channel)
    try:
        rendered = templating.render(row.template, row.language, context)
    except templating.TemplateProblem as exc:
        outcomes.write(session)
        failed = session.connection().execute(
            FAIL_TEMPLATE, {**claim_params(row), "why": f"template: {exc}"[:500]}
        )
        return "failed" if failed.rowcount == 1 else _why_not(session, row)
    attempts = outcomes.claim(session, {**claim_params(row), "at": moment})
    if attempts is None:
        return _why_not(session, row)
    return Outgoing(
        message_id=row.id,
        channel=row.channel,
        address=row.address,
        body=rendered.body,
        subject=rendered.subject,
        unsubscribe_url=context["unsubscribe_link"],
        template_name=templating.WHATSAPP_TEMPLATE,
        template_params=(context["name"], context["survey_link"] or context["centre"]),
        language=row.language,
    ), attempts


def _put_back(session: Session, message_id: int) -> str:
    session.connection().execute(PUT_BACK, {"m_id": message_id})
    return "deferred"  # back in line, sent later


def _why_not(session: Session, row: Any) -> str:
    """The claim found the message unwanted (rare): say why, and settle it."""
    if session.scalar(select(Message.status).where(Message.id == row.id)) != "queued":
        return "gone"  # sent, cancelled or taken by another task meanwhile
    stop = _stop_reason(session, row)
    if stop is None:  # the campaign is paused (or the check changed meanwhile): later
        return _put_back(session, row.id)
    new_status = "skipped" if stop == "opted_out" else "cancelled"
    session.connection().execute(
        STOP, {"m_id": row.id, "new_status": new_status, "why": stop}
    )
    return stop


def _stop_reason(session: Session, row: Any) -> str | None:
    erased, withdrawn = session.execute(
        select(Alumnus.erased_at, Alumnus.consent_withdrawn_at).where(Alumnus.id == row.alumnus_id)
    ).one()
    if erased is not None or withdrawn is not None:
        return "erased" if erased else "consent_withdrawn"
    opted_out = session.scalar(
        select(
            exists().where(
                OptOut.channel == row.channel,
                or_(OptOut.address == row.address, OptOut.alumnus_id == row.alumnus_id),
            )
        )
    )
    if opted_out:
        return "opted_out"
    if row.wave_id is not None:
        answered = session.scalar(
            select(
                exists().where(
                    Response.wave_id == row.wave_id,
                    Response.alumnus_id == row.alumnus_id,
                    Response.status == "complete",
                )
            )
        )
        if answered:
            return "answered"
    return None


def record_late_failure(session: Session, message_id: int, outcome: Outcome,
                        at: datetime | None = None) -> bool:
    """Record a hard bounce that came back by mail (services/outreach/bounces.py) the way a
    refusal during the SMTP transaction is recorded (services/outreach/outcomes.py): a
    delivery attempt, the message `failed` with the reason, and a `message.status` event in
    the same transaction (so survey's disposition and analytics' unreachable count follow).
    True if it changed the message; False if it was failed already or never went
    (idempotent)."""
    db = session.connection()
    alumnus_id = db.execute(FAILED_LATE, {"m_id": message_id,
                                          "why": (outcome.reason or outcome.kind)[:500]}
                            ).scalar()
    if alumnus_id is None:
        return False
    db.execute(ATTEMPT, {"message_id": message_id, "attempted_at": at or utcnow(),
                         "outcome": outcome.kind, "detail": (outcome.reason or "")[:500]})
    publish(session, MessageStatus(message_id=message_id, alumnus_id=alumnus_id,
                                   status="failed"))
    return True


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
