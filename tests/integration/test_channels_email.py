"""The email channels against a real SMTP server (aiosmtpd on loopback) and a real maildir."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import mailbox
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.outreach.channels import channel_for
from services.outreach.channels.base import Outgoing
from services.outreach.channels.email import (
    MaildirEmail,
    SmtpEmail,
    message_id_from_header,
)
from shared.config import Settings
from tests.integration.peers import free_port

SECRET = "test-secret-key-for-message-ids"
MAIL_FROM = "BLKI Bontang <tracer@blki-bontang.test>"
BODY = "Halo Siti,\n\nMohon isi survei penelusuran alumni — terima kasih.\n"


def outgoing(message_id: int, address: str, **extra: Any) -> Outgoing:
    return Outgoing(message_id=message_id, channel="email", address=address, body=BODY,
                    subject="Survei alumni BLKI Bontang 2026",
                    unsubscribe_url=f"https://jejak.test/outreach/u/token-{message_id}",
                    **extra)


@dataclass(frozen=True)
class Arrival:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    peer: Any  # (host, port) of the client: one per connection
    encrypted: bool
    authenticated: bool


class Recorder:
    """An aiosmtpd handler that keeps what arrived and refuses on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.connections: list[Any] = []  # one entry per EHLO'd connection (client peer)
        self.protocols: list[Any] = []
        self.refuse: dict[str, int] = {}  # recipient -> 451 | 550 at RCPT
        self.refuse_first_data = 0  # answer 451 to the next N messages' DATA
        self.vanish_after_data = False  # keep the message, close without answering
        self.url = ""
        self.loop: asyncio.AbstractEventLoop | None = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001
        with self.lock:
            if session.peer not in self.connections:  # EHLO comes again after STARTTLS
                self.connections.append(session.peer)
                self.protocols.append(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        code = self.refuse.get(address)
        if code == 451:
            return "451 4.7.1 Greylisted, try again later"
        if code == 550:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        with self.lock:
            if self.refuse_first_data > 0:
                self.refuse_first_data -= 1
                return "451 4.3.0 Temporary local problem"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.arrivals.append(Arrival(envelope.mail_from, list(envelope.rcpt_tos), parsed,
                                         session.peer, session.ssl is not None,
                                         bool(session.authenticated)))
        if self.vanish_after_data:
            server.transport.close()  # the answer is never written
        return "250 2.0.0 Queued"

    def drop_connections(self) -> None:
        """Close every client connection server-side, as an idle timeout would."""
        assert self.loop is not None
        done = threading.Event()

        def close_all() -> None:
            for protocol in self.protocols:
                if protocol.transport is not None:
                    protocol.transport.close()
            done.set()

        self.loop.call_soon_threadsafe(close_all)
        assert done.wait(2)
        time.sleep(0.05)  # let the FIN reach the client socket

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for arrival in self.arrivals for rcpt in arrival.rcpt_tos]


@contextmanager
def smtp_server(scheme: str = "smtp", userinfo: str = "", **smtp_options: Any
                ) -> Iterator[Recorder]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    recorder.loop = controller.loop
    recorder.url = f"{scheme}://{userinfo}127.0.0.1:{port}"
    try:
        yield recorder
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for this test run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jejak test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture()
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture()
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def channel(url: str, **options: Any) -> SmtpEmail:
    return SmtpEmail(url, MAIL_FROM, SECRET, timeout=options.pop("timeout", 2.0), **options)


# --- one batch, one connection -------------------------------------------------------------


def test_a_batch_arrives_once_over_one_connection_with_traceable_headers() -> None:
    batch = [outgoing(101, "siti@alumni.test", html="<p>Halo <b>Siti</b></p>"),
             outgoing(102, "budi@alumni.test"),
             outgoing(103, "rina@alumni.test")]
    with smtp_server() as server:
        smtp = channel(server.url)
        outcomes = smtp.send(batch)
        smtp.close()
    assert [o.kind for o in outcomes] == ["sent", "sent", "sent"]
    assert server.recipients() == ["siti@alumni.test", "budi@alumni.test", "rina@alumni.test"]
    assert len(server.connections) == 1
    for sent, outcome, arrival in zip(batch, outcomes, server.arrivals, strict=True):
        mail = arrival.message
        assert arrival.mail_from == "tracer@blki-bontang.test"
        assert mail["List-Unsubscribe"] == f"<{sent.unsubscribe_url}>"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail["Message-ID"].endswith("@blki-bontang.test>")
        assert outcome.provider_id == mail["Message-ID"]
        assert message_id_from_header(mail["Message-ID"], SECRET) == sent.message_id
        assert message_id_from_header(mail["Message-ID"], "another-secret") is None
        assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n") == BODY
        assert mail["Subject"] == "Survei alumni BLKI Bontang 2026"
    html = server.arrivals[0].message.get_body(("html",))
    assert html is not None and "<b>Siti</b>" in html.get_content()
    assert server.arrivals[1].message.get_body(("html",)) is None


