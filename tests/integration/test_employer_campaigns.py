"""Employer campaigns end to end on the real database: outreach learns of the contacts
through events only, plans one message per step and contact, sends each once with the
contact's own link, stops at the company's answers, at a withdrawal and at an opt-out;
the staff pages launch it, refuse hostile input and need their CSRF token.

Both databases (the PostgreSQL pass of `make test` runs this file too)."""

from __future__ import annotations

import dataclasses
import json
import mailbox
import re
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from services.outreach import employer_campaigns, employer_delivery, tasks
from services.outreach.channels.email import message_id_header
from services.survey.privacy import withdraw_consent
from shared import db
from shared.auth import create_user
from shared.models import AuditEntry, EmployerContact, EmployerMessage, OptOut
from shared.tokens import employer_link
from tests.conftest import TEST_SECRET_KEY
from tests.integration.conftest import EMPLOYED
from tests.integration.test_privacy import run_consumer
from tests.integration.test_supervisors import SUPERVISOR, answered
from tests.integration.test_web_access import csrf_of, login

COMPANY = {"emp_strengthen": ["f1765"], "emp_need_las": "3", "emp_apprentice": "1",
           "emp_curriculum": "1"}


@pytest.fixture()
def quiet_free(settings):
    return dataclasses.replace(settings, quiet_hours="")


@pytest.fixture()
def contacts(survey_app, outreach_app, survey, quiet_free) -> dict[str, Any]:
    """Alumni 0 and 2 named Budi (phone and email), alumnus 4 named Sari (phone only), all
    with consent; outreach has consumed the announcements (twice: idempotent)."""
    outreach_app.config["JEJAK_SETTINGS"] = quiet_free
    client = survey_app.test_client()
    budi = {**SUPERVISOR, "supervisor_email": "budi@majujaya.example"}
    sari = {**SUPERVISOR, "supervisor_name": "Sari", "supervisor_phone": "081311112222"}
    for index, supervisor in ((0, budi), (2, budi), (4, sari)):
        token = answered(survey_app, survey, index, {**EMPLOYED, "f5b": "PT Maju Jaya"})
        assert client.post(f"/s/{token}/atasan", data={**supervisor, "consent": "yes"}
                           ).status_code == 302
    for _ in range(2):
        run_consumer(survey_app, "employer.contact_added", tasks.on_employer_contact_added)
    with survey_app.app_context():
        ids = dict(db.session().execute(select(EmployerContact.name, EmployerContact.id)).all())
        create_user(db.session(), "opr", "rahasia-operator", "operator")
        db.session().commit()
    return {"budi": ids["Budi Santoso"], "sari": ids["Sari"]}


@pytest.fixture()
def staff(outreach_app, contacts):
    client = outreach_app.test_client()
    assert login(client, "opr", "rahasia-operator").status_code == 302
    return client


def launched(staff, survey) -> int:
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    made = staff.post("/employers", data={"csrf_token": token, "wave_id": survey["wave_id"],
                                          "name": "Survei pengguna 2026"})
    assert made.status_code == 302, made.get_data(as_text=True)
    campaign_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = staff.get(f"/employers/{campaign_id}").get_data(as_text=True)
    assert "Budi Santoso" in page and "Sari" in page and "budi@majujaya" not in page
    done = staff.post(f"/employers/{campaign_id}/launch", data={"csrf_token": token})
    assert done.status_code == 302
    return campaign_id


def messages(app) -> list[tuple[int, int, str | None, str, str | None]]:
    with app.app_context():
        return [(m.step, m.contact_id, m.channel, m.status, m.cancel_reason)
                for m in db.session().scalars(select(EmployerMessage).order_by(
                    EmployerMessage.contact_id, EmployerMessage.step))]


def send(app, settings) -> dict[str, int]:
    with app.app_context():
        return employer_delivery.send_due(db.get_db().session_factory, settings)


def test_a_launch_plans_one_message_per_step_and_contact_once(
        outreach_app, survey, contacts, staff, quiet_free) -> None:
    campaign_id = launched(staff, survey)
    budi, sari = contacts["budi"], contacts["sari"]
    assert messages(outreach_app) == [
        (0, budi, "email", "planned", None), (1, budi, "email", "planned", None),
        (2, budi, "whatsapp", "planned", None),
        (0, sari, "whatsapp", "planned", None), (1, sari, "whatsapp", "planned", None),
        (2, sari, "whatsapp", "planned", None)]
    with outreach_app.app_context():
        session = db.session()
        campaign = session.get(employer_campaigns.EmployerCampaign, campaign_id)
        assert employer_campaigns.plan(session, campaign, quiet_free) == 6  # nothing added
        assert [entry.action for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("employer_campaign")))] == [
            "employer_campaign.create", "employer_campaign.launch"]


