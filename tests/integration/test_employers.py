"""Employer records on the database: deduplication on entry and on import, merging, the
company list and page, through the staff pages (both databases; docs/employers.md)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from services.survey import employers
from services.survey.employer_import import import_employers
from services.survey.privacy import withdraw_consent
from shared import db
from shared.auth import create_user
from shared.models import (
    AuditEntry,
    Employer,
    EmployerContact,
    OutboxEvent,
    SupervisorConsent,
)
from tests.integration.conftest import EMPLOYED
from tests.integration.test_supervisors import SUPERVISOR, answered
from tests.integration.test_web_access import csrf_of, login


@pytest.fixture()
def staff(survey_app, survey):
    """An operator signed in through the form (the pages' lowest role)."""
    with survey_app.app_context():
        create_user(db.session(), "ops", "kata-sandi-ops", "operator")
        db.session().commit()
    client = survey_app.test_client()
    login(client, "ops", "kata-sandi-ops")
    return client


def fields(**values: Any) -> employers.EmployerFields:
    return employers.EmployerFields(**values)


def test_entries_are_one_company_by_name_key_and_phone_or_email(survey_app) -> None:
    """Hand-worked: the rule of services/survey/employers.py, entry by entry."""
    with survey_app.app_context():
        session = db.session()
        first, created = employers.record_employer(
            session, fields(name="PT Maju Jaya", phone="+62541123456"), source="staff")
        assert created
        # Same key, same phone: the same company; it gains the city it lacked.
        same, created = employers.record_employer(
            session, fields(name="MAJU JAYA Tbk", phone="+62541123456", city="Bontang"),
            source="import")
        assert (same.id, created, same.city, same.name) == (first.id, False, "Bontang",
                                                             "PT Maju Jaya")
        # Same key, another phone: another branch, kept apart.
        branch, created = employers.record_employer(
            session, fields(name="CV Maju-Jaya", phone="+62541999999"), source="staff")
        assert created and branch.id != first.id
        # Same key, no phone or email: nothing tells them apart, the oldest is taken.
        bare, created = employers.record_employer(session, fields(name="Maju Jaya"),
                                                  source="form")
        assert (bare.id, created) == (first.id, False)
        # Same key, the second branch's phone: that branch, though it is not the oldest.
        again, created = employers.record_employer(
            session, fields(name="maju jaya", phone="+62541999999"), source="staff")
        assert (again.id, created) == (branch.id, False)
        # A value on record is never overwritten by a later entry.
        employers.record_employer(session, fields(name="Maju Jaya", phone="+62541123456",
                                                  city="Samarinda"), source="import")
        assert session.get(Employer, first.id).city == "Bontang"
        session.commit()
        assert session.scalar(select(func.count()).select_from(Employer)) == 2


def test_contacts_are_one_person_by_phone_email_or_a_bare_name(survey_app) -> None:
    with survey_app.app_context():
        session = db.session()
        company, _ = employers.record_employer(session, fields(name="Maju Jaya"),
                                               source="staff")
        budi, created = employers.record_contact(
            session, company, employers.ContactFields(name="Budi", phone="+6281234567890"),
            source="staff")
        assert created
        for same in (employers.ContactFields(name="Pak Budi S.", phone="+6281234567890"),
                     employers.ContactFields(name=" budi ")):
            found, created = employers.record_contact(session, company, same, source="alumnus")
            assert (found.id, created, found.consent_source) == (budi.id, False, "staff")
        other, created = employers.record_contact(
            session, company, employers.ContactFields(name="Budi", phone="+6281111111111"),
            source="staff")
        assert created and other.id != budi.id  # another Budi, with another phone


def test_the_staff_page_adds_a_company_once_and_audits_it(survey_app, staff) -> None:
    page = staff.get("/employers").get_data(as_text=True)
    assert "Perusahaan pengguna" in page and "Tambah perusahaan" in page
    data = {"csrf_token": csrf_of(page), "name": "PT Maju Jaya", "kbli_section": "C",
            "city": "Bontang", "phone": "0541 123456", "email": ""}
    first = staff.post("/employers", data=data)
    second = staff.post("/employers", data={**data, "name": "Maju Jaya Tbk"})
    assert first.headers["Location"] == second.headers["Location"]
    company = staff.get(first.headers["Location"]).get_data(as_text=True)
    assert "C · Industri Pengolahan" in company and "+62541123456" in company
    with survey_app.app_context():
        session = db.session()
        assert session.scalar(select(func.count()).select_from(Employer)) == 1
        assert [entry.action for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("employer")))] == [
            "employer.create"]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("name", "", "Nama wajib diisi"),
    ("name", "Maju\u202eJaya", "berisi karakter kendali arah teks"),
    ("kbli_section", "Z", "Sektor (kategori KBLI): &#39;Z&#39; bukan kategori KBLI"),
    ("phone", "=HYPERLINK(1)", "Telepon: &#39;=HYPERLINK(1)&#39; bukan nomor telepon"),
    ("email", "<b>@x", "Email: &#39;&lt;b&gt;@x&#39; bukan alamat email"),
    ("address", "x" * 301, "Alamat lebih dari 300 karakter"),
])
def test_hostile_company_entries_are_refused_naming_the_field(survey_app, staff, field, value,
                                                              expected) -> None:
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    answer = staff.post("/employers", data={"csrf_token": token, "name": "Maju Jaya",
                                            field: value})
    assert answer.status_code == 422
    assert expected in answer.get_data(as_text=True)
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Employer)) == 0


