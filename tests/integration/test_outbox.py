"""The event backbone end to end: outbox → relay → Celery on real Redis → idempotent consumer."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import ClassVar

import pytest
from sqlalchemy import func, select

from services import embedded
from shared import db, events
from shared.config import Settings
from shared.event_types import EventData
from shared.models import AuditEntry, OutboxEvent, ProcessedEvent
from tests.conftest import app_config, relay_in_thread, running_worker, wait_for, wait_until_idle

SUBSCRIBERS = ("survey.test_ping", "analytics.test_ping")


@dataclass(frozen=True)
class Ping(EventData):
    name: ClassVar[str] = "test.ping"
    n: int


def _record_ping(db_session, event: events.Event) -> None:
    assert isinstance(event.data, Ping)
    db_session.add(
        AuditEntry(
            actor="test", action="ping", target=str(event.id), details={"n": event.data.n}
        )
    )


# Two consumers on two service queues; each effect is one audit row per delivery applied.
ping_survey = events.consumer("survey.test_ping")(_record_ping)
ping_analytics = events.consumer("analytics.test_ping")(_record_ping)


@pytest.fixture(autouse=True)
def ping_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    contracts = dict(events.CONTRACTS)
    contracts["test.ping"] = events.Contract(Ping, subscribers=SUBSCRIBERS)
    monkeypatch.setattr(events, "CONTRACTS", contracts)


def effects_of(app, event_id: uuid.UUID) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.target == str(event_id))
        )


def relayed_at(app, event_id: uuid.UUID):
    with app.app_context():
        return db.session().get(OutboxEvent, event_id).relayed_at


def attempts_of(app, event_id: uuid.UUID) -> int:
    with app.app_context():
        return db.session().get(OutboxEvent, event_id).attempts


def test_rolled_back_event_is_never_delivered(survey_app, celery_worker) -> None:
    with survey_app.app_context():
        session = db.session()
        lost = events.publish(session, Ping(n=1))
        session.rollback()
        kept = events.publish(session, Ping(n=2))
        session.commit()
    wait_for(lambda: effects_of(survey_app, kept) == 2)
    with survey_app.app_context():
        # the beat relay finds nothing either: the rolled-back row never existed
        assert events.relay(db.get_db().session_factory, survey_app.extensions["celery"]) == 0
        assert db.session().get(OutboxEvent, lost) is None
    wait_until_idle(survey_app.extensions["celery"])
    assert effects_of(survey_app, lost) == 0


def test_committed_event_reaches_each_subscriber_exactly_once(survey_app, celery_worker) -> None:
    with survey_app.app_context():
        session = db.session()
        event_id = events.publish(session, "test.ping", {"n": 3})
        session.commit()
    wait_for(lambda: effects_of(survey_app, event_id) == 2)
    wait_for(lambda: relayed_at(survey_app, event_id) is not None)  # sent by the relay
    with survey_app.app_context():
        # A later beat run must not send it again.
        celery = survey_app.extensions["celery"]
        assert events.relay(db.get_db().session_factory, celery) == 0
        consumers = (
            db.session()
            .scalars(select(ProcessedEvent.consumer).where(ProcessedEvent.event_id == event_id))
            .all()
        )
    wait_until_idle(survey_app.extensions["celery"])
    assert effects_of(survey_app, event_id) == 2
    assert sorted(consumers) == sorted(SUBSCRIBERS)


def test_a_redelivered_event_is_applied_once(survey_app, celery_worker) -> None:
    with survey_app.app_context():
        session = db.session()
        event_id = events.publish(session, "test.ping", {"n": 4})
        session.commit()
        row = session.get(OutboxEvent, event_id)
        message = events.Event(row.id, row.type, row.payload, row.created_at).to_message()
    wait_for(lambda: effects_of(survey_app, event_id) == 2)
    celery = survey_app.extensions["celery"]
    for _ in range(3):  # as a broker redelivery after a lost ack would
        for name in SUBSCRIBERS:
            celery.send_task(name, args=[message])
    # Direct calls too, bypassing the broker: the consumer itself must refuse repeats.
    with survey_app.app_context():
        assert ping_survey.run(message) == 0  # nothing new applied
    wait_until_idle(celery)
    assert effects_of(survey_app, event_id) == 2


def test_commit_succeeds_with_redis_down_and_event_arrives_after(
    settings: Settings, clean_db, tmp_path
) -> None:

    from services.cli import SERVICES, create_worker_app
    from services.survey import create_app

    supervisor = embedded.Supervisor()
    redis_url = embedded.start_redis(supervisor, tmp_path)
    own = dataclasses.replace(settings, redis_url=redis_url)
    app = create_app(app_config(own))
    supervisor.stop()  # Redis is gone

    started = time.monotonic()
    with app.app_context():
        session = db.session()
        event_id = events.publish(session, "test.ping", {"n": 5})
        session.commit()  # must not raise, must not hang
        assert session.get(OutboxEvent, event_id).relayed_at is None
    assert time.monotonic() - started < 10

    try:
        embedded.start_redis(supervisor, tmp_path)  # Redis is back, same socket
        worker_app = create_worker_app(SERVICES, app_config(own))
        celery = worker_app.extensions["celery"]
        with running_worker(celery):
            # The beat job (events.relay), sent through the broker as beat does.
            time.sleep(events.BEAT_RELAY_GRACE.total_seconds())
            celery.send_task("events.relay")
            wait_for(lambda: effects_of(app, event_id) == 2, timeout=20)
            celery.send_task("events.relay")  # a second beat tick sends nothing more
            wait_until_idle(celery)
            assert effects_of(app, event_id) == 2
            with app.app_context():
                assert db.session().get(OutboxEvent, event_id).relayed_at is not None
    finally:
        supervisor.stop()


def test_the_relay_outlives_a_broker_outage(settings: Settings, clean_db, tmp_path) -> None:
    from services.cli import SERVICES, create_worker_app

    supervisor = embedded.Supervisor()
    redis_url = embedded.start_redis(supervisor, tmp_path)
    own = dataclasses.replace(settings, redis_url=redis_url)
    worker_app = create_worker_app(SERVICES, app_config(own))
    supervisor.stop()  # Redis is gone before the relay starts
    try:
        with relay_in_thread(events.RelayLoop(worker_app, interval=0.05)) as loop:
            with worker_app.app_context():
                session = db.session()
                event_id = events.publish(session, "test.ping", {"n": 6})
                session.commit()
            # A few failed runs, backing off: seen in the outbox row's attempts.
            wait_for(lambda: attempts_of(worker_app, event_id) >= 2, timeout=20)
            assert relayed_at(worker_app, event_id) is None
            embedded.start_redis(supervisor, tmp_path)  # back, same socket
            with running_worker(worker_app.extensions["celery"]):
                wait_for(lambda: effects_of(worker_app, event_id) == 2, timeout=20)
            assert loop.stopping.is_set() is False
    finally:
        supervisor.stop()


def test_publish_rejects_a_payload_that_breaks_the_contract(survey_app) -> None:
    with survey_app.app_context(), pytest.raises(events.ContractError, match="missing"):
        events.publish(db.session(), "response.submitted", {"response_id": "x"})
