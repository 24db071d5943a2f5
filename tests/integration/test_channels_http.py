"""SMS gateway and WhatsApp Cloud API channels against real loopback HTTP servers."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from services.outreach.channels import channel_for
from services.outreach.channels.base import Outgoing
from services.outreach.channels.sms import HttpSms, LogSms
from services.outreach.channels.whatsapp import CloudWhatsApp, LogWhatsApp
from shared.config import Settings
from tests.integration.peers import free_port

TOKEN = "provider-token-123"


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    client_port: int  # one per connection


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None = None
    delay: float = 0.0


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has gone before its answer: expected in these tests.
        return None


class Provider:
    """A loopback HTTP/1.1 server (keep-alive) that records POSTs and answers from a script.

    Unscripted requests get 200 with a fresh id in `ok_body(n)`.
    """

    def __init__(self, path: str, ok_body) -> None:  # noqa: ANN001
        self.path = path
        self.ok_body = ok_body
        self.seen: list[Seen] = []
        self.script: list[Answer] = []
        self.close_after_each = False  # close kept-alive connections without saying so
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with provider.lock:
                    provider.seen.append(Seen(self.path, dict(self.headers.items()),
                                              json.loads(raw), self.client_address[1]))
                    answer = (provider.script.pop(0) if provider.script
                              else Answer(200, provider.ok_body(next(provider.ids))))
                time.sleep(answer.delay)
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = provider.close_after_each

            def log_message(self, *_args: object) -> None:
                return None

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def connections(self) -> int:
        return len({seen.client_port for seen in self.seen})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def gateway() -> Iterator[Provider]:
    provider = Provider("/api/v1/sms", lambda n: {"id": f"gw-{n}", "status": "queued"})
    yield provider
    provider.stop()


@pytest.fixture()
def cloud() -> Iterator[Provider]:
    provider = Provider("/v19.0/106540352242922/messages", lambda n: {
        "messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
        "messages": [{"id": f"wamid.HBgM{n:04d}"}]})
    yield provider
    provider.stop()


def sms(message_id: int, phone: str = "+6281234567890", text: str = "Halo Siti") -> Outgoing:
    return Outgoing(message_id=message_id, channel="sms", address=phone, body=text)


def whatsapp(message_id: int, phone: str = "+6281234567890", **extra: Any) -> Outgoing:
    fields: dict[str, Any] = {"template_name": "undangan_survei",
                              "template_params": ("Siti", "https://jejak.test/s/abc")}
    fields.update(extra)
    return Outgoing(message_id=message_id, channel="whatsapp", address=phone,
                    body="Halo Siti, isi survei: https://jejak.test/s/abc", **fields)


def meta_error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": message},
                      "fbtrace_id": "AbCdEf123"}}


# --- SMS gateway ------------------------------------------------------------------------------


def test_sms_contract_and_classification_over_one_connection(gateway: Provider) -> None:
    gateway.script = [Answer(200, {"id": "gw-a"}), Answer(400, {"error": "invalid number"}),
                      Answer(429, {"error": "slow down"}), Answer(500, {"error": "boom"}),
                      Answer(422, {"error": {"message": "text too long"}}),
                      Answer(200, {"id": "gw-b"})]
    channel = HttpSms(gateway.url, TOKEN, timeout=2)
    batch = [sms(n, f"+62812000000{n}", f"Halo alumnus {n} — survei") for n in range(1, 7)]
    outcomes = channel.send(batch)
    channel.close()
    assert [(o.kind, o.provider_id) for o in outcomes] == [
        ("sent", "gw-a"), ("permanent", None), ("transient", None), ("transient", None),
        ("permanent", None), ("sent", "gw-b")]
    assert outcomes[1].reason == "sms 400 invalid number"
    assert outcomes[2].reason == "sms 429 slow down"
    assert outcomes[4].reason == "sms 422 text too long"
    assert [seen.body for seen in gateway.seen] == [
        {"to": m.address, "text": m.body, "reference": str(m.message_id)} for m in batch]
    first = gateway.seen[0]
    assert first.path == "/api/v1/sms"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.headers["Content-Type"] == "application/json"
    assert gateway.connections() == 1  # kept alive through the batch, errors included


def test_sms_refused_token_is_transient(gateway: Provider) -> None:
    gateway.script = [Answer(401, {"error": "bad token"})]
    outcome = HttpSms(gateway.url, "wrong", timeout=2).send([sms(1)])[0]
    assert (outcome.kind, outcome.reason) == ("transient", "sms 401 bad token")


def test_sms_timeout_is_transient_and_not_resent(gateway: Provider) -> None:
    gateway.script = [Answer(200, {"id": "late"}, delay=0.6)]
    channel = HttpSms(gateway.url, TOKEN, timeout=0.2)
    outcomes = channel.send([sms(1), sms(2)])
    channel.close()
    assert outcomes[0].kind == "transient" and "timed out" in outcomes[0].reason
    assert (outcomes[1].kind, outcomes[1].provider_id) == ("sent", "gw-1")
    assert [seen.body["reference"] for seen in gateway.seen] == ["1", "2"]  # once each


def test_sms_reconnects_when_the_gateway_closed_the_idle_connection(gateway: Provider) -> None:
    gateway.close_after_each = True
    channel = HttpSms(gateway.url, TOKEN, timeout=2)
    outcomes = []
    for message_id in (1, 2, 3):
        outcomes += channel.send([sms(message_id)])
        time.sleep(0.05)  # the server's close reaches us while the connection sits idle
    channel.close()
    assert [o.kind for o in outcomes] == ["sent", "sent", "sent"]
    assert [seen.body["reference"] for seen in gateway.seen] == ["1", "2", "3"]
    assert gateway.connections() == 3


def test_sms_gateway_down_is_transient() -> None:
    channel = HttpSms(f"http://127.0.0.1:{free_port()}/api/v1/sms", TOKEN, timeout=1)
    outcomes = channel.send([sms(1), sms(2)])
    assert [o.kind for o in outcomes] == ["transient", "transient"]
    assert "ConnectionRefusedError" in outcomes[0].reason


def test_log_sms_appends_json_lines(tmp_path: Path) -> None:
    log = LogSms(tmp_path)
    first = log.send([sms(1, text="Halo Siti — isi survei"), sms(2, "+6281111111111")])
    second = log.send([sms(3)])
    assert [o.kind for o in first + second] == ["sent"] * 3
    assert first[0].provider_id == "log-1"
    lines = (tmp_path / "outbox" / "sms.log").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["message_id"], e["to"]) for e in entries] == [
        (1, "+6281234567890"), (2, "+6281111111111"), (3, "+6281234567890")]
    assert entries[0]["text"] == "Halo Siti — isi survei"


# --- WhatsApp Cloud API ---------------------------------------------------------------------


def test_whatsapp_template_request_and_message_id(cloud: Provider) -> None:
    channel = CloudWhatsApp(cloud.url, TOKEN, timeout=2)
    outcomes = channel.send([whatsapp(11), whatsapp(12, phone="+6281300000012",
                                                    template_params=(), language="en")])
    channel.close()
    assert [(o.kind, o.provider_id) for o in outcomes] == [
        ("sent", "wamid.HBgM0001"), ("sent", "wamid.HBgM0002")]
    first, second = cloud.seen
    assert first.path == "/v19.0/106540352242922/messages"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.body == {
        "messaging_product": "whatsapp",
        "to": "6281234567890",
        "type": "template",
        "template": {
            "name": "undangan_survei",
            "language": {"code": "id"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Siti"},
                {"type": "text", "text": "https://jejak.test/s/abc"}]}],
        },
        "biz_opaque_callback_data": "11",
    }
    assert second.body["template"] == {"name": "undangan_survei", "language": {"code": "en"}}
    assert cloud.connections() == 1


@pytest.mark.parametrize(("status", "body", "kind"), [
    (429, meta_error(130429, "Rate limit hit"), "transient"),
    (400, meta_error(130429, "Rate limit hit"), "transient"),
    (500, meta_error(131000, "Something went wrong"), "transient"),
    (503, meta_error(131016, "Service unavailable"), "transient"),
    (502, None, "transient"),
    (401, meta_error(190, "Error validating access token"), "transient"),
    (400, meta_error(131026, "Message undeliverable"), "permanent"),
    (400, meta_error(131021, "Recipient cannot be sender"), "permanent"),
    (400, meta_error(100, "Invalid parameter"), "permanent"),
    (404, meta_error(132001, "Template name does not exist in the translation"), "permanent"),
])
def test_whatsapp_errors_are_classified(cloud: Provider, status: int,
                                        body: dict[str, Any] | None, kind: str) -> None:
    cloud.script = [Answer(status, body)]
    channel = CloudWhatsApp(cloud.url, TOKEN, timeout=2)
    outcomes = channel.send([whatsapp(1), whatsapp(2)])
    channel.close()
    assert outcomes[0].kind == kind
    assert outcomes[0].reason.startswith(f"whatsapp {status}")
    if body is not None:
        code = body["error"]["code"]
        assert f" {code}: {body['error']['message']}" in outcomes[0].reason
    assert outcomes[1].kind == "sent"  # the batch goes on after an error


def test_whatsapp_without_a_template_is_permanent_and_not_sent(cloud: Provider,
                                                                tmp_path: Path) -> None:
    message = whatsapp(1, template_name=None)
    outcome = CloudWhatsApp(cloud.url, TOKEN, timeout=2).send([message])[0]
    assert outcome.kind == "permanent" and "template" in outcome.reason
    assert cloud.seen == []
    assert LogWhatsApp(tmp_path).send([message])[0] == outcome  # embedded mode agrees


def test_whatsapp_timeout_and_down_are_transient(cloud: Provider) -> None:
    cloud.script = [Answer(200, {"messages": [{"id": "late"}]}, delay=0.6)]
    timed_out = CloudWhatsApp(cloud.url, TOKEN, timeout=0.2).send([whatsapp(1)])[0]
    assert timed_out.kind == "transient" and "timed out" in timed_out.reason
    down = CloudWhatsApp(f"http://127.0.0.1:{free_port()}/v19.0/1/messages", TOKEN,
                         timeout=1).send([whatsapp(2)])[0]
    assert down.kind == "transient" and "ConnectionRefusedError" in down.reason
    assert len(cloud.seen) == 1


def test_log_whatsapp_appends_json_lines(tmp_path: Path) -> None:
    log = LogWhatsApp(tmp_path)
    outcomes = log.send([whatsapp(5), whatsapp(6, phone="+6281300000006")])
    assert [(o.kind, o.provider_id) for o in outcomes] == [("sent", "log-5"), ("sent", "log-6")]
    lines = (tmp_path / "outbox" / "whatsapp.log").read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[0])
    assert len(lines) == 2
    assert (entry["message_id"], entry["to"], entry["template"], entry["params"]) == (
        5, "+6281234567890", "undangan_survei", ["Siti", "https://jejak.test/s/abc"])
    assert entry["text"].startswith("Halo Siti")


def test_channel_for_follows_the_configuration(tmp_path: Path) -> None:
    embedded = Settings(home=tmp_path)
    assert isinstance(channel_for("sms", embedded), LogSms)
    assert isinstance(channel_for("whatsapp", embedded), LogWhatsApp)
    configured = Settings(home=tmp_path, sms_url="https://sms.example.test/send",
                          whatsapp_url="https://graph.facebook.com/v19.0/1/messages")
    assert isinstance(channel_for("sms", configured), HttpSms)
    assert isinstance(channel_for("whatsapp", configured), CloudWhatsApp)
    with pytest.raises(ValueError):
        channel_for("pigeon", configured)