def test_the_invitation_carries_the_contacts_own_link_and_goes_once(
        outreach_app, survey, contacts, staff, quiet_free) -> None:
    launched(staff, survey)
    assert send(outreach_app, quiet_free) == {"sent": 2}  # day 0: one per contact
    assert send(outreach_app, quiet_free) == {}  # never twice
    with outreach_app.app_context():
        first = db.session().scalars(select(EmployerMessage).where(
            EmployerMessage.contact_id == contacts["budi"], EmployerMessage.step == 0)).one()
    header = message_id_header(employer_delivery.outgoing_id(first.id), quiet_free.mail_from,
                               TEST_SECRET_KEY)
    # The session's maildir may hold other tests' mail: this message's, by its Message-ID.
    mails = [mail for mail in mailbox.Maildir(str(quiet_free.home / "mail"), create=True)
             if mail["Message-ID"] == header]
    assert mails and all(mail["To"] == "budi@majujaya.example" for mail in mails)
    body = mails[0].get_payload(decode=True).decode() if not mails[0].is_multipart() else \
        mails[0].get_payload(0).get_payload(decode=True).decode()
    link = employer_link(quiet_free.base_url, TEST_SECRET_KEY, survey["wave_id"],
                         contacts["budi"])
    assert link in body and "Yth. Budi Santoso" in body and "2 alumni" in body
    assert "/outreach/eu/" in body  # their own opt-out link
    assert "Alumnus 0" not in body  # the message names no alumnus


def test_the_company_answers_stop_the_contacts_reminders(
        outreach_app, survey_app, survey, contacts, staff, quiet_free) -> None:
    launched(staff, survey)
    send(outreach_app, quiet_free)
    token = employer_link("", TEST_SECRET_KEY, survey["wave_id"], contacts["budi"])
    assert survey_app.test_client().post(token.replace("/survey", ""), data=COMPANY
                                         ).status_code == 302
    for _ in range(2):  # a redelivered event changes nothing more
        run_consumer(survey_app, "employer.answers_submitted",
                     tasks.on_employer_answers_submitted)
    budi = [row for row in messages(outreach_app) if row[1] == contacts["budi"]]
    assert budi == [(0, contacts["budi"], "email", "sent", None),
                    (1, contacts["budi"], "email", "cancelled", "answered"),
                    (2, contacts["budi"], "whatsapp", "cancelled", "answered")]


def test_a_withdrawal_leaves_a_contact_with_nobody_to_be_asked_about(
        outreach_app, survey_app, survey, contacts, staff, quiet_free) -> None:
    launched(staff, survey)
    with survey_app.app_context():
        withdraw_consent(db.session(), survey["alumni"][4][0], source="staff")
        db.session().commit()
    run_consumer(survey_app, "alumnus.consent_withdrawn")
    sari = [row[3:] for row in messages(outreach_app) if row[1] == contacts["sari"]]
    assert sari == [("cancelled", "consent_withdrawn")] * 3
    # Budi still supervises alumnus 2 after alumnus 0 withdraws: his messages stay.
    with survey_app.app_context():
        withdraw_consent(db.session(), survey["alumni"][0][0], source="staff")
        db.session().commit()
    run_consumer(survey_app, "alumnus.consent_withdrawn")
    budi = [row[3] for row in messages(outreach_app) if row[1] == contacts["budi"]]
    assert budi == ["planned"] * 3
    assert send(outreach_app, quiet_free) == {"sent": 1}


def test_the_opt_out_link_stops_that_channel(outreach_app, survey, contacts, staff,
                                             quiet_free) -> None:
    launched(staff, survey)
    url = employer_campaigns.unsubscribe_url(quiet_free, contacts["sari"], "whatsapp")
    path = url.split("/outreach", 1)[1]
    anonymous = outreach_app.test_client()
    assert "WhatsApp" in anonymous.get(path).get_data(as_text=True)
    assert anonymous.post(path).status_code == 200
    sari = [row[3:] for row in messages(outreach_app) if row[1] == contacts["sari"]]
    assert sari == [("skipped", "opted_out")] * 3
    with outreach_app.app_context():
        assert db.session().scalars(select(OptOut.address)).all() == ["+6281311112222"]
    for forged in ("x", "A" * 43, "a" * 500):
        assert anonymous.get(f"/eu/{forged}").status_code == 404


