"""The event-day kiosk in a real Chromium against `jejak up --demo`, network off and on.

Five alumni answer while the browser is offline; the page still loads offline (the service
worker at /survey/sw.js serves it); after reconnecting the five answers arrive, each exactly
once; locking clears the cache, the queue, the worker and the pass. Every response the
kiosk page receives is read: none holds a name, phone, email or birth date of the roster.
JEJAK_SCREENSHOT_DIR keeps the screenshots (390 and 1366 px wide) in that folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select

from shared.models import Alumnus, Response, ResponseEdit, Wave, WaveTarget
from tests.conftest import TEST_DB

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)
WAVE = "tracer-2025"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_until(page, script: str, timeout: float = 20) -> None:
    """Poll `script` (a function's source) until it returns true. Not wait_for_function:
    that evaluates its text with eval, which the pages' CSP refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {script}"
        page.wait_for_timeout(200)


def reader(bodies: list[str]):
    """A response handler keeping every body the page receives (redirects have none)."""
    def read(response) -> None:
        try:
            bodies.append(response.text() if response.status < 300 else "")
        except Exception:  # noqa: BLE001 - the page went on before the body was read
            bodies.append("")
    return read


def sign_in(page, jejak) -> None:
    assert jejak.admin_password, "jejak up --demo printed no admin password"
    page.goto(f"{jejak.base_url}/survey/login")
    page.fill("#username", "admin")
    page.fill("#password", jejak.admin_password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def unlock(page, jejak) -> None:
    sign_in(page, jejak)
    page.goto(f"{jejak.base_url}/survey/waves/{WAVE}")
    page.click(f"form[action$='/waves/{WAVE}/kiosk'] button")
    page.wait_for_url("**/survey/kiosk/")
    wait_until(page, """async () => {
        if (!navigator.serviceWorker.controller) return false;
        const cache = await caches.open('jejak-kiosk');
        return (await cache.keys()).length >= 6;
    }""")


def roster(jejak) -> tuple[list, list]:
    """(five targets without a response, every target) of the demo wave."""
    engine = create_engine(jejak.database_url)
    with engine.connect() as connection:
        wave_id = connection.scalar(select(Wave.id).where(Wave.slug == WAVE))
        answered = select(Response.alumnus_id).where(Response.wave_id == wave_id)
        everyone = connection.execute(
            select(Alumnus.id, Alumnus.registration_no, Alumnus.full_name, Alumnus.phone,
                   Alumnus.email, Alumnus.birth_date)
            .join(WaveTarget, WaveTarget.alumnus_id == Alumnus.id)
            .where(WaveTarget.wave_id == wave_id).order_by(Alumnus.id)).all()
        silent = set(connection.scalars(
            select(WaveTarget.alumnus_id).where(WaveTarget.wave_id == wave_id,
                                                WaveTarget.alumnus_id.not_in(answered))))
    engine.dispose()
    five = [row for row in everyone if row.id in silent and row.birth_date][:5]
    assert len(five) == 5
    return five, everyone


def event_responses(jejak, ids: list[int]) -> tuple[int, int]:
    """(responses of these alumni with mode event, edits of them) in the database."""
    engine = create_engine(jejak.database_url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Response).where(
            Response.alumnus_id.in_(ids), Response.source == "event"))
        edits = connection.scalar(select(func.count()).select_from(ResponseEdit).join(
            Response, Response.id == ResponseEdit.response_id).where(
            Response.alumnus_id.in_(ids)))
    engine.dispose()
    return count, edits


def answer_as(page, person) -> None:
    page.fill("#kiosk-search", person.registration_no)
    page.click("#kiosk-results button")
    born = person.birth_date
    page.fill("#kiosk-day", str(born.day))
    page.fill("#kiosk-month", str(born.month))
    page.fill("#kiosk-year", str(born.year))
    page.click("#kiosk-confirm")
    page.wait_for_selector("#screen-answer:not([hidden])")
    page.check("input[name=consent]")
    page.check("input[name=f8][value='1']")
    page.check("input[name=f504][value='1']")
    page.fill("input[name=f502]", "3")
    page.fill("input[name=f505]", "4500000")
    page.check("input[name=f14][value='2']")
    page.click("#kiosk-form button[type=submit]")
    page.wait_for_selector("#screen-thanks:not([hidden])")
    page.click("#screen-thanks .kiosk-cancel")
    page.wait_for_selector("#screen-start:not([hidden])")


def test_five_answers_given_offline_arrive_once_and_locking_clears_the_kiosk(
        jejak, browser, shots) -> None:
    five, everyone = roster(jejak)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    page = context.new_page()
    bodies: list[str] = []
    unlock(page, jejak)
    page.on("response", reader(bodies))
    page.reload()

    context.set_offline(True)
    page.reload()  # served by the service worker
    assert page.is_visible("#kiosk-search") and page.locator("#kiosk-form").count() == 1
    assert page.evaluate("navigator.onLine") is False
    page.fill("#kiosk-search", five[0].registration_no)
    page.wait_for_selector("#kiosk-results button")
    page.screenshot(path=str(shots / "kiosk-search-1366.png"), full_page=True)
    for number, person in enumerate(five, start=1):
        answer_as(page, person)
        wait_until(page, f"() => document.querySelector('#kiosk-queue').dataset.waiting"
                         f" === '{number}'")
        # Nothing of the previous person is left on the start screen or in the form.
        assert page.input_value("#kiosk-search") == ""
        assert page.locator("input[name=f8]:checked").count() == 0
    assert "5" in page.inner_text("#kiosk-queue")
    page.screenshot(path=str(shots / "kiosk-offline-queue-1366.png"), full_page=True)
    assert event_responses(jejak, [p.id for p in five]) == (0, 0)

    context.set_offline(False)
    wait_until(page, "() => document.querySelector('#kiosk-queue').dataset.waiting === '0'",
               timeout=30)
    assert event_responses(jejak, [p.id for p in five]) == (5, 0)
    # Another round of sending finds nothing left: still exactly once.
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(1500)
    assert event_responses(jejak, [p.id for p in five]) == (5, 0)

    seen = "\n".join(bodies)
    assert seen, "no response was read"
    for person in everyone:
        for secret in (person.full_name, person.phone, person.email,
                       person.birth_date and person.birth_date.isoformat(),
                       person.birth_date and person.birth_date.strftime("%d-%m-%Y")):
            assert not secret or secret not in seen, f"the kiosk received {secret!r}"

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#kiosk-lock")
    page.wait_for_url("**/survey/login**")
    left = page.evaluate("""async () => ({
        caches: await caches.keys(),
        databases: (await indexedDB.databases()).map(d => d.name),
        workers: (await navigator.serviceWorker.getRegistrations()).length,
    })""")
    assert left == {"caches": [], "databases": [], "workers": 0}
    assert not [c for c in context.cookies() if c["name"] == "jejak_kiosk"]
    page.goto(f"{jejak.base_url}/survey/kiosk/")
    assert "/survey/login" in page.url
    context.close()


def test_the_kiosk_fits_a_phone_and_returns_to_the_start_after_inactivity(
        jejak, browser, shots) -> None:
    five, _everyone = roster(jejak)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID",
                                  is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    unlock(page, jejak)
    person = five[0]
    page.fill("#kiosk-search", person.full_name.split()[0][:4])
    page.wait_for_selector("#kiosk-results button")
    page.screenshot(path=str(shots / "kiosk-search-390.png"), full_page=True)
    page.fill("#kiosk-search", person.registration_no)
    page.click("#kiosk-results button")
    page.screenshot(path=str(shots / "kiosk-confirm-390.png"), full_page=True)
    page.fill("#kiosk-day", str(person.birth_date.day))
    page.fill("#kiosk-month", str(person.birth_date.month))
    page.fill("#kiosk-year", str(person.birth_date.year))
    page.click("#kiosk-confirm")
    page.wait_for_selector("#screen-answer:not([hidden])")
    page.check("input[name=f8][value='1']")
    page.screenshot(path=str(shots / "kiosk-answer-390.png"))
    for name in ("search", "answer"):
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name}: {overflow} px sideways"
    # Inactivity: the kiosk's clock is moved on instead of waiting two minutes.
    page.evaluate("""() => {
        const real = Date.now;
        Date.now = () => real() + 10 * 60 * 1000;
    }""")
    page.wait_for_selector("#screen-start:not([hidden])", timeout=5000)
    assert page.locator("input[name=f8]:checked").count() == 0
    assert page.input_value("#kiosk-day") == ""
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#kiosk-lock")
    page.wait_for_url("**/survey/login**")
    context.close()


