"""Issue 17's acceptance, in a real Chromium against `jejak up --demo` with a real SMTP sink:
an alumnus names their supervisor with consent on the thank-you page; staff launch an
employer campaign; the supervisor opens the link from the mail the sink received, rates the
alumnus and answers the company's questions; after a refresh the dashboard shows the
employer section ("Pengguna lulusan").

Screenshots of the new pages at 390 px and 1366 px go to JEJAK_SCREENSHOT_DIR (default: a
pytest temporary folder); at 390 px no page may scroll sideways.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from services.survey.links import make_token
from shared.models import Alumnus, EmployerAudience, EmployerContact, Response, Wave
from tests.conftest import TEST_DB, wait_for
from tests.e2e.conftest import SECRET, free_port, start_jejak, stop_jejak
from tests.integration.peers import SmtpSink

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

WIDTHS = (390, 1366)
SUPERVISOR = {"company": "PT Bengkel Uji Coba", "supervisor_name": "Ibu Ratna Uji",
              "supervisor_position": "Kepala Produksi", "supervisor_phone": "0812 7777 0001",
              "supervisor_email": "ratna.uji@example.com"}


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[dict]:
    """`jejak up --demo` sending mail to a sink, with no quiet hours, its links on its port."""
    home = tmp_path_factory.mktemp("jejak-employers")
    port = free_port()
    with SmtpSink() as sink:
        process, output = start_jejak(home, port, "--demo", environ={
            "JEJAK_SMTP_URL": sink.url, "JEJAK_QUIET_HOURS": "",
            "JEJAK_BASE_URL": f"http://127.0.0.1:{port}"})
        password = output.split("admin / ")[1].split()[0]
        try:
            yield {"base": f"http://127.0.0.1:{port}", "password": password, "sink": sink,
                   "database": f"sqlite:///{home / 'jejak.db'}"}
        finally:
            stop_jejak(process)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("JEJAK_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def look(page, shots: Path, name: str) -> None:
    """Screenshots at both widths; no sideways scroll at 390 px."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(shots / f"employer-{name}-{width}.png"), full_page=True)
        if width == 390:
            assert page.evaluate("document.documentElement.scrollWidth") <= width, name


