"""A task lost between Redis and a worker is sent again from the outbox (shared.events).

The loss is made the way test_redis_outage saw it happen: the event was relayed (the outbox
row says so) but its tasks never reached a worker (here: removed from the queues before any
worker ran). The redelivery sweep, with beat's clock past REDELIVER_AFTER, sends the event to
each subscriber that has not applied it; a real worker applies it once; a second sweep
sends nothing. A subscriber whose queue holds a backlog is left alone until it drains.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from services.survey.links import make_token
from shared.events import CONTRACTS, redeliver, relay
from shared.models import OutboxEvent, ProcessedEvent, utcnow
from tests.conftest import running_worker, wait_for
from tests.faults.conftest import EMPLOYED, make_roster

pytestmark = pytest.mark.timeout(90)


def test_a_relayed_event_no_subscriber_got_is_redelivered_once(
    settings, survey_app, worker_app, tmp_path
) -> None:
    from shared.db import Database

    factory = Database.for_url(settings.database_url).session_factory
    roster = make_roster(factory, 2, secret=survey_app.config["SECRET_KEY"])
    body = {"id": str(uuid.uuid4()), "wave": roster.slug, "answers": EMPLOYED,
            "token": make_token(survey_app.config["SECRET_KEY"], roster.wave_id,
                                roster.alumni[0])}
    assert survey_app.test_client().post("/api/v1/responses", json=body).status_code == 201
    with factory() as session:
        event_id = session.scalar(select(OutboxEvent.id).where(
            OutboxEvent.type == "response.submitted"))
    relay(factory, worker_app.extensions["celery"])  # as `jejak relay` does
    with factory() as session:
        assert session.get(OutboxEvent, event_id).relayed_at is not None
    # Lost on the way to the worker: gone from the queues, the outbox says relayed.
    broker = redis.Redis.from_url(settings.redis_url)
    broker.delete("survey", "outreach", "analytics", "events")
    with factory() as session, session.begin():
        session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id)
                        .values(relayed_at=utcnow() - timedelta(minutes=5)))

    celery = worker_app.extensions["celery"]
    celery.set_default()  # the thread pool looks tasks up in the current app
    subscribers = CONTRACTS["response.submitted"].subscribers
    assert subscribers == ("outreach.on_response_submitted", "analytics.on_response_submitted",
                           "survey.on_response_submitted")
    broker.lpush("analytics", b"{}")  # a backlog there: its events may simply be waiting
    assert redeliver(factory, celery, now=utcnow()) == 2  # outreach's and survey's only
    broker.delete("analytics")
    assert redeliver(factory, celery, now=utcnow()) == 1  # now analytics' too

    with running_worker(celery, concurrency=1):
        def applied() -> set[str]:
            with factory() as session:
                return set(session.scalars(select(ProcessedEvent.consumer)
                                           .where(ProcessedEvent.event_id == event_id)))

        wait_for(lambda: applied() >= set(subscribers))
    assert redeliver(factory, celery, now=utcnow()) == 0  # applied: nothing to resend
    broker.close()