def test_an_answer_refused_after_reconnecting_stays_on_the_kiosk_for_staff(
        jejak, browser, shots) -> None:
    five, _everyone = roster(jejak)
    first, second = five[3], five[4]
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    page = context.new_page()
    unlock(page, jejak)

    def refused_offline(person) -> None:
        # Offline the kiosk cannot check the birth date: a year off is refused on sending.
        context.set_offline(True)
        born = person.birth_date
        answer_as(page, SimpleNamespace(registration_no=person.registration_no,
                                        birth_date=born.replace(year=born.year - 1)))
        context.set_offline(False)
        wait_until(page, "() => document.querySelector('#kiosk-queue').dataset.staff === '1'",
                   timeout=30)
        assert page.evaluate("document.querySelector('#kiosk-queue').dataset.waiting") == "0"
        assert event_responses(jejak, [person.id]) == (0, 0)

    # Staff open the list from the start screen, read why, and correct the birth date:
    # the same answer (same UUID) is sent again and arrives once.
    refused_offline(first)
    assert page.inner_text("#kiosk-staff-open") == "Jawaban yang perlu petugas (1)"
    page.click("#kiosk-staff-open")
    page.wait_for_selector("#screen-staff:not([hidden])")
    item = page.locator("#kiosk-staff-list li")
    assert item.count() == 1 and item.get_attribute("data-reason") == "birth_date"
    assert "Tanggal lahir tidak cocok" in item.inner_text()
    page.screenshot(path=str(shots / "kiosk-needs-staff-1366.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "kiosk-needs-staff-390.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    item.locator("button.go").click()
    page.wait_for_selector("#screen-confirm:not([hidden])")
    born = first.birth_date
    page.fill("#kiosk-day", str(born.day))
    page.fill("#kiosk-month", str(born.month))
    page.fill("#kiosk-year", str(born.year))
    page.click("#kiosk-confirm")
    wait_until(page, "() => document.querySelector('#kiosk-queue').dataset.staff === '0'",
               timeout=30)
    page.wait_for_selector("#screen-start:not([hidden])")
    assert page.is_hidden("#kiosk-staff-open")
    assert event_responses(jejak, [first.id]) == (1, 0)

    # Another refused answer: locking warns that it would be lost; staff delete it instead.
    refused_offline(second)
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()  # staff decide not to lock yet: nothing is deleted

    page.once("dialog", answer)
    page.click("#kiosk-lock")
    for _ in range(50):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked and "1 jawaban" in asked[0], asked
    assert page.evaluate("document.querySelector('#kiosk-queue').dataset.staff") == "1"
    page.click("#kiosk-staff-open")
    page.wait_for_selector("#screen-staff:not([hidden])")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#kiosk-staff-list li button.ghost").click()
    page.wait_for_selector("#screen-start:not([hidden])")
    wait_until(page, "() => document.querySelector('#kiosk-queue').dataset.staff === '0'")
    assert event_responses(jejak, [second.id]) == (0, 0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#kiosk-lock")
    page.wait_for_url("**/survey/login**")
    context.close()
