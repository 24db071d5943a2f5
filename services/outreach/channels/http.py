"""SMS through an HTTP gateway, and WhatsApp through the Cloud API's template messages."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from services.outreach.channels.base import Outcome, Outgoing

TIMEOUT = 15.0
# WhatsApp Cloud API error codes that will not succeed on a retry.
WHATSAPP_PERMANENT = {100, 131021, 131026, 131051, 132000, 132001, 132012, 133010}


def post_json(url: str, token: str, body: dict[str, Any],
              timeout: float) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"raw": parsed}


def _transport_failure(exc: Exception) -> Outcome:
    return Outcome("transient", reason=f"{type(exc).__name__}: {exc}"[:200])


class HttpSms:
    """Our gateway contract: POST {to, text, reference} → {"id": ...}."""

    name = "sms"

    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            try:
                status, body = post_json(self.url, self.token, {
                    "to": message.address, "text": message.body,
                    "reference": str(message.message_id)}, self.timeout)
            except OSError as exc:
                outcomes.append(_transport_failure(exc))
                continue
            outcomes.append(_http_outcome(status, body, str(body.get("id") or "")))
        return outcomes

    def close(self) -> None:
        return None


class CloudWhatsApp:
    """WhatsApp Cloud API: an approved template with the name and the link as parameters."""

    name = "whatsapp"

    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            body = {
                "messaging_product": "whatsapp",
                "to": message.address.lstrip("+"),
                "type": "template",
                "template": {
                    "name": message.template_name,
                    "language": {"code": message.language},
                    "components": [{"type": "body", "parameters": [
                        {"type": "text", "text": value} for value in message.template_params]}],
                },
            }
            try:
                status, answer = post_json(self.url, self.token, body, self.timeout)
            except OSError as exc:
                outcomes.append(_transport_failure(exc))
                continue
            if 200 <= status < 300:
                ids = answer.get("messages") or [{}]
                outcomes.append(Outcome("sent", provider_id=str(ids[0].get("id") or "")))
                continue
            error = answer.get("error") or {}
            code = error.get("code")
            reason = f"whatsapp {status} {code}: {error.get('message', '')}"[:200]
            permanent = code in WHATSAPP_PERMANENT or (400 <= status < 500 and status != 429
                                                      and code not in (130429, 131000, 131016))
            outcomes.append(Outcome("permanent" if permanent else "transient", reason=reason))
        return outcomes

    def close(self) -> None:
        return None


def _http_outcome(status: int, body: dict[str, Any], provider_id: str) -> Outcome:
    if 200 <= status < 300:
        return Outcome("sent", provider_id=provider_id)
    reason = f"http {status}: {body.get('error') or body.get('message') or body}"[:200]
    if status == 429 or status >= 500:
        return Outcome("transient", reason=reason)
    return Outcome("permanent", reason=reason)
