"""The alumni form's frame through the real app (issue 15, points 5–9; issue 13, point 9):
the consent notice and a real "no", finding yourself on the open link, the page's title,
buttons and error summary, compression and caching of what the browser downloads."""

from __future__ import annotations

import dataclasses
import gzip
import re

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client

from services.survey.links import make_token
from shared import db
from shared.models import Alumnus, Message, Response
from tests.conftest import app_config, wait_for
from tests.integration.test_outreach import sms_campaign
from tests.integration.test_web_hardening import app_with, assert_limited, login, staff  # noqa: F401


def link(app, survey, index: int = 0) -> str:
    return "/s/" + make_token(app.config["SECRET_KEY"], survey["wave_id"],
                              survey["alumni"][index][0])


def text_of(response) -> str:
    return response.get_data(as_text=True)


def buttons(page: str) -> list[str]:
    """The submit buttons' values in document order (what Enter presses is the first)."""
    return re.findall(r'<button type="submit" name="action" value="(\w+)"', page)


# --- 5. consent ---------------------------------------------------------------------------


def test_the_consent_notice_says_who_why_what_who_sees_how_long_and_the_rights(
        survey_app, survey) -> None:
    client = survey_app.test_client()
    page = text_of(client.get(link(survey_app, survey)))
    assert "UPTD BLKI Bontang" in page  # the controller, from settings
    for words in ("tujuan", "pendapatan", "tempat kerja", "5 orang", "disimpan",
                  "melihat, memperbaiki", "menghapus", "menarik persetujuan", "Tidak setuju"):
        assert words in page, words
    english = text_of(client.get(link(survey_app, survey) + "?lang=en"))
    for words in ("purpose", "income", "employer", "5 people", "kept", "see, correct",
                  "erase", "withdraw", "I do not agree"):
        assert words in english, words
    assert "Tracer study · BLK" not in page


def test_the_centre_name_and_contact_come_from_settings(survey, settings) -> None:
    app = app_with("survey", settings, centre_name="BLK Contoh Samarinda",
                   centre_contact="0541-000000 · blk@contoh.id")
    page = text_of(app.test_client().get(link(app, survey)))
    assert page.count("BLK Contoh Samarinda") >= 2  # header and notice
    assert "0541-000000 · blk@contoh.id" in page
    assert "UPTD BLKI Bontang" not in page


def test_saying_no_records_a_refusal_and_ends_politely(survey_app, analytics_app,
                                                       survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey, 1)
    said_no = client.post(url + "?step=1", data={"step": "1", "action": "refuse"})
    assert said_no.status_code == 302
    declined = client.get(said_no.headers["Location"])
    assert declined.status_code == 200 and "Terima kasih" in text_of(declined)
    with survey_app.app_context():
        alumnus = db.session().get(Alumnus, survey["alumni"][1][0])
        assert alumnus.consent_withdrawn_at is not None
        assert alumnus.consent_withdrawn_source == "form"
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0
    # Reopening the link shows the same polite page, not the questions.
    again = client.get(url)
    assert again.status_code == 200 and 'name="action"' not in text_of(again)
    # The response rates count them as a refusal (admin: unsuppressed figures).
    from services.analytics.refresh import full_refresh

    full_refresh(db.get_db(analytics_app).session_factory, survey["wave_id"])
    # The test wave is smaller than the small-group rule: the admin's audited view.
    figures = analytics_app.test_client().get(
        "/api/v1/indicators", query_string={"wave": "ts-2026", "unsuppressed": "true"},
        headers=survey["headers"]["admin"]).get_json()["indicators"]
    assert figures["dispositions"]["refusal"] == 1


