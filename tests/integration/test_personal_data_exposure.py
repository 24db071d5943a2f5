"""Where personal data must not go (issue 6 point 2): logs, and what the viewer role sees."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
import uuid
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from shared import db
from shared.models import Alumnus
from tests.integration.test_outreach import run_due
from tests.integration.test_reports import report_wave, run  # noqa: F401 (fixture)
from tests.integration.test_roster_import import roster_csv, roster_row

PHONE_DIGITS = re.compile(r"8123456\d{4}|81200000\d\d")  # the numbers of both rosters
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def logged_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def test_an_import_and_a_send_log_no_phone_or_email(survey_app, outreach_app, survey, settings,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    quiet_free = dataclasses.replace(settings, quiet_hours="")
    outreach_app.config["JEJAK_SETTINGS"] = quiet_free
    operator = survey["headers"]["operator"]
    # Everything at DEBUG, and SQLAlchemy's statement log on (as someone chasing a bug
    # would turn it on): it logs every statement's parameters, phones and emails among them.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    data = roster_csv([roster_row(n) for n in range(1, 4)])
    imported = survey_app.test_client().post(
        "/api/v1/alumni/import", headers=operator,
        data={"file": (io.BytesIO(data), "roster.csv")}, content_type="multipart/form-data")
    assert imported.status_code == 200 and imported.get_json()["imported"] == 3
    client = outreach_app.test_client()
    created = client.post("/api/v1/campaigns", headers=operator, json={
        "name": "Lowongan", "wave_id": None, "segment": {},
        "steps": [{"day_offset": 0, "channel": channel, "template": {
            "id": {"subject": "Lowongan", "body": "Halo {{ name }}, ada lowongan."}}}
            for channel in ("email", "sms")]})
    assert created.status_code == 201, created.get_json()
    assert client.post(f"/api/v1/campaigns/{created.get_json()['id']}/launch",
                       headers=operator).status_code == 200
    assert run_due(outreach_app, quiet_free) > 0
    # A library that logs an address itself, as smtplib or a provider client might.
    logging.getLogger("provider").warning("rejected %s for %s", "peserta1@example.com",
                                          "+6281234560001")
    try:
        raise RuntimeError("550 <peserta2@example.com>: no such user")
    except RuntimeError:
        logging.getLogger("provider").exception("send to 0812-3456-0002 failed")

    text = logged_text(caplog.records)
    assert len(caplog.records) > 50  # the import and the send really were logged
    assert "[phone]" in text and "[email]" in text  # and addresses were there to mask
    assert PHONE_DIGITS.findall(text) == []
    assert EMAIL.findall(text) == []


# --- the viewer role ------------------------------------------------------------------------


def identifiers(session) -> list[str]:
    """Every direct identifier on the roster: names, numbers, phones, emails, birth dates."""
    found: list[str] = []
    for alumnus in session.scalars(select(Alumnus)):
        found += [value for value in (alumnus.full_name, alumnus.registration_no, alumnus.phone,
                                      alumnus.email) if value]
        if alumnus.birth_date:
            found += [alumnus.birth_date.isoformat(), alumnus.birth_date.strftime("%d/%m/%Y")]
    return found


def file_text(kind: str, data: bytes) -> str:
    if kind == "pdf":
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if kind == "csv":
        return "\n".join(";".join(row) for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    workbook = load_workbook(io.BytesIO(data))
    return "\n".join(str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True)
                     for value in row if value is not None)


def test_what_a_viewer_can_reach_holds_no_direct_identifier(survey_app, analytics_app,
                                                            report_wave, monkeypatch) -> None:  # noqa: F811
    viewer = report_wave["headers"]["viewer"]
    with survey_app.app_context():
        secrets = identifiers(db.session())
    assert "Alumnus 7" in secrets and "REG-007" in secrets

    seen: dict[str, str] = {}
    survey_client, analytics_client = survey_app.test_client(), analytics_app.test_client()
    for path in ("/api/v1/waves", "/api/v1/waves/ts-2026",
                 f"/api/v1/questionnaires/{report_wave['questionnaire_id']}"):
        response = survey_client.get(path, headers=viewer)
        assert response.status_code == 200, path
        seen[f"survey{path}"] = response.get_data(as_text=True)
    for path in ("/?wave=ts-2026", "/api/v1/minimum-wages",
                 "/api/v1/indicators?wave=ts-2026",
                 "/api/v1/indicators?wave=ts-2026&by=program",
                 "/api/v1/indicators?wave=ts-2026&by=cohort"):
        response = analytics_client.get(path, headers=viewer)
        assert response.status_code == 200, path
        seen[f"analytics{path}"] = response.get_data(as_text=True)

    monkeypatch.setattr(analytics_app.extensions["celery"], "send_task", lambda *a, **k: None)
    for kind in ("xlsx", "pdf", "csv"):
        created = analytics_client.post("/api/v1/exports", headers=viewer,
                                        json={"kind": kind, "wave": "ts-2026"})
        assert created.status_code == 202, created.get_json()
        run(analytics_app, uuid.UUID(created.get_json()["id"]))
        download = analytics_client.get(f"/api/v1/exports/{created.get_json()['id']}/file",
                                        headers=viewer)
        assert download.status_code == 200
        seen[f"export {kind}"] = file_text(kind, download.data)
    assert "Alumnus" not in seen["export xlsx"] and "Teknik Las" in seen["export xlsx"]

    leaks = {where: [value for value in secrets if value in text]
             for where, text in seen.items()}
    assert {where: found for where, found in leaks.items() if found} == {}

    # And the roster, the raw answers and the alumni pages stay closed to the viewer.
    refused: dict[str, Any] = {
        "roster API": survey_client.get("/api/v1/alumni", headers=viewer),
        "alumni page": survey_client.get("/alumni", headers=viewer),
        "export of one alumnus": survey_client.get(
            f"/api/v1/alumni/{report_wave['alumni'][0][0]}/export", headers=viewer),
        "responses CSV": survey_client.get("/api/v1/responses/export.csv?wave=ts-2026",
                                           headers=viewer),
        "raw export": analytics_client.post("/api/v1/exports", headers=viewer,
                                            json={"kind": "raw_xlsx", "wave": "ts-2026"}),
    }
    assert {name: response.status_code for name, response in refused.items()} == {
        name: 403 for name in refused}
