"""An alumnus on a phone: personal link, employed branch, save, resume, submit, thanks."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from services.survey.links import make_token
from shared.models import Alumnus, OutboxEvent, Response, Wave
from tests.conftest import TEST_DB, wait_for

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)


def test_employed_alumnus_answers_on_a_phone(jejak, phone) -> None:
    engine = create_engine(jejak.database_url)
    with engine.connect() as connection:
        wave_id = connection.scalar(select(Wave.id).where(Wave.slug == "tracer-2025"))
        answered = select(Response.alumnus_id).where(Response.wave_id == wave_id)
        alumnus_id, name = connection.execute(
            select(Alumnus.id, Alumnus.full_name).where(Alumnus.id.not_in(answered)).limit(1)
        ).one()
    url = f"{jejak.base_url}/survey/s/{make_token(jejak.secret_key, wave_id, alumnus_id)}"
    page = phone

    page.goto(url)
    assert name in page.inner_text(".greeting")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    page.check("input[name=consent]")
    page.click("button[value=next]")
    page.check("input[name=f8][value='1']")  # Bekerja
    page.click("button[value=next]")

    # The employment part: waiting time appears only once "within 6 months" is answered.
    assert not page.is_visible("#in-f502")
    page.check("input[name=f504][value='1']")
    assert page.is_visible("#in-f502")
    assert not page.is_visible("#in-f506")
    page.fill("#in-f502", "2")
    page.fill("#in-f505", "4.750.000")
    page.check("input[name=f14][value='2']")
    page.click("button[value=save]")
    assert page.is_visible(".note.ok")

    # Later, from the same link: the answers are still there.
    page.goto("about:blank")
    page.goto(url + "?step=3")
    assert page.input_value("#in-f505") == "4750000"
    assert page.is_checked("input[name=f504][value='1']")

    while page.is_visible("button[value=next]"):
        page.click("button[value=next]")
    page.click("button[value=finish]")
    page.wait_for_url("**/terima-kasih")
    assert page.is_visible(".thanks h1")

    with engine.connect() as connection:
        response = connection.execute(
            select(Response).where(Response.wave_id == wave_id, Response.alumnus_id == alumnus_id)
        ).one()
    assert response.status == "complete"
    assert response.answers["f505"] == 4_750_000 and response.answers["f502"] == 2

    def my_events() -> list:
        with engine.connect() as connection:
            rows = connection.execute(
                select(OutboxEvent.payload, OutboxEvent.relayed_at).where(
                    OutboxEvent.type == "response.submitted"
                )
            ).all()
        return [relayed for payload, relayed in rows if payload["response_id"] == str(response.id)]

    assert len(my_events()) == 1  # one event for the one response
    wait_for(lambda: my_events()[0] is not None, timeout=15)  # handed to the broker
    engine.dispose()
