"""Provider webhooks: signatures, the WhatsApp Cloud API and SMS gateway payloads, stop words."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.outreach.webhooks import (
    InboundText,
    StatusUpdate,
    fresh,
    is_stop_word,
    parse_sms,
    parse_whatsapp,
    unix_time,
    verify_hmac_sha256,
    verify_sms,
    verify_token_matches,
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


# --- replays: the SMS gateway's timestamp, WhatsApp's item ids and times -----------------------

NOW = 1_764_230_400.0  # 2025-11-27 08:00:00 UTC
SMS_BODY = b'{"type": "inbound", "from": "+6281234567890", "text": "STOP"}'


def sms_signature(timestamp: str, body: bytes = SMS_BODY) -> str:
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(b"sms-secret", signed, hashlib.sha256).hexdigest()


def test_an_sms_request_signed_with_its_time_verifies_to_one_id() -> None:
    first = verify_sms("sms-secret", SMS_BODY, sms_signature("1764230400"), "1764230400", NOW)
    later = verify_sms("sms-secret", SMS_BODY, sms_signature("1764230460"), "1764230460",
                       NOW + 60)
    assert first == "sms:" + hashlib.sha256(b"1764230400." + SMS_BODY).hexdigest()
    assert later is not None and later != first  # a retry, signed again, is a new request


@pytest.mark.parametrize(("timestamp", "signed_as", "now"), [
    ("1764230400", "1764230400", NOW + 301),  # older than five minutes
    ("1764230400", "1764230400", NOW - 301),  # more than five minutes ahead
    ("1764230460", "1764230400", NOW),  # the time changed after signing
    (None, "1764230400", NOW),  # signed without the time header
    ("1764230400.0", "1764230400.0", NOW),  # not whole ASCII seconds
    ("", "", NOW),
])
def test_an_sms_request_stale_or_signed_otherwise_fails(timestamp, signed_as, now) -> None:
    assert verify_sms("sms-secret", SMS_BODY, sms_signature(signed_as), timestamp, now) is None


def test_an_sms_request_signed_over_the_body_alone_fails() -> None:
    """The contract before issue 13: the body only. Copies of those could be replayed."""
    assert verify_sms("sms-secret", SMS_BODY, GOOD, "1764230400", NOW) is None
    body_only = "sha256=" + hmac.new(b"sms-secret", SMS_BODY, hashlib.sha256).hexdigest()
    assert verify_sms("sms-secret", SMS_BODY, body_only, "1764230400", NOW) is None


def test_freshness_is_a_window_back_and_five_minutes_ahead() -> None:
    assert fresh(1000, 1000 + 300, 300) and fresh(1000, 1000 - 300, 300)
    assert not fresh(1000, 1000 + 301, 300) and not fresh(1000, 1000 - 301, 300)
    assert fresh(1000, 1000 + 6 * 86_400, 7 * 86_400) and not fresh(None, 1000, 300)


@pytest.mark.parametrize(("value", "seconds"), [
    ("1764230400", 1764230400), (1764230400, 1764230400), (" 17 ", 17),
    ("", None), (None, None), ("-5", None), ("1e9", None), ("１７６４", None),
    ("9" * 13, None), ("yesterday", None),
])
def test_unix_times_are_ascii_whole_seconds(value: object, seconds: int | None) -> None:
    assert unix_time(value) == seconds


@pytest.mark.parametrize(("expected", "given", "matches"), [
    ("verify-me", "verify-me", True), ("verify-me", "verify-mE", False),
    ("verify-me", "", False), ("verify-me", None, False), ("", "", False),
    ("verify-me", "verify-meé", False), ("vérify", "vérify", True),
])
def test_the_verify_token_must_match_exactly(expected: str, given: str | None,
                                             matches: bool) -> None:
    assert verify_token_matches(expected, given) is matches


def test_whatsapp_items_carry_their_ids_and_times() -> None:
    payload = cloud_payload({
        "statuses": [{"id": "wamid.A2", "status": "delivered", "timestamp": "1764230405"},
                     {"id": "wamid.A2", "status": "read", "timestamp": "1764230410"},
                     {"status": "sent", "timestamp": "1764230411"}],
        "messages": [{"from": "6281234567890", "id": "wamid.IN1", "timestamp": "1764230500",
                      "type": "text", "text": {"body": "BERHENTI"}}]})
    statuses, inbound = parse_whatsapp(payload)
    assert [(s.event_id, s.at) for s in statuses] == [
        ("wa-status:wamid.A2:delivered", 1764230405), ("wa-status:wamid.A2:read", 1764230410),
        (None, 1764230411)]
    assert [(i.event_id, i.at) for i in inbound] == [("wa-message:wamid.IN1", 1764230500)]
