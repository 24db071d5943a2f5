"""The campaign page for an officer: steps edited before launch, a masked preview on a real
alumnus, who will receive it, plain counts after launch, and when the next message goes."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.outreach import campaigns, reports
from shared import db
from shared.auth import create_user
from shared.models import Campaign, Message
from tests.integration.test_outreach import create, run_due

SMS = {"day_offset": 0, "channel": "sms",
       "template": {"id": {"body": "Halo {{ name }}, isi survei: {{ survey_link }}"},
                    "en": {"body": "Hello {{ name }}, the survey: {{ survey_link }}"}}}


@pytest.fixture()
def quiet_free(settings):
    return dataclasses.replace(settings, quiet_hours="")


@pytest.fixture()
def outreach(outreach_app, survey, quiet_free):
    outreach_app.config["JEJAK_SETTINGS"] = quiet_free
    return outreach_app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture()
def officer(outreach):
    """A signed-in operator's browser (test client), Indonesian pages."""
    with outreach.app_context():
        create_user(db.session(), "petugas", "kata-sandi-petugas", "operator")
        db.session().commit()
    client = outreach.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "petugas", "password": "kata-sandi-petugas",
                                       "csrf_token": token}).status_code == 302
    return client


def page(client, campaign_id: int, **args) -> str:
    response = client.get(f"/campaigns/{campaign_id}", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_steps_are_edited_before_launch_through_the_api_and_refused_after(outreach,
                                                                           survey) -> None:
    client = outreach.test_client()
    operator = survey["headers"]["operator"]
    campaign_id = create(client, survey).get_json()["id"]
    reminder = {**SMS, "day_offset": 3, "channel": "whatsapp"}
    edited = client.put(f"/api/v1/campaigns/{campaign_id}/steps", headers=operator,
                        json={"steps": [SMS, reminder]})
    assert edited.status_code == 200, edited.get_json()
    assert [(s["day_offset"], s["channel"]) for s in edited.get_json()["steps"]] == [
        (0, "sms"), (3, "whatsapp")]
    assert edited.get_json()["steps"][1]["template"]["en"]["body"].startswith("Hello")
    assert client.post(f"/api/v1/campaigns/{campaign_id}/launch",
                       headers=operator).status_code == 200
    refused = client.put(f"/api/v1/campaigns/{campaign_id}/steps", headers=operator,
                         json={"steps": [SMS]})
    assert refused.status_code == 409
    with outreach.app_context():
        campaign = db.session().get(Campaign, campaign_id)
        assert [(s.day_offset, s.channel) for s in campaign.steps] == [(0, "sms"), (3, "whatsapp")]


def test_the_page_edits_steps_per_language_and_names_a_wrong_field(officer, outreach,
                                                                   survey) -> None:
    campaign_id = create(outreach.test_client(), survey).get_json()["id"]
    html = page(officer, campaign_id)
    assert "Langkah dan pesan" in html and 'name="body_en-4"' in html
    form = {"csrf_token": csrf_of(html),
            "day_offset-0": "0", "channel-0": "sms",
            "body_id-0": "Halo {{ name }}: {{ survey_link }}", "body_en-0": "Hi {{ name }}",
            "day_offset-1": "7", "channel-1": "whatsapp", "body_id-1": "Pengingat {{ name }}",
            "day_offset-2": "", "channel-2": "email", "body_id-2": "", "body_en-2": ""}
    saved = officer.post(f"/campaigns/{campaign_id}/steps", data=form)
    assert saved.status_code == 302
    with outreach.app_context():
        campaign = db.session().get(Campaign, campaign_id)
        assert [(s.day_offset, s.channel) for s in campaign.steps] == [(0, "sms"), (7, "whatsapp")]
        assert campaign.steps[0].template == {
            "id": {"subject": None, "body": "Halo {{ name }}: {{ survey_link }}"},
            "en": {"subject": None, "body": "Hi {{ name }}"}}
    wrong = {**form, "day_offset-1": "-2"}
    officer.post(f"/campaigns/{campaign_id}/steps", data=wrong)
    assert "Langkah 2, hari: harus 0 atau lebih" in page(officer, campaign_id)
    no_indonesian = {**form, "body_id-1": "", "body_en-1": "Reminder"}
    officer.post(f"/campaigns/{campaign_id}/steps", data=no_indonesian)
    assert "Langkah 2, pesan bahasa Indonesia: pesan bahasa Indonesia wajib diisi" in page(
        officer, campaign_id)
    with outreach.app_context():  # neither wrong form changed anything
        assert len(db.session().get(Campaign, campaign_id).steps) == 2
    # no CSRF token: refused before anything is read
    assert officer.post(f"/campaigns/{campaign_id}/steps",
                        data={k: v for k, v in form.items() if k != "csrf_token"}
                        ).status_code == 400
    # after launch the editor is gone and the route refuses
    assert officer.post(f"/campaigns/{campaign_id}/launch",
                        data={"csrf_token": csrf_of(html)}).status_code == 302
    launched = page(officer, campaign_id)
    assert "steps-form" not in launched
    officer.post(f"/campaigns/{campaign_id}/steps", data=form)
    assert "langkah hanya dapat diubah sebelum peluncuran" in page(officer, campaign_id)


def test_the_preview_uses_a_real_alumnus_with_the_personal_links_masked(officer, outreach,
                                                                        survey) -> None:
    client = outreach.test_client()
    campaign_id = create(client, survey, steps=[SMS]).get_json()["id"]
    second = survey["alumni"][1][0]
    api = client.get(f"/api/v1/campaigns/{campaign_id}/preview",
                     query_string={"alumnus_id": second},
                     headers=survey["headers"]["operator"]).get_json()
    assert api["alumnus"] == {"id": second, "name": "Alumnus 1"}
    body = api["steps"][0]["body"]
    assert body == "Halo Alumnus 1, isi survei: http://127.0.0.1:8000/survey/s/••••••" or (
        body.startswith("Halo Alumnus 1, isi survei: ") and body.endswith("/survey/s/••••••"))
    html = page(officer, campaign_id, alumnus_id=second)
    assert "Halo Alumnus 1, isi survei: " in html and "/survey/s/••••••" in html
    assert not re.search(r"/survey/s/[A-Za-z0-9_-]{8,}", html)  # no working link anywhere


def test_before_launch_the_page_gives_the_count_and_the_first_ten(officer, outreach,
                                                                  survey) -> None:
    client = outreach.test_client()
    campaign_id = create(client, survey, steps=[SMS]).get_json()["id"]
    preview = client.get(f"/api/v1/campaigns/{campaign_id}/preview",
                         headers=survey["headers"]["operator"]).get_json()
    # six alumni in the fixture, one erased: five in the wave's segment, all with a phone
    assert preview["recipients"] == 5
    assert [(p["name"], p["channel"]) for p in preview["sample"]] == [
        (f"Alumnus {n}", "sms") for n in range(5)]
    html = page(officer, campaign_id)
    assert "5 alumni akan menerima kampanye ini" in html
    table = html.split('id="sample"')[1].split("</table>")[0]
    assert table.count("<tr>") == 6 and "Alumnus 4" in table  # header + five people


def test_with_more_than_ten_the_sample_stops_at_ten(outreach, survey) -> None:
    with outreach.app_context():
        session = db.session()
        campaign = campaigns.create_campaign(session, name="Siaran", wave_id=None, steps=[SMS])
        from shared.models import Alumnus, Cohort
        cohort = session.query(Cohort).first()
        session.add_all([Alumnus(registration_no=f"X-{n}", full_name=f"Tambahan {n:02d}",
                                 gender="P", cohort=cohort) for n in range(12)])
        session.flush()
        count, sample = campaigns.audience(session, campaign,
                                           outreach.config["JEJAK_SETTINGS"])
        assert count == 17 and len(sample) == 10
        assert [channel for _person, channel in sample] == ["sms"] * 5 + [None] * 5
        session.rollback()


def test_after_launch_the_counts_read_plainly(officer, outreach, survey, quiet_free) -> None:
    """The segment ("not yet invited") is empty once everyone got the invitation: the page
    counts the campaign's own messages instead of saying "0 recipients" beside "5 sent"."""
    client = outreach.test_client()
    campaign_id = create(client, survey, steps=[SMS],
                         segment={"dispositions": ["not_invited"]}).get_json()["id"]
    assert client.post(f"/api/v1/campaigns/{campaign_id}/launch",
                       headers=survey["headers"]["operator"]).status_code == 200
    assert run_due(outreach, quiet_free) == 5
    html = page(officer, campaign_id)
    assert ("5 alumni dalam kampanye ini. Pesan: 5 terkirim, 0 menunggu, 0 berhenti karena "
            "alumni sudah menjawab, 0 gagal, 0 tidak dikirim (tanpa kontak atau berhenti "
            "berlangganan).") in html
    assert "0 penerima" not in html and "Tidak ada yang tersisa untuk dikirim." in html
    english = officer.get(f"/campaigns/{campaign_id}?lang=en").get_data(as_text=True)
    assert "5 alumni in this campaign. Messages: 5 sent, 0 waiting" in english
    status = client.get(f"/api/v1/campaigns/{campaign_id}/status",
                        headers=survey["headers"]["operator"]).get_json()
    assert status["alumni"] == 5 and status["next_sending"]["reason"] == "done"
    # the preview of a launched campaign shows one of its own alumni, not an empty segment
    assert "Halo Alumnus 0, isi survei" in html


def test_a_campaign_launched_at_night_waits_for_seven_wita(outreach, survey, settings) -> None:
    night = dataclasses.replace(settings, quiet_hours="20:00-07:00", timezone="Asia/Makassar")
    launched_at = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)  # 23:30 WITA
    reminder = {**SMS, "day_offset": 2}
    with outreach.app_context():
        session = db.session()
        campaign = campaigns.create_campaign(session, name="Malam", wave_id=survey["wave_id"],
                                             steps=[SMS, reminder])
        campaigns.launch(session, campaign, night, now=launched_at)
        session.commit()
        waiting = reports.waiting(session, campaign, night, now=launched_at)
        assert (waiting.reason, waiting.at) == ("quiet_hours", datetime(2026, 12, 7, 23, 0,
                                                                        tzinfo=UTC))
        # all of day 0 sent at 07:00: next is day 2, 23:30 WITA on the 9th → 07:00 on the 10th
        morning = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
        for message in session.scalars(select(Message).where(Message.due_at <= morning)):
            message.status = "sent"
        session.commit()
        waiting = reports.waiting(session, campaign, night, now=morning)
        assert (waiting.reason, waiting.at) == ("quiet_hours", datetime(2026, 12, 9, 23, 0,
                                                                        tzinfo=UTC))
        # a failed send waiting for its retry at 10:04 WITA on the 8th
        row = session.scalars(select(Message).where(Message.status == "planned")
                              .order_by(Message.id)).first()
        row.due_at, row.next_attempt_at = morning, morning + timedelta(hours=3, minutes=4)
        session.commit()
        waiting = reports.waiting(session, campaign, night, now=morning)
        assert (waiting.reason, waiting.at) == ("retry", morning + timedelta(hours=3, minutes=4))
        campaigns.pause(campaign)
        assert reports.waiting(session, campaign, night, now=morning).reason == "paused"