def test_click_to_chat_opens_whatsapp_with_the_first_message(
        outreach_app, survey, contacts, staff) -> None:
    campaign_id = launched(staff, survey)
    token = csrf_of(staff.get(f"/employers/{campaign_id}").get_data(as_text=True))
    opened = staff.post(f"/employers/{campaign_id}/contacts/{contacts['sari']}/chat",
                        data={"csrf_token": token})
    assert opened.status_code == 303
    address = opened.headers["Location"]
    assert address.startswith("https://wa.me/6281311112222?text=")
    assert "Yth. Sari" in unquote(address) and "/survey/e/" in unquote(address)
    # A contact of no alumnus in the wave is nobody to chat with.
    assert staff.post(f"/employers/{campaign_id}/contacts/999999/chat",
                      data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("wave_id", ["", "abc", "1e99", "99999999999999999999", "-1",
                                     "<b>1</b>", "999999"])
def test_hostile_wave_ids_are_refused_naming_the_field(staff, survey, wave_id) -> None:
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    answer = staff.post("/employers", data={"csrf_token": token, "wave_id": wave_id})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/employers")
    page = staff.get("/employers").get_data(as_text=True)
    assert "Belum ada kampanye pengguna lulusan" in page  # nothing made
    assert "wave_id" in page or "Gelombang" in page  # the field is named


def test_hostile_names_and_steps_are_kept_as_text(outreach_app, staff, survey) -> None:
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    made = staff.post("/employers", data={"csrf_token": token, "wave_id": survey["wave_id"],
                                          "name": "<script>alert(1)</script>" + "x" * 300,
                                          "language": "xx"})
    assert made.headers["Location"].endswith("/employers")  # the language is refused
    made = staff.post("/employers", data={"csrf_token": token, "wave_id": survey["wave_id"],
                                          "name": "<script>alert(1)</script>" + "x" * 300})
    page = staff.get(made.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    steps = staff.post(made.headers["Location"] + "/steps", data={
        "csrf_token": token, "day_offset-0": "-3", "channel-0": "fax", "body_id-0": "{{ x"})
    assert steps.status_code == 302
    assert "Langkah 1" in staff.get(made.headers["Location"]).get_data(as_text=True)
    launch = staff.post(made.headers["Location"] + "/steps", data={
        "csrf_token": token, "day_offset-0": "0", "channel-0": "sms",
        "body_id-0": "{{ name.__class__ }}"})
    assert launch.status_code == 302
    staff.post(made.headers["Location"] + "/launch", data={"csrf_token": token})
    assert messages(outreach_app) == []  # refused at launch: nothing planned


def test_every_write_needs_the_csrf_token(staff, survey) -> None:
    assert staff.post("/employers", data={"wave_id": survey["wave_id"]}).status_code == 400
    token = csrf_of(staff.get("/employers").get_data(as_text=True))
    made = staff.post("/employers", data={"csrf_token": token, "wave_id": survey["wave_id"]})
    place = made.headers["Location"]
    for action in ("launch", "steps", "contacts/1/chat"):
        assert staff.post(f"{place}/{action}", data={}).status_code == 400


def test_the_pages_are_indonesian_first(staff, survey) -> None:
    page = staff.get("/employers").get_data(as_text=True)
    assert "Kampanye pengguna lulusan" in page and "Buat kampanye" in page
    assert re.search(r"Tracer 2026 \(2 kontak\)", page)


def test_an_erased_contact_is_written_to_by_nobody(outreach_app, survey_app, survey, contacts,
                                                   staff) -> None:
    from services.survey.employer_privacy import erase_contact

    launched(staff, survey)
    send(outreach_app, dataclasses.replace(outreach_app.config["JEJAK_SETTINGS"]))
    whatsapp_log = outreach_app.config["JEJAK_SETTINGS"].home / "outbox" / "whatsapp.log"
    with outreach_app.app_context():
        sent_to_sari = {employer_delivery.outgoing_id(message_id) for message_id in
                        db.session().scalars(select(EmployerMessage.id).where(
                            EmployerMessage.contact_id == contacts["sari"],
                            EmployerMessage.status == "sent"))}

    def logged() -> set[int]:  # the sink's lines of this test's messages to Sari
        lines = [json.loads(line) for line in whatsapp_log.read_text().splitlines()]
        return {line["message_id"] for line in lines} & sent_to_sari

    assert len(sent_to_sari) == 1 and logged() == sent_to_sari
    with survey_app.app_context():
        erase_contact(db.session(), contacts["sari"])
        db.session().commit()
    for _ in range(2):
        run_consumer(survey_app, "employer.contact_erased", tasks.on_employer_contact_erased)
    sari = [row[2:] for row in messages(outreach_app) if row[1] == contacts["sari"]]
    assert [status for _channel, status, _reason in sari] == ["sent", "cancelled", "cancelled"]
    assert sari[1][2] == "erased"
    with outreach_app.app_context():
        assert db.session().scalars(select(EmployerMessage.address).where(
            EmployerMessage.contact_id == contacts["sari"])).all() == [None] * 3
    assert logged() == set()  # the sink's copy went


def test_a_worker_stopped_mid_send_leaves_the_message_in_doubt_never_resent(
        outreach_app, survey, contacts, staff, quiet_free) -> None:
    from datetime import timedelta

    from shared.models import utcnow

    launched(staff, survey)
    with outreach_app.app_context():
        session = db.session()
        first = session.scalars(select(EmployerMessage).where(
            EmployerMessage.contact_id == contacts["budi"], EmployerMessage.step == 0)).one()
        first.status, first.due_at = "sending", utcnow() - timedelta(minutes=11)
        session.commit()
    assert send(outreach_app, quiet_free) == {"sent": 1}  # Sari's; Budi's is not resent
    budi = [row[3] for row in messages(outreach_app) if row[1] == contacts["budi"]]
    assert budi == ["in_doubt", "planned", "planned"]


def test_a_passing_failure_is_tried_again_later_and_sent_once(
        outreach_app, survey, contacts, staff, quiet_free) -> None:
    from datetime import timedelta

    from shared.models import utcnow
    from tests.integration.peers import SmtpSink

    launched(staff, survey)
    with SmtpSink() as sink:
        settings = dataclasses.replace(quiet_free, smtp_url=sink.url)
        sink.fail(451, to="budi@majujaya.example", times=1)
        assert send(outreach_app, settings) == {"sent": 1, "planned": 1}  # Sari's went
        assert sink.count() == 0
        assert send(outreach_app, settings) == {}  # not before its time
        later = utcnow() + timedelta(minutes=16)
        with outreach_app.app_context():
            assert employer_delivery.send_due(db.get_db().session_factory, settings,
                                              now=later) == {"sent": 1}
        assert sink.recipients() == {"budi@majujaya.example": 1}
    with outreach_app.app_context():
        first = db.session().scalars(select(EmployerMessage).where(
            EmployerMessage.contact_id == contacts["budi"], EmployerMessage.step == 0)).one()
        assert (first.status, first.attempts) == ("sent", 2)


def test_a_hard_bounce_fails_the_employer_email_and_never_an_alumni_message(
        outreach_app, survey, contacts, staff, quiet_free) -> None:
    from services.outreach import bounces
    from services.outreach.channels.email import message_id_from_header
    from tests.integration.peers import SmtpSink

    launched(staff, survey)
    with SmtpSink() as sink:
        send(outreach_app, dataclasses.replace(quiet_free, smtp_url=sink.url))
        header = sink.mails[0].message_id
    outgoing = message_id_from_header(header, TEST_SECRET_KEY)
    assert outgoing is not None and outgoing > 1 << 48  # apart from the alumni messages' ids
    with outreach_app.app_context():
        first = db.session().scalars(select(EmployerMessage).where(
            EmployerMessage.contact_id == contacts["budi"], EmployerMessage.step == 0)).one()
        assert employer_delivery.employer_message_of(outgoing) == first.id
        factory = db.get_db().session_factory
    bounced = bounces.Recipient(frozenset({"budi@majujaya.example"}), "failed", "5.1.1",
                                "no such user")
    report = bounces.Report(outgoing, (bounced,))
    assert bounces._apply(factory, report) == "hard"
    assert bounces._apply(factory, report) == "already"
    other = bounces.Report(outgoing, (bounces.Recipient(frozenset({"x@y.example"}), "failed",
                                                        "5.1.1", ""),))
    assert bounces._apply(factory, other) == "not_ours"
    budi = [row[3] for row in messages(outreach_app) if row[1] == contacts["budi"]]
    assert budi[0] == "failed"
    # The reminder to the same address is not sent: the address does not exist.
    from datetime import timedelta

    from shared.models import utcnow

    with outreach_app.app_context():
        assert employer_delivery.send_due(
            factory, quiet_free, now=utcnow() + timedelta(days=6)) == {"sent": 1, "bounced": 1}
    budi = [row[3:] for row in messages(outreach_app) if row[1] == contacts["budi"]]
    assert budi[1] == ("cancelled", "bounced")
