"""An employer contact's personal link: the alumni they supervise (name, program, training
year only), a rating per alumnus, the company's answers once; erasure and hostile input.
Both databases."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from services.survey import employer_survey
from services.survey.privacy import erase_alumnus, export_alumnus, withdraw_consent
from shared import db
from shared.models import EmployerAnswer, EmployerContact, EmployerRating, SupervisorConsent
from tests.conftest import TEST_SECRET_KEY, wait_for
from tests.integration.conftest import EMPLOYED
from tests.integration.test_supervisors import SUPERVISOR, answered

ASPECTS = ("emp_integrity", "emp_technical", "emp_k3", "emp_tools", "emp_communication",
           "emp_teamwork", "emp_discipline", "emp_learning")
RATING = {**dict(zip(ASPECTS, ("4", "3", "3", "2", "3", "4", "4", "3"), strict=True)),
          "emp_hire_again": "1"}
COMPANY = {"emp_strengthen": ["f1765", "blk_k3_a"], "emp_need_las": "5",
           "emp_need_otomotif": "0", "emp_apprentice": "1", "emp_curriculum": "2"}


@pytest.fixture()
def link(survey_app, survey) -> dict[str, Any]:
    """Alumni 0 and 2 (Teknik Las, A1; training ended 2025) named the same supervisor with
    consent; alumnus 4 named another. Alumnus 0 also wrote an income in their answers."""
    client = survey_app.test_client()
    for index, supervisor in ((0, SUPERVISOR), (2, SUPERVISOR),
                              (4, {**SUPERVISOR, "supervisor_name": "Lain",
                                   "supervisor_phone": "081311112222"})):
        token = answered(survey_app, survey, index, {**EMPLOYED, "f5b": "PT Maju Jaya"})
        assert client.post(f"/s/{token}/atasan", data={**supervisor, "consent": "yes"}
                           ).status_code == 302
    with survey_app.app_context():
        session = db.session()
        budi = session.scalar(select(EmployerContact.id)
                              .where(EmployerContact.name == "Budi Santoso"))
    token = employer_survey.make_token(TEST_SECRET_KEY, survey["wave_id"], budi)
    return {"token": token, "contact_id": budi, "people": [survey["alumni"][i][0]
                                                           for i in (0, 2, 4)]}


def test_the_link_shows_only_name_program_and_training_year_of_their_alumni(
        survey_app, survey, link) -> None:
    page = survey_app.test_client().get(f"/e/{link['token']}").get_data(as_text=True)
    assert "Halo, Budi Santoso!" in page and "Survei Pengguna Lulusan BLK" in page
    assert "Alumnus 0" in page and "Alumnus 2" in page
    assert "Alumnus 4" not in page  # supervised by someone else
    assert page.count("Teknik Las · tahun pelatihan 2025") == 2
    for private in ("REG-000", "+62812000000", "4500000", "4.500.000", "2000-01-01"):
        assert private not in page  # nothing of the roster or the alumnus's own answers


def test_a_rating_is_stored_once_per_alumnus_and_replaced_when_given_again(
        survey_app, survey, link) -> None:
    client = survey_app.test_client()
    first, _, other = link["people"]
    page = client.get(f"/e/{link['token']}/a/{first}").get_data(as_text=True)
    assert "Kurang" in page and "Sangat baik" in page and "Integritas dan etos kerja" in page
    saved = client.post(f"/e/{link['token']}/a/{first}", data=RATING)
    assert saved.status_code == 302
    assert "penilaian Anda tersimpan" in client.get(saved.headers["Location"]).get_data(
        as_text=True)
    client.post(f"/e/{link['token']}/a/{first}", data={**RATING, "emp_hire_again": "2"})
    with survey_app.app_context():
        rating = db.session().scalars(select(EmployerRating)).one()
        assert (rating.alumnus_id, rating.contact_id) == (first, link["contact_id"])
        assert rating.answers == {**{key: int(value) for key, value in RATING.items()},
                                  "emp_hire_again": 2}
    # Another supervisor's alumnus is not theirs to rate, not even by typing the address.
    assert client.get(f"/e/{link['token']}/a/{other}").status_code == 404
    assert client.post(f"/e/{link['token']}/a/{other}", data=RATING).status_code == 404


@pytest.mark.postgres_only  # SQLite's transactions start with BEGIN IMMEDIATE: no race
def test_two_first_ratings_at_the_same_moment_both_succeed_and_the_later_stands(
        survey_app, survey, settings, link) -> None:
    # The other save (A) inserts the first rating of this alumnus and has not committed
    # when this page's save (B) looks, finds none and inserts too: B waits on A's row, A
    # commits, B's insert is refused as a duplicate. B then saves over A: both people got
    # "saved", and B's answers, the later, are the rating (as one after the other would).
    first = link["people"][0]
    engine = create_engine(settings.database_url)
    other = engine.connect()
    try:
        with survey_app.app_context():
            parts = employer_survey.current_parts(db.session())
            db.session().commit()  # the employer questionnaire's row, made on first use
        other.begin()
        other.execute(EmployerRating.__table__.insert().values(
            wave_id=survey["wave_id"], alumnus_id=first, contact_id=link["contact_id"],
            questionnaire_id=parts.questionnaire_id,
            answers={key: int(value) for key, value in RATING.items()}))
        answered_page: list[int] = []
        later = threading.Thread(target=lambda: answered_page.append(
            survey_app.test_client().post(f"/e/{link['token']}/a/{first}",
                                          data={**RATING, "emp_hire_again": "2"}).status_code))
        later.start()

        def waiting() -> int:  # a transaction per look: the view is read once per one
            with engine.connect() as watcher:
                return watcher.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO employer_ratings%'")).scalar_one()

        wait_for(waiting)
        other.commit()
        later.join(30)
    finally:
        other.close()
        engine.dispose()
    assert answered_page == [302]
    with survey_app.app_context():
        rating = db.session().scalars(select(EmployerRating)).one()
        assert rating.answers["emp_hire_again"] == 2


def test_an_incomplete_or_off_scale_rating_is_refused_in_indonesian(survey_app, link) -> None:
    first = link["people"][0]
    answer = survey_app.test_client().post(f"/e/{link['token']}/a/{first}",
                                           data={**RATING, "emp_k3": "5", "emp_learning": ""})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Keselamatan dan kesehatan kerja (K3)" in page and "Mohon periksa" in page
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(EmployerRating)) == 0


def test_the_company_answers_once_per_wave(survey_app, survey, link) -> None:
    client = survey_app.test_client()
    saved = client.post(f"/e/{link['token']}", data=COMPANY)
    assert saved.status_code == 302
    client.post(f"/e/{link['token']}", data={**COMPANY, "emp_need_las": "7"})
    with survey_app.app_context():
        stored = db.session().scalars(select(EmployerAnswer)).one()
        assert stored.answers == {"emp_strengthen": ["f1765", "blk_k3_a"], "emp_need_las": 7,
                                  "emp_need_otomotif": 0, "emp_apprentice": 1,
                                  "emp_curriculum": 2}
    refused = client.post(f"/e/{link['token']}", data={**COMPANY, "emp_need_las": "-3",
                                                      "emp_strengthen": ["nope"]})
    assert refused.status_code == 422
    with survey_app.app_context():
        assert db.session().scalars(select(EmployerAnswer)).one().answers["emp_need_las"] == 7


@pytest.mark.parametrize("token", ["x", "A" * 43, "", "%00", "a" * 500])
def test_a_forged_or_foreign_token_is_404(survey_app, survey, link, token) -> None:
    client = survey_app.test_client()
    assert client.get(f"/e/{token}").status_code == 404
    # An alumnus's survey token is no employer token, though both are sealed the same way.
    alumnus = answered(survey_app, survey, 1, {"consent": True, "f8": 5})
    assert client.get(f"/e/{alumnus}").status_code == 404


def test_hostile_text_is_stored_as_typed_and_shown_escaped(survey_app, link) -> None:
    client = survey_app.test_client()
    hostile = "<script>alert(1)</script>=HYPERLINK(\"x\")"
    client.post(f"/e/{link['token']}", data={**COMPANY, "emp_suggestion": hostile})
    page = client.get(f"/e/{link['token']}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    too_long = client.post(f"/e/{link['token']}", data={**COMPANY, "emp_suggestion": "x" * 2001})
    assert too_long.status_code == 422


def test_withdrawal_hides_the_alumnus_and_erasure_removes_the_ratings_about_them(
        survey_app, survey, link, settings) -> None:
    client = survey_app.test_client()
    first, second, _ = link["people"]
    for person in (first, second):
        client.post(f"/e/{link['token']}/a/{person}", data=RATING)
    client.post(f"/e/{link['token']}", data=COMPANY)
    with survey_app.app_context():
        session = db.session()
        document = export_alumnus(session, first, pii_key=settings.pii_key)
        assert document["ratings_by_supervisors"][0]["answers"]["emp_hire_again"] == 1
        withdraw_consent(session, second, source="staff")
        session.commit()
    page = client.get(f"/e/{link['token']}").get_data(as_text=True)
    assert "Alumnus 0" in page and "Alumnus 2" not in page
    with survey_app.app_context():
        session = db.session()
        erase_alumnus(session, first, pii_key=settings.pii_key, home=settings.home)
        session.commit()
        assert [r.alumnus_id for r in session.scalars(select(EmployerRating))] == [second]
        assert session.scalar(select(func.count()).select_from(EmployerAnswer)) == 1
        # Budi is still named by alumnus 2's (withdrawn) consent: the contact stays.
        assert session.get(EmployerContact, link["contact_id"]) is not None
        erase_alumnus(session, second, pii_key=settings.pii_key, home=settings.home)
        session.commit()
        assert session.scalar(select(func.count()).select_from(EmployerRating)) == 0
        assert session.get(EmployerContact, link["contact_id"]) is None
        # The company's answers stay, no longer naming who gave them.
        assert session.scalars(select(EmployerAnswer)).one().contact_id is None
        assert session.scalar(select(func.count()).select_from(SupervisorConsent)) == 1
    assert client.get(f"/e/{link['token']}").status_code == 404


def test_the_link_never_logs_its_token(survey_app, link, caplog) -> None:
    import logging

    from shared.logs import mask

    line = f"GET /survey/e/{link['token']} 200"
    assert link["token"] not in mask(line)
    assert re.search(r"/e/\[token:[0-9a-f]{6}\]", mask(line))
    logging.getLogger("test").info(line)


def test_staff_reveal_a_contacts_link_audited_and_see_the_survey_status(
        survey_app, survey, link, settings) -> None:
    from shared.auth import create_user
    from shared.models import AuditEntry
    from tests.integration.test_web_access import csrf_of, login

    client = survey_app.test_client()
    client.post(f"/e/{link['token']}/a/{link['people'][0]}", data=RATING)
    client.post(f"/e/{link['token']}", data=COMPANY)
    with survey_app.app_context():
        create_user(db.session(), "ops", "kata-sandi-ops", "operator")
        employer_id = db.session().get(EmployerContact, link["contact_id"]).employer_id
        db.session().commit()
    staff = survey_app.test_client()
    login(staff, "ops", "kata-sandi-ops")
    page = staff.get(f"/employers/{employer_id}").get_data(as_text=True)
    # Three alumni at the company (two named Budi, one another supervisor); one rated.
    assert "3 alumni setuju atasannya di sini ditanya; 1 sudah dinilai atasannya." in page
    assert "Perusahaan sudah menjawab pertanyaannya (ts-2026)." in page
    assert link["token"] not in page  # only on request
    shown = staff.post(f"/employers/{employer_id}/contacts/{link['contact_id']}/link",
                       data={"csrf_token": csrf_of(page)})
    assert f"/survey/e/{link['token']}" in shown.get_data(as_text=True)
    assert staff.post(f"/employers/{employer_id + 1}/contacts/{link['contact_id']}/link",
                      data={"csrf_token": csrf_of(page)}).status_code == 404
    with survey_app.app_context():
        entry = db.session().scalars(select(AuditEntry).where(
            AuditEntry.action == "employer.link_copy")).one()
        assert entry.details == {"contact": link["contact_id"], "links": 1}


def test_a_contact_exports_and_erases_their_own_data_through_an_admin(
        survey_app, survey, link) -> None:
    from shared.auth import create_user
    from shared.models import AuditEntry
    from tests.integration.test_web_access import csrf_of, login

    survey_app.test_client().post(f"/e/{link['token']}/a/{link['people'][0]}", data=RATING)
    with survey_app.app_context():
        create_user(db.session(), "adm", "kata-sandi-adm", "admin")
        create_user(db.session(), "ops", "kata-sandi-ops", "operator")
        employer_id = db.session().get(EmployerContact, link["contact_id"]).employer_id
        db.session().commit()
    base = f"/employers/{employer_id}/contacts/{link['contact_id']}"
    operator = survey_app.test_client()
    login(operator, "ops", "kata-sandi-ops")
    assert operator.get(f"{base}/export.json").status_code == 403
    admin = survey_app.test_client()
    login(admin, "adm", "kata-sandi-adm")
    document = admin.get(f"{base}/export.json").get_json()
    assert document["contact"]["phone"] == "+6281234567890"
    assert [given["answers"]["emp_hire_again"] for given in document["ratings_given"]] == [1]
    assert len(document["named_by_alumni"]) == 2
    assert "Alumnus 0" not in str(document)  # the alumni's names are theirs, not his
    page = admin.get(f"/employers/{employer_id}").get_data(as_text=True)
    wrong = admin.post(f"{base}/erase", data={"csrf_token": csrf_of(page), "confirm": "Budi"})
    assert wrong.status_code == 302
    with survey_app.app_context():
        assert db.session().get(EmployerContact, link["contact_id"]) is not None
    admin.post(f"{base}/erase", data={"csrf_token": csrf_of(page), "confirm": "Budi  Santoso"})
    with survey_app.app_context():
        session = db.session()
        assert session.get(EmployerContact, link["contact_id"]) is None
        assert session.scalars(select(EmployerRating)).one().contact_id is None
        # Alumnus 4 named another supervisor: that consent stays.
        assert session.scalar(select(func.count()).select_from(SupervisorConsent)) == 1
        assert [entry.action for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("employer.contact_%"))
            .order_by(AuditEntry.id))] == ["employer.contact_export", "employer.contact_erase"]
    assert survey_app.test_client().get(f"/e/{link['token']}").status_code == 404


def test_markup_in_names_reaches_no_page_unescaped(survey_app, survey, link) -> None:
    """An alumnus and a supervisor named with markup: the employer's link, the rating page
    and the company page show the text, never the markup."""
    from shared.auth import create_user
    from shared.models import Alumnus
    from tests.integration.test_hostile_input import PAYLOAD, assert_escaped
    from tests.integration.test_web_access import login

    with survey_app.app_context():
        session = db.session()
        session.get(Alumnus, link["people"][0]).full_name = PAYLOAD
        contact = session.get(EmployerContact, link["contact_id"])
        contact.name, contact.position = PAYLOAD, PAYLOAD
        create_user(session, "ops", "kata-sandi-ops", "operator")
        employer_id = contact.employer_id
        session.commit()
    client = survey_app.test_client()
    assert_escaped(client.get(f"/e/{link['token']}").get_data(as_text=True), "employer link")
    assert_escaped(client.get(f"/e/{link['token']}/a/{link['people'][0]}").get_data(
        as_text=True), "rating page")
    staff = survey_app.test_client()
    login(staff, "ops", "kata-sandi-ops")
    for path in (f"/employers/{employer_id}", "/employers"):
        assert_escaped(staff.get(path).get_data(as_text=True), path)


def test_the_link_closes_when_the_last_consent_stops_holding(survey_app, survey, link) -> None:
    client = survey_app.test_client()
    assert client.get(f"/e/{link['token']}").status_code == 200
    with survey_app.app_context():
        session = db.session()
        for person in link["people"][:2]:  # both alumni who named Budi
            withdraw_consent(session, person, source="staff")
        session.commit()
    assert client.get(f"/e/{link['token']}").status_code == 404
    assert client.post(f"/e/{link['token']}", data=COMPANY).status_code == 404
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(EmployerAnswer)) == 0
