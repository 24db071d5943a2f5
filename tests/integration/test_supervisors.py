"""The supervisor block of the thank-you page: a separate consent, nothing stored without it,
the supervisor stored as a company contact (not in the answers) and announced to outreach.

Both databases (the PostgreSQL pass of `make test` runs this file too)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from services.outreach import tasks
from services.survey.links import make_token
from services.survey.privacy import erase_alumnus, export_alumnus, withdraw_consent
from shared import db
from shared.models import (
    Employer,
    EmployerAudience,
    EmployerContact,
    OutboxEvent,
    ProcessedEvent,
    Response,
    SupervisorConsent,
)
from tests.conftest import TEST_SECRET_KEY
from tests.integration.conftest import EMPLOYED
from tests.integration.test_privacy import run_consumer

SUPERVISOR = {
    "company": "PT. Maju Jaya Tbk",
    "supervisor_name": "Budi Santoso",
    "supervisor_position": "Kepala Bengkel",
    "supervisor_phone": "0812-3456-7890",
    "supervisor_email": "",
}


def answered(app, survey: dict[str, Any], index: int, answers: dict[str, Any],
             status: str = "complete") -> str:
    """A response of alumnus `index` in the wave; their personal link's token."""
    alumnus_id = survey["alumni"][index][0]
    with app.app_context():
        session = db.session()
        session.add(Response(wave_id=survey["wave_id"], alumnus_id=alumnus_id,
                             questionnaire_id=survey["questionnaire_id"], status=status,
                             answers=answers, source="web"))
        session.commit()
    return make_token(TEST_SECRET_KEY, survey["wave_id"], alumnus_id)


def counts(app) -> dict[str, int]:
    with app.app_context():
        session = db.session()
        return {table.__tablename__: session.scalar(select(func.count()).select_from(table))
                for table in (Employer, EmployerContact, SupervisorConsent, OutboxEvent)}


NOTHING = {"employers": 0, "employer_contacts": 0, "supervisor_consents": 0, "outbox": 0}


@pytest.fixture()
def employed(survey_app, survey) -> str:
    return answered(survey_app, survey, 0, {**EMPLOYED, "f5b": "PT Maju Jaya"})


def test_an_employed_alumnus_is_asked_in_indonesian_with_the_box_unticked(
        survey_app, employed) -> None:
    page = survey_app.test_client().get(f"/s/{employed}/terima-kasih").get_data(as_text=True)
    assert "Boleh kami meminta pendapat atasan Anda?" in page
    assert 'value="PT Maju Jaya"' in page  # the company from their answers, to start from
    assert 'name="consent" value="yes">' in page  # not `checked`
    assert "checked" not in page


def test_the_block_is_not_offered_to_others_and_their_post_stores_nothing(
        survey_app, survey) -> None:
    tokens = [answered(survey_app, survey, 1, {**EMPLOYED, "f8": 3}),  # self-employed
              answered(survey_app, survey, 2, {"consent": True, "f8": 5}),  # looking
              answered(survey_app, survey, 3, {"consent": True}, status="partial")]
    client = survey_app.test_client()
    for token in tokens:
        page = client.get(f"/s/{token}/terima-kasih").get_data(as_text=True)
        assert "supervisor_name" not in page
        posted = client.post(f"/s/{token}/atasan", data={**SUPERVISOR, "consent": "yes"})
        assert posted.status_code == 302
    assert counts(survey_app) == NOTHING


def test_without_the_consent_ticked_nothing_is_stored(survey_app, employed) -> None:
    answer = survey_app.test_client().post(f"/s/{employed}/atasan", data=SUPERVISOR)
    assert answer.status_code == 200
    assert "Tidak ada yang disimpan" in answer.get_data(as_text=True)
    assert counts(survey_app) == NOTHING


