"""Campaigns: who gets which step when (segmentation, planning, launch, pause, resume).

Planning writes one message row per (step, alumnus) under a unique key, so planning twice,
or resuming, never creates a second message for anybody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from services.outreach import templating
from shared.centre import centre_of
from shared.config import Settings
from shared.db import insert_for
from shared.errors import DomainError
from shared.i18n import translated as _
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    Message,
    OptOut,
    Program,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)
from shared.tokens import seal, survey_link

CHANNELS = ("email", "sms", "whatsapp")
STEP_CHANNELS = (*CHANNELS, "best")
DISPOSITIONS = ("not_invited", "invited_no_response", "partial")
LANGUAGES = ("id", "en")
REACHED = ("sending", "sent", "delivered", "in_doubt")


class OutreachError(DomainError):
    """A campaign request that cannot be honoured."""


@dataclass(frozen=True)
class Recipient:
    alumnus_id: int
    full_name: str | None
    email: str | None
    phone: str | None
    program: str
    cohort: str


def create_campaign(
    session: Session,
    *,
    name: str,
    wave_id: int | None,
    segment: dict[str, Any] | None = None,
    steps: list[dict[str, Any]] | None = None,
    language: str = "id",
    created_by: int | None = None,
) -> Campaign:
    """A draft campaign; with no steps, the default invitation-and-reminders sequence."""
    # The staff form sends these as typed: PostgreSQL would refuse them later, as a 500.
    if language not in LANGUAGES:
        raise OutreachError("language", f"must be one of {', '.join(LANGUAGES)}")
    if not 1 <= len(name) <= 200:
        raise OutreachError("name", "give a name of 1 to 200 characters")
    segment = dict(segment or {})
    unknown = set(segment.get("dispositions") or []) - set(DISPOSITIONS)
    if unknown:
        raise OutreachError("segment", f"unknown dispositions {sorted(unknown)}")
    if wave_id is None and segment.get("dispositions"):
        raise OutreachError("segment", "dispositions need a wave")
    if wave_id is not None and session.get(Wave, wave_id) is None:
        raise OutreachError("wave_id", "no wave with this id")
    if steps is None:
        if wave_id is None:
            raise OutreachError("steps", "a broadcast needs its message")
        steps = [
            {"day_offset": day, "channel": channel, "template": template}
            for day, channel, template in templating.DEFAULT_SEQUENCE
        ]
    campaign = Campaign(
        name=name,
        wave_id=wave_id,
        kind="survey" if wave_id else "broadcast",
        segment=segment,
        language=language,
        created_by=created_by,
    )
    session.add(campaign)
    campaign.steps.extend(_checked_steps(steps))
    session.flush()
    return campaign


def _checked_steps(steps: list[dict[str, Any]]) -> list[CampaignStep]:
    """Step rows for `steps`, in the order given; the first wrong field raises. The messages
    are fixed sentences (no values in them) so a page can show them translated."""
    if not steps:
        raise OutreachError("steps", "give at least one step")
    rows = []
    for position, step in enumerate(steps):
        if step.get("channel") not in STEP_CHANNELS:
            raise OutreachError(f"steps.{position}.channel",
                                "must be email, sms, whatsapp or best")
        if int(step.get("day_offset", 0)) < 0:
            raise OutreachError(f"steps.{position}.day_offset", "must be 0 or more")
        template = step.get("template") or {}
        if not (template.get("id") or {}).get("body", "").strip():
            raise OutreachError(f"steps.{position}.template.id.body",
                                "the Indonesian message is required")
        rows.append(
            CampaignStep(
                position=position,
                day_offset=int(step.get("day_offset", 0)),
                channel=step["channel"],
                template=template,
            )
        )
    return rows


def replace_steps(session: Session, campaign: Campaign, steps: list[dict[str, Any]]) -> None:
    """Set a draft campaign's steps (day, channel, message per language).

    Only before launch: a launched campaign has planned messages per step, and changing a
    step under them would send one text and report another (409).
    """
    if campaign.status != "draft":
        raise OutreachError("status", "the steps can only be changed before launch", 409)
    rows = _checked_steps(steps)
    for old in list(campaign.steps):
        campaign.steps.remove(old)
        session.delete(old)
    session.flush()  # the old positions are gone before the new ones take them
    campaign.steps.extend(rows)
    session.flush()


def audience(
    session: Session, campaign: Campaign, settings: Settings, sample: int = 10
) -> tuple[int, list[tuple[Recipient, str | None]]]:
    """How many alumni the segment holds now, and the first `sample` of them (by id) with
    the channel the first step would use for each (None: no contact for it). Two queries,
    whatever the size of the segment."""
    count = session.scalar(_segment(campaign, func.count())) or 0
    rows = session.execute(
        _segment(
            campaign,
            Alumnus.id, Alumnus.full_name, Alumnus.email, Alumnus.phone, Program.name,
            Cohort.label,
        ).order_by(Alumnus.id).limit(sample)
    )
    first = campaign.steps[0].channel if campaign.steps else None
    people = []
    for row in rows:
        person = Recipient(*row)
        resolved = first and resolve_channel(first, person, settings.channel_order)
        people.append((person, resolved[0] if resolved else None))
    return count, people


def _segment(campaign: Campaign, *columns: Any) -> Select[Any]:
    """`columns` of the segment's alumni, evaluated now: the wave's targets (or the roster)."""
    segment = campaign.segment or {}
    query = (
        select(*columns)
        .select_from(Alumnus)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
        .where(Alumnus.erased_at.is_(None), Alumnus.consent_withdrawn_at.is_(None))
    )
    if segment.get("program_ids"):
        query = query.where(Program.id.in_(segment["program_ids"]))
    if segment.get("cohort_ids"):
        query = query.where(Cohort.id.in_(segment["cohort_ids"]))
    if segment.get("genders"):
        query = query.where(Alumnus.gender.in_(segment["genders"]))
    if campaign.wave_id is not None:
        query = query.join(
            WaveTarget,
            and_(WaveTarget.alumnus_id == Alumnus.id, WaveTarget.wave_id == campaign.wave_id),
        )
        answered = exists().where(
            Response.alumnus_id == Alumnus.id,
            Response.wave_id == campaign.wave_id,
            Response.status == "complete",
        )
        query = query.where(~answered)  # nobody is reminded of a survey they answered
        wanted = segment.get("dispositions") or []
        if wanted:
            query = query.where(or_(*(_disposition(campaign, name) for name in wanted)))
    return query


def recipients(session: Session, campaign: Campaign) -> list[Recipient]:
    """The segment, evaluated now, one Recipient per alumnus (for previews and checks)."""
    query = _segment(
        campaign,
        Alumnus.id, Alumnus.full_name, Alumnus.email, Alumnus.phone, Program.name, Cohort.label,
    )
    return [Recipient(*row) for row in session.execute(query.order_by(Alumnus.id))]


def recipient(
    session: Session, campaign: Campaign, alumnus_id: int | None = None
) -> Recipient | None:
    """One alumnus to preview the messages on: `alumnus_id` (or the first by id) among the
    segment now; once launched, among the alumni the campaign has messages for (the
    segment then shrinks as people answer, and may be empty while messages are out)."""
    columns = (Alumnus.id, Alumnus.full_name, Alumnus.email, Alumnus.phone, Program.name,
               Cohort.label)
    if campaign.status == "draft":
        query = _segment(campaign, *columns)
    else:
        query = (
            select(*columns)
            .join(Cohort, Cohort.id == Alumnus.cohort_id)
            .join(Program, Program.id == Cohort.program_id)
            .where(Alumnus.erased_at.is_(None), exists().where(
                Message.alumnus_id == Alumnus.id,
                Message.campaign_step_id.in_([step.id for step in campaign.steps])))
        )
    if alumnus_id is not None:
        query = query.where(Alumnus.id == alumnus_id)
    row = session.execute(query.order_by(Alumnus.id).limit(1)).first()
    return Recipient(*row) if row else None


def _disposition(campaign: Campaign, name: str) -> Any:
    reached = exists().where(
        Message.alumnus_id == Alumnus.id,
        Message.status.in_(REACHED),
        Message.campaign_step_id.in_(
            select(CampaignStep.id)
            .join(Campaign, Campaign.id == CampaignStep.campaign_id)
            .where(Campaign.wave_id == campaign.wave_id)
        ),
    )
    started = exists().where(
        Response.alumnus_id == Alumnus.id,
        Response.wave_id == campaign.wave_id,
        Response.status == "partial",
    )
    if name == "not_invited":
        return ~reached
    if name == "invited_no_response":
        return and_(reached, ~started)
    return started


def resolve_channel(
    step_channel: str, recipient: Recipient, order: tuple[str, ...]
) -> tuple[str, str] | None:
    """(channel, address) for a step, or None when the alumnus has no contact for it."""
    contacts = {"email": recipient.email, "sms": recipient.phone, "whatsapp": recipient.phone}
    for channel in order if step_channel == "best" else (step_channel,):
        if contacts.get(channel):
            return channel, contacts[channel]
    return None


def _resolved_channel(step_channel: str, order: tuple[str, ...]) -> tuple[Any, Any]:
    """`resolve_channel` as SQL: (channel, address) expressions, NULL without a contact."""
    contacts = {"email": Alumnus.email, "sms": Alumnus.phone, "whatsapp": Alumnus.phone}
    names = [name for name in (order if step_channel == "best" else (step_channel,))
             if name in contacts]
    if not names:
        return null(), null()
    has = {name: and_(contacts[name].is_not(None), contacts[name] != "") for name in names}
    channel = case(*((has[name], literal(name, String)) for name in names), else_=null())
    address = case(*((has[name], contacts[name]) for name in names), else_=null())
    return channel, address


def message_context(
    recipient: Recipient,
    wave_id: int | None,
    wave_title: str | None,
    settings: Settings,
    channel: str,
) -> dict[str, Any]:
    """What a template may use, for one recipient."""
    link = ""
    if wave_id is not None:
        link = survey_link(settings.base_url, settings.secret_key, wave_id, recipient.alumnus_id)
    return {
        "name": recipient.full_name or "",
        "program": recipient.program,
        "cohort": recipient.cohort,
        "survey_link": link,
        "unsubscribe_link": unsubscribe_url(settings, recipient.alumnus_id, channel),
        "wave_title": wave_title or "",
        "centre": centre_of(settings).name,
    }


def unsubscribe_url(settings: Settings, alumnus_id: int, channel: str) -> str:
    token = seal(settings.secret_key, "unsubscribe", alumnus_id, CHANNELS.index(channel))
    return f"{settings.base_url}/outreach/u/{token}"


def template_problems(
    session: Session, campaign: Campaign, settings: Settings
) -> list[dict[str, Any]]:
    """Every (recipient, step) whose template fails, with the reason; empty when all render.

    Rendering every step for every recipient took most of a 100,000-recipient launch. What
    can differ between recipients is the length of their name, program and cohort (and
    whether a name is empty): links have a fixed length. So each (step, channel) that some
    recipient gets is rendered twice, with the longest and the shortest of those values
    among its recipients (one aggregate query per step). Only when one of those fails are
    that step's recipients rendered one by one, to say exactly who fails and why. A
    template that fails on content rather than length (say, a condition on one name) is
    still caught at send time: that message is `failed` with the reason, never sent blank.
    """
    wave_title = session.scalar(select(Wave.title).where(Wave.id == campaign.wave_id))
    problems: list[dict[str, Any]] = []
    name = func.length(func.coalesce(Alumnus.full_name, ""))
    program, cohort = func.length(Program.name), func.length(Cohort.label)
    for step in campaign.steps:
        channel, _address = _resolved_channel(step.channel, settings.channel_order)
        extremes = session.execute(
            _segment(
                campaign, channel.label("channel"), func.max(Alumnus.id),
                func.max(name), func.max(program), func.max(cohort),
                func.min(name), func.min(program), func.min(cohort),
            ).group_by(channel)
        ).all()
        for resolved, last_id, *lengths in extremes:
            if resolved is None:
                continue  # no contact for this step: skipped, nothing rendered
            longest, shortest = lengths[:3], lengths[3:]
            if any(
                templating.check(
                    step.template, campaign.language, resolved,
                    message_context(
                        Recipient(last_id, "N" * size[0], None, None, "P" * size[1],
                                  "C" * size[2]),
                        campaign.wave_id, wave_title, settings, resolved,
                    ),
                )
                for size in (longest, shortest)
            ):
                problems += _step_problems(session, campaign, step, resolved, wave_title,
                                           settings, 100 - len(problems))
            if len(problems) >= 100:
                return problems
    return problems


def _step_problems(
    session: Session, campaign: Campaign, step: CampaignStep, channel: str,
    wave_title: str | None, settings: Settings, limit: int,
) -> list[dict[str, Any]]:
    """The exact check: render one step for each of its recipients on `channel`."""
    problems: list[dict[str, Any]] = []
    for recipient in recipients(session, campaign):
        resolved = resolve_channel(step.channel, recipient, settings.channel_order)
        if resolved is None or resolved[0] != channel:
            continue
        context = message_context(recipient, campaign.wave_id, wave_title, settings, channel)
        reason = templating.check(step.template, campaign.language, channel, context)
        if reason:
            problems.append(
                {
                    "alumnus_id": recipient.alumnus_id,
                    "name": recipient.full_name,
                    "step": step.position,
                    "channel": channel,
                    "reason": reason,
                }
            )
            if len(problems) >= limit:
                break
    return problems


def launch(
    session: Session, campaign: Campaign, settings: Settings, now: datetime | None = None
) -> int:
    """Check every template, then plan the messages; returns how many were planned."""
    if campaign.status != "draft":
        raise OutreachError("status", f"the campaign is {campaign.status}, not draft", 409)
    problems = template_problems(session, campaign, settings)
    if problems:
        first = problems[0]
        raise OutreachError("template", _(
            "%(n)d message(s) would fail; first: step %(step)d for %(name)s (%(channel)s): "
            "%(reason)s", n=len(problems), step=first["step"] + 1, name=first["name"],
            channel=first["channel"], reason=first["reason"]))
    campaign.status = "running"
    campaign.launched_at = now or utcnow()
    return plan(session, campaign, settings)


def plan(session: Session, campaign: Campaign, settings: Settings,
         start: datetime | None = None) -> int:
    """One message row per (step, recipient); rows that exist already are left alone.

    `start` (default: the launch) is day 0 of the steps: alumni added to a wave after the
    launch start their sequence when they are added, not all steps at once.

    One `INSERT … SELECT … ON CONFLICT DO NOTHING` per step, the same on SQLite and
    PostgreSQL: no recipient passes through Python, and the unique key (step, alumnus)
    makes planning twice (a resume, a retry) add nobody. Returns how many messages the
    campaign's steps have, made now or before.
    """
    start = start or campaign.launched_at or utcnow()
    insert = insert_for(session)
    for step in campaign.steps:
        channel, address = _resolved_channel(step.channel, settings.channel_order)
        resolved = _segment(
            campaign,
            Alumnus.id.label("alumnus_id"), channel.label("channel"), address.label("address"),
        ).subquery("resolved")
        # Opt-outs by (channel, address), as sending checks them again (with the alumnus).
        opted_out = and_(OptOut.channel == resolved.c.channel,
                         OptOut.address == resolved.c.address)
        reason = case(
            (resolved.c.channel.is_(None), literal("no_contact", String)),
            (OptOut.id.is_not(None), literal("opted_out", String)),
            else_=null(),
        )
        rows = (
            select(
                literal(step.id, Integer), resolved.c.alumnus_id, resolved.c.channel,
                resolved.c.address,
                case((reason.is_(None), literal("planned", String)),
                     else_=literal("skipped", String)),
                reason,
                literal(start + timedelta(days=step.day_offset), Message.due_at.type),
                literal(0, Integer),
                literal(utcnow(), Message.created_at.type),
            )
            .select_from(resolved.outerjoin(OptOut, opted_out))
            .where(true())  # SQLite reads "ON CONFLICT" after a join as the join's ON without it
            .order_by(resolved.c.alumnus_id)
        )
        session.execute(
            insert(Message)
            .from_select(
                ["campaign_step_id", "alumnus_id", "channel", "address", "status",
                 "cancel_reason", "due_at", "attempts", "created_at"],
                rows,
            )
            .on_conflict_do_nothing()
        )
    # Counted on the unique key's index: a second pass over the segment cost a third of
    # the planning time.
    return session.scalar(
        select(func.count()).where(
            Message.campaign_step_id.in_([step.id for step in campaign.steps])
        )
    ) or 0


def pause(campaign: Campaign) -> None:
    if campaign.status != "running":
        raise OutreachError("status", f"the campaign is {campaign.status}, not running", 409)
    campaign.status = "paused"


def resume(campaign: Campaign) -> None:
    if campaign.status != "paused":
        raise OutreachError("status", f"the campaign is {campaign.status}, not paused", 409)
    campaign.status = "running"


RESEND = "resend"  # Campaign.kind of a wave's one-off invitations sent again by staff


def plan_added_targets(session: Session, wave_id: int, settings: Settings) -> int:
    """Alumni added to an open wave (event wave.targets_added): every running survey
    campaign of the wave plans its steps for them, day 0 being now. Those already planned
    are left alone (the unique key), so a redelivered event invites nobody twice."""
    planned = 0
    now = utcnow()
    for campaign in session.scalars(select(Campaign).where(
            Campaign.wave_id == wave_id, Campaign.kind == "survey",
            Campaign.status == "running")):
        planned += plan(session, campaign, settings, start=now)
    return planned


def resend_invitation(session: Session, wave_id: int, alumnus_id: int, channel: str) -> Message:
    """One invitation to one alumnus on `channel`, due now (event invitation.requested).

    It is a step of the wave's `resend` campaign (made on first use, running), one step per
    request, so the unique key (step, alumnus) still holds and a request is sent once. The
    send re-checks opt-outs, consent, erasure and answers like any other message.
    """
    campaign = session.scalar(select(Campaign).where(Campaign.wave_id == wave_id,
                                                     Campaign.kind == RESEND))
    now = utcnow()
    if campaign is None:
        campaign = Campaign(name="Kirim ulang undangan", wave_id=wave_id, kind=RESEND,
                            status="running", launched_at=now, language="id")
        session.add(campaign)
        session.flush()
    position = session.scalar(select(func.coalesce(func.max(CampaignStep.position) + 1, 0))
                              .where(CampaignStep.campaign_id == campaign.id))
    step = CampaignStep(campaign_id=campaign.id, position=position, day_offset=0,
                        channel=channel, template=templating.INVITATION)
    session.add(step)
    session.flush()
    alumnus = session.get(Alumnus, alumnus_id)
    address = None
    if alumnus is not None:
        address = alumnus.email if channel == "email" else alumnus.phone
    opted_out = address is not None and session.scalar(select(OptOut.id).where(
        OptOut.channel == channel, OptOut.address == address)) is not None
    reason = "no_contact" if not address else "opted_out" if opted_out else None
    message = Message(campaign_step_id=step.id, alumnus_id=alumnus_id, channel=channel,
                      address=address, status="skipped" if reason else "planned",
                      cancel_reason=reason, due_at=now)
    session.add(message)
    session.flush()
    return message
