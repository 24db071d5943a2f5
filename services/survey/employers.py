"""Employers as records: companies, their contacts, deduplication and merging.

Plain functions on a session (the caller commits and audits); docs/employers.md tells the
rules in words.

**When two entries are the same company** (`find_employer`, used on entry, on import and
when an alumnus names their supervisor's company): their names have the same `name_key`
(lower case, punctuation and legal forms such as PT, CV, Tbk or Persero dropped: "PT. Maju
Jaya Tbk" and "maju jaya" are one key), and either they share a phone number or an email
address, or one of the two has neither (nothing tells them apart, and a second record of
one company is worse than one record of two branches, which staff can split by hand).
Two records with the same key and different phones or emails are two branches and stay
apart; staff merge them if they are one (`merge_employers`). Among several matches the
oldest record sharing a phone or email wins, else the oldest. A match keeps its values and
gains the blanks the new entry fills; nothing is overwritten.

**When two contacts of a company are the same person** (`find_contact`): they share a phone
or an email, or their names are equal (case and spacing aside) and one of the two has
neither.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.survey.roster import Problem, check_fields
from shared import kbli
from shared.errors import DomainError
from shared.event_types import EmployerContactAdded
from shared.events import publish
from shared.models import (
    Alumnus,
    Cohort,
    Employer,
    EmployerAnswer,
    EmployerContact,
    EmployerRating,
    Program,
    Response,
    SupervisorConsent,
    Wave,
)


def N_(message: str) -> str:
    """Marks a message for the catalog; pages translate it when they show it."""
    return message


# KBLI sections: one table in shared/ (analytics names sectors with it too).
KBLI_SECTIONS = kbli.KBLI_SECTIONS
# Words that say what legal form a company has, not which company it is.
LEGAL_FORMS = frozenset({"pt", "cv", "tbk", "persero", "ud", "pd", "fa", "perum", "perumda",
                         "ltd", "inc"})
EMPLOYER_FIELDS: dict[str, tuple[str, bool, int]] = {
    "name": ("text", True, 200),
    "kbli_section": ("text", False, 200),  # a letter, or "C" followed by its name
    "city": ("text", False, 120),
    "address": ("text", False, 300),
    "phone": ("phone", False, 0),
    "email": ("email", False, 0),
}
CONTACT_FIELDS: dict[str, tuple[str, bool, int]] = {
    "name": ("text", True, 200),
    "position": ("text", False, 120),
    "phone": ("phone", False, 0),
    "email": ("email", False, 0),
}
CONSENT_SOURCES = ("alumnus", "staff", "import")
EMPLOYER_SOURCES = ("staff", "import", "form")
# The KBLI problem, worded like the roster's (services/survey/roster.py PROBLEM_TEXTS).
PROBLEM_TEXTS: dict[str, str] = {
    "kbli": N_("%(column)s: '%(value)s' is not a KBLI section: use a letter from A to U"),
    "phone_or_email": N_("%(column)s: give a phone number or an email address"),
}
_WORD = re.compile(r"[0-9a-z]+")


class EmployerError(DomainError):
    """A request on employer records that cannot be honoured (404, 409)."""


def name_key(name: str) -> str:
    """The company name as deduplication compares it: accents, case, punctuation and legal
    forms dropped, words joined by one space. A name of legal forms only keeps them."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = _WORD.findall(plain)
    kept = [word for word in words if word not in LEGAL_FORMS]
    return " ".join(kept or words)


def person_key(name: str) -> str:
    """A contact's name as deduplication compares it: case and spacing aside."""
    return " ".join(name.casefold().split())


@dataclass(frozen=True)
class EmployerFields:
    name: str
    kbli_section: str | None = None
    city: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ContactFields:
    name: str
    position: str | None = None
    phone: str | None = None
    email: str | None = None


def check_employer(raw: Mapping[str, str]) -> tuple[EmployerFields | None, list[Problem]]:
    """An employer's values from a form or an import row, or the problems (each naming its
    field). The KBLI section is a letter A-U; "c", "C" and "C - Industri Pengolahan" all
    give "C"."""
    values, problems = check_fields(raw, EMPLOYER_FIELDS)
    section = values.get("kbli_section")
    if section is not None:
        letter = section[:1].upper()
        if letter not in KBLI_SECTIONS or (len(section) > 1 and section[1:2].isalnum()):
            problems.append(Problem("kbli_section", "kbli", {"value": section}))
            values["kbli_section"] = None
        else:
            values["kbli_section"] = letter
    if problems:
        order = list(EMPLOYER_FIELDS)  # in the form's and the file's order
        return None, sorted(problems, key=lambda problem: order.index(problem.column))
    assert values["name"] is not None
    return EmployerFields(**values), []  # type: ignore[arg-type]


