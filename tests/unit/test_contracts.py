"""The event contract is data; every subscriber named there is a task some service defines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.celery_app import route_task
from shared.events import CONTRACTS, ContractError, Event, check_contract


def test_every_subscriber_is_a_registered_task_on_its_service_queue() -> None:
    import celery

    import services.analytics.tasks  # noqa: F401
    import services.outreach.tasks  # noqa: F401
    import services.survey.tasks  # noqa: F401

    app = celery.Celery(set_as_current=False)
    app.finalize()
    for event_type, contract in CONTRACTS.items():
        assert contract.subscribers, event_type
        for name in contract.subscribers:
            assert name in app.tasks, f"{event_type}: no task named {name}"
            assert route_task(name)["queue"] == name.split(".")[0]


def test_payload_must_match_the_contract_exactly() -> None:
    check_contract("wave.opened", {"wave_id": 1})
    with pytest.raises(ContractError, match="missing"):
        check_contract("wave.opened", {})
    with pytest.raises(ContractError, match="unexpected"):
        check_contract("wave.opened", {"wave_id": 1, "name": "x"})
    with pytest.raises(ContractError, match="unknown"):
        check_contract("wave.exploded", {})


def test_event_survives_the_json_round_trip() -> None:
    event = Event(uuid.uuid4(), "wave.opened", {"wave_id": 3}, datetime.now(UTC))
    assert Event.from_message(event.to_message()) == event


def test_relay_task_routes_to_the_events_queue() -> None:
    assert route_task("events.relay") == {"queue": "events"}
