"""Real peers for outreach tests: an SMTP sink and loopback SMS / WhatsApp providers.

Each one is a real server on 127.0.0.1 speaking the wire protocol the channel speaks, keeps a
list of what it accepted (with the arrival time on this machine's clock) and answers with an
error on demand: `sink.fail(451, seconds=2)`, `sms.fail(503, times=3)`,
`whatsapp.fail(400, error=131026, to="+62...")`. A rule matches by address and lasts a number
of answers (`times`) or a time (`seconds`), or for ever when neither is given.

The providers also call Jejak back: `sms_webhook_headers` and `whatsapp_webhook_headers` sign
a webhook body the way the SMS gateway and Meta do, for tests that post to /webhooks/….
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Rule:
    """Answer `code` instead of accepting while the rule lasts (HTTP peers: `extra` fills the
    error body, e.g. `error=131026`)."""

    code: int
    match: str | None = None  # an address; None matches everyone
    times: int | None = None
    until: float | None = None  # time.monotonic() deadline
    stage: str = "DATA"  # SMTP only: "RCPT" or "DATA"
    close: bool = False  # SMTP only: drop the connection after answering (as 421 does)
    extra: dict[str, Any] = field(default_factory=dict)
    used: int = 0

    def applies(self, address: str, stage: str = "DATA") -> bool:
        if self.stage != stage or (self.match is not None and self.match != address):
            return False
        if self.times is not None and self.used >= self.times:
            return False
        return self.until is None or time.monotonic() < self.until


class _Faults:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.lock = threading.Lock()

    def fail(
        self,
        code: int,
        *,
        to: str | None = None,
        times: int | None = None,
        seconds: float | None = None,
        stage: str = "DATA",
        close: bool = False,
        **extra: Any,
    ) -> Rule:
        """Answer `code` to `to` (or anyone) `times` times, for `seconds`, or until healed."""
        until = time.monotonic() + seconds if seconds is not None else None
        rule = Rule(code, to, times, until, stage, close, extra)
        with self.lock:
            self.rules.append(rule)
        return rule

    def lift(self, rule: Rule) -> None:
        """End one rule (the outage is over)."""
        with self.lock:
            self.rules.remove(rule)

    def heal(self) -> None:
        with self.lock:
            self.rules.clear()

    def take(self, address: str, stage: str = "DATA") -> Rule | None:
        """The first rule in force for this answer, counted as used."""
        with self.lock:
            for rule in self.rules:
                if rule.applies(address, stage):
                    rule.used += 1
                    return rule
        return None


# ---------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class Mail:
    at: float  # time.time() when the DATA arrived
    mail_from: str
    rcpt: str
    subject: str
    message_id: str
    body: str
    headers: dict[str, str]  # decoded, as a mail program shows them
    raw: bytes  # the message as it came over the wire


@dataclass(frozen=True)
class Refusal:
    at: float
    stage: str
    code: int
    rcpt: str


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refused = self.sink._refuse(server, address, "RCPT")
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        refused = self.sink._refuse(server, rcpt, "DATA")
        if refused:
            return refused
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = parsed.get_body(("plain",))
        mail = Mail(
            at=time.time(),
            mail_from=envelope.mail_from,
            rcpt=rcpt,
            subject=str(parsed.get("Subject", "")),
            message_id=str(parsed.get("Message-ID", "")),
            body=body.get_content() if body is not None else "",
            headers={key: str(value) for key, value in parsed.items()},
            raw=envelope.original_content or envelope.content,
        )
        # The message has fully arrived: count it before the (slow) answer, as a real
        # server that crashes or is cut off after receiving the data would have it.
        with self.sink.lock:
            self.sink.mails.append(mail)
        for listener in list(self.sink.listeners):
            listener(mail)
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        return "250 Message accepted for delivery"


class SmtpSink(_Faults):
    """aiosmtpd on a free loopback port; `url` is what JEJAK_SMTP_URL would say."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay  # seconds before answering each DATA (a slow server)
        self.mails: list[Mail] = []
        self.refusals: list[Refusal] = []
        self.listeners: list[Callable[[Mail], None]] = []
        self.port = free_port()
        self.controller = Controller(_SinkHandler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def fail(
        self,
        code: int,
        *,
        to: str | None = None,
        times: int | None = None,  # type: ignore[override]
        seconds: float | None = None,
        stage: str = "DATA",
        close: bool | None = None,
    ) -> Rule:
        """Answer `code` at RCPT or DATA; a 421 also closes the connection, as servers do."""
        return super().fail(
            code,
            to=to,
            times=times,
            seconds=seconds,
            stage=stage,
            close=code == 421 if close is None else close,
        )

    def _refuse(self, server: Any, address: str, stage: str) -> str | None:
        rule = self.take(address, stage)
        if rule is None:
            return None
        with self.lock:
            self.refusals.append(Refusal(time.time(), stage, rule.code, address))
        if rule.close:  # after the answer has been written
            asyncio.get_running_loop().call_later(0.02, server.transport.close)
        text = {
            421: "4.3.2 Service shutting down",
            451: "4.3.0 Try again later",
            550: "5.1.1 Mailbox unavailable",
        }.get(rule.code, "Refused on demand")
        return f"{rule.code} {text}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()

    def count(self) -> int:
        with self.lock:
            return len(self.mails)

    def by_recipient_and_subject(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter((mail.rcpt, mail.subject) for mail in self.mails)

    def recipients(self) -> Counter[str]:
        with self.lock:
            return Counter(mail.rcpt for mail in self.mails)


# ---------------------------------------------------------------------------------------
# HTTP providers


@dataclass(frozen=True)
class Request:
    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _LoopbackHttp(_Faults):
    """A threading HTTP server on a free loopback port that answers JSON POSTs."""

    path = "/"

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.accepted: list[Request] = []
        self.answered: list[tuple[int, Request]] = []  # every request with its status
        self._ids = itertools.count(1)
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real providers do

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                request = Request(time.time(), self.path, dict(self.headers.items()), body)
                status, answer = peer._answer(request)
                with peer.lock:
                    peer.answered.append((status, request))
                    if 200 <= status < 300:
                        peer.accepted.append(request)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def recipients(self) -> Counter[str]:
        raise NotImplementedError


class SmsGateway(_LoopbackHttp):
    """The SMS gateway contract: POST {to, text, reference} → 200 {"id": ...}."""

    path = "/api/sms"

    def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return HTTPStatus.UNAUTHORIZED, {"error": "bad token"}
        body = request.body
        if not all(
            isinstance(body.get(key), str) and body[key] for key in ("to", "text", "reference")
        ):
            return HTTPStatus.BAD_REQUEST, {"error": "to, text and reference are required"}
        rule = self.take(body["to"])
        if rule is not None:
            return rule.code, {"error": rule.extra.get("message", "failing on demand")}
        return HTTPStatus.OK, {"id": f"sms-{next(self._ids)}"}

    def recipients(self) -> Counter[str]:
        with self.lock:
            return Counter(request.body["to"] for request in self.accepted)


class WhatsAppCloud(_LoopbackHttp):
    """The WhatsApp Cloud API's messages endpoint, template messages only.

    Errors look like Meta's: HTTP 400 with {"error": {"message", "type", "code",
    "error_data", "fbtrace_id"}}; `fail(400, error=131026)` is "message undeliverable".
    """

    path = "/v19.0/1234567890/messages"

    def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return HTTPStatus.UNAUTHORIZED, _meta_error(190, "Invalid OAuth access token.")
        body = request.body
        template = body.get("template") or {}
        if (
            body.get("messaging_product") != "whatsapp"
            or body.get("type") != "template"
            or not template.get("name")
            or not (template.get("language") or {}).get("code")
            or not str(body.get("to", "")).isdigit()
        ):
            return HTTPStatus.BAD_REQUEST, _meta_error(100, "Invalid parameter")
        rule = self.take("+" + body["to"])
        if rule is not None:
            code = rule.extra.get("error", 131000)
            return rule.code, _meta_error(code, rule.extra.get("message", "Something went wrong"))
        return HTTPStatus.OK, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}],
        }

    def recipients(self) -> Counter[str]:
        with self.lock:
            return Counter("+" + request.body["to"] for request in self.accepted)


