"""Data-subject rights (UU PDP) through the real apps: export → erase → export, consent
withdrawal honoured by outreach, the audit log (admin page, API, append-only in the DB)."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from services.analytics.refresh import full_refresh
from services.survey.links import make_token
from services.survey.privacy import erase_alumnus
from shared import db
from shared.events import Event
from shared.models import (
    Alumnus,
    AuditEntry,
    DeliveryAttempt,
    Message,
    OutboxEvent,
    utcnow,
)
from shared.pii import protect_nik
from tests.integration.conftest import EMPLOYED
from tests.integration.test_outreach import run_due, sms_campaign
from tests.integration.test_roster_import import PII_KEY, roster_csv, roster_row, run_import
from tests.integration.test_web_access import csrf_of, login

NIK = "6474010101000001"
EMAIL = "alumnus.nol@contoh.id"
FREE_TEXT = "PT Badak Sejahtera Bontang"


@pytest.fixture()
def quiet_free(settings):
    return dataclasses.replace(settings, quiet_hours="")


@pytest.fixture()
def outreach(outreach_app, survey, quiet_free):
    outreach_app.config["JEJAK_SETTINGS"] = quiet_free
    return outreach_app


@pytest.fixture()
def person(survey_app, survey, settings) -> int:
    """Alumnus 0 with every identifier filled in: NIK, email besides the phone."""
    alumnus_id = survey["alumni"][0][0]
    with survey_app.app_context():
        session = db.session()
        alumnus = session.get(Alumnus, alumnus_id)
        alumnus.nik_encrypted, alumnus.nik_hash = protect_nik(NIK, settings.pii_key)
        alumnus.email = EMAIL
        session.commit()
    return alumnus_id


def run_consumer(app, event_type: str, consumer=None) -> None:
    """What the worker does with the event: the consumer in its own unit of work."""
    from services.outreach import tasks

    consumer = consumer or {"alumnus.erased": tasks.on_alumnus_erased,
                            "alumnus.consent_withdrawn": tasks.on_consent_withdrawn}[event_type]
    with app.app_context():
        rows = db.session().scalars(select(OutboxEvent).where(OutboxEvent.type == event_type))
        messages = [Event(row.id, row.type, row.payload, row.created_at).to_message()
                    for row in rows]
    assert messages, f"no {event_type} event in the outbox"
    with app.app_context():
        consumer.run(messages)


def identifiers_in(document: dict) -> list[str]:
    dumped = json.dumps(document, ensure_ascii=False)
    return [value for value in ("REG-000", "Alumnus 0", NIK, "+628120000000", EMAIL,
                                "2000-01-01", FREE_TEXT) if value in dumped]


def audit_actions(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(entry.action, entry.target) for entry in db.session().scalars(
            select(AuditEntry).order_by(AuditEntry.id))]


def test_export_erase_export_round_trip(survey_app, outreach, survey, person, quiet_free,
                                        settings) -> None:
    admin = survey["headers"]["admin"]
    client = survey_app.test_client()
    # An SMS on day 0 (sent) and a reminder on day 4 (still planned) to everyone.
    sms_campaign(outreach.test_client(), survey)
    assert run_due(outreach, quiet_free) == 5
    # Alumnus 0 answers, with a free-text answer that names their employer.
    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"], person)
    answered = client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token,
        "answers": {**EMPLOYED, "f5b": FREE_TEXT}})
    assert answered.status_code == 201, answered.get_json()
    before = full_refresh(db.get_db(survey_app).session_factory, survey["wave_id"])
    assert before.responses_included == 1

    first = client.get(f"/api/v1/alumni/{person}/export", headers=admin)
    assert first.status_code == 200, first.get_json()
    exported = first.get_json()
    assert exported["alumnus"]["nik"] == NIK and exported["alumnus"]["email"] == EMAIL
    assert exported["alumnus"]["full_name"] == "Alumnus 0"
    assert exported["responses"][0]["answers"]["f5b"] == FREE_TEXT
    assert [m["status"] for m in exported["messages"]] == ["sent", "planned"]
    assert exported["messages"][0]["address"] == "+628120000000"
    assert len(exported["messages"][0]["delivery_attempts"]) == 1
    assert [t["wave"] for t in exported["wave_targets"]] == ["ts-2026"]
    assert sorted(identifiers_in(exported)) == sorted(
        ["REG-000", "Alumnus 0", NIK, "+628120000000", EMAIL, "2000-01-01", FREE_TEXT])

    # Only an admin erases; operators get 403 and nothing changes.
    assert client.post(f"/api/v1/alumni/{person}/erase",
                       headers=survey["headers"]["operator"]).status_code == 403
    erased = client.post(f"/api/v1/alumni/{person}/erase", headers=admin)
    assert erased.status_code == 200, erased.get_json()
    assert erased.get_json()["already_erased"] is False
    assert erased.get_json()["answers_removed"] == 1
    run_consumer(outreach, "alumnus.erased")

    second = client.get(f"/api/v1/alumni/{person}/export", headers=admin).get_json()
    assert identifiers_in(second) == []
    assert second["alumnus"]["registration_no"].startswith("erased:")
    assert (second["alumnus"]["nik"], second["alumnus"]["phone"],
            second["alumnus"]["email"]) == (None, None, None)
    assert second["erased_at"]
    # The coded answers stay; the pending reminder is cancelled; addresses are gone.
    assert second["responses"][0]["answers"] == EMPLOYED
    assert [(m["status"], m["cancel_reason"]) for m in second["messages"]] == [
        ("sent", None), ("cancelled", "erased")]
    assert {m["address"] for m in second["messages"]} == {None}
    # Nothing goes out to the erased alumnus later, even when the reminder is due.
    assert run_due(outreach, quiet_free, when=utcnow() + timedelta(days=5)) == 4
    # The operators' responses CSV keeps the answer, without the person.
    csv_text = client.get("/api/v1/responses/export.csv?wave=ts-2026",
                          headers=survey["headers"]["operator"]).get_data(as_text=True)
    assert len(csv_text.strip().splitlines()) == 2
    assert "REG-000" not in csv_text and "erased:" not in csv_text
    # The indicators still count the anonymised answer.
    after = full_refresh(db.get_db(survey_app).session_factory, survey["wave_id"])
    assert after.responses_included == 1

    again = client.post(f"/api/v1/alumni/{person}/erase", headers=admin)
    assert again.status_code == 200 and again.get_json()["already_erased"] is True
    assert [entry for entry in audit_actions(survey_app) if entry[0].startswith("alumnus.")] == [
        ("alumnus.export", f"alumnus:{person}"), ("alumnus.erase", f"alumnus:{person}"),
        ("alumnus.export", f"alumnus:{person}"), ("alumnus.erase", f"alumnus:{person}")]


def test_an_erased_alumnus_is_not_imported_again(settings, clean_db, tmp_path) -> None:
    run_import(clean_db, roster_csv([roster_row(1), roster_row(2)]))
    with clean_db.session_factory() as session, session.begin():
        alumnus_id = session.scalar(select(Alumnus.id).where(Alumnus.registration_no == "BLK-001"))
        erase_alumnus(session, alumnus_id, pii_key=PII_KEY, home=tmp_path)
    summary = run_import(clean_db, roster_csv([roster_row(1), roster_row(2)]))
    assert (summary.imported, summary.unchanged, summary.rejected) == (0, 1, 1)
    assert "erased" in summary.rejections[0].message
    with clean_db.session_factory() as session:
        numbers = session.scalars(select(Alumnus.registration_no)).all()
    assert len(numbers) == 2 and "BLK-001" not in numbers


def test_consent_withdrawal_is_recorded_and_stops_messages(survey_app, outreach, survey,
                                                          quiet_free) -> None:
    alumnus_id = survey["alumni"][1][0]
    client = survey_app.test_client()
    sms_campaign(outreach.test_client(), survey, day_offsets=(0, 4))
    withdrawn = client.post(f"/api/v1/alumni/{alumnus_id}/consent-withdrawal",
                            headers=survey["headers"]["operator"])
    assert withdrawn.status_code == 200, withdrawn.get_json()
    body = withdrawn.get_json()
    assert body["recorded"] is True and body["consent_withdrawn_source"] == "api"
    # The send check stops the day-0 message even before outreach's consumer has run.
    run_due(outreach, quiet_free)
    with outreach.app_context():
        stopped = db.session().scalars(select(Message).where(
            Message.alumnus_id == alumnus_id).order_by(Message.id)).all()
        assert [(m.status, m.cancel_reason) for m in stopped] == [
            ("cancelled", "consent_withdrawn"), ("planned", None)]
    run_consumer(outreach, "alumnus.consent_withdrawn")
    with outreach.app_context():
        statuses = db.session().execute(select(Message.status, Message.cancel_reason).where(
            Message.alumnus_id == alumnus_id).order_by(Message.id)).all()
    assert [tuple(row) for row in statuses] == [("cancelled", "consent_withdrawn")] * 2
    # A later campaign plans nothing for them.
    sms_campaign(outreach.test_client(), survey, day_offsets=(0,))
    with outreach.app_context():
        later = db.session().scalar(select(func.count()).select_from(Message).where(
            Message.alumnus_id == alumnus_id, Message.status == "planned"))
    assert later == 0
    # Asking again keeps the first record.
    repeat = client.post(f"/api/v1/alumni/{alumnus_id}/consent-withdrawal",
                         headers=survey["headers"]["operator"]).get_json()
    assert repeat["recorded"] is False
    assert repeat["consent_withdrawn_at"] == body["consent_withdrawn_at"]
    assert ("alumnus.consent_withdraw", f"alumnus:{alumnus_id}") in audit_actions(survey_app)


def test_rights_endpoints_answer_problem_json(survey_app, survey) -> None:
    client = survey_app.test_client()
    admin = survey["headers"]["admin"]
    erased_id = survey["alumni"][5][0]  # erased in the fixture
    conflict = client.post(f"/api/v1/alumni/{erased_id}/consent-withdrawal", headers=admin)
    assert conflict.status_code == 409
    assert conflict.mimetype == "application/problem+json"
    assert "erased" in conflict.get_json()["errors"]["alumnus"][0]
    for method, path in (("get", "/api/v1/alumni/999999/export"),
                         ("post", "/api/v1/alumni/999999/erase"),
                         ("post", "/api/v1/alumni/999999/consent-withdrawal")):
        missing = getattr(client, method)(path, headers=admin)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/alumni/{erased_id}/export",
                      headers=survey["headers"]["operator"]).status_code == 403
    assert client.get(f"/api/v1/alumni/{erased_id}/export",
                      headers=survey["headers"]["viewer"]).status_code == 403
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/survey/api/v1/alumni/{alumnus_id}/export",
                 "/survey/api/v1/alumni/{alumnus_id}/erase",
                 "/survey/api/v1/alumni/{alumnus_id}/consent-withdrawal",
                 "/survey/api/v1/audit"):
        assert any(key.endswith(path.removeprefix("/survey")) for key in spec["paths"]), path


# --- the admin pages ----------------------------------------------------------------------------


@pytest.fixture()
def admin_client(survey_app, survey):
    from shared.auth import create_user

    with survey_app.app_context():
        session = db.session()
        create_user(session, "adi", "kata-sandi-adi", "admin")
        create_user(session, "ani", "kata-sandi-ani", "operator")
        session.commit()
    client = survey_app.test_client()
    assert login(client, "adi", "kata-sandi-adi").status_code == 302
    return client


def test_admin_pages_export_withdraw_and_erase_with_confirmation(survey_app, survey, person,
                                                                admin_client) -> None:
    listing = admin_client.get("/alumni?q=reg-00&lang=en")
    assert listing.status_code == 200 and "REG-000" in listing.get_data(as_text=True)
    detail = admin_client.get(f"/alumni/{person}")
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "Alumnus 0" in html
    exported = admin_client.get(f"/alumni/{person}/export.json")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    assert json.loads(exported.get_data())["alumnus"]["nik"] == NIK

    withdrawn = admin_client.post(f"/alumni/{person}/consent-withdrawal",
                                  data={"csrf_token": csrf_of(html)})
    assert withdrawn.status_code == 302
    confirm = admin_client.get(f"/alumni/{person}/erase")
    token = csrf_of(confirm.get_data(as_text=True))
    wrong = admin_client.post(f"/alumni/{person}/erase",
                              data={"csrf_token": token, "confirm": "REG-001"})
    assert wrong.status_code == 422
    with survey_app.app_context():
        assert db.session().get(Alumnus, person).erased_at is None
    done = admin_client.post(f"/alumni/{person}/erase",
                             data={"csrf_token": token, "confirm": "REG-000"})
    assert done.status_code == 302
    with survey_app.app_context():
        alumnus = db.session().get(Alumnus, person)
        assert alumnus.erased_at is not None and alumnus.full_name is None
        assert alumnus.consent_withdrawn_source == "staff"
    actions = [action for action, _ in audit_actions(survey_app)]
    assert actions[-3:] == ["alumnus.export", "alumnus.consent_withdraw", "alumnus.erase"]


def test_operators_may_not_erase_or_export_from_the_pages(survey_app, survey, person,
                                                          admin_client) -> None:
    client = survey_app.test_client()
    assert login(client, "ani", "kata-sandi-ani").status_code == 302
    assert client.get(f"/alumni/{person}").status_code == 200
    assert client.get(f"/alumni/{person}/export.json").status_code == 403
    assert client.get(f"/alumni/{person}/erase").status_code == 403
    assert client.get("/audit").status_code == 403


# --- the audit log ------------------------------------------------------------------------------


def test_audit_page_and_api_filter_by_actor_action_and_day(survey_app, survey,
                                                           admin_client) -> None:
    with survey_app.app_context():
        session = db.session()
        session.add_all([
            AuditEntry(actor="budi", action="campaign.launch", target="7", details={},
                       at=utcnow() - timedelta(days=3)),
            AuditEntry(actor="budi", action="minimum_wage.set", target="2026", details={}),
            AuditEntry(actor="cli", action="token.create", target="ci", details={}),
        ])
        session.commit()
    client = survey_app.test_client()
    admin = survey["headers"]["admin"]
    everything = client.get("/api/v1/audit", headers=admin).get_json()
    assert {"login", "campaign.launch", "token.create"} <= {e["action"] for e in everything}
    by_actor = client.get("/api/v1/audit?actor=budi", headers=admin).get_json()
    assert [e["action"] for e in by_actor] == ["minimum_wage.set", "campaign.launch"]
    family = client.get("/api/v1/audit?action=campaign", headers=admin).get_json()
    assert [e["target"] for e in family] == ["7"]
    today = utcnow().date().isoformat()
    recent = client.get(f"/api/v1/audit?actor=budi&since={today}", headers=admin).get_json()
    assert [e["action"] for e in recent] == ["minimum_wage.set"]
    paged = client.get("/api/v1/audit?per_page=1&page=2", headers=admin).get_json()
    assert len(paged) == 1
    for role in ("viewer", "operator"):
        assert client.get("/api/v1/audit", headers=survey["headers"][role]).status_code == 403
    login_entry = client.get("/api/v1/audit?action=login&actor=adi", headers=admin).get_json()
    assert login_entry[0]["ip"] == "127.0.0.1"

    page = admin_client.get("/audit?actor=budi&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # budi's rows, not cli's, as sentences (the target used to be a column of its own)
    assert "budi set the minimum wage of 2026" in html
    assert "created the API token ci" not in html
    assert "Audit log" in html
    assert "Log audit" in admin_client.get("/audit?lang=id").get_data(as_text=True)


def test_the_database_refuses_to_change_the_audit_log(survey_app, survey) -> None:
    with survey_app.app_context():
        session = db.session()
        session.add(AuditEntry(actor="adi", action="alumnus.erase", target="alumnus:1"))
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(update(AuditEntry).values(actor="someone else"))
        session.rollback()
        assert session.scalar(select(AuditEntry.actor)) == "adi"


@pytest.mark.postgres_only
def test_postgresql_refuses_deleting_audit_entries(survey_app, survey) -> None:
    with survey_app.app_context():
        session = db.session()
        session.add(AuditEntry(actor="adi", action="alumnus.erase", target="alumnus:1"))
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("DELETE FROM audit_log"))
        session.rollback()
        assert session.scalar(select(func.count()).select_from(AuditEntry)) > 0


def test_erasure_masks_provider_replies(survey_app, outreach, survey, person,
                                        quiet_free) -> None:
    sms_campaign(outreach.test_client(), survey, day_offsets=(0,))
    assert run_due(outreach, quiet_free) == 5
    with outreach.app_context():
        session = db.session()
        message_id = session.scalar(select(Message.id).where(Message.alumnus_id == person))
        session.execute(update(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
                        .values(detail=f"550 <{EMAIL}> at +628120000000: no such user"))
        session.commit()
    assert survey_app.test_client().post(f"/api/v1/alumni/{person}/erase",
                                         headers=survey["headers"]["admin"]).status_code == 200
    run_consumer(outreach, "alumnus.erased")
    with outreach.app_context():
        details = db.session().scalars(select(DeliveryAttempt.detail).where(
            DeliveryAttempt.message_id == message_id)).all()
    assert details == ["550 <[email]> at [phone]: no such user"]


def test_the_listed_actions_are_audited(survey_app, outreach_app, analytics_app, survey,
                                        settings, monkeypatch, tmp_path) -> None:
    """Issue 6 point 4: imports, exports, campaign launches, settings and token changes
    (logins and erasures are checked above)."""
    from click.testing import CliRunner

    from services.cli import main

    operator, admin = survey["headers"]["operator"], survey["headers"]["admin"]
    survey_client = survey_app.test_client()
    assert survey_client.post(
        "/api/v1/alumni/import", headers=operator, content_type="multipart/form-data",
        data={"file": (io.BytesIO(roster_csv([roster_row(1)])), "roster.csv")},
    ).status_code == 200
    assert survey_client.get("/api/v1/responses/export.csv?wave=ts-2026",
                             headers=operator).status_code == 200
    outreach_app.config["JEJAK_SETTINGS"] = dataclasses.replace(settings, quiet_hours="")
    sms_campaign(outreach_app.test_client(), survey, day_offsets=(0,))
    monkeypatch.setattr(analytics_app.extensions["celery"], "send_task", lambda *a, **k: None)
    analytics_client = analytics_app.test_client()
    assert analytics_client.post("/api/v1/exports", headers=admin, json={
        "kind": "raw_xlsx", "wave": "ts-2026"}).status_code == 202
    assert analytics_client.put("/api/v1/minimum-wages", headers=admin, json={
        "year": 2026, "amount": 3_600_000, "source": "SK Gubernur"}).status_code == 200
    created = CliRunner().invoke(main, ["token", "create", "--role", "viewer", "--name", "ci"],
                                 env={"JEJAK_DATABASE_URL": settings.database_url,
                                      "JEJAK_HOME": str(tmp_path)})
    assert created.exit_code == 0, created.output

    with survey_app.app_context():
        entries = {entry.action: entry for entry in db.session().scalars(select(AuditEntry))}
    assert {"alumni.import", "export.responses_csv", "campaign.create", "campaign.launch",
            "export.create", "minimum_wage.set", "token.create"} <= entries.keys()
    assert entries["minimum_wage.set"].details["amount"] == 3_600_000
    assert entries["token.create"].actor == "cli" and entries["token.create"].target == "ci"
    assert entries["campaign.launch"].ip == "127.0.0.1"


def test_audit_dates_at_the_ends_of_the_calendar_filter_nothing(survey_app, survey) -> None:
    admin = survey["headers"]["admin"]
    client = survey_app.test_client()
    for query in ("since=0001-01-01", "until=9999-12-31", "since=0001-01-01&until=9999-12-31"):
        response = client.get(f"/api/v1/audit?{query}", headers=admin)
        assert response.status_code == 200, (query, response.get_json())


def test_erasure_reaches_outreach_through_a_real_worker(survey_app, outreach, survey, person,
                                                       celery_worker) -> None:
    from tests.conftest import wait_for

    sms_campaign(outreach.test_client(), survey, day_offsets=(4,))
    assert survey_app.test_client().post(f"/api/v1/alumni/{person}/erase",
                                         headers=survey["headers"]["admin"]).status_code == 200

    def cancelled() -> list[tuple[str, str | None, str | None]]:
        with outreach.app_context():
            rows = db.session().execute(select(Message.status, Message.cancel_reason,
                                               Message.address)
                                        .where(Message.alumnus_id == person)).all()
            return [tuple(row) for row in rows if row.status == "cancelled"]

    assert wait_for(cancelled) == [("cancelled", "erased", None)]


def test_raw_workbooks_made_before_an_erasure_are_removed(survey_app, analytics_app, survey,
                                                         person, monkeypatch) -> None:
    from services.analytics import tasks as analytics_tasks
    from services.analytics.reports.privacy import REMOVED
    from tests.integration.test_reports import run

    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"], person)
    assert survey_app.test_client().post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token,
        "answers": EMPLOYED}).status_code == 201
    monkeypatch.setattr(analytics_app.extensions["celery"], "send_task", lambda *a, **k: None)
    client, admin = analytics_app.test_client(), survey["headers"]["admin"]
    created = client.post("/api/v1/exports", headers=admin,
                          json={"kind": "raw_xlsx", "wave": "ts-2026"}).get_json()
    export = run(analytics_app, uuid.UUID(created["id"]))
    assert export.status == "done"
    path = export.path
    assert client.get(f"/api/v1/exports/{created['id']}/file",
                      headers=admin).status_code == 200

    assert survey_app.test_client().post(f"/api/v1/alumni/{person}/erase",
                                         headers=survey["headers"]["admin"]).status_code == 200
    run_consumer(analytics_app, "alumnus.erased", analytics_tasks.on_alumnus_erased)
    polled = client.get(f"/api/v1/exports/{created['id']}", headers=admin).get_json()
    assert (polled["status"], polled["error"]) == ("failed", REMOVED)
    assert client.get(f"/api/v1/exports/{created['id']}/file",
                      headers=admin).status_code == 409
    assert not Path(path).exists()
