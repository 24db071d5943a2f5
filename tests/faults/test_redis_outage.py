"""(a) Intake under load while Redis is stopped for 10 s and restarted (issue 7, point 1a).

Real gunicorn serves the survey service, a real `jejak relay` sends the outbox and a real
`jejak worker --beat` consumes every queue, all on a private Redis the test stops (SIGTERM,
as a service manager does) for ten seconds while four clients keep submitting, then starts
again on the same port and data. What must hold: intake keeps accepting (every request 201;
the outbox holds the events), every accepted response is stored, and every event reaches
each subscriber exactly once (its processed_events row; the analytics consumer's effect
counts each response once) after the relay sends what it could not send while Redis was
down, and the redelivery sweep resends any task Redis handed out as it stopped (the test
plays that sweep with its clock moved forward, as test_outreach_peers plays dispatch).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from shared.auth import create_token
from shared.events import CONTRACTS, REDELIVER_AFTER, redeliver
from shared.models import OutboxEvent, ProcessedEvent, Response, utcnow
from shared.web import create_service_app
from tests.conftest import app_config, wait_for
from tests.faults.conftest import (
    gunicorn,
    make_roster,
    relay,
    service_env,
    submitting,
    wait_healthy,
    worker,
)

pytestmark = pytest.mark.timeout(180)

OUTAGE_SECONDS = 10.0


def test_intake_keeps_accepting_while_redis_is_down(
    settings, clean_db, analytics_app, private_redis, processes, tmp_path
) -> None:
    factory = clean_db.session_factory
    roster = make_roster(factory, 500)
    with factory() as session, session.begin():
        viewer = {"Authorization": f"Bearer {create_token(session, 'viewer')}"}
    env = service_env(tmp_path, settings.database_url, private_redis.url)
    web, base = gunicorn(tmp_path, env)
    processes.append(web.start())
    processes.append(relay(tmp_path, env).start())
    consumer = worker(tmp_path, env, beat=True)
    processes.append(consumer.start())
    wait_healthy(base, "survey", web)
    consumer.wait_for_log(" ready.")
    endpoint = f"{base}/survey/api/v1/responses"

    ids = [uuid.uuid4() for _ in roster.alumni]
    with submitting(endpoint, roster, ids) as sent:
        wait_for(lambda: len(sent) >= 20, timeout=60)
        private_redis.stop()
        down_from = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        down_until = time.monotonic()
        private_redis.start()
        wait_for(lambda: sum(s.started > down_until for s in sent) >= 20, timeout=60)
    answers = [(s.index, s.started, s.answer) for s in sent]

    bad = [(answer.status, answer.body[:300]) for _, _, answer in answers if answer.status != 201]
    assert not bad, bad
    during = [answer for _, started, answer in answers if down_from < started < down_until]
    assert len(during) >= 20, f"only {len(during)} submissions while Redis was down"
    accepted = {ids[index] for index, _, _ in answers}

    subscribers = CONTRACTS["response.submitted"].subscribers

    def delivered() -> bool:
        with factory() as session:
            events = set(session.scalars(select(OutboxEvent.id).where(
                OutboxEvent.type == "response.submitted", OutboxEvent.relayed_at.is_not(None))))
            if len(events) < len(accepted):
                return False
            return all(
                set(session.scalars(select(ProcessedEvent.event_id)
                                    .where(ProcessedEvent.consumer == name))) >= events
                for name in subscribers)

    waited_from = time.monotonic()

    redelivered = 0
    try:
        wait_for(delivered, timeout=45, interval=0.5)
    except AssertionError:
        # Something was not applied although everything was relayed: a task that Redis
        # handed out as it stopped (BRPOP had removed it, the reply never arrived). Play
        # beat's redelivery sweep with its clock past REDELIVER_AFTER, once the queues are
        # empty, as beat would: the outbox sends those events again.
        broker = redis.Redis.from_url(private_redis.url)
        wait_for(lambda: not any(broker.llen(name) for name in
                                 ("survey", "outreach", "analytics", "events")), timeout=60)
        broker.close()
        celery = create_service_app("faults", __name__, app_config(
            dataclasses.replace(settings, redis_url=private_redis.url))).extensions["celery"]
        redelivered = redeliver(factory, celery,
                                now=utcnow() + REDELIVER_AFTER + timedelta(minutes=1))
    try:
        wait_for(delivered, timeout=60, interval=0.5)
    except AssertionError:
        with factory() as session:
            state = {
                "accepted": len(accepted),
                "events": session.scalar(select(func.count()).select_from(OutboxEvent).where(
                    OutboxEvent.type == "response.submitted")),
                "unrelayed": session.scalar(select(func.count()).select_from(OutboxEvent)
                                            .where(OutboxEvent.relayed_at.is_(None))),
                "processed": session.execute(
                    select(ProcessedEvent.consumer, func.count())
                    .group_by(ProcessedEvent.consumer)).all(),
            }
        notable = [line for line in consumer.output().splitlines()
                   if any(word in line for word in ("ERROR", "WARNING", "Retry", "Error"))]
        raise AssertionError(f"not every event delivered: {state}\n" + "\n".join(notable[:80])
                             + "\n...\n" + consumer.output()[-1500:]) from None
    with factory() as session:
        stored = set(session.scalars(select(Response.id)))
        events = list(session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "response.submitted")))
        unrelayed_attempts = sum(event.attempts for event in events)
        processed = session.execute(
            select(ProcessedEvent.consumer, func.count())
            .where(ProcessedEvent.consumer.in_(subscribers)).group_by(ProcessedEvent.consumer)
        ).all()
    assert stored == accepted
    assert sorted(event.payload["response_id"] for event in events) == sorted(map(str, stored))
    assert dict(processed) == {name: len(stored) for name in subscribers}
    # The analytics consumer's effect: each response counted once, none twice.
    indicators = analytics_app.test_client().get(
        f"/api/v1/indicators?wave={roster.slug}", headers=viewer).get_json()
    assert indicators["responses_included"] == len(stored)
    print(f"\nRedis down {down_until - down_from:.1f}s: {len(answers)} submissions all 201, "
          f"{len(during)} during the outage (slowest {max(a.seconds for a in during):.2f}s); "
          f"failed relay attempts {unrelayed_attempts}; redelivered {redelivered}; "
          f"each event applied once by "
          f"{len(subscribers)} consumers, all within {time.monotonic() - waited_from:.0f}s")