def test_staff_add_a_contact_who_needs_a_phone_or_an_email(survey_app, staff) -> None:
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    place = staff.post("/employers", data={"csrf_token": token, "name": "Maju Jaya"}
                       ).headers["Location"]
    refused = staff.post(f"{place}/contacts", data={"csrf_token": token, "name": "Budi"})
    assert refused.status_code == 422
    assert "Telepon: berikan nomor telepon atau alamat email" in refused.get_data(as_text=True)
    added = staff.post(f"{place}/contacts", data={"csrf_token": token, "name": "Budi",
                                                  "position": "Mandor",
                                                  "email": "Budi@MajuJaya.co.id"})
    assert added.status_code == 302
    page = staff.get(place).get_data(as_text=True)
    assert "budi@majujaya.co.id" in page and "Mandor" in page


def partners_csv(*rows: str, header: str = "nama_perusahaan;kbli;kota;telepon;nama_kontak;"
                 "hp_kontak") -> io.BytesIO:
    return io.BytesIO(("\n".join((header, *rows)) + "\n").encode())


def test_an_import_deduplicates_against_the_records_and_within_the_file(survey_app) -> None:
    with survey_app.app_context():
        session = db.session()
        employers.record_employer(session, fields(name="PT Maju Jaya", phone="+62541123456"),
                                  source="staff")
        summary = import_employers(session, partners_csv(
            "PT. Maju Jaya Tbk;C;Bontang;0541-123456;Budi;0812 3456 7890",  # on record
            "CV Sinar Las;F;Samarinda;;Sari;",                              # new
            "Sinar Las;;;;Sari;",                                           # line 3 again
            "'=cmd;C;;;;",                                                  # formula guard
            ";C;;;;",                                                       # no name
            "Bengkel X;Q9;;12;;",                                           # two problems
        ), "mitra.csv")
        session.commit()
        assert (summary.created, summary.matched, summary.contacts_added) == (2, 2, 2)
        assert [(row.line, [(p.column, p.code) for p in row.problems])
                for row in summary.rejected] == [
            (6, [("name", "required")]),
            (7, [("kbli_section", "kbli"), ("phone", "phone")])]
        rows = session.execute(select(Employer.name, Employer.kbli_section, Employer.city,
                                      Employer.source).order_by(Employer.id)).all()
        assert rows == [("PT Maju Jaya", "C", "Bontang", "staff"),
                        ("CV Sinar Las", "F", "Samarinda", "import"),
                        ("=cmd", "C", None, "import")]
        contacts = session.execute(select(EmployerContact.name, EmployerContact.phone,
                                          EmployerContact.consent_source)
                                   .order_by(EmployerContact.id)).all()
        assert contacts == [("Budi", "+6281234567890", "import"), ("Sari", None, "import")]