def check_contact(raw: Mapping[str, str], *, reachable: bool = False,
                  ) -> tuple[ContactFields | None, list[Problem]]:
    """A contact's values, or the problems. `reachable`: a phone or an email is required
    (a supervisor the centre is to ask)."""
    values, problems = check_fields(raw, CONTACT_FIELDS)
    if reachable and not values.get("phone") and not values.get("email") and not any(
            problem.column in ("phone", "email") for problem in problems):
        problems.append(Problem("phone", "phone_or_email"))
    if problems:
        return None, problems
    assert values["name"] is not None
    return ContactFields(**values), []  # type: ignore[arg-type]


# --- deduplication ----------------------------------------------------------------------


def _shares_address(a: Any, b: Any) -> bool:
    return bool((a.phone and a.phone == b.phone) or (a.email and a.email == b.email))


def _has_no_address(record: Any) -> bool:
    return not record.phone and not record.email


def find_employer(session: Session, fields: EmployerFields) -> Employer | None:
    """The company on record that `fields` describes, by the rule of this module's
    docstring; None when there is none."""
    candidates = session.scalars(
        select(Employer).where(Employer.name_key == name_key(fields.name)).order_by(Employer.id)
    ).all()
    for candidate in candidates:
        if _shares_address(candidate, fields):
            return candidate
    for candidate in candidates:
        if _has_no_address(candidate) or _has_no_address(fields):
            return candidate
    return None


def _fill_blanks(record: Any, values: Mapping[str, Any]) -> bool:
    """Set each empty attribute of `record` that `values` has; True if any changed."""
    changed = False
    for name, value in values.items():
        if value and not getattr(record, name):
            setattr(record, name, value)
            changed = True
    return changed


def record_employer(session: Session, fields: EmployerFields, *, source: str,
                    ) -> tuple[Employer, bool]:
    """The company `fields` describes, added unless it is on record: (employer, created).
    A company on record gains the values it lacked."""
    if source not in EMPLOYER_SOURCES:
        raise ValueError(f"unknown employer source {source!r}")
    found = find_employer(session, fields)
    if found is not None:
        _fill_blanks(found, {"kbli_section": fields.kbli_section, "city": fields.city,
                             "address": fields.address, "phone": fields.phone,
                             "email": fields.email})
        session.flush()
        return found, False
    employer = Employer(name=fields.name, name_key=name_key(fields.name),
                        kbli_section=fields.kbli_section, city=fields.city,
                        address=fields.address, phone=fields.phone, email=fields.email,
                        source=source)
    session.add(employer)
    session.flush()
    return employer, True


def find_contact(session: Session, employer_id: int, fields: Any) -> EmployerContact | None:
    """The contact of this company that `fields` describes (this module's docstring)."""
    contacts = session.scalars(
        select(EmployerContact).where(EmployerContact.employer_id == employer_id)
        .order_by(EmployerContact.id)
    ).all()
    for contact in contacts:
        if _shares_address(contact, fields):
            return contact
    for contact in contacts:
        if person_key(contact.name) == person_key(fields.name) and (
                _has_no_address(contact) or _has_no_address(fields)):
            return contact
    return None


def record_contact(session: Session, employer: Employer, fields: ContactFields, *,
                   source: str) -> tuple[EmployerContact, bool]:
    """The contact, added to the company unless already there: (contact, created). A known
    contact keeps the ground it was first recorded on and gains the values it lacked."""
    if source not in CONSENT_SOURCES:
        raise ValueError(f"unknown consent source {source!r}")
    found = find_contact(session, employer.id, fields)
    if found is not None:
        _fill_blanks(found, {"position": fields.position, "phone": fields.phone,
                             "email": fields.email})
        session.flush()
        return found, False
    contact = EmployerContact(employer_id=employer.id, name=fields.name,
                              position=fields.position, phone=fields.phone,
                              email=fields.email, consent_source=source)
    session.add(contact)
    session.flush()
    return contact, True


# --- merging ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    kept_id: int
    removed_id: int
    contacts_moved: int
    contacts_joined: int


