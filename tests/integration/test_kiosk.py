"""The event-day kiosk through the Flask test client: unlock, name index, confirm, answers.

The browser side (offline queue, service worker, lock clearing storage) is in
tests/e2e/test_kiosk_browser.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from services.survey import kiosk
from shared import db
from shared.auth import KIOSK_COOKIE, create_user
from shared.models import Alumnus, AuditEntry, Response, ResponseEdit

EMPLOYED_FIELDS = "consent=true&f8=1&f504=1&f502=3&f505=4500000&f14=2"
HEADER = {"X-Jejak-Kiosk": "1"}


@pytest.fixture()
def operator(survey_app) -> None:
    with survey_app.app_context():
        create_user(db.session(), "rina", "kata-sandi-rina", "operator")
        db.session().commit()


def _signed_in(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "rina", "password": "kata-sandi-rina",
                                       "csrf_token": token}).status_code == 302


def _unlocked(client) -> None:
    _signed_in(client)
    page = client.get("/waves/ts-2026").get_data(as_text=True)
    token = re.search(r'kiosk" class="stack">\s*<input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', page).group(1)
    unlocked = client.post("/waves/ts-2026/kiosk", data={"csrf_token": token})
    assert unlocked.status_code == 302 and unlocked.headers["Location"].endswith("/kiosk/")


@pytest.fixture()
def kiosk_client(survey_app, survey, operator) -> Any:
    client = survey_app.test_client()
    _unlocked(client)
    return client


def _keyed(key: str, text: str) -> str:
    """The hash kiosk.js makes of what is typed: HMAC-SHA256, hex, cut to 16."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:16]


def _person(index: dict[str, Any], registration_no: str) -> dict[str, Any]:
    wanted = _keyed(index["key"], "r:" + registration_no.replace("-", "").upper())
    return next(p for p in index["people"] if p["reg"] == wanted)


def _send(client, body: dict[str, Any]) -> Any:
    return client.post("/kiosk/answers", json=body, headers=HEADER)


