"""Inbound provider calls: signature checks and parsing (plain functions)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

STOP_WORDS = {"stop", "berhenti", "unsubscribe", "unreg", "batal"}


@dataclass(frozen=True)
class StatusUpdate:
    provider_id: str | None
    status: str  # "sent" | "delivered" | "failed"
    reason: str | None = None
    message_id: int | None = None


@dataclass(frozen=True)
class InboundText:
    sender_e164: str
    text: str


def verify_hmac_sha256(secret: str, body: bytes, signature_header: str | None,
                       prefix: str = "sha256=") -> bool:
    if not secret or not signature_header or not signature_header.startswith(prefix):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature_header.removeprefix(prefix).strip())


def is_stop_word(text: str) -> bool:
    words = re.findall(r"[a-z]+", text.lower())
    return len(words) == 1 and words[0] in STOP_WORDS


def _status(value: Any) -> str | None:
    return {"sent": "sent", "delivered": "delivered", "read": "delivered",
            "failed": "failed", "undelivered": "failed"}.get(str(value).lower())


def parse_whatsapp(payload: Any) -> tuple[list[StatusUpdate], list[InboundText]]:
    """The Cloud API webhook: entry[].changes[].value.{statuses,messages}[]."""
    statuses: list[StatusUpdate] = []
    inbound: list[InboundText] = []
    if not isinstance(payload, dict):
        return statuses, inbound
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            for item in value.get("statuses") or []:
                status = _status(item.get("status"))
                if status:
                    errors = item.get("errors") or [{}]
                    reason = errors[0].get("title") or errors[0].get("message")
                    statuses.append(StatusUpdate(item.get("id"), status,
                                                 f"whatsapp: {reason}" if reason else None))
            for item in value.get("messages") or []:
                if item.get("type") == "text" and item.get("from"):
                    inbound.append(InboundText("+" + str(item["from"]).lstrip("+"),
                                               str((item.get("text") or {}).get("body", ""))))
    return statuses, inbound


def parse_sms(payload: Any) -> tuple[list[StatusUpdate], list[InboundText]]:
    """Our gateway contract: {"type": "status", ...} or {"type": "inbound", ...}."""
    if not isinstance(payload, dict):
        return [], []
    if payload.get("type") == "inbound" and payload.get("from"):
        return [], [InboundText(str(payload["from"]), str(payload.get("text", "")))]
    status = _status(payload.get("status"))
    if payload.get("type") != "status" or status is None:
        return [], []
    reference = str(payload.get("reference") or "")
    return [StatusUpdate(payload.get("id"), status, payload.get("reason"),
                         int(reference) if reference.isdigit() else None)], []
