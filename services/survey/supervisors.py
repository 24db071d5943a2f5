"""The supervisor block of the thank-you page: an employed alumnus may name their direct
supervisor, with a separate consent that the centre ask them (docs/employers.md).

Rules:
- Offered only after a complete response saying the alumnus works (f8 = 1: working for
  someone; a self-employed alumnus has no supervisor), and not to one who withdrew consent.
- Without the consent box ticked nothing is stored, whatever else was typed.
- The supervisor is stored as a contact of their company (employers.record_employer and
  record_contact: deduplicated), never inside the response's answers; the consent links
  alumnus, wave and contact (one per alumnus and wave: naming another supervisor replaces
  the first, whose contact goes if nothing else names it).
- A stored consent is announced (`employer.contact_added`) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.survey import employer_privacy, employers
from services.survey.roster import Problem
from shared.event_types import EmployerContactAdded
from shared.events import publish
from shared.models import (
    Alumnus,
    Employer,
    EmployerContact,
    Response,
    SupervisorConsent,
    utcnow,
)

EMPLOYED_FOR_SOMEONE = 1  # f8: "Bekerja (full time/part time)"
# The block's fields: the page's names → the record's.
FORM_FIELDS = {"supervisor_name": "name", "supervisor_position": "position",
               "supervisor_phone": "phone", "supervisor_email": "email"}
COMPANY_FIELD = "company"


@dataclass(frozen=True)
class Offer:
    """What the thank-you page shows in the block: the company the alumnus named in their
    answers (f5b) to start from, and the supervisor already given, if any."""

    company: str
    given: EmployerContact | None
    company_given: str | None


@dataclass(frozen=True)
class Outcome:
    """`stored`: the consent was recorded; `problems`: what to fix (nothing stored);
    neither: no consent, nothing stored."""

    stored: bool
    problems: list[Problem]


def offer(session: Session, wave_id: int, alumnus_id: int) -> Offer | None:
    """The block for this alumnus in this wave, or None when it is not offered."""
    consent_withdrawn = session.scalar(
        select(Alumnus.consent_withdrawn_at).where(Alumnus.id == alumnus_id))
    if consent_withdrawn is not None:
        return None
    response = session.scalar(select(Response).where(Response.wave_id == wave_id,
                                                     Response.alumnus_id == alumnus_id))
    if response is None or response.status != "complete":
        return None
    answers = response.answers or {}
    if answers.get("f8") != EMPLOYED_FOR_SOMEONE:
        return None
    given = session.execute(
        select(EmployerContact, Employer.name)
        .join(SupervisorConsent, SupervisorConsent.contact_id == EmployerContact.id)
        .join(Employer, Employer.id == EmployerContact.employer_id)
        .where(SupervisorConsent.wave_id == wave_id, SupervisorConsent.alumnus_id == alumnus_id,
               SupervisorConsent.withdrawn_at.is_(None))
    ).first()
    company = answers.get(employers.COMPANY_ITEM)
    return Offer(company if isinstance(company, str) else "",
                 given[0] if given else None, given[1] if given else None)


def give_supervisor(session: Session, wave_id: int, alumnus_id: int,
                    posted: Mapping[str, str], *, now: datetime | None = None) -> Outcome:
    """Store the supervisor the alumnus named, if they ticked the consent (`consent` =
    "yes"). Raises EmployerError (409) when the block is not offered to them."""
    if offer(session, wave_id, alumnus_id) is None:
        raise employers.EmployerError(
            "alumnus", "the supervisor can be given only after a complete response saying "
            "the alumnus works", 409)
    if posted.get("consent") != "yes":
        return Outcome(False, [])
    company, company_problems = employers.check_employer({"name": posted.get(COMPANY_FIELD, "")})
    contact_raw = {record: posted.get(field, "") for field, record in FORM_FIELDS.items()}
    contact_fields, contact_problems = employers.check_contact(contact_raw, reachable=True)
    problems = [Problem(COMPANY_FIELD, p.code, p.values) for p in company_problems]
    by_record = {record: field for field, record in FORM_FIELDS.items()}
    problems += [Problem(by_record[p.column], p.code, p.values) for p in contact_problems]
    if problems or company is None or contact_fields is None:
        return Outcome(False, problems)
    employer, _ = employers.record_employer(session, company, source="form")
    contact, _ = employers.record_contact(session, employer, contact_fields, source="alumnus")
    now = now or utcnow()
    consent = session.scalar(select(SupervisorConsent).where(
        SupervisorConsent.wave_id == wave_id, SupervisorConsent.alumnus_id == alumnus_id))
    if consent is None:
        session.add(SupervisorConsent(wave_id=wave_id, alumnus_id=alumnus_id,
                                      contact_id=contact.id, consented_at=now))
    else:
        replaced = consent.contact_id
        consent.contact_id, consent.consented_at, consent.withdrawn_at = contact.id, now, None
        session.flush()
        if replaced != contact.id:
            employer_privacy.drop_orphan_contact(session, replaced)
    session.flush()
    publish(session, EmployerContactAdded(contact_id=contact.id, employer_id=employer.id,
                                          alumnus_id=alumnus_id, wave_id=wave_id))
    return Outcome(True, [])
