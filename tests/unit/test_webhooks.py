"""Provider webhooks: signatures, the WhatsApp Cloud API and SMS gateway payloads, stop words."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.outreach.webhooks import (
    InboundText,
    StatusUpdate,
    is_stop_word,
    parse_sms,
    parse_whatsapp,
    verify_hmac_sha256,
)

SECRET = "app-secret-from-meta"
BODY = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


# --- signatures ----------------------------------------------------------------------------


def test_a_good_signature_verifies() -> None:
    assert verify_hmac_sha256(SECRET, BODY, GOOD)
    assert verify_hmac_sha256(SECRET, BODY, GOOD.upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize("header", [
    None,  # missing
    "",
    "sha256=" + "0" * 64,  # wrong MAC
    GOOD.removeprefix("sha256="),  # no prefix
    GOOD.replace("sha256=", "sha1="),  # wrong prefix
    GOOD[:-2],  # truncated
    GOOD + "é",  # non-ASCII: refused, not an exception
])
def test_a_bad_or_missing_signature_fails(header: str | None) -> None:
    assert not verify_hmac_sha256(SECRET, BODY, header)


def test_the_signature_covers_the_body_and_the_secret() -> None:
    assert not verify_hmac_sha256(SECRET, BODY + b" ", GOOD)
    assert not verify_hmac_sha256("another-secret", BODY, GOOD)
    assert not verify_hmac_sha256("", BODY, GOOD)  # no secret configured: nothing verifies


def test_a_custom_prefix() -> None:
    bare = GOOD.removeprefix("sha256=")
    assert verify_hmac_sha256(SECRET, BODY, bare, prefix="")
    assert not verify_hmac_sha256(SECRET, BODY, GOOD, prefix="")


# --- WhatsApp Cloud API -----------------------------------------------------------------------


def cloud_payload(value: dict) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398",
        "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6285250001111",
                         "phone_number_id": "106540352242922"},
            **value}}]}]}


def test_whatsapp_statuses() -> None:
    payload = cloud_payload({"statuses": [
        {"id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjA", "status": "sent",
         "timestamp": "1764230400", "recipient_id": "6281234567890",
         "biz_opaque_callback_data": "11",
         "conversation": {"id": "c1", "origin": {"type": "marketing"}},
         "pricing": {"billable": True, "pricing_model": "CBP", "category": "marketing"}},
        {"id": "wamid.A2", "status": "delivered", "timestamp": "1764230405",
         "recipient_id": "6281234567890", "biz_opaque_callback_data": "11"},
        {"id": "wamid.A3", "status": "read", "timestamp": "1764230410",
         "recipient_id": "6281234567891"},
        {"id": "wamid.A4", "status": "failed", "timestamp": "1764230412",
         "recipient_id": "6281234567892",
         "errors": [{"code": 131026, "title": "Message undeliverable.",
                     "message": "Message undeliverable.",
                     "error_data": {"details": "Message Undeliverable."},
                     "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]},
        {"id": "wamid.A5", "status": "deleted", "timestamp": "1764230413"},
    ]})
    statuses, inbound = parse_whatsapp(payload)
    assert inbound == []
    assert statuses == [
        StatusUpdate("wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjA", "sent", None, 11),
        StatusUpdate("wamid.A2", "delivered", None, 11),
        StatusUpdate("wamid.A3", "delivered", None, None),
        StatusUpdate("wamid.A4", "failed", "whatsapp 131026: Message Undeliverable.", None),
    ]


def test_whatsapp_inbound_text_and_quick_reply_button() -> None:
    payload = cloud_payload({
        "contacts": [{"profile": {"name": "Siti Aminah"}, "wa_id": "6281234567890"}],
        "messages": [
            {"from": "6281234567890", "id": "wamid.IN1", "timestamp": "1764230500",
             "type": "text", "text": {"body": "BERHENTI"}},
            {"context": {"from": "6285250001111", "id": "wamid.OUT1"},
             "from": "6281234567891", "id": "wamid.IN2", "timestamp": "1764230501",
             "type": "button", "button": {"payload": "STOP", "text": "Berhenti"}},
            {"from": "6281234567892", "id": "wamid.IN3", "timestamp": "1764230502",
             "type": "image", "image": {"id": "media-1", "mime_type": "image/jpeg"}},
        ]})
    statuses, inbound = parse_whatsapp(payload)
    assert statuses == []
    assert inbound == [InboundText("+6281234567890", "BERHENTI"),
                       InboundText("+6281234567891", "Berhenti")]


@pytest.mark.parametrize("payload", [
    None, [], "text", {}, {"entry": None}, {"entry": [{"changes": [{"value": None}]}]},
    {"entry": [{"changes": [{"value": {"statuses": [{"id": "x", "status": "weird"}],
                                       "messages": [{"type": "text", "text": {"body": "hi"}}]}}]}]},
])
def test_whatsapp_malformed_payloads_yield_nothing(payload: object) -> None:
    assert parse_whatsapp(payload) == ([], [])


# --- SMS gateway ------------------------------------------------------------------------------


def test_sms_delivery_reports() -> None:
    delivered = {"type": "status", "id": "gw-91", "reference": "1201", "status": "delivered"}
    failed = {"type": "status", "id": "gw-92", "reference": "1202", "status": "failed",
              "reason": "invalid number"}
    assert parse_sms(delivered) == ([StatusUpdate("gw-91", "delivered", None, 1201)], [])
    assert parse_sms(failed) == (
        [StatusUpdate("gw-92", "failed", "sms: invalid number", 1202)], [])
    no_reference = {"type": "status", "id": "gw-93", "status": "delivered"}
    assert parse_sms(no_reference) == ([StatusUpdate("gw-93", "delivered", None, None)], [])


def test_sms_inbound() -> None:
    assert parse_sms({"type": "inbound", "from": "+6281234567890", "text": "STOP"}) == (
        [], [InboundText("+6281234567890", "STOP")])
    assert parse_sms({"type": "inbound", "from": "6281234567890", "text": "Stop"}) == (
        [], [InboundText("+6281234567890", "Stop")])


@pytest.mark.parametrize("payload", [
    None, [], {}, {"type": "status", "id": "gw-1", "status": "exploded"},
    {"type": "inbound", "text": "STOP"},  # no sender
    {"type": "inbound", "from": "not a number", "text": "STOP"},
    {"type": "bogus", "status": "delivered"},
])
def test_sms_malformed_payloads_yield_nothing(payload: object) -> None:
    assert parse_sms(payload) == ([], [])


def test_a_non_numeric_reference_is_not_a_message_id() -> None:
    statuses, _ = parse_sms({"type": "status", "id": "gw-1", "reference": "12a",
                             "status": "delivered"})
    assert statuses == [StatusUpdate("gw-1", "delivered", None, None)]


# --- stop words ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "STOP", "stop", " Stop \n", "BERHENTI", "berhenti.", "BERHENTI!!", "Unsubscribe",
    "UNREG", "Berhenti langganan", "stop 🙏", "sToP.",
])
def test_stop_words(text: str) -> None:
    assert is_stop_word(text)


@pytest.mark.parametrize("text", [
    "", "stopwatch", "jangan berhenti", "Saya sudah isi survei", "tidak stop", "OK",
    "Terima kasih, sudah saya isi",
])
def test_not_stop_words(text: str) -> None:
    assert not is_stop_word(text)
