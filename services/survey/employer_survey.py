"""The employer survey behind a contact's personal link (docs/employers.md).

One link per contact and wave (shared.tokens `employer_link`). It shows every alumnus who
named this contact as their supervisor, with a consent that still holds, and only their
name, program and training year: nothing of the alumnus's own answers. The supervisor rates
each of them (blk-employer's `alumnus` section, stored as an `employer_ratings` row per
alumnus and wave) and answers once for their company (the `company` section, an
`employer_answers` row per company and wave). Answering again replaces the earlier answers.

The questionnaire is the newest stored version of `blk-employer`. Its two sections are
validated apart, each as a questionnaire of its own, so a version's conditions may name
only answers of their own section.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.survey import catalog
from services.survey.questionnaire import (
    Questionnaire,
    ValidationResult,
    load_definition,
    validate_answers,
)
from shared.event_types import EmployerAnswersSubmitted
from shared.events import publish
from shared.models import (
    Alumnus,
    Cohort,
    EmployerAnswer,
    EmployerContact,
    EmployerRating,
    Program,
    SupervisorConsent,
    utcnow,
)
from shared.models import Questionnaire as QuestionnaireRow
from shared.tokens import EMPLOYER_LINK, seal, unseal

ALUMNUS_SECTION = "alumnus"
COMPANY_SECTION = "company"


def make_token(secret_key: str, wave_id: int, contact_id: int) -> str:
    return seal(secret_key, EMPLOYER_LINK, wave_id, contact_id)


def read_token(secret_key: str, token: str) -> tuple[int, int] | None:
    """(wave_id, contact_id), or None for anything that is not such a token."""
    ids = unseal(secret_key, EMPLOYER_LINK, token, 2)
    return (ids[0], ids[1]) if ids else None


@dataclass(frozen=True)
class Parts:
    """The employer questionnaire's two sections, each a questionnaire of its own."""

    questionnaire_id: int
    title: dict[str, str]
    alumnus: Questionnaire
    company: Questionnaire


def current_parts(session: Session) -> Parts:
    """The newest blk-employer version (the shipped one stored if none is)."""
    row = session.scalar(select(QuestionnaireRow).where(
        QuestionnaireRow.key == catalog.EMPLOYER_KEY).order_by(QuestionnaireRow.version.desc()))
    if row is None:
        row = catalog.ensure_employer(session)
    return _parts(row.id, row.definition)


def _parts(questionnaire_id: int, definition: dict[str, Any]) -> Parts:
    cached = _PARTS.get(questionnaire_id)
    if cached is None:
        cached = _PARTS[questionnaire_id] = Parts(
            questionnaire_id, definition.get("title", {}),
            _section_only(definition, ALUMNUS_SECTION), _section_only(definition, COMPANY_SECTION))
    return cached


# Parsed per questionnaire row: a version never changes (docs/questionnaire.md). Ids restart
# only in tests, which empty it with `forget_parts`.
_PARTS: dict[int, Parts] = {}


def forget_parts() -> None:
    _PARTS.clear()


def _section_only(definition: dict[str, Any], key: str) -> Questionnaire:
    sections = [section for section in definition.get("sections", ()) if section.get("key") == key]
    if not sections:
        raise ValueError(f"the employer questionnaire has no section {key!r}")
    return load_definition(copy.deepcopy({**definition, "sections": sections}))


@dataclass(frozen=True)
class Supervised:
    """What the employer sees of an alumnus: name, program, training year; and whether
    they rated them already in this wave."""

    alumnus_id: int
    name: str
    program: str
    training_year: int
    rated: bool


