"""employer_rating_facts and employer_company_facts: analytics' projection of the employer
survey, rebuilt for a wave at each full refresh (docs/decisions.md, "The employer figures
read a projection rebuilt at refresh").

Rebuilt rather than kept from events because what it must reflect changes in more ways than
there are events: a rating is replaced when given again, deleted when the alumnus is erased,
excluded when they withdraw consent; a company's answers change contact and employer when
staff merge companies. Rebuilding a wave's rows (tens to a few thousand) from the survey's
tables at the refresh that recomputes every other figure of the wave is correct by
construction and costs a few queries. The facts hold no name, phone or free text.

Rules:
- a rating counts while the alumnus is neither erased nor withdrawn; its company is the
  rating contact's, else that of the contact the alumnus's consent names;
- a company is *invited* when an alumnus's consent that holds (not withdrawn, alumnus
  neither erased nor withdrawn) names one of its contacts in the wave; *answered* when it
  has the wave's company answers. `programs`: the programs of the alumni whose consents
  name its contacts in the wave (what its competencies to strengthen are read against);
- workers needed are the integer answers of `emp_need_*` (the trade in words is not a
  number and stays out).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, aliased

from shared.models import (
    Alumnus,
    Cohort,
    Employer,
    EmployerAnswer,
    EmployerCompanyFact,
    EmployerContact,
    EmployerRating,
    EmployerRatingFact,
    SupervisorConsent,
)

# blk-employer v1's rating rows -> the aspects of services/analytics/employer_indicators.py.
ASPECT_KEYS = {
    "emp_integrity": "integrity", "emp_technical": "technical", "emp_k3": "safety",
    "emp_tools": "tools_it", "emp_communication": "communication", "emp_teamwork": "teamwork",
    "emp_discipline": "discipline", "emp_learning": "learning",
}
HIRE_AGAIN_CODES = {1: "yes", 2: "maybe", 3: "no"}
NEED_PREFIX = "emp_need_"
NEED_TEXT = "emp_need_other_trade"  # the other trades in words


def _code(value: Any, allowed: tuple[int, ...]) -> int | None:
    return value if type(value) is int and value in allowed else None


def reconcile_employer(session: Session, wave_id: int) -> tuple[int, int]:
    """Make the wave's employer facts match the survey's rows now; (ratings, companies)."""
    session.execute(delete(EmployerRatingFact).where(EmployerRatingFact.wave_id == wave_id))
    session.execute(delete(EmployerCompanyFact).where(EmployerCompanyFact.wave_id == wave_id))
    present = (Alumnus.erased_at.is_(None), Alumnus.consent_withdrawn_at.is_(None))
    rated_by = aliased(EmployerContact)
    named = aliased(EmployerContact)
    rows = session.execute(
        select(EmployerRating.alumnus_id, EmployerRating.answers, Cohort.program_id,
               rated_by.employer_id, named.employer_id)
        .join(Alumnus, Alumnus.id == EmployerRating.alumnus_id)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .outerjoin(rated_by, rated_by.id == EmployerRating.contact_id)
        .outerjoin(SupervisorConsent, (SupervisorConsent.wave_id == wave_id)
                   & (SupervisorConsent.alumnus_id == EmployerRating.alumnus_id))
        .outerjoin(named, named.id == SupervisorConsent.contact_id)
        .where(EmployerRating.wave_id == wave_id, *present)
        .order_by(EmployerRating.alumnus_id)).all()
    places = {row.id: (row.kbli_section or "", row.city or "") for row in session.execute(
        select(Employer.id, Employer.kbli_section, Employer.city))}
    ratings = []
    for alumnus_id, answers, program_id, rated_employer, named_employer in rows:
        employer_id = rated_employer or named_employer
        sector, city = places.get(employer_id, ("", "")) if employer_id else ("", "")
        ratings.append({
            "wave_id": wave_id, "alumnus_id": alumnus_id, "program_id": program_id,
            "employer_id": employer_id, "sector": sector, "city": city[:120],
            **{aspect: _code((answers or {}).get(key), (1, 2, 3, 4))
               for key, aspect in ASPECT_KEYS.items()},
            "hire_again": HIRE_AGAIN_CODES.get(_code((answers or {}).get("emp_hire_again"),
                                                     (1, 2, 3)) or 0),
        })
    if ratings:
        session.execute(insert(EmployerRatingFact), ratings)

    consents = session.execute(
        select(EmployerContact.employer_id, Cohort.program_id,
               SupervisorConsent.withdrawn_at.is_(None))
        .join(EmployerContact, EmployerContact.id == SupervisorConsent.contact_id)
        .join(Alumnus, Alumnus.id == SupervisorConsent.alumnus_id)
        .join(Cohort, Cohort.id == Alumnus.cohort_id)
        .where(SupervisorConsent.wave_id == wave_id, *present)).all()
    invited: set[int] = set()
    programs: dict[int, set[int]] = defaultdict(set)
    for employer_id, program_id, holds in consents:
        programs[employer_id].add(program_id)
        if holds:
            invited.add(employer_id)
    answered = {employer_id: answers for employer_id, answers in session.execute(
        select(EmployerAnswer.employer_id, EmployerAnswer.answers)
        .where(EmployerAnswer.wave_id == wave_id))}
    companies = []
    for employer_id in sorted(invited | set(answered)):
        answers = answered.get(employer_id) or {}
        sector, city = places.get(employer_id, ("", ""))
        strengthen = answers.get("emp_strengthen") or []
        companies.append({
            "wave_id": wave_id, "employer_id": employer_id, "sector": sector,
            "city": city[:120], "invited": employer_id in invited,
            "answered": employer_id in answered,
            "programs": sorted(programs.get(employer_id, ())),
            "strengthen": sorted({code for code in strengthen if isinstance(code, str)}),
            "workers_needed": {key[len(NEED_PREFIX):]: value for key, value in answers.items()
                               if key.startswith(NEED_PREFIX) and key != NEED_TEXT
                               and type(value) is int and value >= 0},
            "apprentice": _code(answers.get("emp_apprentice"), (1, 2, 3)),
            "curriculum": _code(answers.get("emp_curriculum"), (1, 2, 3)),
        })
    if companies:
        session.execute(insert(EmployerCompanyFact), companies)
    return len(ratings), len(companies)