def _meta_error(code: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": uuid.uuid4().hex[:16],
        }
    }


# ---------------------------------------------------------------------------------------
# Webhook signatures (the providers calling Jejak back)


def sms_webhook_headers(secret: str, body: bytes, at: float | None = None) -> dict[str, str]:
    """What the SMS gateway sends with a delivery report or an inbound text: the Unix time
    of this attempt in `X-Timestamp` and `X-Signature: sha256=<hex>`, the HMAC-SHA256 under
    the shared secret of `<timestamp>.<body>` (a retry is signed again, with its own time)."""
    timestamp = str(int(time.time() if at is None else at))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {"X-Timestamp": timestamp, "X-Signature": "sha256=" + mac.hexdigest(),
            "Content-Type": "application/json"}


def whatsapp_webhook_headers(app_secret: str, body: bytes) -> dict[str, str]:
    """What Meta sends with a Cloud API webhook: `X-Hub-Signature-256: sha256=<hex>`, the
    HMAC-SHA256 of the raw body under the app secret (no timestamp: the payload's items
    carry their own ids and times)."""
    mac = hmac.new(app_secret.encode(), body, hashlib.sha256)
    return {"X-Hub-Signature-256": "sha256=" + mac.hexdigest(),
            "Content-Type": "application/json"}
