"""Issue 14, points 4 and 5: a wave run from the browser (late alumni, close and reopen,
cohort scope, overlap warning, closing date) and the follow-up of who has not answered.

The page and the API call the same functions; most tests go through both doors.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from services.survey import waves
from services.survey.links import make_token
from shared import db
from shared.auth import create_user
from shared.events import Event
from shared.models import (
    Alumnus,
    AuditEntry,
    Campaign,
    CampaignStep,
    Cohort,
    DeadLetter,
    Export,
    Message,
    OptOut,
    OutboxEvent,
    ProcessedEvent,
    Response,
    Wave,
    WaveTarget,
    utcnow,
)
from tests.conftest import wait_for, wait_until_idle
from tests.integration.conftest import EMPLOYED
from tests.integration.test_web_access import csrf_of, login

SLUG = "ts-2026"


@pytest.fixture()
def operator(survey_app, survey):
    """A signed-in operator's browser."""
    with survey_app.app_context():
        create_user(db.session(), "ani", "kata-sandi-ani", "operator")
        db.session().commit()
    client = survey_app.test_client()
    assert login(client, "ani", "kata-sandi-ani").status_code == 302
    return client


def post_form(client, page: str, url: str, **data):
    """Submit a form as the browser does: the CSRF token taken from the page it is on."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def late_alumni(app, rows: list[tuple[str, str, str, str | None]]) -> list[int]:
    """Alumni imported after the wave opened: (registration_no, cohort label, gender, phone)."""
    with app.app_context():
        session = db.session()
        cohorts = {c.label: c for c in session.scalars(select(Cohort))}
        people = [Alumnus(registration_no=number, full_name=f"Baru {number}", gender=gender,
                          birth_date=date(2001, 5, 5), cohort=cohorts[label], phone=phone)
                  for number, label, gender, phone in rows]
        session.add_all(people)
        session.commit()
        return [person.id for person in people]


def audit_of(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db.session().scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id)).all()


def population(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(WaveTarget))


def outbox_message(app, event_type: str) -> dict:
    with app.app_context():
        row = db.session().scalar(select(OutboxEvent).where(OutboxEvent.type == event_type)
                                  .order_by(OutboxEvent.created_at.desc()))
        return Event(row.id, row.type, row.payload, row.created_at).to_message()


# --- late alumni ---------------------------------------------------------------------------


def test_late_alumni_are_previewed_added_once_audited_and_invited_once_by_outreach(
        survey_app, outreach_app, survey, operator, celery_worker) -> None:
    headers = survey["headers"]["operator"]
    # A running SMS campaign of the wave, launched before the late alumni came.
    api = outreach_app.test_client()
    created = api.post("/api/v1/campaigns", headers=headers, json={
        "name": "Undangan", "wave_id": survey["wave_id"], "steps": [
            {"day_offset": 0, "channel": "sms",
             "template": {"id": {"body": "Halo {{ name }}: {{ survey_link }}"}}}]})
    launched = api.post(f"/api/v1/campaigns/{created.get_json()['id']}/launch",
                        headers=headers)
    assert launched.status_code == 200, launched.get_json()
    new = late_alumni(survey_app, [("REG-100", "A1", "L", "+6281211110001"),
                                   ("REG-101", "B1", "P", "+6281211110002")])
    assert population(survey_app) == 5

    # The API's dry run and the page's preview count the same two, and add nobody.
    client = survey_app.test_client()
    dry = client.post(f"/api/v1/waves/{SLUG}/targets", headers=headers,
                      json={"registration_nos": ["REG-100", "REG-101", "REG-999"],
                            "dry_run": True})
    assert dry.status_code == 200
    assert dry.get_json()["count"] == 2
    assert dry.get_json()["unknown_registration_nos"] == ["REG-999"]
    page = f"/waves/{SLUG}"
    with survey_app.app_context():
        programs = [str(p) for p in db.session().scalars(select(Cohort.program_id))]
    preview = post_form(operator, page, f"/waves/{SLUG}/targets", action="preview",
                        program_ids=programs)
    assert preview.status_code == 200
    assert "2 alumni akan ditambahkan" in preview.get_data(as_text=True)
    assert population(survey_app) == 5

    added = post_form(operator, page, f"/waves/{SLUG}/targets", action="add",
                      program_ids=programs)
    assert added.status_code == 302
    assert population(survey_app) == 7
    [entry] = audit_of(survey_app, "wave.targets_add")
    assert entry.actor == "ani" and entry.details["added"] == 2
    # The population and rates follow: the API's counts say 7.
    counts = client.get(f"/api/v1/waves/{SLUG}", headers=headers).get_json()["counts"]
    assert counts["population"] == 7

    # Outreach, through the relay and a real worker, plans the running campaign for them.
    def planned_for_new() -> list[Message]:
        with survey_app.app_context():
            return db.session().scalars(select(Message).where(
                Message.alumnus_id.in_(new))).all()

    wait_for(lambda: len(planned_for_new()) == 2)
    # Adding again adds nobody; a redelivered event invites nobody twice.
    again = client.post(f"/api/v1/waves/{SLUG}/targets", headers=headers,
                        json={"alumnus_ids": new})
    assert again.get_json()["count"] == 0
    celery = survey_app.extensions["celery"]
    celery.send_task("outreach.on_wave_targets_added",
                     args=[outbox_message(survey_app, "wave.targets_added")])
    wait_until_idle(celery)
    invitations = planned_for_new()
    assert sorted(m.alumnus_id for m in invitations) == sorted(new)
    assert all(m.status == "planned" and m.channel == "sms" for m in invitations)
    # Analytics took the event too (their cells recomputed), and nothing failed.
    with survey_app.app_context():
        session = db.session()
        consumers = set(session.scalars(select(ProcessedEvent.consumer)))
        assert {"outreach.on_wave_targets_added", "analytics.on_wave_targets_added"} <= consumers
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0


def test_only_an_open_wave_takes_late_alumni(survey_app, survey) -> None:
    headers = survey["headers"]["operator"]
    client = survey_app.test_client()
    assert client.post(f"/api/v1/waves/{SLUG}/close", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/waves/{SLUG}/targets", headers=headers,
                          json={"alumnus_ids": [survey["alumni"][0][0]]})
    assert refused.status_code == 409
    empty = client.post("/api/v1/waves/nope/targets", headers=headers, json={})
    assert empty.status_code == 404


# --- close and reopen ----------------------------------------------------------------------


def test_closing_needs_confirmation_and_reopening_works_until_a_report_is_published(
        survey_app, survey, operator) -> None:
    page = f"/waves/{SLUG}"
    unconfirmed = post_form(operator, page, f"/waves/{SLUG}/close")
    assert unconfirmed.status_code == 302
    with survey_app.app_context():
        assert db.session().scalar(select(Wave.status)) == "open"
    closed = post_form(operator, page, f"/waves/{SLUG}/close", confirm="yes")
    assert closed.status_code == 302
    with survey_app.app_context():
        assert db.session().scalar(select(Wave.status)) == "closed"
    assert "Buka kembali" in operator.get(page).get_data(as_text=True)

    reopened = post_form(operator, page, f"/waves/{SLUG}/reopen")
    assert reopened.status_code == 302
    assert [e.actor for e in audit_of(survey_app, "wave.reopen")] == ["ani"]
    with survey_app.app_context():
        assert db.session().scalar(select(Wave.status)) == "open"

    # Closed again, then a PDF report of it made after closing: published, no reopening.
    headers = survey["headers"]["operator"]
    client = survey_app.test_client()
    assert client.post(f"/api/v1/waves/{SLUG}/close", headers=headers).status_code == 200
    with survey_app.app_context():
        session = db.session()
        # A draft report made BEFORE closing does not count.
        session.add(Export(kind="pdf", status="done", params={"wave_id": survey["wave_id"]},
                           created_at=utcnow() - timedelta(days=1)))
        session.commit()
    assert client.post(f"/api/v1/waves/{SLUG}/reopen", headers=headers,
                       json={}).status_code == 200
    assert client.post(f"/api/v1/waves/{SLUG}/close", headers=headers).status_code == 200
    with survey_app.app_context():
        session = db.session()
        session.add(Export(kind="pdf", status="done", params={"wave_id": survey["wave_id"]},
                           created_at=utcnow() + timedelta(seconds=1)))
        session.commit()
    refused = client.post(f"/api/v1/waves/{SLUG}/reopen", headers=headers, json={})
    assert refused.status_code == 409
    text = operator.get(page).get_data(as_text=True)
    assert "tidak dapat dibuka kembali" in text
    assert "/reopen" not in text


def test_reopening_after_the_closing_date_needs_a_new_one(survey_app, survey) -> None:
    headers = survey["headers"]["operator"]
    client = survey_app.test_client()
    with survey_app.app_context():
        db.session().execute(update(Wave).values(closes_at=utcnow() - timedelta(days=1)))
        db.session().commit()
    assert client.post(f"/api/v1/waves/{SLUG}/close", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/waves/{SLUG}/reopen", headers=headers, json={})
    assert refused.status_code == 422 and "closes_at" in refused.get_json()["errors"]
    later = (utcnow() + timedelta(days=7)).isoformat()
    assert client.post(f"/api/v1/waves/{SLUG}/reopen", headers=headers,
                       json={"closes_at": later}).status_code == 200


# --- cohort scope and overlap --------------------------------------------------------------


def test_a_wave_is_created_by_cohort_on_the_page_after_an_overlap_warning(
        survey_app, survey, operator) -> None:
    with survey_app.app_context():
        cohort = db.session().scalar(select(Cohort).where(Cohort.label == "B1"))
    form = {"title": "Tracer B1", "slug": "ts-b1", "closes_on": "",
            "questionnaire_id": str(survey["questionnaire_id"]), "cohort_ids": [str(cohort.id)]}
    warned = post_form(operator, "/", "/waves", **form)
    assert warned.status_code == 200
    text = warned.get_data(as_text=True)
    # Cohort B1's targets in ts-2026: alumni 1 and 3 (5 is erased).
    assert "2 alumni juga ada di Tracer 2026" in text
    with survey_app.app_context():
        assert db.session().scalar(select(Wave).where(Wave.slug == "ts-b1")) is None
    created = post_form(operator, "/", "/waves", overlap_ok="yes", **form)
    assert created.status_code == 302
    with survey_app.app_context():
        wave = db.session().scalar(select(Wave).where(Wave.slug == "ts-b1"))
        assert wave.scope == {"program_ids": [], "cohort_ids": [cohort.id]}
    # The API says the same overlap, and the alumnus page lists both waves once opened.
    headers = survey["headers"]["operator"]
    client = survey_app.test_client()
    body = client.get("/api/v1/waves/ts-b1", headers=headers).get_json()
    assert body["overlaps"] == [{"slug": SLUG, "title": "Tracer 2026", "status": "open",
                                 "alumni": 2}]
    assert client.post("/api/v1/waves/ts-b1/open", headers=headers).status_code == 200
    person = survey["alumni"][1][0]
    page = operator.get(f"/alumni/{person}").get_data(as_text=True)
    assert "Tracer 2026" in page and "Tracer B1" in page


# --- closing date --------------------------------------------------------------------------


def test_answers_after_the_closing_date_are_refused_on_the_form_and_the_api(
        survey_app, survey) -> None:
    with survey_app.app_context():
        db.session().execute(update(Wave).values(closes_at=utcnow() - timedelta(minutes=1)))
        db.session().commit()
    waves._wave_cache.clear()
    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"],
                       survey["alumni"][0][0])
    client = survey_app.test_client()
    form = client.get(f"/s/{token}")
    assert form.status_code == 410
    assert "ditutup" in form.get_data(as_text=True)
    api = client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": SLUG, "token": token, "answers": EMPLOYED})
    assert api.status_code == 409
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0


# --- follow-up: the status, hand-built --------------------------------------------------------


@pytest.fixture()
def statuses(survey_app, survey) -> dict[str, int]:
    """One alumnus per status, by hand. Targets of ts-2026 (A1 = Teknik Las, L; B1 = Tata
    Boga, P): REG-000 complete, REG-001 partial, REG-002 opened, REG-003 invited,
    REG-004 opted out; added late: REG-106 unreachable (no contact), REG-107 not invited,
    REG-108 erased, REG-109 unreachable (its message failed)."""
    ids = dict((number, alumnus_id) for alumnus_id, number in survey["alumni"])
    late = late_alumni(survey_app, [("REG-106", "A1", "L", None),
                                    ("REG-107", "B1", "P", "+6281211110007"),
                                    ("REG-108", "A1", "L", "+6281211110008"),
                                    ("REG-109", "B1", "P", "+6281211110009")])
    ids.update(zip(("REG-106", "REG-107", "REG-108", "REG-109"), late, strict=True))
    with survey_app.app_context():
        session = db.session()
        wave = session.get(Wave, survey["wave_id"])
        waves.add_targets(session, wave, alumnus_ids=late)
        for number, status in (("REG-000", "complete"), ("REG-001", "partial")):
            session.add(Response(wave_id=wave.id, alumnus_id=ids[number], status=status,
                                 questionnaire_id=wave.questionnaire_id, answers=EMPLOYED))
        campaign = Campaign(name="Undangan", wave_id=wave.id, status="running")
        session.add(campaign)
        session.flush()
        step = CampaignStep(campaign_id=campaign.id, position=0, channel="sms", template={})
        session.add(step)
        session.flush()
        for number, status in (("REG-000", "delivered"), ("REG-003", "sent"),
                               ("REG-004", "sent"), ("REG-109", "failed")):
            session.add(Message(campaign_step_id=step.id, alumnus_id=ids[number],
                                status=status, due_at=utcnow()))
        session.add(OptOut(channel="sms", address="+628120000004", alumnus_id=ids["REG-004"],
                           source="sms_stop"))
        session.get(Alumnus, ids["REG-108"]).erased_at = utcnow()
        session.commit()
    # REG-002 opens the personal form (the real form page records it).
    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"], ids["REG-002"])
    assert survey_app.test_client().get(f"/s/{token}").status_code == 200
    return ids


EXPECTED = {"REG-000": "complete", "REG-001": "partial", "REG-002": "opened",
            "REG-003": "invited", "REG-004": "opted_out", "REG-106": "unreachable",
            "REG-107": "not_invited", "REG-108": "erased", "REG-109": "unreachable"}


def test_every_status_is_computed_as_worked_out_by_hand(survey_app, survey, statuses) -> None:
    headers = survey["headers"]["operator"]
    body = survey_app.test_client().get(f"/api/v1/waves/{SLUG}/alumni",
                                        headers=headers).get_json()
    assert {row["registration_no"]: row["status"] for row in body["items"]
            if not row["registration_no"].startswith("erased")} | {
        "REG-108": next(row["status"] for row in body["items"]
                        if row["alumnus_id"] == statuses["REG-108"])} == EXPECTED
    assert body["counts"] == {"not_invited": 1, "invited": 1, "opened": 1, "partial": 1,
                              "complete": 1, "opted_out": 1, "unreachable": 2, "erased": 1,
                              "not_answered": 3, "all": 9}


def test_filters_and_counts_agree_on_the_page_and_the_api(survey_app, survey, statuses,
                                                          operator) -> None:
    headers = survey["headers"]["operator"]
    client = survey_app.test_client()
    with survey_app.app_context():
        welding = db.session().scalar(select(Cohort.program_id).where(Cohort.label == "A1"))

    def numbers(**args) -> list[str]:
        body = client.get(f"/api/v1/waves/{SLUG}/alumni", headers=headers,
                          query_string=args).get_json()
        return [row["registration_no"] for row in body["items"]]

    assert numbers(status="not_answered") == ["REG-001", "REG-002", "REG-003"]
    assert numbers(gender="P") == ["REG-001", "REG-003", "REG-107", "REG-109"]
    assert numbers(program=welding, status="unreachable") == ["REG-106"]
    counts = client.get(f"/api/v1/waves/{SLUG}/alumni", headers=headers,
                        query_string={"program": welding, "status": "complete"}
                        ).get_json()["counts"]
    # Counts follow program, cohort and gender, not the status filter.
    assert counts["all"] == 5 and counts["complete"] == 1 and counts["erased"] == 1
    bad = client.get(f"/api/v1/waves/{SLUG}/alumni", headers=headers,
                     query_string={"status": "bogus"})
    assert bad.status_code == 422

    page = operator.get(f"/waves/{SLUG}/alumni?status=not_answered").get_data(as_text=True)
    assert all(number in page for number in ("REG-001", "REG-002", "REG-003"))
    assert "REG-000" not in page and "REG-107" not in page
    assert "belum menjawab: 3" in page
    welding_page = operator.get(f"/waves/{SLUG}/alumni?program={welding}&status=unreachable")
    assert "REG-106" in welding_page.get_data(as_text=True)
    assert "REG-109" not in welding_page.get_data(as_text=True)


def test_paging_walks_the_whole_list(survey_app, survey, statuses, operator) -> None:
    from services.survey import followup

    with survey_app.app_context():
        session = db.session()
        first, more = followup.page(session, survey["wave_id"], followup.Filters(), 1, size=4)
        second, _ = followup.page(session, survey["wave_id"], followup.Filters(), 2, size=4)
        third, last = followup.page(session, survey["wave_id"], followup.Filters(), 3, size=4)
    assert more and not last
    assert len(first) + len(second) + len(third) == 9


def test_the_filtered_list_downloads_with_indonesian_headers_formula_safe_and_audited(
        survey_app, survey, statuses, operator) -> None:
    with survey_app.app_context():
        db.session().get(Alumnus, statuses["REG-003"]).full_name = "=HYPERLINK(\"x\")"
        db.session().commit()
    response = operator.get(f"/waves/{SLUG}/alumni.csv?status=not_answered")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["no_registrasi", "nama", "jenis_kelamin", "kejuruan", "angkatan",
                       "no_hp", "email", "status"]
    assert [row[0] for row in rows[1:]] == ["REG-001", "REG-002", "REG-003"]
    assert [row[7] for row in rows[1:]] == ["sebagian", "membuka formulir", "diundang"]
    assert rows[3][1] == "'=HYPERLINK(\"x\")"
    api = survey_app.test_client().get(f"/api/v1/waves/{SLUG}/alumni.xlsx",
                                       headers=survey["headers"]["operator"])
    assert api.status_code == 200
    sheet = load_workbook(io.BytesIO(api.data)).active
    values = list(sheet.values)
    assert values[0][0] == "no_registrasi" and values[0][7] == "status"
    assert len(values) == 10
    entries = audit_of(survey_app, "wave.followup_download")
    assert [(e.details["kind"], e.details["rows"]) for e in entries] == [("csv", 3), ("xlsx", 9)]
    assert entries[0].actor == "ani"
    assert entries[0].details["status"] == "not_answered"


# --- one alumnus: contact, invitation, link, answers --------------------------------------


def test_contact_corrections_are_checked_like_the_import_and_keep_the_old_value(
        survey_app, survey, operator) -> None:
    person = survey["alumni"][0][0]
    page = f"/waves/{SLUG}/alumni/{person}"
    bad = post_form(operator, page, f"{page}/contact", phone="12", email="")
    assert bad.status_code == 302
    # The import's own sentence, in the page's language (Indonesian).
    assert "phone: &#39;12&#39; bukan nomor telepon yang valid" in operator.get(page).get_data(
        as_text=True)
    with survey_app.app_context():
        assert db.session().get(Alumnus, person).phone == "+628120000000"
    good = post_form(operator, page, f"{page}/contact", phone="0812-3456-7890",
                     email="Ani@Contoh.ID")
    assert good.status_code == 302
    with survey_app.app_context():
        alumnus = db.session().get(Alumnus, person)
        assert (alumnus.phone, alumnus.email) == ("+6281234567890", "ani@contoh.id")
    [entry] = audit_of(survey_app, "alumnus.contact_correct")
    assert entry.details["phone"] == {"old": "+628120000000", "new": "+6281234567890"}
    assert entry.details["email"] == {"old": None, "new": "ani@contoh.id"}
    # The API refuses the same bad value with a 422 naming the field.
    api = survey_app.test_client().patch(
        f"/api/v1/waves/{SLUG}/alumni/{person}/contact", headers=survey["headers"]["operator"],
        json={"email": "not-an-email"})
    assert api.status_code == 422 and "email" in api.get_json()["errors"]


def test_an_invitation_is_resent_once_on_the_chosen_channel(survey_app, outreach_app,
                                                            survey, operator) -> None:
    from services.outreach.tasks import on_invitation_requested

    person = survey["alumni"][1][0]
    page = f"/waves/{SLUG}/alumni/{person}"
    sent = post_form(operator, page, f"{page}/invitation", channel="sms")
    assert sent.status_code == 302
    [entry] = audit_of(survey_app, "alumnus.invitation_resend")
    assert entry.details == {"wave": SLUG, "channel": "sms"}
    message = outbox_message(survey_app, "invitation.requested")
    assert message["payload"] == {"wave_id": survey["wave_id"], "alumnus_id": person,
                                  "channel": "sms"}
    with outreach_app.app_context():
        on_invitation_requested.run(message)
        on_invitation_requested.run(message)  # redelivered: nothing more
    with outreach_app.app_context():
        rows = db.session().scalars(select(Message).where(Message.alumnus_id == person)).all()
    assert [(m.channel, m.address, m.status) for m in rows] == [
        ("sms", "+628120000001", "planned")]
    # The outreach pages and API still read their campaigns with the resend one among them.
    listed = outreach_app.test_client().get("/api/v1/campaigns",
                                            headers=survey["headers"]["operator"])
    assert listed.status_code == 200
    # No email on file: said plainly, nothing queued.
    api = survey_app.test_client().post(
        f"/api/v1/waves/{SLUG}/alumni/{person}/invitation",
        headers=survey["headers"]["operator"], json={"channel": "email"})
    assert api.status_code == 422 and "channel" in api.get_json()["errors"]


def test_the_personal_link_is_shown_once_on_request_and_audited(survey_app, survey,
                                                                operator) -> None:
    person = survey["alumni"][2][0]
    page = f"/waves/{SLUG}/alumni/{person}"
    assert "/survey/s/" not in operator.get(page).get_data(as_text=True)
    shown = post_form(operator, page, f"{page}/link")
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    token = make_token(survey_app.config["SECRET_KEY"], survey["wave_id"], person)
    assert f"/survey/s/{token}" in shown.get_data(as_text=True)
    assert "/survey/s/" not in operator.get(page).get_data(as_text=True)
    [entry] = audit_of(survey_app, "alumnus.link_copy")
    assert entry.target == f"alumnus:{person}" and entry.actor == "ani"


def test_the_alumnus_page_shows_the_answers(survey_app, survey, statuses, operator) -> None:
    page = operator.get(f"/waves/{SLUG}/alumni/{statuses['REG-000']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "lengkap" in text and "4500000" in text and "<td>ya</td>" in text
    api = survey_app.test_client().get(f"/api/v1/waves/{SLUG}/alumni/{statuses['REG-000']}",
                                       headers=survey["headers"]["operator"]).get_json()
    assert api["status"] == "complete" and api["answers"]["f505"] == 4_500_000
    assert api["waves"] == [SLUG]
    not_a_target = survey["alumni"][5][0]  # erased before the wave opened
    assert operator.get(f"/waves/{SLUG}/alumni/{not_a_target}").status_code == 404