def test_the_connection_is_kept_across_sends_until_close() -> None:
    with smtp_server() as server:
        smtp = channel(server.url)
        assert smtp.send([outgoing(1, "a@alumni.test")])[0].kind == "sent"
        assert smtp.send([outgoing(2, "b@alumni.test")])[0].kind == "sent"
        smtp.close()
        assert smtp.send([outgoing(3, "c@alumni.test")])[0].kind == "sent"
        smtp.close()
    assert server.recipients() == ["a@alumni.test", "b@alumni.test", "c@alumni.test"]
    assert len(server.connections) == 2


def test_message_id_verification_rejects_forgeries() -> None:
    header = "<jejak.42.00000000@blki-bontang.test>"
    assert message_id_from_header(header, SECRET) is None
    assert message_id_from_header("<CAF=abc@mail.gmail.com>", SECRET) is None
    assert message_id_from_header("", SECRET) is None
    with smtp_server() as server:
        smtp = channel(server.url)
        smtp.send([outgoing(42, "x@alumni.test")])
        smtp.close()
    ours = server.arrivals[0].message["Message-ID"]
    # A bounce often quotes it among other ids, in References or In-Reply-To.
    assert message_id_from_header(f"<other@mx.test> {ours}", SECRET) == 42
    assert message_id_from_header(ours.replace("jejak.42.", "jejak.43."), SECRET) is None


# --- refusals --------------------------------------------------------------------------------


def test_451_is_transient_550_permanent_and_the_batch_goes_on() -> None:
    with smtp_server() as server:
        server.refuse = {"grey@alumni.test": 451, "gone@alumni.test": 550}
        smtp = channel(server.url)
        outcomes = smtp.send([outgoing(1, "grey@alumni.test"), outgoing(2, "gone@alumni.test"),
                              outgoing(3, "ok@alumni.test")])
        smtp.close()
    assert [o.kind for o in outcomes] == ["transient", "permanent", "sent"]
    assert outcomes[0].reason.startswith("smtp 451 4.7.1")
    assert outcomes[1].reason == "smtp 550 5.1.1 No such user here"
    assert server.recipients() == ["ok@alumni.test"]
    assert len(server.connections) == 1  # a refusal does not cost the connection


def test_451_at_data_for_the_first_messages_only() -> None:
    with smtp_server() as server:
        server.refuse_first_data = 2
        smtp = channel(server.url)
        outcomes = smtp.send([outgoing(n, f"a{n}@alumni.test") for n in (1, 2, 3)])
        smtp.close()
    assert [o.kind for o in outcomes] == ["transient", "transient", "sent"]
    assert "451 4.3.0" in outcomes[0].reason
    assert server.recipients() == ["a3@alumni.test"]
    assert len(server.connections) == 1


def test_a_connection_dropped_while_idle_is_reopened_once() -> None:
    with smtp_server() as server:
        smtp = channel(server.url)
        assert smtp.send([outgoing(1, "a@alumni.test")])[0].kind == "sent"
        server.drop_connections()
        assert smtp.send([outgoing(2, "b@alumni.test")])[0].kind == "sent"
        smtp.close()
    assert server.recipients() == ["a@alumni.test", "b@alumni.test"]
    assert len(server.connections) == 2


def test_a_connection_lost_after_data_is_not_resent() -> None:
    """The server may hold the message already: transient, and never a second copy."""
    with smtp_server() as server:
        server.vanish_after_data = True
        smtp = channel(server.url)
        outcomes = smtp.send([outgoing(1, "a@alumni.test"), outgoing(2, "b@alumni.test")])
        smtp.close()
    assert [o.kind for o in outcomes] == ["transient", "transient"]
    assert outcomes[0].reason.startswith("smtp connection lost")
    assert server.recipients() == ["a@alumni.test", "b@alumni.test"]  # each exactly once


