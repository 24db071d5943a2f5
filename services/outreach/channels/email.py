"""Email over SMTP: STARTTLS or SSL, one connection per batch, one-click unsubscribe headers."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

from services.outreach.channels.base import Outcome, Outgoing

TIMEOUT = 20.0


def _mac(secret_key: str, message_id: int) -> str:
    return hmac.new(secret_key.encode(), f"mail:{message_id}".encode(),
                    hashlib.sha256).hexdigest()[:8]


def message_id_header(message_id: int, mail_from: str, secret_key: str) -> str:
    """A Message-ID a bounce can be traced back to (and that cannot be guessed)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "jejak.local"
    return f"<jejak.{message_id}.{_mac(secret_key, message_id)}@{domain}>"


def message_id_from_header(value: str, secret_key: str) -> int | None:
    """The message a Message-ID (or a bounce quoting it) belongs to, if it is ours."""
    local = value.strip().strip("<>").partition("@")[0]
    parts = local.split(".")
    if len(parts) != 3 or parts[0] != "jejak" or not parts[1].isdigit():
        return None
    message_id = int(parts[1])
    return message_id if hmac.compare_digest(parts[2], _mac(secret_key, message_id)) else None


def build_email(message: Outgoing, mail_from: str, secret_key: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.address
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id_header(message.message_id, mail_from, secret_key)
    if message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.body)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpEmail:
    """`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (SSL)."""

    name = "email"

    def __init__(self, url: str, mail_from: str, secret_key: str, *,
                 ssl_context: ssl.SSLContext | None = None, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("JEJAK_SMTP_URL must start with smtp:// or smtps://")
        self.use_ssl = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.use_ssl else 587)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.mail_from = mail_from
        self.secret_key = secret_key
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.timeout = timeout
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=self.ssl_context)
                connection.ehlo()
        if self.user:
            connection.login(self.user, self.password or "")
        return connection

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        return [self._send_one(message) for message in batch]

    def _send_one(self, message: Outgoing) -> Outcome:
        email = build_email(message, self.mail_from, self.secret_key)
        for attempt in range(2):  # reconnect once if the server dropped the connection
            try:
                if self.connection is None:
                    self.connection = self._connect()
                self.connection.send_message(email)
                return Outcome("sent", provider_id=email["Message-ID"])
            except smtplib.SMTPServerDisconnected as exc:
                self.connection = None
                if attempt:
                    return Outcome("transient", reason=f"smtp disconnected: {exc}"[:200])
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                return _classify(code, text)
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code >= 500:
                    return _classify(exc.smtp_code, exc.smtp_error)
                self.close()
                return _classify(exc.smtp_code, exc.smtp_error)
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                return Outcome("transient", reason=f"smtp unreachable: {exc}"[:200])
        return Outcome("transient", reason="smtp unreachable")

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
            self.connection = None


def _classify(code: int, text: bytes | str) -> Outcome:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    kind = "permanent" if code >= 500 else "transient"
    return Outcome(kind, reason=f"smtp {code} {detail}"[:200])
