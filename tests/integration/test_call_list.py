"""Issue 16, point 1: the call list of a wave, attempts recorded by staff, assignment, and
the WhatsApp chat opened from a staff phone with the step's message and the personal link.

The hand-worked wave (tests/integration/conftest.py `survey`: five targets REG-000..REG-004)
with a two-step SMS campaign, today being the centre's today:

| alumnus | messages (step 1, step 2) | response | latest attempt   | group          |
|---------|---------------------------|----------|------------------|----------------|
| REG-000 | sent, sent                | none     | no answer        | reminders_done |
| REG-001 | sent, planned             | none     | callback today   | callback_due   |
| REG-002 | sent, planned             | none     | none             | waiting        |
| REG-003 | none                      | none     | none             | never_reached  |
| REG-004 | sent, sent                | complete | none             | (off the list) |

So the list reads REG-001, REG-000, REG-003, REG-002: one in each group, four in all.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.survey import call_list, call_list_state
from shared import db
from shared.auth import create_user
from shared.models import (
    AuditEntry,
    Campaign,
    CampaignStep,
    ContactAttempt,
    Message,
    Program,
    Response,
    User,
    Wave,
    WaveTarget,
    utcnow,
)
from tests.conftest import EMPLOYED, wait_for
from tests.integration.test_web_access import csrf_of, login

SLUG = "ts-2026"
PAGE = f"/waves/{SLUG}/calls"


def centre_today() -> date:
    return datetime.now(ZoneInfo("Asia/Makassar")).date()


@pytest.fixture()
def wave(survey_app, survey) -> dict:
    """The table of the module docstring; returns {registration_no: alumnus_id}."""
    ids = dict((number, alumnus_id) for alumnus_id, number in survey["alumni"])
    with survey_app.app_context():
        session = db.session()
        campaign = Campaign(wave_id=survey["wave_id"], name="Undangan", status="running",
                            language="id")
        steps = [CampaignStep(campaign=campaign, position=position, day_offset=7 * position,
                              channel="sms", template={"id": {"body": body}})
                 for position, body in ((0, "Halo {{ name }}, isi survei: {{ survey_link }}"),
                                        (1, "Pengingat {{ name }}: {{ survey_link }}"))]
        session.add_all([campaign, *steps])
        session.flush()
        plan = {"REG-000": ("sent", "sent"), "REG-001": ("sent", "planned"),
                "REG-002": ("sent", "planned"), "REG-004": ("sent", "sent")}
        for number, statuses in plan.items():
            for step, status in zip(steps, statuses, strict=True):
                session.add(Message(campaign_step_id=step.id, alumnus_id=ids[number],
                                    channel="sms", address="+62812", status=status,
                                    due_at=utcnow()))
        session.add(Response(wave_id=survey["wave_id"], alumnus_id=ids["REG-004"],
                             questionnaire_id=survey["questionnaire_id"], status="complete",
                             answers=EMPLOYED))
        wave = session.get(Wave, survey["wave_id"])
        for number, outcome, callback_on in (("REG-000", "no_answer", None),
                                             ("REG-001", "no_answer", None),
                                             ("REG-001", "callback", centre_today())):
            call_list.record_attempt(session, wave, ids[number], user_id=None, channel="phone",
                                     outcome=outcome, callback_on=callback_on,
                                     today=centre_today())
        session.commit()
    return ids


@pytest.fixture()
def operator(survey_app, survey):
    with survey_app.app_context():
        create_user(db.session(), "ani", "kata-sandi-ani", "operator")
        create_user(db.session(), "budi", "kata-sandi-budi", "operator")
        db.session().commit()
    client = survey_app.test_client()
    assert login(client, "ani", "kata-sandi-ani").status_code == 302
    return client


def listed(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-alumnus="(\d+)"', html)]


def post(client, url: str, **data):
    token = csrf_of(client.get(PAGE).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def attempts_of(app, alumnus_id: int) -> list[ContactAttempt]:
    with app.app_context():
        return db.session().scalars(select(ContactAttempt).where(
            ContactAttempt.alumnus_id == alumnus_id).order_by(ContactAttempt.id)).all()


def test_the_call_list_puts_callbacks_first_then_no_answer_after_reminders_then_never_reached(
        survey_app, wave, operator) -> None:
    page = operator.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert listed(html) == [wave["REG-001"], wave["REG-000"], wave["REG-003"], wave["REG-002"]]
    # Indonesian first: the group badges, and one tap to call.
    assert "telepon kembali sekarang: 1" in html.lower()
    assert 'href="tel:+628120000001"' in html
    chat = f"/outreach/waves/{survey_app_wave_id(survey_app)}/alumni/{wave['REG-001']}/chat"
    assert f'action="{chat}"' in html


def survey_app_wave_id(app) -> int:
    with app.app_context():
        return db.session().scalar(select(Wave.id).where(Wave.slug == SLUG))


def test_the_list_filters_by_group_and_the_same_order_holds_in_the_domain_call(
        survey_app, wave, operator) -> None:
    assert listed(operator.get(f"{PAGE}?group=never_reached").get_data(as_text=True)) == [
        wave["REG-003"]]
    with survey_app.app_context():
        entries, has_next, counts = call_list.page(
            db.session(), survey_app_wave_id(survey_app), call_list.CallFilters(), 1,
            today=centre_today())
    assert [entry.registration_no for entry in entries] == [
        "REG-001", "REG-000", "REG-003", "REG-002"]
    assert [entry.group for entry in entries] == [
        "callback_due", "reminders_done", "never_reached", "waiting"]
    assert [entry.attempts for entry in entries] == [2, 1, 0, 0]
    assert counts == {"callback_due": 1, "reminders_done": 1, "never_reached": 1,
                      "waiting": 1, "all": 4}
    assert not has_next
    # The newest attempt first in each alumnus's recent history.
    assert [attempt.outcome for attempt in entries[0].recent] == ["callback", "no_answer"]


def test_a_callback_on_a_later_date_waits_and_appears_on_its_date(survey_app, wave) -> None:
    with survey_app.app_context():
        session = db.session()
        wave_id = survey_app_wave_id(survey_app)
        call_list.record_attempt(session, session.get(Wave, wave_id), wave["REG-003"],
                                 user_id=None, channel="phone", outcome="callback",
                                 callback_on=centre_today() + timedelta(days=2),
                                 today=centre_today())
        session.commit()
        groups = {entry.registration_no: entry.group for entry in call_list.page(
            session, wave_id, call_list.CallFilters(), 1, today=centre_today())[0]}
        assert groups["REG-003"] == "waiting"
        later = {entry.registration_no: entry.group for entry in call_list.page(
            session, wave_id, call_list.CallFilters(), 1,
            today=centre_today() + timedelta(days=2))[0]}
        assert later["REG-003"] == "callback_due"


def test_recording_attempts_adds_rows_and_a_refusal_takes_the_alumnus_off_the_list(
        survey_app, wave, operator) -> None:
    before = attempts_of(survey_app, wave["REG-000"])
    saved = post(operator, f"{PAGE}/{wave['REG-000']}/attempts", outcome="refused",
                 note="Tidak mau diwawancara", back=f"{PAGE}?group=reminders_done")
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"{PAGE}?group=reminders_done")
    after = attempts_of(survey_app, wave["REG-000"])
    # Rows, never overwritten: the earlier no-answer stays, the refusal is added by ani.
    assert [a.outcome for a in after] == [a.outcome for a in before] + ["refused"]
    assert after[0].id == before[0].id and after[0].outcome == "no_answer"
    with survey_app.app_context():
        ani = db.session().scalar(select(User.id).where(User.username == "ani"))
    assert after[-1].user_id == ani and after[-1].note == "Tidak mau diwawancara"
    assert wave["REG-000"] not in listed(operator.get(PAGE).get_data(as_text=True))


def test_a_callback_without_a_date_or_in_the_past_is_refused_in_indonesian_naming_the_field(
        survey_app, wave, operator) -> None:
    url = f"{PAGE}/{wave['REG-002']}/attempts"
    post(operator, url, outcome="callback")
    html = operator.get(PAGE).get_data(as_text=True)
    assert "Telepon kembali pada" in html and "perlu tanggal" in html
    yesterday = (centre_today() - timedelta(days=1)).isoformat()
    post(operator, url, outcome="callback", callback_on=yesterday)
    assert "sudah lewat" in operator.get(PAGE).get_data(as_text=True)
    post(operator, url, outcome="callback", callback_on="31-02-2026")
    assert "hari-bulan-tahun" in operator.get(PAGE).get_data(as_text=True)
    post(operator, url, outcome="dibom")
    assert "Hasil" in operator.get(PAGE).get_data(as_text=True)
    assert attempts_of(survey_app, wave["REG-002"]) == []
    saved = post(operator, url, outcome="callback",
                 callback_on=(centre_today() + timedelta(days=1)).strftime("%d-%m-%Y"))
    assert saved.status_code == 302
    assert attempts_of(survey_app, wave["REG-002"])[0].callback_on == \
        centre_today() + timedelta(days=1)


def test_assigning_alumni_to_a_staff_member_filters_the_list_and_is_audited(
        survey_app, wave, operator) -> None:
    with survey_app.app_context():
        budi = db.session().scalar(select(User.id).where(User.username == "budi"))
    done = post(operator, f"{PAGE}/assign", alumnus_ids=[wave["REG-000"], wave["REG-003"]],
                user=str(budi))
    assert done.status_code == 302
    assert listed(operator.get(f"{PAGE}?assigned={budi}").get_data(as_text=True)) == [
        wave["REG-000"], wave["REG-003"]]
    assert listed(operator.get(f"{PAGE}?assigned=none").get_data(as_text=True)) == [
        wave["REG-001"], wave["REG-002"]]
    assert listed(operator.get(f"{PAGE}?assigned=me").get_data(as_text=True)) == []
    post(operator, f"{PAGE}/assign", alumnus_ids=[wave["REG-003"]], user="none")
    assert listed(operator.get(f"{PAGE}?assigned={budi}").get_data(as_text=True)) == [
        wave["REG-000"]]
    with survey_app.app_context():
        actions = db.session().scalars(select(AuditEntry.action).where(
            AuditEntry.action == "call_list.assign")).all()
    assert len(actions) == 2


def test_a_viewer_may_not_see_the_call_list(survey_app, wave) -> None:
    with survey_app.app_context():
        create_user(db.session(), "vina", "kata-sandi-vina", "viewer")
        db.session().commit()
    client = survey_app.test_client()
    login(client, "vina", "kata-sandi-vina")
    assert client.get(PAGE).status_code == 403


def test_whatsapp_opens_with_the_steps_message_and_personal_link_and_records_the_try(
        survey_app, outreach_app, wave, celery_worker) -> None:
    with survey_app.app_context():
        create_user(db.session(), "ani", "kata-sandi-ani", "operator")
        db.session().commit()
    client = outreach_app.test_client()
    assert login(client, "ani", "kata-sandi-ani").status_code == 302
    token = csrf_of(client.get("/").get_data(as_text=True))
    wave_id = survey_app_wave_id(survey_app)
    opened = client.post(f"/waves/{wave_id}/alumni/{wave['REG-000']}/chat",
                         data={"csrf_token": token})
    assert opened.status_code == 303
    address = urlsplit(opened.headers["Location"])
    assert (address.scheme, address.netloc, address.path) == ("https", "wa.me", "/628120000000")
    text = parse_qs(address.query)["text"][0]
    # REG-000 was last sent step 2, the reminder: its text, with their personal link.
    assert text.startswith("Pengingat Alumnus 0: http")
    assert "/s/" in text
    assert opened.headers["Cache-Control"] == "no-store"
    recorded = wait_for(lambda: [a for a in attempts_of(survey_app, wave["REG-000"])
                                 if a.outcome == "chat_opened"], timeout=20)
    assert recorded[0].channel == "whatsapp"
    # REG-003 was sent nothing: the wave's first step.
    opened = client.post(f"/waves/{wave_id}/alumni/{wave['REG-003']}/chat",
                         data={"csrf_token": token})
    assert parse_qs(urlsplit(opened.headers["Location"]).query)["text"][0].startswith(
        "Halo Alumnus 3, isi survei: http")


def test_staff_enter_an_interview_through_the_same_form_and_the_mode_and_who_are_kept(
        survey_app, wave, operator) -> None:
    started = post(operator, f"{PAGE}/{wave['REG-002']}/interview")
    assert started.status_code == 303
    url = urlsplit(started.headers["Location"]).path
    assert url.startswith("/s/")
    first = operator.get(url).get_data(as_text=True)
    assert "Wawancara oleh ani" in first and "Alumnus 2" in first
    # The same validation: consent is required here too.
    refused = operator.post(url + "?step=1", data={"step": "1", "action": "next"})
    assert refused.status_code == 422
    operator.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    operator.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "1"})
    operator.post(url + "?step=3", data={"step": "3", "action": "next", "f504": "1",
                                         "f502": "2", "f505": "4.500.000", "f14": "2"})
    last = operator.get(url)
    step = int(re.search(r"step=(\d+)", last.headers["Location"]).group(1))
    done = operator.post(f"{url}?step={step}", data={"step": str(step), "action": "finish"})
    assert done.status_code == 302 and done.headers["Location"].endswith(PAGE)
    with survey_app.app_context():
        session = db.session()
        response = session.scalar(select(Response).where(Response.alumnus_id == wave["REG-002"]))
        ani = session.scalar(select(User.id).where(User.username == "ani"))
        opened = session.scalar(select(WaveTarget.opened_at).where(
            WaveTarget.alumnus_id == wave["REG-002"]))
        audited = session.scalars(select(AuditEntry.action).where(
            AuditEntry.action == "alumnus.interview")).all()
    assert response.status == "complete" and response.answers["f505"] == 4_500_000
    assert (response.source, response.entered_by) == ("phone", ani)
    assert opened is None  # staff opening the form is not the alumnus opening it
    assert audited == ["alumnus.interview"]
    # The call is recorded as completed, and the alumnus leaves the list (complete).
    assert [a.outcome for a in attempts_of(survey_app, wave["REG-002"])] == ["completed"]
    assert wave["REG-002"] not in listed(operator.get(PAGE).get_data(as_text=True))


def test_the_alumnus_on_their_own_link_is_not_taken_for_an_interview(
        survey_app, wave, operator) -> None:
    """A staff session marked for one alumnus does not turn another's form into an
    interview, and an alumnus's browser (no staff session) never is one."""
    post(operator, f"{PAGE}/{wave['REG-002']}/interview")
    with survey_app.app_context():
        from services.survey.links import make_token

        other = make_token(survey_app.config["SECRET_KEY"], survey_app_wave_id(survey_app),
                           wave["REG-003"])
    assert "Wawancara oleh" not in operator.get(f"/s/{other}").get_data(as_text=True)
    alumnus = survey_app.test_client()
    with survey_app.app_context():
        own = make_token(survey_app.config["SECRET_KEY"], survey_app_wave_id(survey_app),
                         wave["REG-002"])
    assert "Wawancara oleh" not in alumnus.get(f"/s/{own}").get_data(as_text=True)


