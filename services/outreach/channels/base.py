"""The one interface every delivery channel implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """One message, fully rendered."""

    message_id: int
    channel: str  # "email" | "sms" | "whatsapp"
    address: str  # email address or E.164 phone (+62...)
    body: str
    subject: str | None = None
    html: str | None = None
    unsubscribe_url: str | None = None
    template_name: str | None = None  # WhatsApp approved template
    template_params: tuple[str, ...] = ()
    language: str = "id"


@dataclass(frozen=True)
class Outcome:
    kind: str  # "sent" | "transient" | "permanent"
    provider_id: str | None = None
    reason: str | None = None


class Channel(Protocol):
    name: str

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        """One Outcome per message, same order; a per-message failure is an Outcome."""
        ...

    def close(self) -> None: ...