def merge_employers(session: Session, keep_id: int, duplicate_id: int) -> Merge:
    """Fold the duplicate into the kept company and delete it.

    The kept record keeps its values and gains those it lacked. Each contact of the
    duplicate moves over, or, when the kept company already has that person (the contact
    rule above), is joined to them: its alumni's consents point at the kept contact. Each
    consent that moves is announced again (`employer.contact_added`), so outreach knows the
    contact it now names; its consumer keeps one recipient per contact.
    """
    if keep_id == duplicate_id:
        raise EmployerError("duplicate_id", "a company cannot be merged into itself", 422)
    keep = session.get(Employer, keep_id, with_for_update=True)
    duplicate = session.get(Employer, duplicate_id, with_for_update=True)
    if keep is None or duplicate is None:
        raise EmployerError("employer", "no company with this id", 404)
    _fill_blanks(keep, {"kbli_section": duplicate.kbli_section, "city": duplicate.city,
                        "address": duplicate.address, "phone": duplicate.phone,
                        "email": duplicate.email})
    moved = joined = 0
    for contact in session.scalars(
            select(EmployerContact).where(EmployerContact.employer_id == duplicate_id)
            .order_by(EmployerContact.id)).all():
        same = find_contact(session, keep_id, contact)
        if same is None:
            contact.employer_id = keep_id
            moved += 1
            target = contact
        else:
            _fill_blanks(same, {"position": contact.position, "phone": contact.phone,
                                "email": contact.email})
            for table in (SupervisorConsent, EmployerRating, EmployerAnswer):
                session.execute(update(table).where(table.contact_id == contact.id)
                                .values(contact_id=same.id))
            session.delete(contact)
            joined += 1
            target = same
        session.flush()
        _announce_consents(session, target)
    # The duplicate's company answers move over, unless the kept company answered in the
    # same wave (its own answers win: they are the record staff chose to keep).
    answered = set(session.scalars(select(EmployerAnswer.wave_id)
                                   .where(EmployerAnswer.employer_id == keep_id)))
    for answer in session.scalars(select(EmployerAnswer)
                                  .where(EmployerAnswer.employer_id == duplicate_id)).all():
        if answer.wave_id in answered:
            session.delete(answer)
        else:
            answer.employer_id = keep_id
    session.flush()
    session.delete(duplicate)
    session.flush()
    return Merge(keep_id, duplicate_id, moved, joined)


def _announce_consents(session: Session, contact: EmployerContact) -> None:
    for alumnus_id, wave_id in session.execute(
            select(SupervisorConsent.alumnus_id, SupervisorConsent.wave_id)
            .where(SupervisorConsent.contact_id == contact.id,
                   SupervisorConsent.withdrawn_at.is_(None))):
        publish(session, EmployerContactAdded(contact_id=contact.id,
                                              employer_id=contact.employer_id,
                                              alumnus_id=alumnus_id, wave_id=wave_id))


# --- reading for the pages ---------------------------------------------------------------


@dataclass(frozen=True)
class EmployerLine:
    employer: Employer
    contacts: int
    alumni: int


def employer_list(session: Session, search: str = "", *, page: int = 1, per_page: int = 50
                  ) -> tuple[list[EmployerLine], bool]:
    """Companies by name (one page), each with its contacts and consenting alumni counted;
    and whether another page follows. `search` matches the name key's words."""
    contacts = (select(EmployerContact.employer_id, func.count().label("n"))
                .group_by(EmployerContact.employer_id).subquery())
    alumni = (select(EmployerContact.employer_id,
                     func.count(func.distinct(SupervisorConsent.alumnus_id)).label("n"))
              .join(SupervisorConsent, SupervisorConsent.contact_id == EmployerContact.id)
              .where(SupervisorConsent.withdrawn_at.is_(None))
              .group_by(EmployerContact.employer_id).subquery())
    query = (select(Employer, func.coalesce(contacts.c.n, 0), func.coalesce(alumni.c.n, 0))
             .outerjoin(contacts, contacts.c.employer_id == Employer.id)
             .outerjoin(alumni, alumni.c.employer_id == Employer.id))
    key = name_key(search) if search.strip() else ""
    if key:
        query = query.where(Employer.name_key.contains(key, autoescape=True))
    rows = session.execute(query.order_by(Employer.name_key, Employer.id)
                           .offset((page - 1) * per_page).limit(per_page + 1)).all()
    return ([EmployerLine(employer, n_contacts, n_alumni)
             for employer, n_contacts, n_alumni in rows[:per_page]], len(rows) > per_page)


@dataclass(frozen=True)
class WorkingAlumnus:
    alumnus_id: int
    name: str | None
    program: str
    cohort: str
    wave: str
    supervisor: str
    consented_at: Any
    withdrawn_at: Any


# Where blk-tracer (v1 and v2) asks the name of the alumnus's workplace; another
# questionnaire's answers name no company here.
COMPANY_ITEM = "f5b"
NAMING_LIMIT = 200  # alumni listed as naming a company in their answers, at most


@dataclass(frozen=True)
class NamingAlumnus:
    alumnus_id: int
    name: str | None
    program: str
    cohort: str
    wave: str
    typed: str  # the company's name as they typed it


