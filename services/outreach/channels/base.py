"""The one interface every delivery channel implements, and the pieces channels share."""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import selectors
import ssl
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from shared.personal_files import FILE_MODE, private_folder


@dataclass(frozen=True)
class Outgoing:
    """One message, fully rendered."""

    message_id: int
    channel: str  # "email" | "sms" | "whatsapp"
    address: str  # email address or E.164 phone (+62...)
    body: str  # plain text: the email's text part, the SMS, WhatsApp's fallback text
    subject: str | None = None
    html: str | None = None  # optional email HTML part
    unsubscribe_url: str | None = None  # one-click opt-out link (email headers)
    template_name: str | None = None  # WhatsApp approved template
    template_params: tuple[str, ...] = ()  # WhatsApp body parameters, in order
    language: str = "id"


@dataclass(frozen=True)
class Outcome:
    kind: str  # "sent" | "transient" | "permanent"
    provider_id: str | None = None
    reason: str | None = None  # short and plain: "smtp 451 4.7.1 try later", "invalid number"


class Channel(Protocol):
    name: str

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        """One Outcome per message, same order; a per-message failure is an Outcome."""
        ...

    def close(self) -> None: ...


REASON_LENGTH = 200


def transient(reason: str) -> Outcome:
    return Outcome("transient", reason=reason[:REASON_LENGTH])


def permanent(reason: str) -> Outcome:
    return Outcome("permanent", reason=reason[:REASON_LENGTH])


# --- HTTP providers (SMS gateway, WhatsApp Cloud API) -----------------------------------


class ProviderUnreachable(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failure. Always worth a retry."""


def retry_later_status(status: int) -> bool:
    """HTTP answers that say "not now" rather than "never" for this message.

    401/403 mean our token or account was refused: every message would fail the same way,
    so failing each alumnus's message for good would punish them for our configuration.
    """
    return status in (401, 403, 408, 429) or status >= 500


HTTP_TIMEOUT = 15.0


class HttpChannel:
    """A provider reached by JSON POSTs; a subclass says what to post and what answers mean."""

    name: str

    def __init__(self, url: str, token: str, *, timeout: float = HTTP_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.endpoint = JsonEndpoint(url, token, timeout=timeout, ssl_context=ssl_context)

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        return [self.send_one(message) for message in batch]

    def send_one(self, message: Outgoing) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        self.endpoint.close()


class JsonEndpoint:
    """POSTs JSON with a bearer token to one URL, over one kept-alive connection."""

    def __init__(self, url: str, token: str, *, timeout: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer); raises ProviderUnreachable when there is no answer."""
        if self.connection is not None and _dropped(self.connection):
            self.close()
        if self.connection is None:
            self.connection = self._open()
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.connection.request("POST", self.target, body=data, headers={
                "Content-Type": "application/json", "Accept": "application/json",
                "Authorization": f"Bearer {self.token}"})
            response = self.connection.getresponse()
            raw = response.read()  # read to the end, or the connection cannot be reused
        except (OSError, http.client.HTTPException) as exc:
            # Never resent here: the provider may have acted on the request before the
            # connection failed, and a message must not go out twice.
            self.close()
            raise ProviderUnreachable(_describe(exc)) from exc
        return response.status, _json_object(raw)

    def _open(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout,
                context=self.ssl_context or ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether the server closed the kept-alive connection while it sat idle.

    An idle connection has nothing to read; if it is readable, the server sent EOF (or
    junk). Checked before writing, so reconnecting cannot send a request twice (urllib3
    checks the same way).
    """
    if connection.sock is None:
        return False  # not connected yet, or closed by http.client itself: it reconnects
    with selectors.DefaultSelector() as selector:
        selector.register(connection.sock, selectors.EVENT_READ)
        return bool(selector.select(timeout=0))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {text}"


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:REASON_LENGTH].decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {}


# --- the embedded default: JSON lines under var/outbox ----------------------------------


class JsonLinesLog:
    """Phone messages written as one JSON line each to `home/outbox/<name>.log`."""

    name: str

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "outbox" / f"{self.name}.log"

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        outcomes = [self.refusal(message) or
                    Outcome("sent", provider_id=f"log-{message.message_id}") for message in batch]
        _append_json_lines(self.path, (
            {"id": outcome.provider_id, "at": at, "message_id": message.message_id,
             "to": message.address, **self.fields(message)}
            for message, outcome in zip(batch, outcomes, strict=True) if outcome.kind == "sent"))
        return outcomes

    def refusal(self, message: Outgoing) -> Outcome | None:
        """The Outcome when the real provider would refuse this message too."""
        return None

    def fields(self, message: Outgoing) -> dict[str, Any]:
        return {"text": message.body}

    def close(self) -> None:
        return None

    def drop(self, message_ids: Collection[int]) -> int:
        """Erasure: rewrite the log without these messages' lines; how many went."""
        if not self.path.exists():
            return 0
        wanted = set(message_ids)
        with open(self.path, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # appenders hold it shared while they write
            lines = handle.read().splitlines(keepends=True)
            kept = [line for line in lines if _message_id_of(line) not in wanted]
            if len(kept) < len(lines):
                handle.seek(0)
                handle.write(b"".join(kept))
                handle.truncate()
        return len(lines) - len(kept)


def _message_id_of(line: bytes) -> int | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("message_id") if isinstance(record, dict) else None


def _append_json_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append one JSON object per line, all in one write, to a 0600 file in a 0700 folder.

    O_APPEND with a single write keeps lines from concurrent workers whole; the shared lock
    only keeps an erasure's rewrite (`JsonLinesLog.drop`, exclusive) from losing a line.
    """
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)
