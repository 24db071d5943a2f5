"""Supervisors' personal data: what an alumnus's export shows of them, and what their
erasure and consent withdrawal do (docs/employers.md, "Personal data"). Called by
services/survey/privacy.py inside its unit of work, and by the supervisor block when a
supervisor is replaced."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shared.event_types import EmployerContactErased
from shared.events import publish
from shared.models import (
    Employer,
    EmployerAnswer,
    EmployerContact,
    EmployerRating,
    SupervisorConsent,
    Wave,
)


def supervisors_of(session: Session, alumnus_id: int) -> list[dict[str, Any]]:
    """What is held about the supervisors an alumnus named, for their export."""
    return [
        {"wave": slug, "consented_at": consent.consented_at,
         "withdrawn_at": consent.withdrawn_at,
         "supervisor": {"name": contact.name, "position": contact.position,
                        "phone": contact.phone, "email": contact.email},
         "company": {"id": employer.id, "name": employer.name}}
        for consent, contact, employer, slug in session.execute(
            select(SupervisorConsent, EmployerContact, Employer, Wave.slug)
            .join(EmployerContact, EmployerContact.id == SupervisorConsent.contact_id)
            .join(Employer, Employer.id == EmployerContact.employer_id)
            .join(Wave, Wave.id == SupervisorConsent.wave_id)
            .where(SupervisorConsent.alumnus_id == alumnus_id)
            .order_by(SupervisorConsent.id))
    ]


def ratings_about(session: Session, alumnus_id: int) -> list[dict[str, Any]]:
    """The ratings supervisors gave of an alumnus, for their export (they are about them)."""
    return [{"wave": slug, "answers": rating.answers, "submitted_at": rating.submitted_at}
            for rating, slug in session.execute(
                select(EmployerRating, Wave.slug).join(Wave, Wave.id == EmployerRating.wave_id)
                .where(EmployerRating.alumnus_id == alumnus_id).order_by(EmployerRating.id))]


def forget_supervisors(session: Session, alumnus_id: int) -> int:
    """The alumnus is erased: the ratings about them and their supervisor consents go, and
    with them each contact that only their consent brought in (recorded from an alumnus's
    form, named by no other consent). Contacts staff entered or imported stay: the centre
    knew them on its own. The company records and answers stay (a company is no person).
    Returns the consents removed."""
    session.execute(delete(EmployerRating).where(EmployerRating.alumnus_id == alumnus_id))
    contact_ids = list(session.scalars(
        select(SupervisorConsent.contact_id).where(SupervisorConsent.alumnus_id == alumnus_id)))
    removed = session.execute(
        delete(SupervisorConsent).where(SupervisorConsent.alumnus_id == alumnus_id)
    ).rowcount
    for contact_id in set(contact_ids):
        drop_orphan_contact(session, contact_id)
    session.flush()
    return removed or 0


def drop_orphan_contact(session: Session, contact_id: int) -> bool:
    """Delete a contact an alumnus's consent brought in once no consent names it."""
    contact = session.get(EmployerContact, contact_id)
    if contact is None or contact.consent_source != "alumnus":
        return False
    named = session.scalar(select(func.count()).select_from(SupervisorConsent)
                           .where(SupervisorConsent.contact_id == contact_id))
    if named:
        return False
    # What they answered stays, anonymous: a rating of an alumnus still on the roster, and
    # their company's answers.
    for table in (EmployerRating, EmployerAnswer):
        session.execute(update(table).where(table.contact_id == contact_id)
                        .values(contact_id=None))
    session.delete(contact)
    session.flush()
    return True


def withdraw_supervisors(session: Session, alumnus_id: int, now: Any) -> int:
    """The alumnus withdrew consent: so did they for their supervisor being asked.
    Returns the consents marked."""
    return session.execute(
        update(SupervisorConsent)
        .where(SupervisorConsent.alumnus_id == alumnus_id,
               SupervisorConsent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    ).rowcount or 0


def export_contact(session: Session, contact_id: int) -> dict[str, Any] | None:
    """Everything held about one employer contact (their own right of access): their
    record, their company, the consents naming them (which wave, when; not the alumni's
    names, which are the alumni's data) and what they answered. None if there is none."""
    contact = session.get(EmployerContact, contact_id)
    if contact is None:
        return None
    employer = session.get(Employer, contact.employer_id)
    consents = session.execute(
        select(Wave.slug, SupervisorConsent.consented_at, SupervisorConsent.withdrawn_at)
        .join(Wave, Wave.id == SupervisorConsent.wave_id)
        .where(SupervisorConsent.contact_id == contact_id).order_by(SupervisorConsent.id)).all()
    ratings = session.execute(
        select(Wave.slug, EmployerRating.answers, EmployerRating.submitted_at)
        .join(Wave, Wave.id == EmployerRating.wave_id)
        .where(EmployerRating.contact_id == contact_id).order_by(EmployerRating.id)).all()
    answers = session.execute(
        select(Wave.slug, EmployerAnswer.answers, EmployerAnswer.submitted_at)
        .join(Wave, Wave.id == EmployerAnswer.wave_id)
        .where(EmployerAnswer.contact_id == contact_id).order_by(EmployerAnswer.id)).all()
    return {
        "format": "jejak-employer-contact-export/1",
        "contact": {"id": contact.id, "name": contact.name, "position": contact.position,
                    "phone": contact.phone, "email": contact.email,
                    "recorded_from": contact.consent_source,
                    "created_at": contact.created_at.isoformat()},
        "company": {"id": employer.id, "name": employer.name} if employer else None,
        "named_by_alumni": [{"wave": slug, "consented_at": at.isoformat(),
                             "withdrawn_at": gone.isoformat() if gone else None}
                            for slug, at, gone in consents],
        "ratings_given": [{"wave": slug, "answers": given, "submitted_at": at.isoformat()}
                          for slug, given, at in ratings],
        "company_answers_given": [{"wave": slug, "answers": given,
                                   "submitted_at": at.isoformat()}
                                  for slug, given, at in answers],
    }


def erase_contact(session: Session, contact_id: int) -> int:
    """A contact asked to be erased: the consents naming them go (no one is left to ask),
    what they answered stays without their name, and their record is deleted. Returns the
    consents removed; 0 and nothing done when there is no such contact."""
    contact = session.get(EmployerContact, contact_id)
    if contact is None:
        return 0
    removed = session.execute(
        delete(SupervisorConsent).where(SupervisorConsent.contact_id == contact_id)).rowcount
    for table in (EmployerRating, EmployerAnswer):
        session.execute(update(table).where(table.contact_id == contact_id)
                        .values(contact_id=None))
    session.delete(contact)
    publish(session, EmployerContactErased(contact_id=contact_id))  # outreach forgets them
    session.flush()
    return removed or 0
