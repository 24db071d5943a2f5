"""Bounces that come back by mail, read from a real IMAP server (Debian's dovecot).

The test starts dovecot itself, unprivileged, with its own configuration in a temporary
folder: a loopback port, plain-text login allowed there, one passwd-file user, a maildir.
The delivery status notifications below are written the way Postfix and Exim write them
(RFC 3464), APPENDed over IMAP, and `bounces.read_bounces` reads them as the beat job does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from services.analytics import fill
from services.outreach import bounces
from services.outreach.channels.email import message_id_header
from services.survey import catalog, waves
from shared.models import (
    Alumnus,
    Campaign,
    CampaignStep,
    Cohort,
    DeliveryAttempt,
    Message,
    OutboxEvent,
    Program,
    utcnow,
)

USER, PASSWORD = "bounces", "bounce-secret"


@dataclass(frozen=True)
class Dovecot:
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def connect(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        client.select("INBOX")
        return client

    def append(self, raw: bytes) -> None:
        with contextlib.closing(self.connect()) as client:
            status, _ = client.append("INBOX", None, None, raw)
            assert status == "OK"

    def unseen(self) -> int:
        with contextlib.closing(self.connect()) as client:
            _, data = client.search(None, "UNSEEN")
            return len(data[0].split())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """dovecot as an unprivileged process: as ourselves, or as `nobody` when tests run as
    root (its login process refuses to run as root)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    assert Path(binary).exists(), "dovecot is missing: apt-get install dovecot-imapd (.ci/run)"
    account = pwd.getpwuid(os.getuid()) if os.getuid() else pwd.getpwnam("nobody")
    # Not under pytest's tmp folder: that one is private to root, and `nobody` must enter.
    folder = Path(tempfile.mkdtemp(prefix="jejak-dovecot-"))
    (folder / "run").mkdir()
    (folder / "mail").mkdir()
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    port = _free_port()
    group = os.getgrouplist(account.pw_name, account.pw_gid)[0]
    group_name = grp.getgrgid(group).gr_name
    (folder / "dovecot.conf").write_text(f"""\
base_dir = {folder}/run
state_dir = {folder}/run
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {account.pw_name}
default_internal_group = {group_name}
default_login_user = {account.pw_name}
first_valid_uid = 1
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={group} home={folder}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
    for path in (folder, *folder.rglob("*")):
        os.chown(path, account.pw_uid, group)
    extra = {"user": account.pw_uid, "group": group} if os.getuid() == 0 else {}
    process = subprocess.Popen([binary, "-F", "-c", str(folder / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **extra)
    server = Dovecot(port, folder)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                server.connect().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                log = folder / "dovecot.log"
                assert process.poll() is None, log.read_text() if log.exists() else "exited"
                assert time.monotonic() < deadline, "dovecot did not answer"
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def empty_mailbox(dovecot: Dovecot) -> Dovecot:
    with contextlib.closing(dovecot.connect()) as client:
        _, data = client.search(None, "ALL")
        if data[0]:
            client.store("1:*", "+FLAGS", r"(\Deleted)")
            client.expunge()
    return dovecot


# --- four alumni, each sent one email -----------------------------------------------------


@dataclass(frozen=True)
class Sent:
    wave_id: int
    message_ids: list[int]
    addresses: list[str]


@pytest.fixture()
def sent(clean_db) -> Sent:
    factory = clean_db.session_factory
    with factory() as session, session.begin():
        program = Program(name="Teknik Las")
        cohort = Cohort(program=program, label="A1", training_start=date(2025, 1, 6),
                        training_end=date(2025, 3, 28))
        people = [Alumnus(registration_no=f"BNC-{index}", full_name=f"Alumnus {index}",
                          gender="LP"[index % 2], cohort=cohort,
                          email=f"alumnus{index}@bounces.test") for index in range(4)]
        session.add_all([program, cohort, *people])
        session.flush()
        questionnaire = catalog.ensure_default(session)
        wave = waves.create_wave(session, slug=f"bounce-{uuid.uuid4().hex[:8]}",
                                 title="Tracer 2026", questionnaire_id=questionnaire.id,
                                 program_ids=[program.id])
        waves.open_wave(session, wave)
        campaign = Campaign(wave_id=wave.id, name="Undangan", status="running")
        step = CampaignStep(campaign=campaign, position=0, channel="email")
        session.add_all([campaign, step])
        session.flush()
        messages = [Message(campaign_step_id=step.id, alumnus_id=person.id, channel="email",
                            address=person.email, status="sent", attempts=1,
                            due_at=utcnow(), sent_at=utcnow())
                    for person in people]
        session.add_all(messages)
        session.flush()
        return Sent(wave.id, [message.id for message in messages],
                    [person.email for person in people])


def _our_id(settings, message_id: int) -> str:
    return message_id_header(message_id, settings.mail_from, settings.secret_key)


# --- real DSN samples -----------------------------------------------------------------------


def postfix_hard_bounce(our_id: str, address: str) -> bytes:
    """What Postfix sends when the next hop says the mailbox does not exist."""
    return f"""\
Return-Path: <>
Received: by mx.sender.test (Postfix) id 4F3A21C0E2; Mon,  7 Dec 2026 09:12:01 +0800 (WITA)
Date: Mon,  7 Dec 2026 09:12:01 +0800 (WITA)
From: MAILER-DAEMON@mx.sender.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: tracer@localhost
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F3A21C0E2.1765069921/mx.sender.test"
Message-Id: <20261207011201.4F3A21C0E2@mx.sender.test>

This is a MIME-encapsulated message.

--4F3A21C0E2.1765069921/mx.sender.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.sender.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{address}>: host mx.bounces.test[192.0.2.25] said: 550 5.1.1
    <{address}>: Recipient address rejected: User unknown in virtual mailbox
    table (in reply to RCPT TO command)

--4F3A21C0E2.1765069921/mx.sender.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.sender.test
X-Postfix-Queue-ID: 4F3A21C0E2
X-Postfix-Sender: rfc822; tracer@localhost
Arrival-Date: Mon,  7 Dec 2026 09:11:58 +0800 (WITA)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.bounces.test
Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: User
    unknown in virtual mailbox table

--4F3A21C0E2.1765069921/mx.sender.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <tracer@localhost>
Received: from jejak (localhost [127.0.0.1]) by mx.sender.test (Postfix)
\twith ESMTP id 4F3A21C0E2 for <{address}>; Mon,  7 Dec 2026 09:11:58 +0800 (WITA)
From: Jejak <tracer@localhost>
To: {address}
Subject: Survei alumni 2026
Message-ID: {our_id}

--4F3A21C0E2.1765069921/mx.sender.test--
""".replace("\n", "\r\n").encode()


def postfix_delay(our_id: str, address: str) -> bytes:
    """Postfix's "delayed mail" warning: a full mailbox (4.2.2), still being retried."""
    return f"""\
Return-Path: <>
Date: Mon,  7 Dec 2026 13:12:01 +0800 (WITA)
From: MAILER-DAEMON@mx.sender.test (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: tracer@localhost
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="9C1B31D0A7.1765084321/mx.sender.test"
Message-Id: <20261207051201.9C1B31D0A7@mx.sender.test>

--9C1B31D0A7.1765084321/mx.sender.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.sender.test.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--9C1B31D0A7.1765084321/mx.sender.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.sender.test
X-Postfix-Queue-ID: 9C1B31D0A7
Arrival-Date: Mon,  7 Dec 2026 09:11:58 +0800 (WITA)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: delayed
Status: 4.2.2
Remote-MTA: dns; mx.bounces.test
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full
Will-Retry-Until: Mon, 12 Dec 2026 09:11:58 +0800 (WITA)

--9C1B31D0A7.1765084321/mx.sender.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Jejak <tracer@localhost>
To: {address}
Subject: Survei alumni 2026
Message-ID: {our_id}

--9C1B31D0A7.1765084321/mx.sender.test--
""".replace("\n", "\r\n").encode()


def exim_hard_bounce(our_id: str, address: str) -> bytes:
    """Exim's report (dsn_advertise_hosts): the whole original comes back as message/rfc822."""
    return f"""\
Return-path: <>
Received: from Debian-exim by mail.relay.test with local (Exim 4.96)
\tid 1tKx9Q-000Abc-2Z for tracer@localhost; Mon, 07 Dec 2026 02:15:44 +0100
X-Failed-Recipients: {address}
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mail.relay.test>
To: tracer@localhost
Content-Type: multipart/report; report-type=delivery-status; boundary=1765070144-eximdsn-1282493215
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tKx9Q-000Abc-2Z@mail.relay.test>
Date: Mon, 07 Dec 2026 02:15:44 +0100

--1765070144-eximdsn-1282493215
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {address}
    host mx.bounces.test [192.0.2.26]
    SMTP error from remote mail server after RCPT TO:<{address}>:
    550 No such user here

--1765070144-eximdsn-1282493215
Content-type: message/delivery-status

Reporting-MTA: dns; mail.relay.test

Action: failed
Final-Recipient: rfc822;{address}
Status: 5.0.0
Remote-MTA: dns; mx.bounces.test
Diagnostic-Code: smtp; 550 No such user here

--1765070144-eximdsn-1282493215
Content-type: message/rfc822

Return-path: <tracer@localhost>
From: Jejak <tracer@localhost>
To: {address}
Subject: Survei alumni 2026
Date: Mon, 07 Dec 2026 09:15:40 +0800
Message-ID: {our_id}
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 7bit

Yth. Alumnus, mohon isi survei alumni.

--1765070144-eximdsn-1282493215--
""".replace("\n", "\r\n").encode()


def out_of_office(our_id: str, address: str) -> bytes:
    """Not a DSN, though it quotes our Message-ID: an auto-reply leaves the message alone."""
    return f"""\
From: Alumnus <{address}>
To: tracer@localhost
Subject: Otomatis: Survei alumni 2026
In-Reply-To: {our_id}
References: {our_id}
Auto-Submitted: auto-replied
Message-ID: <ooo-{uuid.uuid4().hex}@bounces.test>
Content-Type: text/plain; charset=us-ascii

Saya sedang cuti sampai 14 Desember.
""".replace("\n", "\r\n").encode()


# --- the tests --------------------------------------------------------------------------------


def _by_id(factory, ids: list[int]) -> dict[int, Message]:
    with factory() as session:
        rows = session.scalars(select(Message).where(Message.id.in_(ids))).all()
        for row in rows:
            session.expunge(row)
        return {row.id: row for row in rows}


def _status_events(factory) -> list[dict]:
    with factory() as session:
        return [row.payload for row in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "message.status")
            .order_by(OutboxEvent.created_at))]


