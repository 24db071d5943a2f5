"""Inbound provider calls: signature checks and parsing (plain functions, no Flask)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

# The whole reply, letters only, in any case: "STOP", " berhenti. ", "Unsubscribe!".
# UNREG is how Indonesian SMS services are left; "berhenti langganan" is "unsubscribe".
STOP_WORDS = frozenset({"stop", "berhenti", "unsubscribe", "unreg", "batal",
                        "berhenti langganan"})
MAX_MESSAGE_ID = 2**31 - 1  # messages.id is a database integer
# Provider words for where a message got to; "read" implies it was delivered.
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "delivered",
            "failed": "failed", "undelivered": "failed"}


@dataclass(frozen=True)
class StatusUpdate:
    provider_id: str | None
    status: str  # "sent" | "delivered" | "failed"
    reason: str | None = None
    message_id: int | None = None  # ours, when the provider echoes it back


@dataclass(frozen=True)
class InboundText:
    sender_e164: str
    text: str


def verify_hmac_sha256(secret: str, body: bytes, signature_header: str | None,
                       prefix: str = "sha256=") -> bool:
    """Whether `signature_header` is `prefix` + the hex HMAC-SHA256 of the raw body."""
    if not secret or not signature_header or not signature_header.startswith(prefix):
        return False
    given = signature_header[len(prefix):].strip().lower()
    if not given.isascii():  # compare_digest refuses non-ASCII str: a 401, not a 500
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def is_stop_word(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text.casefold())
    return " ".join(words) in STOP_WORDS


def parse_whatsapp(payload: Any) -> tuple[list[StatusUpdate], list[InboundText]]:
    """The Cloud API webhook: entry[].changes[].value.{statuses,messages}[]."""
    statuses: list[StatusUpdate] = []
    inbound: list[InboundText] = []
    for value in _whatsapp_values(payload):
        for item in _dicts(value.get("statuses")):
            status = STATUSES.get(str(item.get("status")).lower())
            if status is None:
                continue
            statuses.append(StatusUpdate(
                _text_or_none(item.get("id")), status, _whatsapp_reason(item),
                _int_or_none(item.get("biz_opaque_callback_data"))))
        for item in _dicts(value.get("messages")):
            # A quick-reply button ("Berhenti") arrives as type "button" with its label.
            text = (item.get("text") if item.get("type") == "text" else
                    item.get("button") if item.get("type") == "button" else None)
            sender = _e164(item.get("from"))
            if isinstance(text, dict) and sender:
                inbound.append(InboundText(sender, str(text.get("body") or text.get("text") or "")))
    return statuses, inbound


def parse_sms(payload: Any) -> tuple[list[StatusUpdate], list[InboundText]]:
    """Our gateway contract: {"type": "status", "id", "reference", "status", "reason"} or
    {"type": "inbound", "from", "text"}."""
    if not isinstance(payload, dict):
        return [], []
    if payload.get("type") == "inbound":
        sender = _e164(payload.get("from"))
        return ([], [InboundText(sender, str(payload.get("text") or ""))]) if sender else ([], [])
    status = STATUSES.get(str(payload.get("status")).lower())
    if payload.get("type") != "status" or status is None:
        return [], []
    reason = _text_or_none(payload.get("reason"))
    return [StatusUpdate(_text_or_none(payload.get("id")), status,
                         f"sms: {reason}" if reason else None,
                         _int_or_none(payload.get("reference")))], []


def _whatsapp_values(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        return []
    return [change["value"] for entry in _dicts(payload.get("entry"))
            for change in _dicts(entry.get("changes")) if isinstance(change.get("value"), dict)]


def _whatsapp_reason(status: dict[str, Any]) -> str | None:
    errors = _dicts(status.get("errors"))
    if not errors:
        return None
    error = errors[0]
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    text = details or error.get("title") or error.get("message") or "failed"
    code = error.get("code")
    return f"whatsapp {code}: {text}" if code is not None else f"whatsapp: {text}"


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: Any) -> int | None:
    # Our message ids are database integers: a larger echo names no message (not a 500).
    text = str(value).strip() if value is not None else ""
    number = int(text) if text.isdigit() and text.isascii() and len(text) <= 10 else None
    return number if number is not None and number <= MAX_MESSAGE_ID else None


def _e164(value: Any) -> str | None:
    """`+62…` from `+62…` or the Cloud API's bare `62…`; None for anything else."""
    digits = str(value or "").strip().removeprefix("+")
    return f"+{digits}" if digits.isdigit() and digits.isascii() and digits[0] != "0" else None
