"""Employer campaigns: inviting the supervisors alumni named to the employer survey.

Who may be written to is outreach's own record, `employer_audience`, kept from events only
(docs/employers.md, "Outreach to employers"): `employer.contact_added` adds or replaces the
contact named for an alumnus and wave; `alumnus.consent_withdrawn` and `alumnus.erased`
remove that alumnus's rows; `employer.contact_erased` removes the contact's. A contact is in
a wave's audience while at least one row names them, and leaves it when they give their
company's answers (`employer.answers_submitted`, kept in `employer_replies`).

Invariants:
- one message per (campaign, step, contact): the unique key, and `plan` inserts with ON
  CONFLICT DO NOTHING, so planning twice or a launch retried writes nothing twice;
- every message carries the contact's own link for the wave (shared.tokens
  `employer_link`, the survey's recipe) and their own opt-out link;
- the contact's name and addresses are read from the survey's contact row when planning and
  when sending, never copied beyond the address a message went to; a contact erased
  meanwhile is written to by nobody.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from services.outreach import templating
from services.outreach.campaigns import (
    CHANNELS,
    LANGUAGES,
    OutreachError,
    _checked_steps,
)
from shared.centre import centre_of
from shared.config import Settings
from shared.db import insert_for
from shared.models import (
    Employer,
    EmployerAudience,
    EmployerCampaign,
    EmployerContact,
    EmployerMessage,
    EmployerReply,
    OptOut,
    Wave,
    utcnow,
)
from shared.tokens import employer_link, seal

UNSUBSCRIBE = "employer-unsubscribe"  # the token purpose of a contact's opt-out link
PENDING = ("planned",)

INVITATION = {
    "id": {
        "subject": "{{ centre }}: mohon penilaian Anda atas alumni kami",
        "body": (
            "Yth. {{ name }} ({{ company }}),\n\n"
            "{{ alumni }} alumni {{ centre }} menyebut Anda sebagai atasan mereka dan setuju "
            "kami meminta pendapat Anda tentang pekerjaan mereka. Penilaian Anda membantu "
            "kami memperbaiki pelatihan. Isinya sekitar 5 menit:\n{{ survey_link }}\n\n"
            "Tautan ini khusus untuk Anda. Tidak ingin dihubungi lagi? {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "{{ centre }}: your view of our alumni",
        "body": (
            "Dear {{ name }} ({{ company }}),\n\n"
            "{{ alumni }} alumni of {{ centre }} named you as their supervisor and agreed "
            "that we ask your view of their work. It helps us improve our training and "
            "takes about 5 minutes:\n{{ survey_link }}\n\n"
            "This link is yours alone. No more messages? {{ unsubscribe_link }}"
        ),
    },
}
REMINDER = {
    "id": {
        "subject": "Pengingat: penilaian alumni {{ centre }}",
        "body": (
            "Yth. {{ name }}, kami belum menerima penilaian Anda untuk alumni {{ centre }}. "
            "Mohon luangkan 5 menit: {{ survey_link }}\n"
            "Berhenti menerima pesan: {{ unsubscribe_link }}"
        ),
    },
    "en": {
        "subject": "Reminder: your view of {{ centre }} alumni",
        "body": (
            "Dear {{ name }}, we have not yet received your view of {{ centre }} alumni. "
            "Five minutes, please: {{ survey_link }}\nNo more messages: {{ unsubscribe_link }}"
        ),
    },
}
SHORT_REMINDER = {
    "id": {"body": "{{ centre }}: mohon penilaian Anda atas alumni kami {{ survey_link }}"},
    "en": {"body": "{{ centre }}: your view of our alumni, please {{ survey_link }}"},
}
# Day, channel, message: the invitation by the best channel, a reminder after five days,
# a short WhatsApp two weeks in. Anyone who answers gets nothing further.
DEFAULT_SEQUENCE: tuple[tuple[int, str, dict[str, Any]], ...] = (
    (0, "best", INVITATION),
    (5, "best", REMINDER),
    (14, "whatsapp", SHORT_REMINDER),
)


# --- the audience, kept from events ----------------------------------------------------


def record_audience(session: Session, wave_id: int, alumnus_id: int, contact_id: int,
                    employer_id: int) -> None:
    """`employer.contact_added`: the contact this alumnus named in this wave (replacing an
    earlier one, as the survey does). Idempotent: the same event twice leaves one row."""
    row = session.get(EmployerAudience, (wave_id, alumnus_id))
    if row is None:
        insert = insert_for(session)
        session.execute(insert(EmployerAudience).values(
            wave_id=wave_id, alumnus_id=alumnus_id, contact_id=contact_id,
            employer_id=employer_id, added_at=utcnow()).on_conflict_do_nothing())
    elif (row.contact_id, row.employer_id) != (contact_id, employer_id):
        previous = row.contact_id
        row.contact_id, row.employer_id = contact_id, employer_id
        session.flush()
        _stop_unreachable(session, [previous], "consent_withdrawn")


def forget_alumnus(session: Session, alumnus_id: int, reason: str) -> int:
    """The alumnus withdrew or was erased: nobody is asked about them any more, and a
    contact left with nobody to be asked about gets nothing further."""
    contacts = list(session.scalars(select(EmployerAudience.contact_id)
                                    .where(EmployerAudience.alumnus_id == alumnus_id)))
    session.execute(delete(EmployerAudience).where(EmployerAudience.alumnus_id == alumnus_id))
    return _stop_unreachable(session, contacts, reason)


def forget_contact(session: Session, contact_id: int) -> int:
    """`employer.contact_erased`: the contact leaves every audience, pending messages stop,
    and the addresses their messages went to are blanked (the statuses stay, counted)."""
    session.execute(delete(EmployerAudience).where(EmployerAudience.contact_id == contact_id))
    stopped = _stop_unreachable(session, [contact_id], "erased")
    session.execute(update(EmployerMessage).where(EmployerMessage.contact_id == contact_id)
                    .values(address=None).execution_options(synchronize_session=False))
    return stopped


def record_reply(session: Session, wave_id: int, contact_id: int) -> int:
    """`employer.answers_submitted`: the contact answered; their reminders of the wave stop.
    Idempotent (one reply row; cancelling twice cancels nothing the second time)."""
    insert = insert_for(session)
    session.execute(insert(EmployerReply).values(wave_id=wave_id, contact_id=contact_id,
                                                 answered_at=utcnow()).on_conflict_do_nothing())
    campaigns = select(EmployerCampaign.id).where(EmployerCampaign.wave_id == wave_id)
    return session.execute(
        update(EmployerMessage)
        .where(EmployerMessage.contact_id == contact_id,
               EmployerMessage.status.in_(PENDING),
               EmployerMessage.campaign_id.in_(campaigns))
        .values(status="cancelled", cancel_reason="answered")
        .execution_options(synchronize_session=False)).rowcount or 0


def _stop_unreachable(session: Session, contact_ids: list[int], reason: str) -> int:
    """Cancel the pending messages of these contacts in every wave where no alumnus names
    them any more."""
    if not contact_ids:
        return 0
    still_named = exists().where(EmployerAudience.contact_id == EmployerMessage.contact_id,
                                 EmployerAudience.wave_id == EmployerCampaign.wave_id)
    ids = list(session.scalars(
        select(EmployerMessage.id)
        .join(EmployerCampaign, EmployerCampaign.id == EmployerMessage.campaign_id)
        .where(EmployerMessage.contact_id.in_(contact_ids),
               EmployerMessage.status.in_(PENDING), ~still_named)))
    if not ids:
        return 0
    session.execute(update(EmployerMessage).where(EmployerMessage.id.in_(ids))
                    .values(status="cancelled", cancel_reason=reason)
                    .execution_options(synchronize_session=False))
    return len(ids)


def audience_contacts(session: Session, wave_id: int) -> list[int]:
    """The contacts of the wave to write to now: named by an alumnus, not yet answered."""
    answered = exists().where(EmployerReply.wave_id == wave_id,
                              EmployerReply.contact_id == EmployerAudience.contact_id)
    return list(session.scalars(
        select(EmployerAudience.contact_id).where(EmployerAudience.wave_id == wave_id,
                                                  ~answered)
        .group_by(EmployerAudience.contact_id).order_by(EmployerAudience.contact_id)))


def alumni_counts(session: Session, wave_id: int) -> dict[int, int]:
    """Per contact, how many alumni named them in the wave (the messages say so)."""
    return dict(session.execute(  # type: ignore[arg-type]
        select(EmployerAudience.contact_id, func.count())
        .where(EmployerAudience.wave_id == wave_id).group_by(EmployerAudience.contact_id)
    ).all())


# --- campaigns -------------------------------------------------------------------------


def default_steps() -> list[dict[str, Any]]:
    return [{"day_offset": day, "channel": channel, "template": template}
            for day, channel, template in DEFAULT_SEQUENCE]


def checked_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alumni campaigns' step rule (channel, day, the Indonesian message required)."""
    return [{"day_offset": row.day_offset, "channel": row.channel, "template": row.template}
            for row in _checked_steps(steps)]