def test_hard_bounces_read_over_imap_fail_their_message_and_make_the_alumnus_unreachable(
    settings, clean_db, sent, empty_mailbox
) -> None:
    factory = clean_db.session_factory
    ids, addresses = sent.message_ids, sent.addresses
    ours = _our_id(settings, ids[3])  # <jejak.{id}.{mac}@domain>, the MAC made wrong
    bogus = ours[: ours.index("@") - 8] + "00000000" + ours[ours.index("@"):]
    mails = [
        postfix_hard_bounce(_our_id(settings, ids[0]), addresses[0]),  # hard
        postfix_delay(_our_id(settings, ids[1]), addresses[1]),  # soft
        exim_hard_bounce(_our_id(settings, ids[2]), addresses[2]),  # hard
        out_of_office(_our_id(settings, ids[3]), addresses[3]),  # not a DSN
        # A bounce of a message somebody else sent from this mailbox, and a forged one.
        postfix_hard_bounce("<CAF=9x@mail.gmail.com>", addresses[3]),
        postfix_hard_bounce(bogus, addresses[3]),
    ]
    for raw in mails:
        empty_mailbox.append(raw)
    configured = dataclasses.replace(settings, bounce_imap_url=empty_mailbox.url)

    counts = bounces.read_bounces(factory, configured)

    assert counts == {"hard": 2, "soft": 1, "already": 0, "not_dsn": 1, "not_ours": 2}
    messages = _by_id(factory, ids)
    assert [messages[i].status for i in ids] == ["failed", "sent", "failed", "sent"]
    assert messages[ids[0]].failed_reason.startswith("bounce 5.1.1 smtp; 550 5.1.1")
    assert messages[ids[2]].failed_reason == "bounce 5.0.0 smtp; 550 No such user here"
    # The same path as a refusal during the SMTP transaction: an attempt row, and one
    # message.status event per failed message for survey and analytics.
    with factory() as session:
        attempts = session.execute(select(DeliveryAttempt.message_id, DeliveryAttempt.outcome)
                                   .order_by(DeliveryAttempt.message_id)).all()
    assert [tuple(row) for row in attempts] == [(ids[0], "permanent"), (ids[2], "permanent")]
    events = _status_events(factory)
    assert sorted((e["message_id"], e["status"]) for e in events) == [
        (ids[0], "failed"), (ids[2], "failed")]
    # Dispositions: the two whose only message bounced are unreachable (U), the two others
    # were contacted (NC).
    with factory() as session:
        cells = fill.fill_cells(session, sent.wave_id)
    assert sum(cell.unreachable for cell in cells.values()) == 2
    assert sum(cell.non_contact for cell in cells.values()) == 2
    # Read once: the three reports of ours are \Seen; the other three are left unread for a
    # person, and passed over from now on (counted once).
    assert empty_mailbox.unseen() == 3

    again = bounces.read_bounces(factory, configured)

    assert again == {"hard": 0, "soft": 0, "already": 0, "not_dsn": 0, "not_ours": 0}
    assert len(_status_events(factory)) == 2
    assert empty_mailbox.unseen() == 3


