"""Bounces that come back by mail: delivery status notifications read over IMAP.

An SMTP server that accepted a message may still fail to deliver it, and then sends a report
to the envelope sender (RFC 3464: `multipart/report; report-type=delivery-status`, one
`message/delivery-status` part with a block per recipient, and the returned message or its
headers). `read_bounces` (the beat job `outreach.read_bounces`) reads the unread mail of the
mailbox in JEJAK_BOUNCE_IMAP_URL and, for each report about a message of ours:

- finds the message by the Message-ID Jejak set (`channels.email.message_id_header`), whose
  MAC keeps a forged or mistyped report from failing somebody else's message, and checks
  that the report is about the address the message went to;
- a hard bounce (Action: failed, Status 5.x.x) fails the message for good, through the same
  recording as a refusal during the SMTP transaction (`delivery.record_late_failure`): the
  alumnus becomes unreachable if nothing else reached them;
- a soft one (Status 4.x.x, or Action: delayed) is counted; the server is still retrying,
  and a final failure would come as a hard bounce;
- the report is flagged \\Seen, after the database commit, so it is read once. A crash in
  between reads it again, which changes nothing (the message is failed already).

Mail that is not a report, or names no message of ours, is left unread for a person and
counted once: it gets the keyword `JejakSkipped` (invisible in most mail programs), which
the next runs pass over, so it neither blocks newer reports nor is counted every 5 minutes.
(A server that refuses keywords reads it again each run; nothing else changes.)
Parsing uses the standard library's `email` package; the network, `imaplib`.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message as MailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.outreach import delivery, employer_delivery
from services.outreach.channels.base import permanent
from services.outreach.channels.email import message_id_from_header
from shared import metrics
from shared.config import Settings
from shared.models import Message

log = logging.getLogger(__name__)
TIMEOUT = 30.0
MAX_PER_RUN = 500  # reports read per run; the rest wait for the next one (every 5 minutes)
COUNTS = ("hard", "soft", "already", "not_dsn", "not_ours")
SKIPPED = "JejakSkipped"  # IMAP keyword of mail left for a person (not a report of ours)
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Recipient:
    """One per-recipient block of a report."""

    addresses: frozenset[str]  # Final-Recipient and Original-Recipient, lower case
    action: str  # failed / delayed / delivered / relayed / expanded
    status: str  # "5.1.1"; "" when missing or malformed
    diagnostic: str

    @property
    def hard(self) -> bool:
        return self.action == "failed" and self.status.startswith("5.")

    @property
    def soft(self) -> bool:
        return self.action == "delayed" or self.status.startswith("4.")


@dataclass(frozen=True)
class Report:
    """A delivery status notification: the message it names, and its recipient blocks."""

    message_id: int | None  # ours, verified; None when it names none of ours
    recipients: tuple[Recipient, ...]


def parse_report(raw: bytes, secret_key: str) -> Report | None:
    """The report in `raw`, or None when it is not a delivery status notification."""
    mail = message_from_bytes(raw, policy=policy.compat32)
    if mail.get_content_type() != "multipart/report" or (
        (mail.get_param("report-type") or "").lower() != "delivery-status"
    ):
        return None
    recipients: list[Recipient] = []
    message_id = None
    for part in mail.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            if isinstance(blocks, list):  # [per-message fields, per-recipient blocks...]
                recipients.extend(_recipient(block) for block in blocks[1:])
        elif kind in ("text/rfc822-headers", "message/rfc822") and message_id is None:
            message_id = message_id_from_header(_returned_message_id(part), secret_key)
    if not recipients:
        return None
    return Report(message_id, tuple(recipients))


def _recipient(block: MailMessage) -> Recipient:
    addresses = frozenset(
        parseaddr(value.partition(";")[2].strip() or value)[1].lower()
        for name in ("Final-Recipient", "Original-Recipient")
        for value in block.get_all(name, [])
    ) - {""}
    status = _STATUS.search(str(block.get("Status", "")))
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    return Recipient(addresses, str(block.get("Action", "")).strip().lower(),
                     status.group(0) if status else "", diagnostic)


def _returned_message_id(part: MailMessage) -> str:
    """The Message-ID of the returned message (message/rfc822) or headers (text/...)."""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            return str(inner[0].get("Message-ID", ""))
        return ""
    text = part.get_payload(decode=True) or b""
    headers = message_from_bytes(text.lstrip(), policy=policy.compat32)
    return str(headers.get("Message-ID", ""))


def read_bounces(session_factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Read the unread reports in the bounce mailbox; counts by what became of them (empty
    when no mailbox is configured)."""
    if not settings.bounce_imap_url:
        return {}
    counts = dict.fromkeys(COUNTS, 0)
    with _mailbox(settings.bounce_imap_url) as client:
        _, data = client.uid("SEARCH", None, "UNSEEN", "UNKEYWORD", SKIPPED)
        for uid in (data[0] or b"").split()[:MAX_PER_RUN]:
            _, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
            if raw is None:
                continue  # expunged meanwhile
            outcome = _apply(session_factory, parse_report(raw, settings.secret_key))
            counts[outcome] += 1
            metrics.BOUNCES.labels(outcome).inc()
            if outcome not in ("not_dsn", "not_ours"):
                client.uid("STORE", uid, "+FLAGS", r"(\Seen)")
            else:
                with contextlib.suppress(imaplib.IMAP4.error):
                    client.uid("STORE", uid, "+FLAGS", f"({SKIPPED})")
    if any(counts.values()):
        log.info("bounces: %s", counts)
    return counts


