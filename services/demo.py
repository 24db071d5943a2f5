"""Demonstration data for `jejak up --demo`: a small roster a newcomer can look at."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select

from shared.db import Database
from shared.models import Alumnus, Cohort, Program

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


def load_demo_data(database_url: str, seed: int = 7) -> str:
    """Create programs, cohorts and alumni once; a second call changes nothing."""
    rng = random.Random(seed)
    with Database.for_url(database_url).session_factory() as db_session:
        if db_session.scalar(select(func.count()).select_from(Program)):
            return "already loaded"
        count = 0
        for p_index, name in enumerate(PROGRAMS):
            program = Program(name=name)
            db_session.add(program)
            for c_index in range(2):
                start = date(2025, 2 + 5 * c_index, 3)
                cohort = Cohort(
                    program=program,
                    label=f"Angkatan {c_index + 1} 2025",
                    training_start=start,
                    training_end=start + timedelta(days=60),
                )
                db_session.add(cohort)
                for a_index in range(16):
                    count += 1
                    db_session.add(
                        Alumnus(
                            registration_no=f"BLK-25-{p_index + 1}{c_index + 1}{a_index + 1:03d}",
                            full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                            gender=rng.choice("LLP"),
                            birth_date=date(
                                1995 + rng.randrange(10), rng.randrange(1, 13), rng.randrange(1, 28)
                            ),
                            phone=f"+62812{rng.randrange(10**7, 10**8)}",
                            email=f"demo{count}@example.org",
                            cohort=cohort,
                        )
                    )
        db_session.commit()
        return f"loaded: {len(PROGRAMS)} programs, {len(PROGRAMS) * 2} cohorts, {count} alumni"