def test_a_supervisor_is_invited_by_mail_rates_and_the_dashboard_shows_it(
        browser, running, shots) -> None:
    engine = create_engine(running["database"])
    with engine.connect() as connection:
        wave_id, slug = connection.execute(select(Wave.id, Wave.slug)
                                           .where(Wave.status == "open")).first()
        answered = select(Response.alumnus_id).where(Response.wave_id == wave_id)
        alumnus_id, name = connection.execute(
            select(Alumnus.id, Alumnus.full_name).where(Alumnus.id.not_in(answered))
            .order_by(Alumnus.id).limit(1)).one()
    base = running["base"]
    context = browser.new_context(viewport={"width": 390, "height": 900}, locale="id-ID")
    page = context.new_page()

    # 1. The alumnus answers, employed, and names their supervisor with the consent ticked.
    page.goto(f"{base}/survey/s/{make_token(SECRET, wave_id, alumnus_id)}")
    page.check("input[name=consent]")
    page.click("button[value=next]")
    page.check("input[name=f8][value='1']")  # Bekerja
    page.click("button[value=next]")
    page.check("input[name=f504][value='1']")  # as tests/e2e/test_form_browser.py
    page.fill("#in-f502", "2")
    page.fill("#in-f505", "4.750.000")
    page.check("input[name=f14][value='2']")
    for _ in range(20):
        if not page.is_visible("button[value=next]"):
            break
        page.click("button[value=next]")
    page.click("button[value=finish]")
    page.wait_for_url("**/terima-kasih")
    assert "Boleh kami meminta pendapat atasan Anda?" in page.content()
    for key, value in SUPERVISOR.items():
        page.fill(f"#in-{key}", value)
    page.check("input[name=consent][value=yes]")
    look(page, shots, "supervisor-block")
    page.click("form[action$='/atasan'] button[type=submit]")
    page.wait_for_load_state()

    def contact_id() -> int | None:
        with engine.connect() as connection:
            return connection.scalar(select(EmployerAudience.contact_id)
                                     .join(EmployerContact,
                                           EmployerContact.id == EmployerAudience.contact_id)
                                     .where(EmployerAudience.alumnus_id == alumnus_id,
                                            EmployerContact.email == SUPERVISOR[
                                                "supervisor_email"]))

    wait_for(lambda: contact_id() is not None, timeout=60)  # outreach learnt of them (event)

    # 2. Staff launch an employer campaign for the wave.
    staff = browser.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    office = staff.new_page()
    office.goto(f"{base}/survey/login")
    office.fill("#username", "admin")
    office.fill("#password", running["password"])
    office.click("button[type=submit]")
    office.wait_for_load_state()
    office.goto(f"{base}/outreach/employers")
    assert "Kampanye pengguna lulusan" in office.content()
    office.fill("#name", "Survei pengguna lulusan 2025")
    office.click("form[action$='/employers'] button[type=submit]")
    office.wait_for_load_state()
    assert SUPERVISOR["supervisor_name"] in office.content()
    look(office, shots, "campaign-draft")
    office.click("form[action$='/launch'] button[type=submit]")
    office.wait_for_load_state()
    assert "Diluncurkan" in office.content() or "pesan direncanakan" in office.content()
    look(office, shots, "campaign-running")
    office.goto(f"{base}/outreach/employers")
    look(office, shots, "campaigns")

    # 3. The supervisor opens the link in the mail the sink received (the beat sends it).
    sink = running["sink"]

    def invitation() -> str | None:
        mails = [mail for mail in list(sink.mails) if mail.rcpt == SUPERVISOR["supervisor_email"]]
        return mails[0].body if mails else None

    deadline = time.monotonic() + 120
    while invitation() is None:
        assert time.monotonic() < deadline, "no invitation reached the sink"
        time.sleep(1)
    body = invitation() or ""
    assert "Yth. Ibu Ratna Uji" in body
    link = re.search(r"http://127\.0\.0\.1:\d+/survey/e/[A-Za-z0-9_-]+", body).group(0)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(link)
    assert "Halo, Ibu Ratna Uji!" in page.content() and name in page.content()
    look(page, shots, "link")
    page.click("a[href*='/a/']")
    page.wait_for_load_state()
    for key in ("emp_integrity", "emp_technical", "emp_k3", "emp_tools", "emp_communication",
                "emp_teamwork", "emp_discipline", "emp_learning"):
        page.check(f"input[name={key}][value='3']")
    page.check("input[name=emp_hire_again][value='1']")
    look(page, shots, "rating")
    page.click("form button.go")
    page.wait_for_load_state()
    assert "penilaian Anda tersimpan" in page.content()
    page.goto(link)
    page.check("input[name=emp_strengthen][value='f1765']")
    page.fill("#in-emp_need_las", "4")
    page.check("input[name=emp_apprentice][value='1']")
    look(page, shots, "company")
    page.click("form[action$='" + link.rsplit("/", 1)[1] + "'] button.go")
    page.wait_for_load_state()

    # 4. After a refresh the dashboard shows the employer section.
    office.goto(f"{base}/analytics/?wave={slug}")
    office.click("form.refresh button[type=submit]")
    office.wait_for_load_state()
    deadline = time.monotonic() + 90
    while "Penilaian alumni" not in office.content() or ">1<" not in office.inner_html(
            "#employers"):
        assert time.monotonic() < deadline, "the dashboard never showed the rating"
        time.sleep(2)
        office.reload()
    section = office.inner_text("#employers")
    assert "Pengguna lulusan" in section and "Tingkat respons pengguna lulusan" in section
    assert "Kebutuhan tenaga kerja" in section
    office.locator("#employers").scroll_into_view_if_needed()
    look(office, shots, "dashboard")
    context.close()
    staff.close()
    engine.dispose()