def _apply(session_factory: sessionmaker[Session], report: Report | None) -> str:
    if report is None:
        return "not_dsn"
    if report.message_id is None:
        return "not_ours"
    employer = employer_delivery.employer_message_of(report.message_id)
    if employer is not None:  # an employer campaign's email (employer_delivery.py)
        hard = next((r for r in report.recipients if r.hard), None)
        if hard is None:
            return "soft" if any(r.soft for r in report.recipients) else "not_ours"
        with session_factory() as session, session.begin():
            hard_addresses = [a for r in report.recipients if r.hard for a in r.addresses]
            return employer_delivery.record_bounce(
                session, employer, hard_addresses,
                f"bounce {hard.status} {hard.diagnostic}".strip())
    with session_factory() as session, session.begin():
        address = session.scalar(select(Message.address).where(
            Message.id == report.message_id, Message.channel == "email"))
        ours = [r for r in report.recipients if (address or "").lower() in r.addresses]
        if address is None or not ours:
            return "not_ours"
        hard = next((r for r in ours if r.hard), None)
        if hard is None:
            return "soft" if any(r.soft for r in ours) else "not_ours"
        reason = f"bounce {hard.status} {hard.diagnostic}".strip()
        changed = delivery.record_late_failure(session, report.message_id, permanent(reason))
        return "hard" if changed else "already"


@contextlib.contextmanager
def _mailbox(url: str) -> Iterator[imaplib.IMAP4]:
    """Logged in and the folder selected (read-write, to set \\Seen). imaps:// is TLS from
    the start; imap:// upgrades with STARTTLS when offered, and sends the password in clear
    only to a loopback address (tests, or a local dovecot)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("JEJAK_BOUNCE_IMAP_URL must be imaps://user:password@host/folder")
    host = parts.hostname
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    context = ssl.create_default_context()
    client: imaplib.IMAP4
    if parts.scheme == "imaps":
        client = imaplib.IMAP4_SSL(host, parts.port or 993, ssl_context=context, timeout=TIMEOUT)
    else:
        client = imaplib.IMAP4(host, parts.port or 143, timeout=TIMEOUT)
        if "STARTTLS" in client.capabilities:
            client.starttls(ssl_context=context)
        elif host not in _LOOPBACK:
            client.shutdown()
            raise ValueError(f"{host} offers no STARTTLS; the password is not sent in clear")
    try:
        client.login(unquote(parts.username or ""), unquote(parts.password or ""))
        status, _ = client.select(_quoted(folder))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open the folder {folder!r}")
        yield client
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