def test_a_list_filtered_by_program_keeps_each_alumnus_in_the_same_group(
        survey_app, wave) -> None:
    """The program filter narrows the messages the groups are read from, not the groups:
    Teknik Las holds REG-000 (no answer after the last reminder) and REG-002 (a reminder
    still to come); REG-004 answered."""
    wave_id = survey_app_wave_id(survey_app)
    with survey_app.app_context():
        session = db.session()
        las = session.scalar(select(Program.id).where(Program.name == "Teknik Las"))
        entries, _, counts = call_list.page(
            session, wave_id, call_list.CallFilters(program_id=las), 1, today=centre_today())
    assert [(entry.registration_no, entry.group) for entry in entries] == [
        ("REG-000", "reminders_done"), ("REG-002", "waiting")]
    assert counts["all"] == 2


def test_the_record_form_is_rendered_once_per_page_and_each_card_points_it_at_its_alumnus(
        survey_app, wave, operator) -> None:
    html = operator.get(PAGE).get_data(as_text=True)
    # One form for the page (the page's script moves it into the opened card), four cards.
    assert html.count('name="outcome"') == 1
    assert html.count('id="record-form"') == 1
    for alumnus_id in listed(html):
        assert f'data-action="{PAGE}/{alumnus_id}/attempts"' in html
    # Without the script, a card opens the alumnus's page, where the form is too.
    assert f'href="{PAGE}/{wave["REG-000"]}#record"' in html
    assert "Buka formulir" in html
    alone = operator.get(f"{PAGE}/{wave['REG-000']}").get_data(as_text=True)
    assert 'id="record"' in alone
    assert f'action="{PAGE}/{wave["REG-000"]}/attempts"' in alone