def alumni_naming(session: Session, employer: Employer,
                  besides: set[int]) -> list[NamingAlumnus]:
    """The alumni whose complete answers name this company as their workplace
    (`COMPANY_ITEM`, compared by `name_key`: "pt. pupuk kaltim" is PT Pupuk Kaltim), other
    than `besides` (those listed through a supervisor), at most `NAMING_LIMIT`. An alumnus
    who withdrew consent is not listed; an erased one's typed name is gone with their free
    text. The database returns only the answers holding the key's longest word, compared
    whole here; it still reads every complete response's item: milliseconds at a centre's
    few thousand, 0.9–1.9 s at 1M (an index on the typed name's key would be the fix)."""
    key = name_key(employer.name)
    word = max(key.split(), key=len, default="")
    if not word:
        return []
    typed = Response.answers[COMPANY_ITEM].as_string()
    rows = session.execute(
        select(Alumnus.id, Alumnus.full_name, Program.name, Cohort.label, Wave.slug, typed)
        .join(Response, Response.alumnus_id == Alumnus.id)
        .join(Wave, Wave.id == Response.wave_id)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .join(Program, Program.id == Cohort.program_id)
        .where(Response.status == "complete", Alumnus.consent_withdrawn_at.is_(None),
               func.lower(typed).contains(word, autoescape=True))
        .order_by(Program.name, Cohort.label, Alumnus.full_name, Wave.slug))
    found: list[NamingAlumnus] = []
    for alumnus_id, full_name, program, cohort, wave, name in rows:
        if alumnus_id not in besides and name_key(name or "") == key:
            found.append(NamingAlumnus(alumnus_id, full_name, program, cohort, wave, name))
            if len(found) == NAMING_LIMIT:
                break
    return found


def employer_page(session: Session, employer_id: int) -> dict[str, Any]:
    """A company's page: the record, its contacts (with how many alumni named each), and
    the alumni who work there by program and cohort, through the supervisors they named
    with consent (withdrawn consents shown as such; erased alumni are gone from this list
    with their consent), and those who only name the company in their answers."""
    employer = session.get(Employer, employer_id)
    if employer is None:
        raise EmployerError("employer", "no company with this id", 404)
    counted = (select(SupervisorConsent.contact_id, func.count().label("n"))
               .where(SupervisorConsent.withdrawn_at.is_(None))
               .group_by(SupervisorConsent.contact_id).subquery())
    contacts = session.execute(
        select(EmployerContact, func.coalesce(counted.c.n, 0))
        .outerjoin(counted, counted.c.contact_id == EmployerContact.id)
        .where(EmployerContact.employer_id == employer_id).order_by(EmployerContact.name)
    ).all()
    alumni = [
        WorkingAlumnus(alumnus_id, full_name, program, cohort, wave, supervisor,
                       consented_at, withdrawn_at)
        for alumnus_id, full_name, program, cohort, wave, supervisor, consented_at,
        withdrawn_at in session.execute(
            select(Alumnus.id, Alumnus.full_name, Program.name, Cohort.label, Wave.slug,
                   EmployerContact.name, SupervisorConsent.consented_at,
                   SupervisorConsent.withdrawn_at)
            .join(SupervisorConsent, SupervisorConsent.alumnus_id == Alumnus.id)
            .join(EmployerContact, EmployerContact.id == SupervisorConsent.contact_id)
            .join(Wave, Wave.id == SupervisorConsent.wave_id)
            .join(Cohort, Cohort.id == Alumnus.cohort_id)
            .join(Program, Program.id == Cohort.program_id)
            .where(EmployerContact.employer_id == employer_id)
            .order_by(Program.name, Cohort.label, Alumnus.full_name, Wave.slug))
    ]
    rated = session.scalar(
        select(func.count()).select_from(EmployerRating)
        .join(EmployerContact, EmployerContact.id == EmployerRating.contact_id)
        .where(EmployerContact.employer_id == employer_id))
    answered = list(session.scalars(
        select(Wave.slug).join(EmployerAnswer, EmployerAnswer.wave_id == Wave.id)
        .where(EmployerAnswer.employer_id == employer_id).order_by(Wave.slug)))
    return {"employer": employer, "contacts": contacts, "alumni": alumni,
            "naming": alumni_naming(session, employer, {a.alumnus_id for a in alumni}),
            "consenting": sum(1 for a in alumni if a.withdrawn_at is None),
            "rated": rated or 0, "answered_waves": answered}


def link_waves(session: Session, contact_id: int) -> list[tuple[int, str]]:
    """The waves (id, slug) in which a consent names this contact: one personal link each."""
    return list(session.execute(
        select(Wave.id, Wave.slug).join(SupervisorConsent, SupervisorConsent.wave_id == Wave.id)
        .where(SupervisorConsent.contact_id == contact_id).distinct().order_by(Wave.slug)))


def others_with_key(session: Session, employer: Employer) -> list[Employer]:
    """Other records with the same name key: the likely duplicates a merge is offered for."""
    return list(session.scalars(
        select(Employer).where(Employer.name_key == employer.name_key,
                               Employer.id != employer.id).order_by(Employer.id)))