def test_server_down_is_transient_for_the_whole_batch() -> None:
    smtp = channel(f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    outcomes = smtp.send([outgoing(1, "a@alumni.test"), outgoing(2, "b@alumni.test")])
    assert [o.kind for o in outcomes] == ["transient", "transient"]
    assert "refused" in outcomes[0].reason.lower()
    smtp.close()


def test_a_server_that_never_answers_times_out_once_per_batch() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        smtp = channel(f"smtp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        started = time.monotonic()
        outcomes = smtp.send([outgoing(n, f"a{n}@alumni.test") for n in (1, 2, 3)])
        elapsed = time.monotonic() - started
        smtp.close()
    assert [o.kind for o in outcomes] == ["transient"] * 3
    assert "timed out" in outcomes[0].reason
    assert elapsed < 0.6 * 3  # the later messages did not each wait out the timeout


# --- TLS and AUTH --------------------------------------------------------------------------


def accept(login: bytes, password: bytes):  # noqa: ANN201
    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        ok = auth_data.login == login and auth_data.password == password
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535
    return authenticator


def test_starttls_then_auth(server_tls, client_tls) -> None:
    with smtp_server(userinfo="jejak%40blki:rahasia%2Fku@", tls_context=server_tls,
                     require_starttls=True, auth_required=True,
                     authenticator=accept(b"jejak@blki", b"rahasia/ku")) as server:
        smtp = channel(server.url, ssl_context=client_tls)
        outcomes = smtp.send([outgoing(1, "a@alumni.test"), outgoing(2, "b@alumni.test")])
        smtp.close()
    assert [o.kind for o in outcomes] == ["sent", "sent"]
    assert all(a.encrypted and a.authenticated for a in server.arrivals)
    assert len(server.connections) == 1


def test_a_refused_login_is_transient_and_not_repeated(server_tls, client_tls) -> None:
    with smtp_server(userinfo="jejak:wrong@", tls_context=server_tls, require_starttls=True,
                     auth_required=True, authenticator=accept(b"jejak", b"right")) as server:
        smtp = channel(server.url, ssl_context=client_tls)
        outcomes = smtp.send([outgoing(1, "a@alumni.test"), outgoing(2, "b@alumni.test")])
        smtp.close()
    assert [o.kind for o in outcomes] == ["transient", "transient"]
    assert "535" in outcomes[0].reason
    assert server.arrivals == [] and len(server.connections) == 1


def test_the_certificate_is_verified_by_default(server_tls) -> None:
    with smtp_server(tls_context=server_tls, require_starttls=True) as server:
        smtp = channel(server.url)  # production default: the system's trust store
        outcome = smtp.send([outgoing(1, "a@alumni.test")])[0]
        smtp.close()
    assert outcome.kind == "transient" and "certificate" in outcome.reason.lower()
    assert server.arrivals == []


def test_no_password_in_clear_when_starttls_is_not_offered() -> None:
    with smtp_server(userinfo="jejak:rahasia@") as server:
        smtp = channel(server.url)
        outcome = smtp.send([outgoing(1, "a@alumni.test")])[0]
        smtp.close()
    assert outcome.kind == "transient" and "STARTTLS" in outcome.reason
    assert server.arrivals == []


def test_smtps_is_tls_from_the_first_byte(server_tls, client_tls) -> None:
    with smtp_server(scheme="smtps", ssl_context=server_tls) as server:
        smtp = channel(server.url, ssl_context=client_tls)
        outcomes = smtp.send([outgoing(1, "a@alumni.test"), outgoing(2, "b@alumni.test")])
        smtp.close()
    assert [o.kind for o in outcomes] == ["sent", "sent"]
    assert server.recipients() == ["a@alumni.test", "b@alumni.test"]
    assert len(server.connections) == 1


# --- the embedded default --------------------------------------------------------------------


def test_maildir_holds_a_readable_message(tmp_path: Path) -> None:
    maildir_email = MaildirEmail(tmp_path, MAIL_FROM, SECRET)
    outcomes = maildir_email.send([outgoing(7, "siti@alumni.test", html="<p>Halo</p>"),
                                   outgoing(8, "budi@alumni.test")])
    assert [o.kind for o in outcomes] == ["sent", "sent"]
    folder = mailbox.Maildir(str(tmp_path / "mail"), create=False)
    files = sorted((tmp_path / "mail" / "new").iterdir())
    assert len(files) == 2 and all(b"\r" not in f.read_bytes() for f in files)
    by_id = {}
    for _key, stored in folder.items():
        parsed = email.message_from_bytes(stored.as_bytes(), policy=email.policy.default)
        by_id[message_id_from_header(parsed["Message-ID"], SECRET)] = parsed
    assert set(by_id) == {7, 8}
    assert by_id[7]["To"] == "siti@alumni.test"
    assert by_id[7].get_body(("plain",)).get_content() == BODY
    assert by_id[7]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert outcomes[0].provider_id == by_id[7]["Message-ID"]


def test_channel_for_email_follows_the_configuration(tmp_path: Path) -> None:
    embedded = Settings(home=tmp_path, smtp_url="")
    assert isinstance(channel_for("email", embedded), MaildirEmail)
    configured = Settings(home=tmp_path, smtp_url="smtps://u:p@mail.example.test:465")
    smtp = channel_for("email", configured)
    assert isinstance(smtp, SmtpEmail) and smtp.use_ssl and smtp.port == 465
    with pytest.raises(ValueError):
        SmtpEmail("http://mail.example.test", MAIL_FROM, SECRET)
