"""The training centre named in outreach messages is the one in settings (JEJAK_CENTRE_NAME),
as on the form; the reports' side is tests/integration/test_reports.py."""

from __future__ import annotations

from services.outreach.campaigns import Recipient, message_context
from shared.config import Settings

KEYS = {"JEJAK_SECRET_KEY": "s" * 40, "JEJAK_PII_KEY": "p" * 40}
ALUMNA = Recipient(alumnus_id=7, full_name="Siti Aminah", email="siti@contoh.id",
                   phone=None, program="Teknik Las", cohort="2024-1")


def test_a_message_names_the_centre_from_settings() -> None:
    settings = Settings.from_env({**KEYS, "JEJAK_CENTRE_NAME": "BLK Contoh Samarinda"})
    context = message_context(ALUMNA, 3, "Tracer 2026", settings, "email")
    assert context["centre"] == "BLK Contoh Samarinda"


def test_without_a_setting_the_message_names_the_default_centre() -> None:
    context = message_context(ALUMNA, 3, "Tracer 2026", Settings.from_env(KEYS), "email")
    assert context["centre"] == "UPTD BLKI Bontang"
