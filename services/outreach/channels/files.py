"""The embedded default: messages written under var/ so `jejak up --demo` shows real ones."""

from __future__ import annotations

import json
import mailbox
import threading
from collections.abc import Sequence
from pathlib import Path

from services.outreach.channels.base import Outcome, Outgoing
from services.outreach.channels.email import build_email


class MaildirEmail:
    name = "email"

    def __init__(self, home: Path, mail_from: str, secret_key: str) -> None:
        self.maildir = mailbox.Maildir(str(home / "mail"), create=True)
        self.mail_from = mail_from
        self.secret_key = secret_key

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            email = build_email(message, self.mail_from, self.secret_key)
            key = self.maildir.add(email.as_bytes())
            outcomes.append(Outcome("sent", provider_id=key))
        return outcomes

    def close(self) -> None:
        return None


class JsonLines:
    """SMS or WhatsApp appended as one JSON line per message to var/outbox/<channel>.log."""

    _lock = threading.Lock()

    def __init__(self, home: Path, name: str) -> None:
        self.name = name
        self.path = home / "outbox" / f"{name}.log"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        lines = [json.dumps({"id": f"log-{m.message_id}", "to": m.address, "text": m.body,
                             "template": m.template_name, "params": list(m.template_params),
                             "message_id": m.message_id}, ensure_ascii=False)
                 for m in batch]
        with self._lock, open(self.path, "a", encoding="utf-8") as log:
            log.write("".join(line + "\n" for line in lines))
        return [Outcome("sent", provider_id=f"log-{m.message_id}") for m in batch]

    def close(self) -> None:
        return None
