"""docs/operations.md tells a centre to send its logs when it asks for help: they must hold no
credential. A real `jejak up`, a real Chromium: an alumnus opens a personal link, answers and
submits; another opens an unsubscribe link and confirms; Meta's handshake calls the webhook
with the verify token in the query, the SMS gateway posts a signed report; then every file
under the data directory is read. No token appears anywhere, in full; the survey link's
fingerprint does, in the web log (issue 13, point 4)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from services.survey.links import make_token
from shared.logs import fingerprint
from shared.models import Alumnus, Response, Wave
from shared.tokens import seal
from tests.conftest import TEST_DB
from tests.e2e.conftest import SECRET, free_port, start_jejak, stop_jejak
from tests.integration.peers import sms_webhook_headers

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="drives `jejak up` (SQLite); runs in the SQLite pass"
)

VERIFY_TOKEN = "centre-chosen-verify-token-4711"
SMS_SECRET = "sms-gateway-shared-secret-0815"
EMAIL = 0  # services.outreach.campaigns.CHANNELS.index("email")


def call(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_no_log_under_the_data_directory_holds_a_token(tmp_path: Path, browser) -> None:
    home = tmp_path / "var"
    port = free_port()
    process, _ = start_jejak(home, port, "--demo", environ={
        "JEJAK_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "JEJAK_SMS_WEBHOOK_SECRET": SMS_SECRET})
    base = f"http://127.0.0.1:{port}"
    try:
        engine = create_engine(f"sqlite:///{home / 'jejak.db'}")
        with engine.connect() as connection:
            wave_id = connection.scalar(select(Wave.id).where(Wave.slug == "tracer-2025"))
            answered = select(Response.alumnus_id).where(Response.wave_id == wave_id)
            alumnus_id = connection.scalar(
                select(Alumnus.id).where(Alumnus.id.not_in(answered)).limit(1))
            mailed_id = connection.scalar(
                select(Alumnus.id).where(Alumnus.email.is_not(None)).limit(1))
        engine.dispose()
        token = make_token(SECRET, wave_id, alumnus_id)
        unsubscribe = seal(SECRET, "unsubscribe", mailed_id, EMAIL)
        link = f"{base}/survey/s/{token}"

        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="id-ID")
        page = context.new_page()
        # A staff member follows a login redirect that carries the link.
        page.goto(f"{base}/survey/login?next={urllib.parse.quote('/survey/s/' + token)}")
        page.goto(link)
        page.check("input[name=consent]")
        page.click("button[value=next]")
        page.check("input[name=f8][value='1']")  # Bekerja
        page.click("button[value=next]")
        page.check("input[name=f504][value='1']")
        page.fill("#in-f502", "2")
        page.fill("#in-f505", "4.750.000")
        page.check("input[name=f14][value='2']")
        page.click("button[value=save]")
        page.goto(link + "?step=3")
        while page.is_visible("button[value=next]"):
            page.click("button[value=next]")
        page.click("button[value=finish]")
        page.wait_for_url("**/terima-kasih")

        page.goto(f"{base}/outreach/u/{unsubscribe}")
        page.click("button[type=submit]")
        page.wait_for_selector("h1")  # the answer page, however slow the machine
        assert page.is_visible("text=You are unsubscribed") or page.is_visible("h1")
        context.close()

        handshake = urllib.parse.urlencode({"hub.mode": "subscribe",
                                            "hub.verify_token": VERIFY_TOKEN,
                                            "hub.challenge": "1158201444"})
        assert call(f"{base}/outreach/webhooks/whatsapp?{handshake}") == (200, "1158201444")
        wrong = handshake.replace(VERIFY_TOKEN, VERIFY_TOKEN[::-1])
        assert call(f"{base}/outreach/webhooks/whatsapp?{wrong}")[0] == 403
        report = json.dumps({"type": "status", "id": "gw-1", "reference": "1",
                             "status": "delivered"}).encode()
        assert call(f"{base}/outreach/webhooks/sms", report,
                    sms_webhook_headers(SMS_SECRET, report))[0] == 200
    finally:
        stop_jejak(process)

    with create_engine(f"sqlite:///{home / 'jejak.db'}").connect() as connection:
        status = connection.scalar(select(Response.status).where(
            Response.wave_id == wave_id, Response.alumnus_id == alumnus_id))
    assert status == "complete"  # the session really ran through

    secrets = {"survey link token": token, "unsubscribe token": unsubscribe,
               "verify token": VERIFY_TOKEN, "quoted link": urllib.parse.quote(token)}
    files = [path for path in home.rglob("*") if path.is_file()]
    assert home / "web.log" in files and home / "worker.log" in files
    leaks = [f"{path.relative_to(home)} holds the {what}"
             for path in files for what, secret in secrets.items()
             if secret.encode() in path.read_bytes()]
    assert leaks == []
    web_log = (home / "web.log").read_text()
    assert fingerprint(token) in web_log and fingerprint(unsubscribe) in web_log
    assert fingerprint(VERIFY_TOKEN) in web_log
