"""Inbound provider calls: signature checks, replay checks and parsing (no Flask).

Replays. A signed request copied off the wire must not act twice (an opt-out lifted by staff
at the alumnus's request must not come back; a "failed" report must not overwrite a later
"delivered"). Two checks together, each covering what the other cannot:
- a timestamp window: the SMS gateway signs `<X-Timestamp>.<body>`, so a request is good for
  `SMS_WINDOW` seconds after it was signed; Meta signs only the body, but every status and
  message in it carries its own Unix time, and Meta retries an undelivered webhook for up to
  7 days, so an item is good for `WHATSAPP_WINDOW`;
- a seen-id set in Redis (`SeenIds`), shared by every web process: an SMS request's id (a
  hash of what was signed) or a WhatsApp item's id (message id, or status id and status) is
  claimed before it is applied and kept for as long as it could still pass the window, so a
  copy inside the window is refused too.
`CLOCK_SKEW` allows a sender's clock that runs ahead of ours.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

SMS_WINDOW = 5 * 60
WHATSAPP_WINDOW = 7 * 24 * 3600
CLOCK_SKEW = 5 * 60
# How long an id is remembered: as long as a request or item carrying it is fresh.
SMS_SEEN_SECONDS = SMS_WINDOW + CLOCK_SKEW
WHATSAPP_SEEN_SECONDS = WHATSAPP_WINDOW + CLOCK_SKEW

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
    # WhatsApp only: what the seen-id set remembers, and the provider's Unix time.
    event_id: str | None = field(default=None, compare=False)
    at: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class InboundText:
    sender_e164: str
    text: str
    event_id: str | None = field(default=None, compare=False)
    at: int | None = field(default=None, compare=False)


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


def verify_token_matches(expected: str, given: str | None) -> bool:
    """Whether `given` is the configured verify token (none configured: nothing matches), in
    time that does not depend on how much of it is right; any text, never an exception."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def verify_sms(secret: str, body: bytes, signature_header: str | None,
               timestamp_header: str | None, now: float) -> str | None:
    """The request's id when `signature_header` is `sha256=` + the HMAC of
    `<timestamp_header>.<body>` and that timestamp is fresh; None otherwise (unsigned, forged,
    signed without the time, or too old or too far ahead)."""
    at = unix_time(timestamp_header)
    if at is None or not fresh(at, now, SMS_WINDOW):
        return None
    signed = f"{timestamp_header}.".encode() + body
    if not verify_hmac_sha256(secret, signed, signature_header):
        return None
    return "sms:" + hashlib.sha256(signed).hexdigest()


def fresh(at: int | None, now: float, window: int) -> bool:
    """Whether a provider time `at` lies within `window` seconds before `now` (or at most
    CLOCK_SKEW after it)."""
    return at is not None and now - window <= at <= now + CLOCK_SKEW


def unix_time(value: Any) -> int | None:
    """Whole seconds since 1970 written in ASCII digits ("1764230400"), or None."""
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


class SeenIds:
    """The ids of webhook requests and items already claimed, in Redis, each for a while."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def claim(self, ids: Sequence[str], seconds: int) -> set[str]:
        """Those of `ids` not claimed before, now claimed for `seconds`. SET NX per id: of two
        processes claiming one id at the same moment, exactly one gets it."""
        if not ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for id_ in ids:
            pipe.set(self.prefix + id_, b"1", nx=True, ex=seconds)
        return {id_ for id_, won in zip(ids, pipe.execute(), strict=True) if won}

    def release(self, ids: set[str]) -> None:
        """Forget `ids`: their request failed before it was applied, and the provider's retry
        of it must be applied."""
        if ids:
            self.client.delete(*(self.prefix + id_ for id_ in ids))


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
            provider_id = _text_or_none(item.get("id"))
            statuses.append(StatusUpdate(
                provider_id, status, _whatsapp_reason(item),
                _int_or_none(item.get("biz_opaque_callback_data")),
                # "delivered" and "read" of one message are two events (both "delivered" here).
                event_id=f"wa-status:{provider_id}:{item.get('status')}" if provider_id else None,
                at=unix_time(item.get("timestamp"))))
        for item in _dicts(value.get("messages")):
            # A quick-reply button ("Berhenti") arrives as type "button" with its label.
            text = (item.get("text") if item.get("type") == "text" else
                    item.get("button") if item.get("type") == "button" else None)
            sender = _e164(item.get("from"))
            message_id = _text_or_none(item.get("id"))
            if isinstance(text, dict) and sender:
                inbound.append(InboundText(
                    sender, str(text.get("body") or text.get("text") or ""),
                    event_id=f"wa-message:{message_id}" if message_id else None,
                    at=unix_time(item.get("timestamp"))))
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