def test_the_page_says_when_the_next_message_goes_in_quiet_hours(officer, outreach,
                                                                 survey, settings) -> None:
    zone = ZoneInfo("Asia/Makassar")
    local = datetime.now(zone)
    start, end = (local - timedelta(hours=1)), (local + timedelta(hours=2))
    outreach.config["JEJAK_SETTINGS"] = dataclasses.replace(
        settings, quiet_hours=f"{start:%H:%M}-{end:%H:%M}", timezone="Asia/Makassar")
    client = outreach.test_client()
    campaign_id = create(client, survey, steps=[SMS]).get_json()["id"]
    assert client.post(f"/api/v1/campaigns/{campaign_id}/launch",
                       headers=survey["headers"]["operator"]).status_code == 200
    html = page(officer, campaign_id)
    when = f"{end:%H:%M} WITA" if end.date() == local.date() else f"besok pukul {end:%H:%M} WITA"
    assert f"Pengiriman berikutnya {when}: jam tenang ({start:%H:%M}–{end:%H:%M})" in html


def test_the_page_says_paused_and_rate_limited_plainly(officer, outreach, survey,
                                                       settings) -> None:
    from services.outreach.pacing import NextSending
    from services.outreach.web import next_sending_text

    client = outreach.test_client()
    campaign_id = create(client, survey, steps=[SMS]).get_json()["id"]
    for action in ("launch", "pause"):
        assert client.post(f"/api/v1/campaigns/{campaign_id}/{action}",
                           headers=survey["headers"]["operator"]).status_code == 200
    assert "Dijeda: tidak ada yang dikirim sampai Anda melanjutkannya." in page(officer,
                                                                              campaign_id)
    outreach.config["JEJAK_SETTINGS"] = dataclasses.replace(settings, timezone="Asia/Makassar")
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 WITA
    with outreach.test_request_context("/"):
        busy = next_sending_text(NextSending("rate_limit", now, now + timedelta(seconds=50)),
                                 now)
        later = next_sending_text(NextSending("scheduled", now + timedelta(days=4)), now)
    assert busy == ("Sedang mengirim, dibatasi laju pengiriman tiap saluran (pesan per detik): "
                    "semua pesan yang jatuh tempo sekarang terkirim sekitar pukul 10:00 WITA.")
    assert later == "Pengiriman berikutnya 11-12-2026 pukul 10:00 WITA: hari langkah berikutnya."