def test_with_consent_the_supervisor_is_a_contact_of_the_company_and_is_announced(
        survey_app, survey, employed) -> None:
    client = survey_app.test_client()
    answer = client.post(f"/s/{employed}/atasan", data={**SUPERVISOR, "consent": "yes"})
    assert answer.status_code == 302
    thanks = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Budi Santoso" in thanks  # "you named ... as your supervisor"
    with survey_app.app_context():
        session = db.session()
        employer = session.scalars(select(Employer)).one()
        contact = session.scalars(select(EmployerContact)).one()
        consent = session.scalars(select(SupervisorConsent)).one()
        event = session.scalars(select(OutboxEvent)).one()
        response = session.scalars(select(Response)).one()
        assert (employer.name, employer.name_key, employer.source) == (
            "PT. Maju Jaya Tbk", "maju jaya", "form")
        assert (contact.name, contact.position, contact.phone, contact.email,
                contact.consent_source) == ("Budi Santoso", "Kepala Bengkel", "+6281234567890",
                                            None, "alumnus")
        assert (consent.wave_id, consent.alumnus_id, consent.contact_id) == (
            survey["wave_id"], survey["alumni"][0][0], contact.id)
        assert "Budi" not in str(response.answers)  # never inside the response
        assert event.type == "employer.contact_added"
        assert event.payload == {"contact_id": contact.id, "employer_id": employer.id,
                                 "alumnus_id": survey["alumni"][0][0],
                                 "wave_id": survey["wave_id"]}
    # Outreach's consumer keeps one audience row, however often the event comes.
    run_consumer(survey_app, "employer.contact_added", tasks.on_employer_contact_added)
    run_consumer(survey_app, "employer.contact_added", tasks.on_employer_contact_added)
    with survey_app.app_context():
        session = db.session()
        audience = session.scalars(select(EmployerAudience)).all()
        assert [(row.wave_id, row.alumnus_id, row.contact_id, row.employer_id)
                for row in audience] == [(survey["wave_id"], survey["alumni"][0][0],
                                          contact.id, employer.id)]
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_errors_name_the_field_in_indonesian_and_store_nothing(survey_app, employed) -> None:
    answer = survey_app.test_client().post(f"/s/{employed}/atasan", data={
        "company": "", "supervisor_name": "Budi", "supervisor_phone": "12345",
        "supervisor_email": "bukan-email", "consent": "yes"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Perusahaan atau kantor wajib diisi" in page
    assert "Nomor HP atasan (WhatsApp): &#39;12345&#39; bukan nomor telepon yang valid" in page
    assert 'name="consent" value="yes" checked>' in page  # their tick is kept to fix and send
    assert "Email atasan: &#39;bukan-email&#39; bukan alamat email" in page
    assert counts(survey_app) == NOTHING


def test_a_supervisor_needs_a_phone_or_an_email(survey_app, employed) -> None:
    answer = survey_app.test_client().post(f"/s/{employed}/atasan", data={
        **SUPERVISOR, "supervisor_phone": "", "consent": "yes"})
    assert answer.status_code == 422
    assert "berikan nomor telepon atau alamat email" in answer.get_data(as_text=True)
    assert counts(survey_app) == NOTHING


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("supervisor_name", "Budi\u202egnp.exe", "karakter kendali arah teks"),
    ("supervisor_name", "Budi\x00", "memuat karakter kontrol"),
    ("supervisor_position", "x" * 121, "lebih dari 120 karakter"),
    ("company", "<script>alert(1)</script>" + "y" * 200, "lebih dari 200 karakter"),
])
def test_hostile_values_are_refused_naming_the_field(survey_app, employed, field, value,
                                                     expected) -> None:
    answer = survey_app.test_client().post(f"/s/{employed}/atasan", data={
        **SUPERVISOR, field: value, "consent": "yes"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert expected in page
    assert "<script>alert(1)" not in page  # the value shown back is escaped
    assert counts(survey_app) == NOTHING


def test_a_forged_token_is_refused(survey_app, employed) -> None:
    answer = survey_app.test_client().post("/s/not-a-token/atasan",
                                           data={**SUPERVISOR, "consent": "yes"})
    assert answer.status_code == 404
    assert counts(survey_app) == NOTHING


def test_naming_another_supervisor_replaces_the_first_and_drops_its_contact(
        survey_app, employed) -> None:
    client = survey_app.test_client()
    client.post(f"/s/{employed}/atasan", data={**SUPERVISOR, "consent": "yes"})
    client.post(f"/s/{employed}/atasan", data={
        **SUPERVISOR, "supervisor_name": "Sari Dewi", "supervisor_phone": "",
        "supervisor_email": "Sari@MajuJaya.co.id", "consent": "yes"})
    with survey_app.app_context():
        session = db.session()
        contacts = session.scalars(select(EmployerContact)).all()
        assert [(c.name, c.email) for c in contacts] == [("Sari Dewi", "sari@majujaya.co.id")]
        assert session.scalar(select(func.count()).select_from(SupervisorConsent)) == 1
        assert session.scalar(select(func.count()).select_from(Employer)) == 1


def test_export_shows_the_supervisor_withdrawal_marks_and_erasure_removes_it(
        survey_app, survey, employed, settings) -> None:
    survey_app.test_client().post(f"/s/{employed}/atasan", data={**SUPERVISOR, "consent": "yes"})
    alumnus_id = survey["alumni"][0][0]
    with survey_app.app_context():
        session = db.session()
        document = export_alumnus(session, alumnus_id, pii_key=settings.pii_key)
        (named,) = document["supervisors"]
        assert named["supervisor"]["phone"] == "+6281234567890"
        assert named["company"]["name"] == "PT. Maju Jaya Tbk"
        assert withdraw_consent(session, alumnus_id, source="staff")
        session.commit()
        assert session.scalars(select(SupervisorConsent)).one().withdrawn_at is not None
        erase_alumnus(session, alumnus_id, pii_key=settings.pii_key, home=settings.home)
        session.commit()
        assert session.scalar(select(func.count()).select_from(SupervisorConsent)) == 0
        assert session.scalar(select(func.count()).select_from(EmployerContact)) == 0
        assert session.scalar(select(func.count()).select_from(Employer)) == 1  # no person