def test_reading_the_same_bounce_twice_changes_nothing(settings, clean_db, sent,
                                                        empty_mailbox) -> None:
    factory = clean_db.session_factory
    bounce = postfix_hard_bounce(_our_id(settings, sent.message_ids[0]), sent.addresses[0])
    configured = dataclasses.replace(settings, bounce_imap_url=empty_mailbox.url)
    empty_mailbox.append(bounce)
    assert bounces.read_bounces(factory, configured)["hard"] == 1
    before = _by_id(factory, sent.message_ids)[sent.message_ids[0]]

    empty_mailbox.append(bounce)  # the relay sent it twice, or a person marked it unread
    counts = bounces.read_bounces(factory, configured)

    assert counts == {"hard": 0, "soft": 0, "already": 1, "not_dsn": 0, "not_ours": 0}
    after = _by_id(factory, sent.message_ids)[sent.message_ids[0]]
    assert (after.status, after.failed_reason) == (before.status, before.failed_reason)
    assert len(_status_events(factory)) == 1
    with factory() as session:
        assert len(session.scalars(select(DeliveryAttempt)).all()) == 1
    assert empty_mailbox.unseen() == 0


def test_a_bounce_naming_another_recipient_is_not_ours(settings, clean_db, sent,
                                                       empty_mailbox) -> None:
    """Our Message-ID with a report about an address the message did not go to (a forwarded
    copy, or a mistake): the message is left as it is."""
    factory = clean_db.session_factory
    empty_mailbox.append(postfix_hard_bounce(_our_id(settings, sent.message_ids[0]),
                                             "someone.else@bounces.test"))
    configured = dataclasses.replace(settings, bounce_imap_url=empty_mailbox.url)

    assert bounces.read_bounces(factory, configured)["not_ours"] == 1
    assert _by_id(factory, sent.message_ids)[sent.message_ids[0]].status == "sent"