def _answer(person: dict[str, Any], birth_date: str, fields: str = EMPLOYED_FIELDS,
            answer_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {"id": str(answer_id or uuid.uuid4()), "target": person["id"],
            "birth_date": birth_date, "fields": fields}


def test_unlocking_signs_the_browser_out_of_staff_pages_and_opens_the_kiosk(
        survey_app, kiosk_client) -> None:
    page = kiosk_client.get("/kiosk/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="kiosk-form"' in html and "kiosk.js" in html
    # Every section on the one page, conditions with their whole data-if.
    assert html.count('class="kiosk-section"') >= 3 and "data-if=" in html
    staff_page = kiosk_client.get("/waves/ts-2026")
    assert staff_page.status_code == 302 and "/login" in staff_page.headers["Location"]
    with survey_app.app_context():
        assert db.session().scalar(select(AuditEntry.target).where(
            AuditEntry.action == "kiosk.unlock")) == "ts-2026"


def test_without_a_kiosk_pass_the_kiosk_routes_are_closed_even_to_signed_in_staff(
        survey_app, survey, operator) -> None:
    client = survey_app.test_client()
    _signed_in(client)
    assert client.get("/kiosk/").status_code == 302  # to the sign-in page: unlock first
    assert client.get("/kiosk/roster.json").status_code == 302
    assert client.get("/kiosk/roster.json", headers={"Accept": "application/json"}
                      ).status_code == 401
    assert client.post("/kiosk/answers", json={}, headers=HEADER).status_code == 401
    client.set_cookie(KIOSK_COOKIE, "forged.value.here")
    assert client.get("/kiosk/roster.json").status_code == 302


def test_a_kiosk_post_without_the_kiosk_header_is_refused(kiosk_client) -> None:
    assert kiosk_client.post("/kiosk/answers", json={}).status_code == 400
    assert kiosk_client.post("/kiosk/lock").status_code == 400


def test_the_name_index_holds_initials_program_and_hashes_only(kiosk_client, survey_app,
                                                                survey) -> None:
    raw = kiosk_client.get("/kiosk/roster.json").get_data(as_text=True)
    index = json.loads(raw)
    # Five alumni targeted; the erased sixth is not in the index.
    assert len(index["people"]) == 5
    first = _person(index, "REG-000")
    assert first["initials"] == "A."  # "Alumnus 0": the digit is no initial
    assert first["program"] == "Teknik Las"
    assert first["cohort"] == "A1"
    assert set(first) == {"id", "initials", "program", "cohort", "words", "reg"}
    with survey_app.app_context():
        people = db.session().scalars(select(Alumnus)).all()
        for person in people:
            for secret in (person.full_name, person.phone, person.registration_no,
                           person.birth_date.isoformat(), person.birth_date.strftime("%d-%m-%Y")):
                assert secret not in raw, secret
    assert "Alumnus" not in raw and "alumnus" not in raw and "+62" not in raw
    # No roster id either: every value a person carries is text or a list of hashes.
    assert all(isinstance(value, str | list) for p in index["people"] for value in p.values())


def test_a_typed_name_prefix_finds_the_person_through_the_keyed_hashes(kiosk_client) -> None:
    index = kiosk_client.get("/kiosk/roster.json").get_json()
    # "alum" is a prefix of every name's first word; "3" is the whole second word of one.
    typed = [_keyed(index["key"], "w:alum"), _keyed(index["key"], "w:3")]
    found = [p for p in index["people"] if all(h in p["words"] for h in typed)]
    assert [p["reg"] for p in found] == [_person(index, "REG-003")["reg"]]


def test_each_unlock_hashes_names_with_its_own_key(survey_app, survey, operator) -> None:
    first, second = survey_app.test_client(), survey_app.test_client()
    _unlocked(first)
    _unlocked(second)
    one, other = (c.get("/kiosk/roster.json").get_json() for c in (first, second))
    assert one["key"] != other["key"]
    assert one["people"][0]["words"] != other["people"][0]["words"]
    assert one["people"][0]["id"] == other["people"][0]["id"]  # queued answers survive


def test_the_birth_date_check_says_yes_only_for_the_right_date(kiosk_client) -> None:
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-002")
    right = kiosk_client.post("/kiosk/check", json={"target": person["id"],
                                                    "birth_date": "2000-01-03"}, headers=HEADER)
    assert right.status_code == 200
    wrong = kiosk_client.post("/kiosk/check", json={"target": person["id"],
                                                    "birth_date": "2000-01-04"}, headers=HEADER)
    assert wrong.status_code == 422 and wrong.get_json() == {"refused": "birth_date"}


def test_an_answer_is_stored_once_as_an_event_response_and_a_resend_is_a_200(
        kiosk_client, survey_app, survey) -> None:
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-001")
    body = _answer(person, "2000-01-02")
    first = _send(kiosk_client, body)
    assert first.status_code == 201, first.get_json()
    again = _send(kiosk_client, body)
    assert again.status_code == 200 and again.get_json() == {"stored": False}
    with survey_app.app_context():
        session = db.session()
        rows = session.scalars(select(Response)).all()
        assert len(rows) == 1
        stored = rows[0]
        assert stored.id == uuid.UUID(body["id"])
        assert stored.alumnus_id == survey["alumni"][1][0]
        assert (stored.source, stored.status, stored.entered_by) == ("event", "complete", None)
        assert stored.answers["f505"] == 4_500_000 and stored.answers["f8"] == 1
        assert session.scalar(select(func.count()).select_from(ResponseEdit)) == 0


def test_a_second_answer_of_the_same_person_replaces_the_first(kiosk_client, survey_app) -> None:
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-001")
    assert _send(kiosk_client, _answer(person, "2000-01-02")).status_code == 201
    changed = EMPLOYED_FIELDS.replace("f505=4500000", "f505=5000000")
    assert _send(kiosk_client, _answer(person, "2000-01-02", changed)).status_code == 201
    with survey_app.app_context():
        rows = db.session().scalars(select(Response)).all()
        assert len(rows) == 1 and rows[0].answers["f505"] == 5_000_000


def test_an_answer_with_another_birth_date_is_refused_and_nothing_is_stored(
        kiosk_client, survey_app) -> None:
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-001")
    refused = _send(kiosk_client, _answer(person, "1999-12-31"))
    assert refused.status_code == 422 and refused.get_json() == {"refused": "birth_date"}
    with survey_app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Response)) == 0