def test_a_refusal_stops_every_reminder_through_a_real_worker(
        survey_app, outreach_app, analytics_app, survey, settings, celery_worker) -> None:
    outreach_app.config["JEJAK_SETTINGS"] = dataclasses.replace(settings, quiet_hours="")
    alumnus_id = survey["alumni"][2][0]
    sms_campaign(outreach_app.test_client(), survey, day_offsets=(3, 7))
    url = link(survey_app, survey, 2)
    assert survey_app.test_client().post(
        url + "?step=1", data={"step": "1", "action": "refuse"}).status_code == 302

    def reminders() -> list[tuple[str, str | None]]:
        with outreach_app.app_context():
            return [tuple(row) for row in db.session().execute(
                select(Message.status, Message.cancel_reason)
                .where(Message.alumnus_id == alumnus_id).order_by(Message.id))]

    assert wait_for(lambda: all(status == "cancelled" for status, _ in reminders())
                    and reminders())
    assert reminders() == [("cancelled", "consent_withdrawn")] * 2
    # The response rates count the refusal without waiting for the nightly refresh.
    admin = survey["headers"]["admin"]

    def refusals() -> int | None:
        answer = analytics_app.test_client().get(  # the admin's audited view (a small wave)
            "/api/v1/indicators", query_string={"wave": "ts-2026", "unsuppressed": "true"},
            headers=admin)
        return (answer.get_json()["indicators"]["dispositions"]["refusal"]
                if answer.status_code == 200 else None)

    assert wait_for(lambda: refusals() == 1)
    # Everyone else still gets theirs.
    with outreach_app.app_context():
        others = db.session().scalar(select(func.count()).select_from(Message).where(
            Message.alumnus_id != alumnus_id, Message.status == "planned"))
    assert others == 2 * (len(survey["alumni"]) - 2)


# --- 6. the open link ---------------------------------------------------------------------


def identify(client, **data) -> object:
    return client.post("/w/ts-2026", data=data)


def test_the_registration_number_matches_without_case_spaces_or_dashes(survey_app,
                                                                      survey) -> None:
    client = survey_app.test_client()
    for typed in ("REG-000", "reg000", " Reg 000 ", "r-e-g-0-0-0"):
        found = identify(client, registration_no=typed, birth_day="1", birth_month="1",
                         birth_year="2000")
        assert found.status_code == 302, typed
        assert found.headers["Location"].endswith(link(survey_app, survey, 0))


def test_a_phone_number_and_birth_date_identify_too(survey_app, survey) -> None:
    client = survey_app.test_client()
    for typed in ("0812-0000-003", "+62 812 0000 003", "628120000003"):
        found = identify(client, phone=typed, birth_day="04", birth_month="01",
                         birth_year="2000")
        assert found.status_code == 302, typed
        assert found.headers["Location"].endswith(link(survey_app, survey, 3))
    assert identify(client, phone="08120000003", birth_day="5", birth_month="1",
                    birth_year="2000").status_code == 422


def test_wrong_input_says_the_same_whether_the_number_exists_or_not(survey_app,
                                                                   survey) -> None:
    client = survey_app.test_client()
    answers = [
        identify(client, registration_no="REG-000", birth_day="2", birth_month="1",
                 birth_year="1999"),   # exists, wrong birth date
        identify(client, registration_no="REG-999", birth_day="1", birth_month="1",
                 birth_year="2000"),   # does not exist
        identify(client, registration_no="REG-005", birth_day="6", birth_month="1",
                 birth_year="2000"),   # erased
        identify(client, phone="081299999999", birth_day="1", birth_month="1",
                 birth_year="2000"),   # unknown phone
        identify(client, registration_no="REG-000", birth_day="31", birth_month="2",
                 birth_year="2000"),   # no such day
    ]
    assert {answer.status_code for answer in answers} == {422}
    notes = {re.search(r'<p class="note error"[^>]*>(.*?)</p>', text_of(answer), re.S)[1]
             for answer in answers}
    assert len(notes) == 1


