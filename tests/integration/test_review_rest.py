"""The rest of the outside review (issue 13, point 9): bulk reads of personal data are
audited, and text that reorders itself on screen never reaches staff."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import select

from services.survey.roster import Rejection, parse_row
from shared import db
from shared.auth import create_user
from shared.models import AuditEntry
from tests.integration.conftest import EMPLOYED
from tests.integration.test_web_access import csrf_of, login

BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069")
GOOD_ROW = {"registration_no": "X1", "full_name": "Ani", "gender": "P", "program": "Las",
            "cohort": "A1", "training_start": "2025-01-06", "training_end": "2025-03-28"}


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db.session().scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


# --- bulk reads through the API are audited ---------------------------------------------


def test_each_read_of_the_alumni_list_is_audited_with_who_what_and_how_many(
    survey_app, survey
) -> None:
    client = survey_app.test_client()
    first = client.get("/api/v1/alumni?per_page=3", headers=survey["headers"]["operator"])
    second = client.get("/api/v1/alumni?per_page=3&page=2", headers=survey["headers"]["admin"])
    assert first.status_code == second.status_code == 200
    assert len(first.get_json()) == 3 and len(second.get_json()) == 2  # five not erased
    entries = audit_entries(survey_app, "read.alumni")
    assert [(entry.details["page"], entry.details["per_page"], entry.details["rows"])
            for entry in entries] == [(1, 3, 3), (2, 3, 2)]
    assert entries[0].actor != entries[1].actor  # the operator's token, then the admin's
    refused = client.get("/api/v1/alumni", headers=survey["headers"]["viewer"])
    assert refused.status_code == 403 and len(audit_entries(survey_app, "read.alumni")) == 2


def test_each_read_of_the_responses_list_is_audited_with_its_filters(survey_app, survey) -> None:
    client = survey_app.test_client()
    stored = client.post("/api/v1/responses", headers=survey["headers"]["operator"], json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "registration_no": survey["alumni"][0][1],
        "answers": EMPLOYED})
    assert stored.status_code == 201, stored.get_json()
    listed = client.get("/api/v1/responses?wave=ts-2026&status=complete",
                        headers=survey["headers"]["operator"])
    assert listed.status_code == 200 and len(listed.get_json()) == 1
    (entry,) = audit_entries(survey_app, "read.responses")
    assert entry.target == "ts-2026"
    assert entry.details == {"status": "complete", "page": 1, "per_page": 50, "rows": 1}


# --- bidirectional-override characters --------------------------------------------------


@pytest.mark.parametrize("mark", BIDI)
def test_a_roster_name_with_a_bidi_override_is_rejected_naming_the_column(mark) -> None:
    rejected = parse_row(2, {**GOOD_ROW, "full_name": f"Budi{mark}gnp.exe"})
    assert isinstance(rejected, Rejection)
    assert rejected.column == "full_name"
    assert "bidirectional" in rejected.message
    assert isinstance(parse_row(3, {**GOOD_ROW, "program": f"Las{mark}"}), Rejection)
    assert not isinstance(parse_row(4, GOOD_ROW), Rejection)


def test_the_import_page_says_why_in_the_page_language(survey_app, survey) -> None:
    with survey_app.app_context():
        create_user(db.session(), "adi", "kata-sandi-adi", "admin")
        db.session().commit()
    client = survey_app.test_client()
    login(client, "adi", "kata-sandi-adi")
    token = csrf_of(client.get("/import").get_data(as_text=True))
    roster = ("registration_no,full_name,gender,program,cohort,training_start,training_end\n"
              "X1,Budi\u202egnp.exe,L,Las,A1,2025-01-06,2025-03-28\n")
    # The upload leads to its preview, which lists the rejected row and says why.
    page = client.post("/import?lang=id", data={"csrf_token": token, "file": (
        io.BytesIO(roster.encode()), "roster.csv")}, content_type="multipart/form-data",
        follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "full_name berisi karakter kendali arah teks" in html, html


@pytest.mark.parametrize("mark", ("\u202e", "\u2067"))
def test_a_free_text_answer_with_a_bidi_override_is_a_field_error(survey_app, survey,
                                                                  mark) -> None:
    response = survey_app.test_client().post(
        "/api/v1/responses", headers=survey["headers"]["operator"], json={
            "id": str(uuid.uuid4()), "wave": "ts-2026",
            "registration_no": survey["alumni"][1][1],
            "answers": {**EMPLOYED, "f5b": f"PT Maju{mark}kbT"}})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["answers"]
    assert list(errors) == ["f5b"]
    assert "bidirectional control character" in errors["f5b"][0]
