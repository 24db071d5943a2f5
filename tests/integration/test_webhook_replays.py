"""Signed webhooks on the real database and Redis: the verify token is its own secret, and a
replayed or stale request is refused without being applied a second time (issue 13, 4 and 9).

The providers' side is tests/integration/peers.py: the SMS gateway signs `<timestamp>.<body>`
and sends the time in `X-Timestamp`; Meta signs the body, whose statuses and messages carry
their own ids and Unix times.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest
from sqlalchemy import delete, func, select

from shared import db
from shared.models import OptOut
from tests.integration.peers import sms_webhook_headers, whatsapp_webhook_headers

SMS_SECRET = "sms-webhook-secret-0123"
APP_SECRET = "meta-app-secret-0123456"
VERIFY_TOKEN = "verify-token-chosen-by-the-centre"


@pytest.fixture()
def outreach(outreach_app, survey, settings):
    outreach_app.config["JEJAK_SETTINGS"] = dataclasses.replace(
        settings, sms_webhook_secret=SMS_SECRET, whatsapp_app_secret=APP_SECRET,
        whatsapp_verify_token=VERIFY_TOKEN)
    return outreach_app


def opt_outs(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(OptOut))


def forget_opt_outs(app) -> None:
    """Staff lift the opt-out at the alumnus's request (the row goes)."""
    with app.app_context():
        db.session().execute(delete(OptOut))
        db.session().commit()


# --- the subscription handshake --------------------------------------------------------------


def handshake(client, token: str):
    return client.get("/webhooks/whatsapp", query_string={
        "hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"})


def test_the_handshake_answers_its_own_verify_token_not_the_app_secret(outreach) -> None:
    client = outreach.test_client()
    answer = handshake(client, VERIFY_TOKEN)
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "1158201444"
    assert handshake(client, APP_SECRET).status_code == 403
    assert handshake(client, VERIFY_TOKEN[:-1]).status_code == 403
    assert handshake(client, "").status_code == 403


def test_a_non_ascii_verify_token_is_refused_not_an_error(outreach) -> None:
    assert handshake(outreach.test_client(), VERIFY_TOKEN + "é").status_code == 403


def test_without_a_verify_token_configured_no_handshake_succeeds(outreach, settings) -> None:
    outreach.config["JEJAK_SETTINGS"] = dataclasses.replace(
        settings, whatsapp_app_secret=APP_SECRET, whatsapp_verify_token="")
    assert handshake(outreach.test_client(), "").status_code == 403


# --- SMS gateway: timestamp in the signed material, seen ids in Redis ---------------------


def sms_stop(survey) -> bytes:
    """STOP from alumnus 0 of the `survey` fixture."""
    return json.dumps({"type": "inbound", "from": "+628120000000", "text": "STOP"}).encode()


def test_an_sms_report_replayed_is_refused_and_not_applied_twice(outreach, survey) -> None:
    client = outreach.test_client()
    body = sms_stop(survey)
    headers = sms_webhook_headers(SMS_SECRET, body)
    assert client.post("/webhooks/sms", data=body, headers=headers).status_code == 200
    assert opt_outs(outreach) == 2  # SMS and WhatsApp for that number
    forget_opt_outs(outreach)
    replay = client.post("/webhooks/sms", data=body, headers=headers)
    assert replay.status_code == 409, replay.get_data(as_text=True)
    assert opt_outs(outreach) == 0
    # The gateway's own retry is signed again with its time: a new request, applied.
    again = sms_webhook_headers(SMS_SECRET, body, at=time.time() + 1)
    assert client.post("/webhooks/sms", data=body, headers=again).status_code == 200
    assert opt_outs(outreach) == 2


@pytest.mark.parametrize("seconds", [-400, 400, -86_400])  # 5 minutes either side
def test_an_sms_report_signed_outside_five_minutes_is_refused(outreach, survey,
                                                              seconds: int) -> None:
    body = sms_stop(survey)
    headers = sms_webhook_headers(SMS_SECRET, body, at=time.time() + seconds)
    answer = outreach.test_client().post("/webhooks/sms", data=body, headers=headers)
    assert answer.status_code == 401
    assert opt_outs(outreach) == 0