def create_campaign(session: Session, *, name: str, wave_id: int, language: str = "id",
                    steps: list[dict[str, Any]] | None = None,
                    created_by: int | None = None) -> EmployerCampaign:
    """A draft employer campaign for a wave; with no steps, the default sequence."""
    if language not in LANGUAGES:
        raise OutreachError("language", f"must be one of {', '.join(LANGUAGES)}")
    if not 1 <= len(name) <= 200:
        raise OutreachError("name", "give a name of 1 to 200 characters")
    if session.get(Wave, wave_id) is None:
        raise OutreachError("wave_id", "no wave with this id")
    campaign = EmployerCampaign(name=name, wave_id=wave_id, language=language,
                                steps=checked_steps(steps or default_steps()),
                                created_by=created_by)
    session.add(campaign)
    session.flush()
    return campaign


def replace_steps(campaign: EmployerCampaign, steps: list[dict[str, Any]]) -> None:
    if campaign.status != "draft":
        raise OutreachError("status", "the steps can only be changed before launch", 409)
    campaign.steps = checked_steps(steps)


def resolve(step_channel: str, contact: EmployerContact | None,
            order: tuple[str, ...]) -> tuple[str, str] | None:
    """(channel, address) for a step and a contact, or None without a contact for it."""
    if contact is None:
        return None
    contacts = {"email": contact.email, "sms": contact.phone, "whatsapp": contact.phone}
    for channel in order if step_channel == "best" else (step_channel,):
        if contacts.get(channel):
            return channel, contacts[channel] or ""
    return None


