"""SMS: through an HTTP gateway in production, into var/outbox/sms.log in embedded mode."""

from __future__ import annotations

from typing import Any

from services.outreach.channels.base import (
    HttpChannel,
    JsonLinesLog,
    Outcome,
    Outgoing,
    ProviderUnreachable,
    permanent,
    retry_later_status,
    transient,
)


class HttpSms(HttpChannel):
    """Our gateway contract: POST {"to", "text", "reference"} with a bearer token.

    2xx {"id": ...} is sent; 429, 5xx, our token refused and no answer at all are transient;
    any other 4xx ("invalid number") is permanent. `reference` (our message id) comes back
    in the gateway's delivery reports.
    """

    name = "sms"

    def send_one(self, message: Outgoing) -> Outcome:
        try:
            status, answer = self.endpoint.post({
                "to": message.address, "text": message.body,
                "reference": str(message.message_id)})
        except ProviderUnreachable as exc:
            return transient(f"sms gateway unreachable: {exc}")
        if 200 <= status < 300:
            provider_id = answer.get("id")
            return Outcome("sent", provider_id=str(provider_id) if provider_id else None)
        reason = f"sms {status} {_error_text(answer)}".strip()
        return transient(reason) if retry_later_status(status) else permanent(reason)


def _error_text(answer: dict[str, Any]) -> str:
    error = answer.get("error") or answer.get("message") or ""
    if isinstance(error, dict):
        error = error.get("message") or ""
    return str(error)


class LogSms(JsonLinesLog):
    """The embedded default: one JSON line per SMS in `home/outbox/sms.log`."""

    name = "sms"