def test_attempt_times_read_as_the_datetimeformat_filter_writes_them(survey_app) -> None:
    """The list formats its 150 attempt times with patterns looked up once per page; the
    same text as the filter's: 23:05 UTC on 7 December is 07.05 on the 8th in Makassar."""
    from flask_babel import format_datetime

    from services.survey.call_list_pages import short_datetime

    with survey_app.test_request_context("/?lang=id"):
        write = short_datetime()
        for value in (datetime(2026, 12, 7, 23, 5, tzinfo=ZoneInfo("UTC")),
                      datetime(2026, 1, 2, 3, 4)):
            assert write(value) == format_datetime(value, "short")
        assert write(datetime(2026, 12, 7, 23, 5, tzinfo=ZoneInfo("UTC"))) == "8/12/26 07.05"


def test_pages_of_two_follow_the_call_order_across_the_groups(survey_app, wave) -> None:
    """Pages of two over the four on the list: the first holds the callback and the no
    answer after the reminders, the second the never reached and the waiting, the third
    nobody; the counts are those of the whole list on every page. (The fixture wrote the
    messages and the response without their events: the rebuild first leaves the rows as
    the events would have.)"""
    wave_id = survey_app_wave_id(survey_app)
    with survey_app.app_context():
        session = db.session()
        call_list_state.rebuild(session, wave_id)
        pages = [call_list.page(session, wave_id, call_list.CallFilters(), number,
                                today=centre_today(), size=2) for number in (1, 2, 3)]
        waiting = call_list.page(session, wave_id, call_list.CallFilters(group="waiting"), 1,
                                 today=centre_today(), size=2)
    assert [[entry.registration_no for entry in entries] for entries, _, _ in pages] == [
        ["REG-001", "REG-000"], ["REG-003", "REG-002"], []]
    assert [has_next for _, has_next, _ in pages] == [True, False, False]
    assert all(counts["all"] == 4 for _, _, counts in pages)
    assert [entry.registration_no for entry in waiting[0]] == ["REG-002"]
    assert waiting[2]["callback_due"] == 1 and not waiting[1]