def unsubscribe_url(settings: Settings, contact_id: int, channel: str) -> str:
    token = seal(settings.secret_key, UNSUBSCRIBE, contact_id, CHANNELS.index(channel))
    return f"{settings.base_url}/outreach/eu/{token}"


def message_context(session: Session, campaign: EmployerCampaign, contact: EmployerContact,
                    settings: Settings, channel: str, alumni: int | None = None
                    ) -> dict[str, Any]:
    """What an employer template may use: name, company, alumni (how many named them),
    survey_link (their own), unsubscribe_link, wave_title, centre."""
    wave = session.get(Wave, campaign.wave_id)
    company = session.get(Employer, contact.employer_id)
    if alumni is None:
        alumni = alumni_counts(session, campaign.wave_id).get(contact.id, 0)
    return {
        "name": contact.name,
        "company": company.name if company else "",
        "alumni": alumni,
        "survey_link": employer_link(settings.base_url, settings.secret_key,
                                     campaign.wave_id, contact.id),
        "unsubscribe_link": unsubscribe_url(settings, contact.id, channel),
        "wave_title": wave.title if wave else "",
        "centre": centre_of(settings).name,
    }


def template_problems(session: Session, campaign: EmployerCampaign,
                      settings: Settings) -> list[dict[str, Any]]:
    """Every (contact, step) whose message would not render, with the reason. A wave's
    employer contacts are tens or hundreds: each is rendered."""
    problems = []
    counts = alumni_counts(session, campaign.wave_id)
    for contact_id in audience_contacts(session, campaign.wave_id):
        contact = session.get(EmployerContact, contact_id)
        for position, step in enumerate(campaign.steps):
            resolved = resolve(step["channel"], contact, settings.channel_order)
            if contact is None or resolved is None:
                continue
            context = message_context(session, campaign, contact, settings, resolved[0],
                                      counts.get(contact_id, 0))
            reason = templating.check(step["template"], campaign.language, resolved[0],
                                      context)
            if reason:
                problems.append({"contact_id": contact_id, "name": contact.name,
                                 "step": position, "channel": resolved[0], "reason": reason})
    return problems