def test_without_a_bounce_mailbox_the_job_does_nothing(settings, clean_db) -> None:
    assert bounces.read_bounces(clean_db.session_factory, settings) == {}


def test_the_beat_job_runs_in_a_real_worker_every_five_minutes(settings, clean_db, sent,
                                                               empty_mailbox) -> None:
    from datetime import timedelta

    from services.cli import SERVICES, create_worker_app
    from shared.celery_app import BEAT_SCHEDULE
    from tests.conftest import app_config, running_worker, wait_for

    jobs = {entry["task"]: entry["schedule"] for entry in BEAT_SCHEDULE.values()}
    assert jobs["outreach.read_bounces"] == timedelta(minutes=5)
    configured = dataclasses.replace(settings, bounce_imap_url=empty_mailbox.url)
    app = create_worker_app(SERVICES, app_config(configured))
    celery = app.extensions["celery"]
    celery.control.purge()
    empty_mailbox.append(exim_hard_bounce(_our_id(settings, sent.message_ids[2]),
                                          sent.addresses[2]))
    factory = clean_db.session_factory
    with running_worker(celery):
        celery.send_task("outreach.read_bounces")
        wait_for(lambda: _by_id(factory, sent.message_ids)[sent.message_ids[2]].status
                 == "failed")
    assert empty_mailbox.unseen() == 0