def test_invalid_answers_are_refused_with_messages_naming_the_question(kiosk_client) -> None:
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-001")
    refused = _send(kiosk_client, _answer(person, "2000-01-02",
                                          EMPLOYED_FIELDS.replace("f505=4500000", "f505=banyak")))
    assert refused.status_code == 422
    reply = refused.get_json()
    assert reply["refused"] == "answers" and "f505" in reply["errors"]
    assert "Rupiah" in reply["errors"]["f505"][0]


def test_an_unknown_target_or_a_bad_id_is_refused(kiosk_client) -> None:
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-001")
    assert _send(kiosk_client, {**_answer(person, "2000-01-02"), "target": "0" * 24}
                 ).get_json() == {"refused": "target"}
    assert _send(kiosk_client, {**_answer(person, "2000-01-02"), "id": "nope"}
                 ).get_json() == {"refused": "id"}
    assert kiosk_client.post("/kiosk/answers", data="[", headers={
        **HEADER, "Content-Type": "application/json"}).status_code == 400


def test_a_uuid_already_used_for_another_alumnus_is_a_conflict(kiosk_client) -> None:
    index = kiosk_client.get("/kiosk/roster.json").get_json()
    answer_id = uuid.uuid4()
    assert _send(kiosk_client, _answer(_person(index, "REG-001"), "2000-01-02",
                                       answer_id=answer_id)).status_code == 201
    clash = _send(kiosk_client, _answer(_person(index, "REG-002"), "2000-01-03",
                                        answer_id=answer_id))
    assert clash.status_code == 409


def test_locking_ends_the_pass_and_tells_the_browser_to_clear_its_storage(kiosk_client) -> None:
    locked = kiosk_client.post("/kiosk/lock", headers=HEADER)
    assert locked.status_code == 200
    assert locked.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert kiosk_client.get_cookie(KIOSK_COOKIE) is None
    assert kiosk_client.get("/kiosk/roster.json").status_code == 302


def test_the_service_worker_is_served_at_the_survey_root(survey_app) -> None:
    worker = survey_app.test_client().get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert "jejak-kiosk" in worker.get_data(as_text=True)


def test_a_closed_wave_can_have_no_kiosk(survey_app, survey, operator) -> None:
    from shared.models import Wave

    with survey_app.app_context():
        wave = db.session().get(Wave, survey["wave_id"])
        wave.status = "closed"
        db.session().commit()
    client = survey_app.test_client()
    _signed_in(client)
    page = client.get("/waves/ts-2026").get_data(as_text=True)
    assert "/waves/ts-2026/kiosk" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = client.post("/waves/ts-2026/kiosk", data={"csrf_token": token})
    assert refused.status_code == 302 and client.get_cookie(KIOSK_COOKIE) is None
    assert kiosk.MODE == "event"


def test_birth_date_misses_for_one_person_run_into_the_identification_limit(
        kiosk_client) -> None:
    """The open link's `identify` limit (10 a minute by default), per alumnus: then even the
    right date waits, so a kiosk cannot try every birth date of one person."""
    person = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-002")
    statuses = [kiosk_client.post("/kiosk/check", json={
        "target": person["id"], "birth_date": f"1990-01-{day:02d}"}, headers=HEADER).status_code
        for day in range(1, 16)]
    assert statuses[:10] == [422] * 10 and set(statuses[10:]) == {429}
    right = kiosk_client.post("/kiosk/check", json={"target": person["id"],
                                                    "birth_date": "2000-01-03"}, headers=HEADER)
    assert right.status_code == 429
    other = _person(kiosk_client.get("/kiosk/roster.json").get_json(), "REG-001")
    assert kiosk_client.post("/kiosk/check", json={"target": other["id"],
                                                   "birth_date": "2000-01-02"},
                             headers=HEADER).status_code == 200