def launch(session: Session, campaign: EmployerCampaign, settings: Settings,
           now: datetime | None = None) -> int:
    """Check every message, then plan them; returns how many the campaign has."""
    if campaign.status != "draft":
        raise OutreachError("status", f"the campaign is {campaign.status}, not draft", 409)
    problems = template_problems(session, campaign, settings)
    if problems:
        first = problems[0]
        raise OutreachError("template", f"{len(problems)} message(s) would fail; first: step "
                            f"{first['step'] + 1} for {first['name']} ({first['channel']}): "
                            f"{first['reason']}")
    campaign.status = "running"
    campaign.launched_at = now or utcnow()
    return plan(session, campaign, settings)


def plan(session: Session, campaign: EmployerCampaign, settings: Settings) -> int:
    """One message per (step, contact of the audience now); existing ones are left alone.
    A contact without an address for a step, or opted out on it, gets a `skipped` row, so
    the page counts them. Returns how many messages the campaign has."""
    start = campaign.launched_at or utcnow()
    insert = insert_for(session)
    for contact_id in audience_contacts(session, campaign.wave_id):
        contact = session.get(EmployerContact, contact_id)
        for position, step in enumerate(campaign.steps):
            resolved = resolve(step["channel"], contact, settings.channel_order)
            reason = None
            if resolved is None:
                reason = "no_contact"
            elif session.scalar(select(OptOut.id).where(OptOut.channel == resolved[0],
                                                        OptOut.address == resolved[1])):
                reason = "opted_out"
            session.execute(insert(EmployerMessage).values(
                campaign_id=campaign.id, step=position, contact_id=contact_id,
                channel=resolved[0] if resolved else None,
                address=resolved[1] if resolved else None,
                status="skipped" if reason else "planned", cancel_reason=reason,
                due_at=start + timedelta(days=int(step["day_offset"])), attempts=0,
                created_at=utcnow(),
            ).on_conflict_do_nothing())
    return session.scalar(select(func.count()).where(
        EmployerMessage.campaign_id == campaign.id)) or 0


def pause(campaign: EmployerCampaign) -> None:
    if campaign.status != "running":
        raise OutreachError("status", f"the campaign is {campaign.status}, not running", 409)
    campaign.status = "paused"


def resume(campaign: EmployerCampaign) -> None:
    if campaign.status != "paused":
        raise OutreachError("status", f"the campaign is {campaign.status}, not paused", 409)
    campaign.status = "running"


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Messages of the campaign by status (and the skipped and cancelled by reason)."""
    totals: dict[str, int] = {}
    for status, reason, count in session.execute(
            select(EmployerMessage.status, EmployerMessage.cancel_reason, func.count())
            .where(EmployerMessage.campaign_id == campaign_id)
            .group_by(EmployerMessage.status, EmployerMessage.cancel_reason)):
        key = f"{status}_{reason}" if reason else status
        totals[key] = totals.get(key, 0) + count
    return totals