def test_an_xlsx_list_imports_from_the_page_and_names_the_files_columns(survey_app,
                                                                        staff) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Nama Perusahaan", "Kota", "Email"])
    sheet.append(["PT Baja Timur", "Balikpapan", "HRD@BajaTimur.co.id"])
    sheet.append(["PT Baja Timur", "Balikpapan", "bukan-email"])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    token = csrf_of(staff.get("/employers/import").get_data(as_text=True))
    answer = staff.post("/employers/import", data={"csrf_token": token,
                                                   "file": (data, "mitra.xlsx")},
                        content_type="multipart/form-data")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert re.search(r"Perusahaan baru</th><td>1<", page)
    assert "Email: &#39;bukan-email&#39; bukan alamat email" in page  # the file's header
    with survey_app.app_context():
        session = db.session()
        assert session.scalar(select(Employer.email)) == "hrd@bajatimur.co.id"
        assert session.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "employers.import")) == "employers.import"


def test_a_file_that_is_no_list_is_refused_whole(survey_app, staff) -> None:
    token = csrf_of(staff.get("/employers/import").get_data(as_text=True))
    for content, name in ((b"kota;alamat\nBontang;Jl. A\n", "a.csv"),
                          (b"MZ\x90\x00binary", "b.csv"), (b"PK\x03\x04broken", "c.xlsx"),
                          (b"nama_perusahaan\nX\n", "d.txt")):
        answer = staff.post("/employers/import", data={"csrf_token": token,
                                                       "file": (io.BytesIO(content), name)},
                            content_type="multipart/form-data")
        assert answer.status_code == 302, name
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Employer)) == 0


def test_merging_moves_contacts_joins_the_same_person_and_reannounces_consents(
        survey_app, survey, staff) -> None:
    token = answered(survey_app, survey, 0, {"consent": True, "f8": 1})
    survey_app.test_client().post(f"/s/{token}/atasan", data={
        **SUPERVISOR, "company": "Maju Jaya", "consent": "yes"})
    with survey_app.app_context():
        session = db.session()
        typed = session.scalars(select(Employer)).one()  # from the alumnus's form
        typed.phone = "+62541999999"  # a phone staff found for it later
        session.flush()
        # The same company typed by staff with another phone: a second record (a branch,
        # by the rule), which staff then see is the same company.
        kept, created = employers.record_employer(
            session, fields(name="PT Maju Jaya", phone="+62541123456"), source="staff")
        assert created
        employers.record_contact(session, kept, employers.ContactFields(
            name="Budi S.", phone="+6281234567890"), source="staff")  # the same Budi
        employers.record_contact(session, typed, employers.ContactFields(
            name="Rina", email="rina@majujaya.co.id"), source="import")
        session.commit()
        kept_id, typed_id = kept.id, typed.id
    page = staff.get(f"/employers/{kept_id}").get_data(as_text=True)
    assert "Kemungkinan ganda" in page
    unconfirmed = staff.post(f"/employers/{kept_id}/merge", data={
        "csrf_token": csrf_of(page), "duplicate_id": str(typed_id)})
    assert unconfirmed.status_code == 302
    merged = staff.post(f"/employers/{kept_id}/merge", data={
        "csrf_token": csrf_of(page), "duplicate_id": str(typed_id), "confirm": "yes"})
    assert merged.status_code == 302
    with survey_app.app_context():
        session = db.session()
        assert session.get(Employer, typed_id) is None
        contacts = session.execute(select(EmployerContact.name, EmployerContact.employer_id)
                                   .order_by(EmployerContact.name)).all()
        assert contacts == [("Budi S.", kept_id), ("Rina", kept_id)]
        consent = session.scalars(select(SupervisorConsent)).one()
        budi = session.scalar(select(EmployerContact.id).where(EmployerContact.name == "Budi S."))
        assert consent.contact_id == budi
        announced = [row.payload["contact_id"] for row in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "employer.contact_added")
            .order_by(OutboxEvent.created_at))]
        assert announced[-1] == budi
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "employer.merge")
                                ).one()
        assert audit.details["duplicate"] == typed_id and audit.details["contacts_joined"] == 1
    company = staff.get(f"/employers/{kept_id}").get_data(as_text=True)
    assert "Alumnus 0" in company and "Teknik Las" in company and "A1" in company


