"""A small roster, the default questionnaire and an open wave, for survey tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.survey import catalog, waves
from shared import db
from shared.auth import create_token
from shared.models import Alumnus, Cohort, Program
from tests.conftest import EMPLOYED  # noqa: F401  (the tests of this folder import it here)


@pytest.fixture()
def survey(survey_app) -> dict[str, Any]:
    """Two programs, six alumni (one erased), wave `ts-2026` open; tokens per role."""
    with survey_app.app_context():
        session = db.session()
        welding = Program(name="Teknik Las")
        cooking = Program(name="Tata Boga")
        session.add_all([welding, cooking])
        cohorts = [
            Cohort(
                program=welding,
                label="A1",
                training_start=date(2025, 1, 6),
                training_end=date(2025, 3, 28),
            ),
            Cohort(
                program=cooking,
                label="B1",
                training_start=date(2025, 2, 3),
                training_end=date(2025, 4, 25),
            ),
        ]
        session.add_all(cohorts)
        people = []
        for index in range(6):
            alumnus = Alumnus(
                registration_no=f"REG-{index:03d}",
                full_name=f"Alumnus {index}",
                gender="LP"[index % 2],
                birth_date=date(2000, 1, index + 1),
                cohort=cohorts[index % 2],
                phone=f"+6281200000{index:02d}",
            )
            people.append(alumnus)
        session.add_all(people)
        session.flush()
        from shared.models import utcnow

        people[5].erased_at = utcnow()
        questionnaire = catalog.ensure_default(session)
        wave = waves.create_wave(
            session,
            slug="ts-2026",
            title="Tracer 2026",
            questionnaire_id=questionnaire.id,
            program_ids=[welding.id, cooking.id],
        )
        population = waves.open_wave(session, wave)
        tokens = {role: create_token(session, role) for role in ("viewer", "operator", "admin")}
        session.commit()
        return {
            "wave_id": wave.id,
            "questionnaire_id": questionnaire.id,
            "population": population,
            "alumni": [(a.id, a.registration_no) for a in people],
            "tokens": tokens,
            "headers": {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()},
        }
