"""Demonstration data for `jejak up --demo` and `jejak demo-data`.

A small roster, the default questionnaire, one open wave and answers with realistic
shapes (most alumni working, some waiting months, incomes around the Bontang minimum
wage), so a newcomer sees live dashboards. Loaded once: a second call changes nothing.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.survey import catalog, employers, intake, supervisors, waves
from services.survey.questionnaire import load_definition, validate_answers
from shared.db import Database
from shared.models import Alumnus, Cohort, Program, Response
from shared.pii import protect_nik

PROGRAMS = ("Teknik Las", "Otomotif", "Teknik Listrik", "Tata Boga", "Teknologi Informasi")
FIRST = (
    "Andi",
    "Budi",
    "Citra",
    "Dewi",
    "Eka",
    "Fajar",
    "Gita",
    "Hadi",
    "Indah",
    "Joko",
    "Kartika",
    "Lestari",
    "Made",
    "Nur",
    "Putri",
    "Rizki",
    "Sari",
    "Taufik",
    "Wulan",
    "Yusuf",
)
LAST = (
    "Pratama",
    "Saputra",
    "Wijaya",
    "Lestari",
    "Hidayat",
    "Nugroho",
    "Rahmawati",
    "Siregar",
    "Syahputra",
    "Kusuma",
)
DEMO_WAVE = "tracer-2025"
COMPETENCIES = (
    "f1761",
    "f1763",
    "f1765",
    "f1767",
    "f1769",
    "f1771",
    "f1773",
    "blk_k3_a",
    "blk_tools_a",
)


def demo_answers(rng: random.Random, program_index: int) -> dict[str, Any]:
    """One plausible complete answer set for the default instrument."""
    status = rng.choices([1, 2, 3, 4, 5], weights=[55, 5, 15, 5, 20])[0]
    answers: dict[str, Any] = {"consent": True, "f8": status}
    if status in (1, 3):
        waited = min(int(rng.expovariate(1 / 4)), 36)
        answers["f504"] = 1 if waited <= 6 else 2
        answers["f502" if waited <= 6 else "f506"] = waited
        answers["f505"] = int(rng.lognormvariate(15.2 + 0.05 * program_index, 0.35)) // 1000 * 1000
        answers["f5a2"] = rng.choices([1, 2, 3, 4], weights=[60, 28, 10, 2])[0]
        answers["f5d"] = rng.choice([1, 2, 3])
        answers["f14"] = rng.choices([1, 2, 3, 4, 5], weights=[25, 30, 25, 12, 8])[0]
        if status == 1:
            answers["f1101"] = rng.choice([3, 3, 3, 6, 1])
            answers["f5b"] = rng.choice(
                [
                    "PT Pupuk Kaltim",
                    "PT Badak NGL",
                    "CV Maju Jaya",
                    "Bengkel Sinar",
                    "PT Kaltim Industrial Estate",
                ]
            )
        else:
            answers["f5c"] = rng.choice([1, 2, 4])
        if answers["f14"] in (4, 5):
            answers["f16"] = rng.sample(["f1601", "f1603", "f1605", "f1606"], 2)
    elif status in (2, 5):
        answers["f1001"] = rng.choice([1, 2, 3, 4])
    else:
        answers["f18b"] = "Politeknik Negeri Samarinda"
    answers["f301"] = rng.choice([1, 2, 3])
    if answers["f301"] == 1:
        answers["f302"] = rng.randrange(0, 3)
    elif answers["f301"] == 2:
        answers["f303"] = rng.randrange(0, 6)
    answers["f4"] = rng.sample(
        ["f403", "f404", "f409", "f410", "f411", "f413"], rng.randrange(1, 4)
    )
    applied = rng.randrange(0, 15)
    answers["f6"] = applied
    answers["f7"] = rng.randrange(0, applied + 1)
    answers["f7a"] = rng.randrange(0, answers["f7"] + 1)
    for key_a in COMPETENCIES:
        key_b = key_a[:-1] + "b" if key_a.endswith("_a") else f"f{int(key_a[1:]) + 1}"
        trained = rng.randint(2, 5)
        answers[key_a] = trained
        answers[key_b] = min(5, max(1, trained + rng.choice([-1, 0, 0, 1, 1, 2])))
    answers["blk_cert"] = rng.choices([1, 2, 3], weights=[60, 30, 10])[0]
    if answers["blk_cert"] == 1 and status in (1, 3):
        answers["blk_cert_used"] = rng.choice([1, 2, 3])
    for item in (
        "blk_eval_instructor",
        "blk_eval_facilities",
        "blk_eval_practice",
        "blk_eval_material",
    ):
        answers[item] = rng.randint(3, 5)
    return answers


def load_demo_data(database_url: str, pii_key: str, seed: int = 7) -> str:
    """Create the roster, an open wave and answers once; a second call changes nothing."""
    rng = random.Random(seed)
    database = Database.for_url(database_url)
    with database.session_factory() as session:
        if session.scalar(select(func.count()).select_from(Program)):
            return "already loaded"
        alumni_by_program: list[list[Alumnus]] = []
        for p_index, name in enumerate(PROGRAMS):
            program = Program(name=name)
            session.add(program)
            members: list[Alumnus] = []
            for c_index in range(2):
                start = date(2025, 2 + 5 * c_index, 3)
                cohort = Cohort(
                    program=program,
                    label=f"Angkatan {c_index + 1} 2025",
                    training_start=start,
                    training_end=start + timedelta(days=60),
                )
                session.add(cohort)
                for a_index in range(16):
                    nik = f"6474{rng.randrange(10**11, 10**12)}"
                    nik_encrypted, nik_hash = protect_nik(nik, pii_key)
                    alumnus = Alumnus(
                        registration_no=f"BLK-25-{p_index + 1}{c_index + 1}{a_index + 1:03d}",
                        full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        gender=rng.choice("LLP"),
                        birth_date=date(
                            1995 + rng.randrange(10), rng.randrange(1, 13), rng.randrange(1, 28)
                        ),
                        nik_encrypted=nik_encrypted,
                        nik_hash=nik_hash,
                        phone=f"+62812{rng.randrange(10**7, 10**8)}",
                        email=f"alumni{p_index}{c_index}{a_index}@example.org",
                        cohort=cohort,
                    )
                    session.add(alumnus)
                    members.append(alumnus)
            alumni_by_program.append(members)
        session.flush()
        questionnaire_row = catalog.ensure_default(session)
        form = load_definition(questionnaire_row.definition)
        wave = waves.create_wave(
            session,
            slug=DEMO_WAVE,
            title="Tracer Study Alumni 2025",
            questionnaire_id=questionnaire_row.id,
            closes_at=datetime.now(UTC) + timedelta(days=60),
            program_ids=[program.id for program in session.scalars(select(Program))],
        )
        waves.open_wave(session, wave)
        info = waves.wave_info(session, wave.slug, fresh=True)
        answered = 0
        for p_index, members in enumerate(alumni_by_program):
            for alumnus in members:
                roll = rng.random()
                if roll < 0.58:
                    answers = demo_answers(rng, p_index)
                    assert not validate_answers(form, answers, complete=True).errors
                    intake.submit(
                        session,
                        submission_id=uuid.uuid4(),
                        wave=info,
                        questionnaire=form,
                        alumnus_id=alumnus.id,
                        answers=answers,
                        source="web",
                    )
                    answered += 1
                elif roll < 0.66:
                    intake.save_draft(
                        session,
                        wave=info,
                        questionnaire=form,
                        alumnus_id=alumnus.id,
                        answers={"consent": True, "f8": rng.choice([1, 5])},
                    )
        named = demo_employers(session, wave.id, random.Random(seed + 1))
        session.commit()
        total = sum(len(members) for members in alumni_by_program)
        return (
            f"loaded: {len(PROGRAMS)} programs, {len(PROGRAMS) * 2} cohorts, {total} alumni,"
            f" wave {DEMO_WAVE!r} open with {answered} complete responses, {named} supervisors"
            " named"
        )


# Industry partners a centre in Bontang might know (docs/employers.md), with their KBLI section.
PARTNERS = (
    ("PT Pupuk Kaltim", "C", "Bontang"),
    ("PT Badak NGL", "B", "Bontang"),
    ("PT Kaltim Industrial Estate", "L", "Bontang"),
    ("CV Maju Jaya", "F", "Samarinda"),
)
SUPERVISORS = ("Hendra Wijaya", "Sri Lestari", "Bambang Susilo", "Yuni Kartika", "Agus Salim")


def demo_employers(session: Any, wave_id: int, rng: random.Random) -> int:
    """The partners, and a supervisor named (with consent) by about half of the employed
    respondents; its own random stream, so the answers above stay as they were."""
    for name, section, city in PARTNERS:
        employers.record_employer(session, employers.EmployerFields(
            name=name, kbli_section=section, city=city), source="import")
    named = 0
    # One person per (company, name), with one phone and position, as alumni of one
    # workshop name the same foreman: the company page shows them once, with their alumni.
    people: dict[tuple[str, str], tuple[str, str]] = {}
    for alumnus_id, answers in session.execute(
            select(Response.alumnus_id, Response.answers)
            .where(Response.wave_id == wave_id, Response.status == "complete")
            .order_by(Response.alumnus_id)):
        if answers.get("f8") != 1 or rng.random() < 0.5:
            continue
        company, person = answers.get("f5b", ""), rng.choice(SUPERVISORS)
        if (company, person) not in people:
            people[company, person] = (
                rng.choice(("Mandor", "Kepala Bengkel", "Supervisor")),
                f"+62813{rng.randrange(10**7, 10**8)}")
        position, phone = people[company, person]
        supervisors.give_supervisor(session, wave_id, alumnus_id, {
            "company": company, "supervisor_name": person, "supervisor_position": position,
            "supervisor_phone": phone, "consent": "yes"})
        named += 1
    return named
