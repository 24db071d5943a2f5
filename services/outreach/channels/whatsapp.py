"""WhatsApp: Cloud API template messages in production, var/outbox/whatsapp.log embedded."""

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

# Cloud API error codes that say "not now" (throttling, outages) or point at our own token or
# account (every message would fail alike until an operator fixes it): worth a retry.
# Any other error on a 4xx (131026 undeliverable, 131021, 100 invalid parameter, 132xxx
# template problems) is about this message and will not get better.
RETRY_LATER_CODES = frozenset({
    0, 3, 10, 190,  # authentication, permissions, expired access token
    1, 2, 131000, 131016,  # unknown error, service temporarily down, something went wrong
    4, 80007, 130429, 131048, 131056,  # rate limits (app, account, throughput, spam, pair)
    368, 131031, 131042,  # our account: temporarily blocked, locked, payment issue
    131049,  # held back to keep engagement healthy: Meta says retry later
})
# Outside the 24-hour service window only approved templates may be sent; the log writer
# refuses too, so the embedded mode fails the way production would.
NO_TEMPLATE = permanent("whatsapp needs an approved template name")


class CloudWhatsApp(HttpChannel):
    """WhatsApp Cloud API: POST an approved template message to `…/<phone-number-id>/messages`.

    The Outgoing's body is the fallback text, not sent here.
    """

    name = "whatsapp"

    def send_one(self, message: Outgoing) -> Outcome:
        if not message.template_name:
            return NO_TEMPLATE
        try:
            status, answer = self.endpoint.post(template_request(message))
        except ProviderUnreachable as exc:
            return transient(f"whatsapp unreachable: {exc}")
        if 200 <= status < 300:
            sent = answer.get("messages")
            first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
            provider_id = first.get("id")
            return Outcome("sent", provider_id=str(provider_id) if provider_id else None)
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        code = error.get("code")
        label = f"whatsapp {status}" if code is None else f"whatsapp {status} {code}"
        reason = f"{label}: {error.get('message') or 'no error message'}"
        if retry_later_status(status) or code in RETRY_LATER_CODES:
            return transient(reason)
        return permanent(reason)


def template_request(message: Outgoing) -> dict[str, Any]:
    template: dict[str, Any] = {"name": message.template_name,
                                "language": {"code": message.language}}
    if message.template_params:  # a body component without parameters is rejected
        template["components"] = [{"type": "body", "parameters": [
            {"type": "text", "text": value} for value in message.template_params]}]
    return {
        "messaging_product": "whatsapp",
        "to": message.address.removeprefix("+"),
        "type": "template",
        "template": template,
        # Echoed in status webhooks: a report can be matched even if the send was never
        # recorded (a worker killed between the provider's answer and our commit).
        "biz_opaque_callback_data": str(message.message_id),
    }


class LogWhatsApp(JsonLinesLog):
    """The embedded default: one JSON line per message in `home/outbox/whatsapp.log`."""

    name = "whatsapp"

    def refusal(self, message: Outgoing) -> Outcome | None:
        return None if message.template_name else NO_TEMPLATE

    def fields(self, message: Outgoing) -> dict[str, Any]:
        return {"template": message.template_name, "language": message.language,
                "params": list(message.template_params), "text": message.body}