def test_failed_identifications_are_limited_per_registration_number_across_addresses(
        survey, settings) -> None:
    app = app_with("survey", settings, rate_limit_identify="3 per minute")
    client = app.test_client()
    guess = {"registration_no": "REG-001", "birth_day": "9", "birth_month": "9",
             "birth_year": "1999"}
    codes = [client.post("/w/ts-2026", data=guess,
                         environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code
             for n in range(4)]
    assert codes[:3] == [422] * 3
    assert_limited(client.post("/w/ts-2026", data={**guess, "registration_no": "reg 001"},
                               environ_base={"REMOTE_ADDR": "198.51.100.77"}))
    # Another number from a fresh address is untouched.
    assert client.post("/w/ts-2026", data={"registration_no": "REG-002", "birth_day": "3",
                                           "birth_month": "1", "birth_year": "2000"},
                       environ_base={"REMOTE_ADDR": "198.51.100.78"}).status_code == 302


# --- 7–9. the page frame ------------------------------------------------------------------


def test_forward_is_the_first_submit_button_so_enter_never_goes_back(survey_app,
                                                                    survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    client.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    second = text_of(client.get(url + "?step=2"))
    assert buttons(second)[0] == "next" and "back" in buttons(second)
    client.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "1"})
    last = text_of(client.get(url + "?step=99"))
    assert buttons(last)[0] == "finish"


def test_each_step_has_its_own_title_and_the_page_a_favicon(survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    client.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    titles = {re.search(r"<title>(.*?)</title>", text_of(client.get(f"{url}?step={n}")))[1]
              for n in (1, 2)}
    assert len(titles) == 2 and all("Tracer 2026" in title for title in titles)
    assert any("Bagian 2 dari" in title for title in titles)
    # With a draft the bare link resumes at its first unfinished page (a redirect).
    page = text_of(client.get(url, follow_redirects=True))
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)[1]
    assert client.get(icon).status_code == 200


def test_an_error_summary_takes_focus_and_links_to_each_field(survey_app, survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    client.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    client.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "1"})
    bad = client.post(url + "?step=3", data={"step": "3", "action": "next", "f504": "1",
                                            "f502": "banyak"})
    page = text_of(bad)
    assert bad.status_code == 422
    summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', page, re.S)
    assert summary and "autofocus" in summary[0] and 'tabindex="-1"' in summary[0]
    assert 'href="#in-f502"' in summary[1]
    # Each message names its question by its text already: the link says it once.
    (item,) = re.findall(r'<a href="#in-f502">(.*?)</a>', summary[1], re.S)
    assert item.count("berapa bulan") == 1, item
    field = re.search(r'<input id="in-f502"[^>]*>', page)[0]
    assert 'aria-invalid="true"' in field and 'aria-describedby="err-f502"' in field
    assert 'class="progress" aria-label' not in page


def test_dates_are_typed_day_month_year_and_checked_on_the_server(survey_app, survey) -> None:
    client = survey_app.test_client()
    page = text_of(client.get("/w/ts-2026"))
    assert 'type="date"' not in page
    assert all(f'name="birth_{part}"' in page for part in ("day", "month", "year"))


@pytest.mark.usefixtures("staff")
def test_the_slug_pattern_is_valid_with_the_v_flag(survey_app, survey) -> None:
    client = survey_app.test_client()
    login(client)
    page = text_of(client.get("/"))
    pattern = re.search(r'id="slug"[^>]*pattern="([^"]+)"', page)[1]
    # Chromium compiles `pattern` with the v flag: a bare "-" at the end of a class is an
    # error there. Escaped, it is the same set.
    assert re.search(r"\[[^\]]*[^\\]-\]", pattern) is None


