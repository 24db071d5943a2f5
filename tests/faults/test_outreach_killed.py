"""(b) An outreach worker SIGKILLed mid-batch while SMTP answers 451 (issue 7, point 1b).

A real worker process sends an invitation step to 30 alumni through a real SMTP server
(aiosmtpd) that answers 451 "try again later" for the first seconds. While the worker waits
for the server's answer to a message the server has already received, the whole process
group is SIGKILLed: no acks, no cleanup. Recovery is what production does: beat's sweep (the
test plays beat with a clock it moves forward) marks the interrupted send `in_doubt` and
requeues what the dead worker had queued; a new worker sends the rest, 451'd messages come
due again and go out. What must hold: every recipient received the step exactly once (the
in-doubt one too: it had arrived, and it is never resent).
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest

from services.outreach import delivery
from shared.models import utcnow
from tests.conftest import wait_for
from tests.integration.peers import SmtpSink
from tests.integration.test_outreach_peers import (
    WorkerProcess,
    drained,
    email_step,
    launch,
    message_rows,
    roster,  # noqa: F401  (the fixture)
    settle,
    statuses,
)

pytestmark = pytest.mark.timeout(150)

SUBJECT = "Undangan tracer study"


@pytest.fixture()
def sink():
    with SmtpSink() as server:
        yield server


def test_worker_killed_mid_batch_through_451s_sends_each_step_once(
    roster, worker_app, settings, sink, tmp_path, monkeypatch  # noqa: F811
) -> None:
    peer_settings = dataclasses.replace(settings, quiet_hours="", smtp_url=sink.url)
    group = roster(30)
    launch(group, peer_settings, [email_step(0, SUBJECT)])
    monkeypatch.setattr(delivery, "BATCH_SIZE", 10)
    celery = worker_app.extensions["celery"]
    process = WorkerProcess(peer_settings, tmp_path)

    sink.fail(451, times=12)  # the server is busy for a while: its first 12 answers
    sink.delay = 0.05  # and slow to answer once it accepts
    killed = threading.Event()
    at_kill: dict[str, int] = {}

    def kill_mid_batch(_mail) -> None:
        # The 5th message has arrived and the worker waits for its 250: kill it now.
        if sink.count() == 5 and not killed.is_set():
            process.kill()
            at_kill.update(statuses(group.factory))
            killed.set()

    sink.listeners.append(kill_mid_batch)
    try:
        process.start()
        now = utcnow()
        assert delivery.dispatch(group.factory, celery, peer_settings, now=now) == 30
        for _round in range(10):  # until the server accepts and the kill happens
            wait_for(lambda: killed.is_set() or drained(group.factory), timeout=30)
            if killed.is_set():
                break
            # 451'd messages wait for a later attempt: move beat's clock to it.
            now += timedelta(minutes=30)
            delivery.dispatch(group.factory, celery, peer_settings, now=now)
        assert killed.is_set(), f"no mail accepted: {statuses(group.factory)}"
        assert sink.refusals, "the server never answered 451"
        assert at_kill["sending"] == 1, at_kill

        # Beat's sweep after the stuck-sending time: in_doubt, and the queue requeued.
        later = max(now, utcnow()) + delivery.STALE_QUEUE + timedelta(minutes=1)
        delivery.dispatch(group.factory, celery, peer_settings, now=later)
        process.start()
        settle(group, celery, peer_settings, timeout=30)
        wait_for(lambda: statuses(group.factory)["sent"] + statuses(group.factory)["in_doubt"]
                 == 30, timeout=30)
    finally:
        process.stop()

    rows = message_rows(group.factory)
    received = sink.by_recipient_and_subject()
    assert {address for address, _subject in received} == {m.address for m in rows}
    assert set(received.values()) == {1}, received  # exactly once, every recipient
    in_doubt = [m for m in rows if m.status == "in_doubt"]
    assert len(in_doubt) == 1 and received[(in_doubt[0].address, SUBJECT)] == 1
    retried = sum(m.attempts > 1 for m in rows)
    assert retried > 0  # some went through a 451 first
    print(f"\n451s: {len(sink.refusals)}; killed with {dict(at_kill)}; "
          f"{retried} messages needed a second attempt; 30 recipients, each mail once")