def test_the_company_page_lists_alumni_who_only_name_it_in_their_answers(
        survey_app, survey, staff) -> None:
    # Alumnus 0 names a supervisor at Pupuk Kaltim (listed above, not again); 1 and 2 typed
    # its name their own way; 3 works at Pupuk Indonesia; 4 typed it but withdrew consent.
    typed = {1: "pt. pupuk  KALTIM", 2: "Pupuk Kaltim Tbk", 3: "PT Pupuk Indonesia",
             4: "PT Pupuk Kaltim"}
    token = answered(survey_app, survey, 0, {**EMPLOYED, "f5b": "PT Pupuk Kaltim"})
    survey_app.test_client().post(f"/s/{token}/atasan", data={
        **SUPERVISOR, "company": "PT Pupuk Kaltim", "consent": "yes"})
    for index, name in typed.items():
        answered(survey_app, survey, index, {**EMPLOYED, "f5b": name})
    with survey_app.app_context():
        session = db.session()
        withdraw_consent(session, survey["alumni"][4][0], source="staff")
        session.commit()
        company_id = session.scalar(select(Employer.id))
    page = staff.get(f"/employers/{company_id}").get_data(as_text=True)
    named = page.split('aria-label="Alumni yang menyebut perusahaan ini di jawabannya"')[1]
    assert "pt. pupuk  KALTIM" in named and "Pupuk Kaltim Tbk" in named
    assert "Alumnus 1" in named and "Alumnus 2" in named
    for absent in ("Alumnus 0", "Alumnus 3", "Alumnus 4", "Pupuk Indonesia"):
        assert absent not in named, absent


def test_a_company_is_not_merged_into_itself_and_an_unknown_one_is_404(survey_app,
                                                                        staff) -> None:
    with survey_app.app_context():
        session = db.session()
        company, _ = employers.record_employer(session, fields(name="Maju Jaya"),
                                               source="staff")
        session.commit()
        company_id = company.id
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    itself = staff.post(f"/employers/{company_id}/merge", data={
        "csrf_token": token, "duplicate_id": str(company_id), "confirm": "yes"})
    assert itself.status_code == 302
    assert staff.post(f"/employers/{company_id}/merge", data={
        "csrf_token": token, "duplicate_id": "999999", "confirm": "yes"}).status_code == 404
    assert staff.post(f"/employers/{company_id}/merge", data={
        "csrf_token": token, "duplicate_id": "9" * 40, "confirm": "yes"}).status_code == 302
    assert staff.get("/employers/999999").status_code == 404
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Employer)) == 1


def test_the_list_searches_by_name_key_and_counts_contacts_and_alumni(survey_app, survey,
                                                                      staff) -> None:
    token = answered(survey_app, survey, 0, {"consent": True, "f8": 1})
    survey_app.test_client().post(f"/s/{token}/atasan", data={**SUPERVISOR, "consent": "yes"})
    with survey_app.app_context():
        session = db.session()
        employers.record_employer(session, fields(name="Bengkel 100% Jaya"), source="staff")
        session.commit()
    found = staff.get("/employers?q=pt+maju").get_data(as_text=True)
    assert "PT. Maju Jaya Tbk" in found and "Bengkel" not in found
    row = re.search(r"PT\. Maju Jaya Tbk</a></td>\s*<td></td>\s*<td></td>\s*<td>(\d+)</td>\s*"
                    r"<td>(\d+)</td>", found)
    assert row and row.groups() == ("1", "1")
    assert "Bengkel 100% Jaya" in staff.get("/employers?q=100%25").get_data(as_text=True)
    assert staff.get("/employers?page=" + "9" * 40).status_code == 400


def test_the_employer_questionnaire_is_stored_once_and_offered_to_no_alumni_wave(
        survey_app, staff) -> None:
    from services.survey import catalog
    from shared.models import Questionnaire

    with survey_app.app_context():
        session = db.session()
        first = catalog.ensure_employer(session)
        assert catalog.ensure_employer(session).id == first.id
        session.commit()
        assert (first.key, first.version, first.title) == (
            "blk-employer", 1, "Survei Pengguna Lulusan BLK")
        assert session.scalar(select(func.count()).select_from(Questionnaire)) == 2
        employer_id = first.id
    index = staff.get("/").get_data(as_text=True)
    assert f'<option value="{employer_id}">' not in index  # the wave form's choices
    spec = survey_app.test_client().get("/api/openapi.json").get_json()
    rating = spec["components"]["schemas"]["AnswersBlkEmployerV1"]["properties"]["emp_k3"]
    assert (rating["minimum"], rating["maximum"]) == (1, 4)