def test_html_css_and_js_are_compressed_by_the_embedded_app(settings, clean_db) -> None:
    from services.cli import compose
    from shared.web import Compress

    app = Compress(compose(config=app_config(settings), proxy_hops=0))
    client = Client(app)
    login = client.get("/analytics/login", headers={"Accept-Encoding": "gzip"})
    assert login.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in login.headers[
        "Vary"]
    assert b"<html" in gzip.decompress(login.get_data())
    plain = client.get("/analytics/login")
    assert "Content-Encoding" not in plain.headers and b"<html" in plain.get_data()
    for name in ("form.css", "form.js", "jejak.css"):
        static = client.get(f"/survey/_jejak/{name}", headers={"Accept-Encoding": "gzip"})
        assert static.headers["Content-Encoding"] == "gzip", name
        whole = client.get(f"/survey/_jejak/{name}").get_data()
        assert gzip.decompress(static.get_data()) == whole
        assert len(static.get_data()) < len(whole) / 2
        unchanged = client.get(f"/survey/_jejak/{name}", headers={
            "Accept-Encoding": "gzip", "If-None-Match": static.headers["ETag"].removeprefix("W/")})
        assert unchanged.status_code == 304 and "Content-Encoding" not in unchanged.headers


def test_static_files_have_versioned_urls_and_a_long_cache_life(survey_app, survey) -> None:
    client = survey_app.test_client()
    page = text_of(client.get(link(survey_app, survey)))
    css = re.search(r'href="([^"]*form\.css[^"]*)"', page)[1]
    assert re.search(r"\?v=[0-9a-f]{8,}$", css)
    cached = client.get(css)
    assert cached.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    unversioned = client.get(css.split("?")[0])
    assert "immutable" not in unversioned.headers.get("Cache-Control", "")


def test_the_header_names_the_centre_on_every_public_page(survey_app, survey) -> None:
    client = survey_app.test_client()
    for path in (link(survey_app, survey), "/w/ts-2026", "/s/not-a-token"):
        page = text_of(client.get(path))
        assert re.search(r'<span class="org">UPTD BLKI Bontang</span>', page), path


def test_saying_no_after_saving_a_draft_removes_the_draft(survey_app, survey) -> None:
    """Saying no after saving a draft: the draft goes (they said no), the refusal counts."""
    client = survey_app.test_client()
    url = link(survey_app, survey, 4)
    client.post(url + "?step=1", data={"step": "1", "action": "save", "consent": "true"})
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 1
    assert client.post(url + "?step=1", data={"step": "1", "action": "refuse"}
                       ).status_code == 302
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0


def test_a_date_question_is_typed_day_month_year_and_stored_as_a_date(survey_app,
                                                                     survey) -> None:
    client = survey_app.test_client()
    url = link(survey_app, survey)
    client.post(url + "?step=1", data={"step": "1", "action": "next", "consent": "true"})
    page = text_of(client.get(url + "?step=2"))
    field = re.search(r'<input id="in-f18d"[^>]*>', page)[0]
    assert 'type="date"' not in field and 'inputmode="numeric"' in field
    saved = client.post(url + "?step=2", data={"step": "2", "action": "save", "f8": "4",
                                               "f18b": "Politeknik", "f18d": "5-8-2025"})
    assert saved.status_code == 302
    with survey_app.app_context():
        assert db.session().scalar(select(Response)).draft["f18d"] == "2025-08-05"
    shown = text_of(client.get(url + "?step=2"))
    assert 'value="05-08-2025"' in re.search(r'<input id="in-f18d"[^>]*>', shown)[0]
    wrong = client.post(url + "?step=2", data={"step": "2", "action": "next", "f8": "4",
                                               "f18d": "31-02-2025"})
    assert wrong.status_code == 422 and 'id="err-f18d"' in text_of(wrong)


def test_after_submitting_the_form_offers_no_refusal_button(survey_app, survey) -> None:
    import uuid

    from tests.integration.conftest import EMPLOYED

    client = survey_app.test_client()
    token = link(survey_app, survey).removeprefix("/s/")
    assert client.post("/api/v1/responses", json={
        "id": str(uuid.uuid4()), "wave": "ts-2026", "token": token,
        "answers": EMPLOYED}).status_code == 201
    page = text_of(client.get(link(survey_app, survey) + "?step=1"))
    assert "menarik persetujuan" in page and 'value="refuse"' not in page