def test_an_sms_signature_must_cover_the_timestamp(outreach, survey) -> None:
    client = outreach.test_client()
    body = sms_stop(survey)
    headers = sms_webhook_headers(SMS_SECRET, body, at=time.time() - 3_600)
    moved = {**headers, "X-Timestamp": str(int(time.time()))}  # an old request made "new"
    assert client.post("/webhooks/sms", data=body, headers=moved).status_code == 401
    no_time = {key: value for key, value in headers.items() if key != "X-Timestamp"}
    assert client.post("/webhooks/sms", data=body, headers=no_time).status_code == 401
    for bad in ("soon", "", "1e9", "１７６４２３０４００"):
        weird = {**headers, "X-Timestamp": bad}
        assert client.post("/webhooks/sms", data=body, headers=weird).status_code == 401
    assert opt_outs(outreach) == 0


# --- WhatsApp: ids and times from Meta's signed payload --------------------------------------


def cloud(messages: list | None = None, statuses: list | None = None) -> bytes:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "6285250001111",
                          "phone_number_id": "106540352242922"},
             "messages": messages or [], "statuses": statuses or []}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}).encode()


def stop_message(at: float) -> dict:
    return {"from": "628120000000", "id": f"wamid.{uuid.uuid4().hex}",
            "timestamp": str(int(at)), "type": "text", "text": {"body": "BERHENTI"}}


def post_whatsapp(client, body: bytes):
    return client.post("/webhooks/whatsapp", data=body,
                       headers=whatsapp_webhook_headers(APP_SECRET, body))


def test_a_whatsapp_stop_replayed_is_refused_and_not_applied_twice(outreach, survey) -> None:
    client = outreach.test_client()
    body = cloud(messages=[stop_message(time.time())])
    assert post_whatsapp(client, body).status_code == 200
    assert opt_outs(outreach) == 2
    forget_opt_outs(outreach)
    replay = post_whatsapp(client, body)
    assert replay.status_code == 409, replay.get_data(as_text=True)
    assert opt_outs(outreach) == 0


def test_a_whatsapp_message_older_than_the_window_is_refused(outreach, survey) -> None:
    """Meta retries an undelivered webhook for up to 7 days: older than that is a replay."""
    eight_days_ago = time.time() - 8 * 86_400
    answer = post_whatsapp(outreach.test_client(), cloud(messages=[stop_message(eight_days_ago)]))
    assert answer.status_code == 409
    assert opt_outs(outreach) == 0
    six_days_ago = time.time() - 6 * 86_400  # a late retry of a real reply still counts
    late = post_whatsapp(outreach.test_client(), cloud(messages=[stop_message(six_days_ago)]))
    assert late.status_code == 200
    assert opt_outs(outreach) == 2


def test_a_whatsapp_item_without_an_id_or_a_time_is_not_applied(outreach, survey) -> None:
    no_id = {key: value for key, value in stop_message(time.time()).items() if key != "id"}
    no_time = {**stop_message(time.time()), "timestamp": "yesterday"}
    answer = post_whatsapp(outreach.test_client(), cloud(messages=[no_id, no_time]))
    assert answer.status_code == 409
    assert opt_outs(outreach) == 0


def test_a_batch_applies_its_new_items_and_skips_the_replayed_ones(outreach, survey) -> None:
    client = outreach.test_client()
    first = stop_message(time.time())
    assert post_whatsapp(client, cloud(messages=[first])).status_code == 200
    forget_opt_outs(outreach)
    status = {"id": f"wamid.{uuid.uuid4().hex}", "status": "delivered",
              "timestamp": str(int(time.time())), "recipient_id": "628120000001"}
    mixed = post_whatsapp(client, cloud(messages=[first], statuses=[status]))
    assert mixed.status_code == 200  # the new status is applied (no message of ours: no-op)
    assert opt_outs(outreach) == 0  # the replayed STOP is not


def test_without_redis_a_webhook_asks_for_a_retry_and_applies_nothing(outreach, survey) -> None:
    """The seen ids live in Redis: without it a replay cannot be told apart, so nothing is
    applied and the provider is asked to come back (503, Retry-After)."""
    outreach.config["JEJAK_SETTINGS"] = dataclasses.replace(
        outreach.config["JEJAK_SETTINGS"], redis_url="redis://127.0.0.1:1/0")
    body = sms_stop(survey)
    answer = outreach.test_client().post("/webhooks/sms", data=body,
                                         headers=sms_webhook_headers(SMS_SECRET, body))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert opt_outs(outreach) == 0