def supervised(session: Session, wave_id: int, contact_id: int) -> list[Supervised]:
    """The alumni who named this contact in this wave and whose consent holds (not
    withdrawn, not erased), by name."""
    rated = select(EmployerRating.alumnus_id).where(EmployerRating.wave_id == wave_id)
    return [
        Supervised(alumnus_id, name or "", program, training_end.year, alumnus_id in done)
        for done in [set(session.scalars(rated))]
        for alumnus_id, name, program, training_end in session.execute(
            select(Alumnus.id, Alumnus.full_name, Program.name, Cohort.training_end)
            .join(SupervisorConsent, SupervisorConsent.alumnus_id == Alumnus.id)
            .join(Cohort, Cohort.id == Alumnus.cohort_id)
            .join(Program, Program.id == Cohort.program_id)
            .where(SupervisorConsent.wave_id == wave_id,
                   SupervisorConsent.contact_id == contact_id,
                   SupervisorConsent.withdrawn_at.is_(None),
                   Alumnus.erased_at.is_(None), Alumnus.consent_withdrawn_at.is_(None))
            .order_by(Alumnus.full_name, Alumnus.id))
    ]


def contact_of(session: Session, wave_id: int, contact_id: int) -> EmployerContact | None:
    """The contact of a link, while a consent of the wave that still holds names them: the
    alumni's consent is the only ground for asking them anything, their company's
    questions included."""
    holding = session.scalar(
        select(func.count()).select_from(SupervisorConsent)
        .join(Alumnus, Alumnus.id == SupervisorConsent.alumnus_id)
        .where(SupervisorConsent.wave_id == wave_id, SupervisorConsent.contact_id == contact_id,
               SupervisorConsent.withdrawn_at.is_(None), Alumnus.erased_at.is_(None),
               Alumnus.consent_withdrawn_at.is_(None)))
    return session.get(EmployerContact, contact_id) if holding else None


def rating_of(session: Session, wave_id: int, alumnus_id: int) -> EmployerRating | None:
    return session.scalar(select(EmployerRating).where(EmployerRating.wave_id == wave_id,
                                                       EmployerRating.alumnus_id == alumnus_id))


def company_answer(session: Session, wave_id: int, employer_id: int) -> EmployerAnswer | None:
    return session.scalar(select(EmployerAnswer).where(EmployerAnswer.wave_id == wave_id,
                                                       EmployerAnswer.employer_id == employer_id))


def save_rating(session: Session, parts: Parts, wave_id: int, contact: EmployerContact,
                alumnus_id: int, answers: dict[str, Any]) -> ValidationResult:
    """Store the contact's rating of an alumnus they supervise, if the answers are complete
    and valid (else nothing changes; the result names the problems). Refuses (ValueError)
    an alumnus the contact may not rate."""
    if alumnus_id not in {person.alumnus_id for person in supervised(session, wave_id,
                                                                     contact.id)}:
        raise ValueError("this contact does not supervise this alumnus (with consent)")
    result = validate_answers(parts.alumnus, answers, complete=True)
    if not result.ok:
        return result
    rating = rating_of(session, wave_id, alumnus_id)
    if rating is None:
        session.add(EmployerRating(wave_id=wave_id, alumnus_id=alumnus_id,
                                   contact_id=contact.id,
                                   questionnaire_id=parts.questionnaire_id,
                                   answers=result.answers))
    else:
        rating.contact_id, rating.questionnaire_id = contact.id, parts.questionnaire_id
        rating.answers = result.answers
        rating.submitted_at = utcnow()
    session.flush()
    return result


def save_company(session: Session, parts: Parts, wave_id: int, contact: EmployerContact,
                 answers: dict[str, Any]) -> ValidationResult:
    """Store the company's answers (valid ones only), replacing earlier ones of the wave."""
    result = validate_answers(parts.company, answers, complete=True)
    if not result.ok:
        return result
    stored = company_answer(session, wave_id, contact.employer_id)
    if stored is None:
        session.add(EmployerAnswer(wave_id=wave_id, employer_id=contact.employer_id,
                                   contact_id=contact.id,
                                   questionnaire_id=parts.questionnaire_id,
                                   answers=result.answers))
    else:
        stored.contact_id, stored.questionnaire_id = contact.id, parts.questionnaire_id
        stored.answers = result.answers
        stored.submitted_at = utcnow()
    # Outreach stops this contact's reminders of the wave (docs/employers.md).
    publish(session, EmployerAnswersSubmitted(contact_id=contact.id,
                                              employer_id=contact.employer_id, wave_id=wave_id))
    session.flush()
    return result
