"""Email: over SMTP in production, into a maildir under var/ in embedded mode."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import mailbox
import re
import smtplib
import ssl
from collections.abc import Collection, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from services.outreach.channels.base import Outcome, Outgoing, permanent, transient
from shared.personal_files import private_folder

TIMEOUT = 20.0
# Quoted-printable/base64 bodies: any relay takes them, with or without 8BITMIME. Lines up
# to RFC 5322's 998 characters, so a long List-Unsubscribe URL is not folded into encoded
# words that mail providers cannot read as a URI.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit", max_line_length=998)
# Maildir files use Unix line ends (mailbox would turn CRLF into CR CR LF).
MAILDIR_POLICY = MAIL_POLICY.clone(linesep="\n")
_OUR_MESSAGE_ID = re.compile(r"<?jejak\.(\d+)\.([0-9a-f]{8})@", re.IGNORECASE)
# An address made only of these needs no parsing to be put in MAIL FROM / RCPT TO: no
# spaces, brackets, quotes, comments or line breaks. (Not the header fast path's
# _PLAIN_ADDRESS below: an envelope takes every atom character.)
_PLAIN_ENVELOPE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def is_plain_envelope(address: str) -> bool:
    """True when `envelope_address` writes the address itself (the fast path)."""
    return _PLAIN_ENVELOPE.fullmatch(address) is not None


def envelope_address(address: str) -> str:
    """`<address>` for MAIL FROM / RCPT TO: what `smtplib.quoteaddr` returns, without its
    full RFC 822 parse (~0.1 ms per call, twice per message) when the address is plain."""
    if is_plain_envelope(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _mac(secret_key: str, message_id: int) -> str:
    digest = hmac.new(secret_key.encode(), f"message-id:{message_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:8]


@lru_cache(maxsize=8)
def _domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def message_id_header(message_id: int, mail_from: str, secret_key: str) -> str:
    """`<jejak.{id}.{hmac8}@{domain}>`: a bounce quoting it leads back to the message.

    The MAC keeps a forged or mistyped bounce from failing somebody else's message.
    """
    return f"<jejak.{message_id}.{_mac(secret_key, message_id)}@{_domain(mail_from)}>"


def message_id_from_header(value: str, secret_key: str) -> int | None:
    """The message id in one of our Message-IDs (also inside References), if it verifies."""
    for match in _OUR_MESSAGE_ID.finditer(value or ""):
        message_id = int(match.group(1))
        if hmac.compare_digest(match.group(2).lower(), _mac(secret_key, message_id)):
            return message_id
    return None


def build_email(
    message: Outgoing, mail_from: str, secret_key: str, date: str | None = None
) -> EmailMessage:
    email = EmailMessage(policy=MAIL_POLICY)
    email["From"] = mail_from
    email["To"] = message.address
    email["Subject"] = message.subject or ""
    email["Date"] = date or formatdate(usegmt=True)
    email["Message-ID"] = message_id_header(message.message_id, mail_from, secret_key)
    if message.unsubscribe_url:  # RFC 8058 one-click, which Gmail and Yahoo ask bulk senders for
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.body, charset="utf-8")
    if message.html:
        email.add_alternative(message.html, subtype="html", charset="utf-8")
    return email


# What email_bytes writes itself: exactly the bytes EmailMessage would make of such a message
# (tests/unit/test_email_bytes.py compares them), for a fraction of the CPU. Anything else
# (non-ASCII, HTML, odd addresses, text that looks like an encoded word) goes the long way.
_PLAIN_DOMAIN = r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z"
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@" + _PLAIN_DOMAIN)
_PLAIN_TEXT = re.compile(r"[!-~]+( [!-~]+)*\Z")  # printable ASCII words, single spaces
_PLAIN_URL = re.compile(r"[!-~]{1,900}\Z")


@lru_cache(maxsize=8)
def _from_line(mail_from: str) -> bytes | None:
    """The From header line as EmailMessage writes it, when it is one plain ASCII line."""
    if not mail_from.isascii() or not re.match(_PLAIN_DOMAIN, _domain(mail_from)):
        return None
    email = EmailMessage(policy=MAIL_POLICY)
    email["From"] = mail_from
    line = email.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return line if line.count(b"\r\n") == 1 and len(line) <= 1000 else None


def email_bytes(
    message: Outgoing, mail_from: str, secret_key: str, date: str | None = None
) -> bytes:
    """The message as it goes over SMTP.

    A plain-text ASCII email (every one the default templates make) is written directly:
    building and flattening an EmailMessage was about a third of the CPU of a send.
    """
    from_line = _from_line(mail_from)
    subject = message.subject or ""
    unsubscribe = message.unsubscribe_url
    if (
        from_line is not None
        and message.html is None
        and _PLAIN_ADDRESS.match(message.address)
        and _PLAIN_TEXT.match(subject)
        and len(subject) <= 900
        and "=?" not in subject
        and (unsubscribe is None or _PLAIN_URL.match(unsubscribe))
        and message.body.isascii()
    ):
        lines = message.body.encode("ascii").splitlines()
        if all(len(line) <= 998 for line in lines):
            head = [
                from_line.decode("ascii").rstrip("\r\n"),
                f"To: {message.address}",
                f"Subject: {subject}",
                f"Date: {date or formatdate(usegmt=True)}",
                f"Message-ID: {message_id_header(message.message_id, mail_from, secret_key)}",
            ]
            if unsubscribe:
                head += [f"List-Unsubscribe: <{unsubscribe}>",
                         "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
            head += ['Content-Type: text/plain; charset="utf-8"',
                     "Content-Transfer-Encoding: 7bit", "MIME-Version: 1.0", "", ""]
            return "\r\n".join(head).encode("ascii") + b"\r\n".join(lines) + b"\r\n"
    return build_email(message, mail_from, secret_key, date).as_bytes()


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the system CA store takes ~40 ms; a channel lives for one batch, so share one.
    return ssl.create_default_context()


class SmtpEmail:
    """`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (SSL).

    One connection serves every message until close(), reopened once when the server has
    dropped it. A channel instance lives for one batch: after the server could not be
    reached (or refused our login), the rest of its messages are transient at once rather
    than each waiting out a timeout or repeating a refused password.
    """

    name = "email"

    def __init__(self, url: str, mail_from: str, secret_key: str, *,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("JEJAK_SMTP_URL must look like smtp://host:587 or smtps://host:465")
        self.use_ssl = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.use_ssl else 587)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        self.mail_from = mail_from
        self.sender = parseaddr(mail_from)[1]
        self._mail_from_command = "FROM:" + envelope_address(self.sender)
        self.secret_key = secret_key
        self._ssl_context = ssl_context
        self.timeout = timeout
        self.connection: smtplib.SMTP | None = None
        self.failed: str | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context or _default_ssl_context()

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        return [self._send_one(message) for message in batch]

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
            self.connection = None
        self.failed = None

    def _send_one(self, message: Outgoing) -> Outcome:
        if self.failed:
            return transient(self.failed)
        if not message.address.isascii():
            return permanent("address is not ASCII (SMTPUTF8 is not used)")
        payload = email_bytes(message, self.mail_from, self.secret_key)
        try:
            return self._transact(message, payload)
        except (OSError, smtplib.SMTPException) as exc:
            # Once the data is on the wire the server may hold the message: never resend here.
            self._discard()
            return transient(f"smtp connection lost: {_describe(exc)}")

    def _transact(self, message: Outgoing, payload: bytes) -> Outcome:
        for attempt in (1, 2):
            connection = self.connection or self._open()
            if connection is None:
                return transient(self.failed or "smtp connect failed")
            try:
                # smtplib's mail()/rcpt() without their address parsing (no ESMTP options).
                connection.putcmd("mail", self._mail_from_command)
                code, text = connection.getreply()
            except smtplib.SMTPServerDisconnected:
                code, text = 421, b"connection closed"
            # MAIL FROM is the first word on a kept connection: a server that closed it
            # while idle fails here, before anything of this message was sent.
            if code == 421 and attempt == 1:
                self._discard()
                continue
            break
        if code != 250:
            return self._refused(code, text)
        connection.putcmd("rcpt", "TO:" + envelope_address(message.address))
        code, text = connection.getreply()
        if code not in (250, 251):
            return self._refused(code, text)
        try:
            code, text = connection.data(payload)
        except smtplib.SMTPDataError as exc:  # refused before the message was sent
            code, text = exc.smtp_code, exc.smtp_error
        if code != 250:
            return self._refused(code, text)
        return Outcome("sent", provider_id=message_id_header(
            message.message_id, self.mail_from, self.secret_key))

    def _open(self) -> smtplib.SMTP | None:
        # EHLO with our own domain: the default, socket.getfqdn(), can stall on reverse DNS.
        local_name = _domain(self.mail_from)
        connection: smtplib.SMTP | None = None
        try:
            if self.use_ssl:
                connection = smtplib.SMTP_SSL(self.host, self.port, local_name,
                                              timeout=self.timeout, context=self.ssl_context)
            else:
                connection = smtplib.SMTP(self.host, self.port, local_name, timeout=self.timeout)
            connection.ehlo()
            encrypted = self.use_ssl
            if not encrypted and connection.has_extn("starttls"):
                connection.starttls(context=self.ssl_context)
                connection.ehlo()
                encrypted = True
            if self.user:
                if not encrypted:
                    raise smtplib.SMTPException(
                        "server offers no STARTTLS; the password is not sent in clear")
                connection.login(self.user, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            if connection is not None:
                connection.close()
            self.failed = f"smtp connect failed: {_describe(exc)}"
            return None
        self.connection = connection
        return connection

    def _refused(self, code: int, text: bytes | str) -> Outcome:
        if code == 421:  # the server is closing this connection
            self._discard()
        elif self.connection is not None:
            try:
                self.connection.rset()  # the next message starts a clean transaction
            except (OSError, smtplib.SMTPException):
                self._discard()
        detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        reason = f"smtp {code} {detail}".strip()
        return permanent(reason) if 500 <= code < 600 else transient(reason)

    def _discard(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError):
                self.connection.close()
            self.connection = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        return f"{exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__


class MaildirEmail:
    """The embedded default: each message a file in `home/mail`, readable by any mail tool."""

    name = "email"

    def __init__(self, home: Path, mail_from: str, secret_key: str) -> None:
        self.maildir = mailbox.Maildir(str(Path(home) / "mail"), create=True)
        # mailbox makes its folders 0700 (its files 0644 inside); an older one is tightened.
        private_folder(Path(home) / "mail")
        self.mail_from = mail_from
        self.secret_key = secret_key

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        outcomes = []
        for message in batch:
            email = build_email(message, self.mail_from, self.secret_key)
            self.maildir.add(email.as_bytes(policy=MAILDIR_POLICY))
            outcomes.append(Outcome("sent", provider_id=str(email["Message-ID"])))
        return outcomes

    def close(self) -> None:
        return None

    def drop(self, message_ids: Collection[int]) -> int:
        """Erasure: delete the stored copies of these messages; how many went."""
        wanted, dropped = set(message_ids), 0
        for key in list(self.maildir.iterkeys()):
            try:
                with self.maildir.get_file(key) as handle:
                    headers = BytesHeaderParser(policy=MAILDIR_POLICY).parse(handle)
            except (KeyError, FileNotFoundError):
                continue  # removed meanwhile
            if message_id_from_header(headers["Message-ID"] or "", self.secret_key) in wanted:
                self.maildir.discard(key)
                dropped += 1
        return dropped
