"""The event contract is data: each event is a typed class (shared/event_types.py), and every
subscriber named in CONTRACTS is a task some service defines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from shared.celery_app import route_task
from shared.event_types import (
    AlumniImported,
    ContractError,
    InvitationRequested,
    MessageStatus,
    WaveOpened,
    WaveTargetsAdded,
)
from shared.events import CONTRACTS, OUTBOX, Event, check_contract, outbox_row, publish


def test_every_subscriber_is_a_registered_task_on_its_service_queue() -> None:
    import celery

    import services.analytics.tasks  # noqa: F401
    import services.outreach.tasks  # noqa: F401
    import services.survey.tasks  # noqa: F401

    app = celery.Celery(set_as_current=False)
    app.finalize()
    for event_type, contract in CONTRACTS.items():
        assert contract.data.name == event_type
        for name in contract.subscribers:
            assert name in app.tasks, f"{event_type}: no task named {name}"
            assert route_task(name)["queue"] == name.split(".")[0]
    # No consumer that does nothing: each costs a broker task and a processed_events row.
    # (survey.on_message_status came back with work to do: the call list's state.)
    for gone in ("outreach.on_alumni_imported",
                 "outreach.on_wave_opened", "outreach.on_wave_closed"):
        assert gone not in app.tasks


def test_payload_must_match_the_contract_exactly() -> None:
    check_contract("wave.opened", {"wave_id": 1})
    with pytest.raises(ContractError, match="missing"):
        check_contract("wave.opened", {})
    with pytest.raises(ContractError, match="unexpected"):
        check_contract("wave.opened", {"wave_id": 1, "name": "x"})
    with pytest.raises(ContractError, match="unknown"):
        check_contract("wave.exploded", {})


def test_a_field_of_the_wrong_type_is_refused_at_publish_naming_the_field() -> None:
    with pytest.raises(ContractError, match="'wave_id' must be int, not '1'"):
        outbox_row(WaveTargetsAdded(wave_id="1", alumnus_ids=[2]))  # type: ignore[arg-type]
    with pytest.raises(ContractError, match="'wave_id' must be int, not True"):
        outbox_row(WaveTargetsAdded(wave_id=True, alumnus_ids=[2]))
    with pytest.raises(ContractError, match="'alumnus_ids' must be list"):
        outbox_row(WaveTargetsAdded(wave_id=1, alumnus_ids=[2, "3"]))  # type: ignore[list-item]
    with pytest.raises(ContractError, match="'channel' must be str, not 7"):
        outbox_row(InvitationRequested(wave_id=1, alumnus_id=2, channel=7))  # type: ignore
    # The older form, a name and a dict, goes through the same class.
    with pytest.raises(ContractError, match="'message_id' must be int, not 'poison'"):
        outbox_row("message.status", {"message_id": "poison", "alumnus_id": 1, "status": "sent"})


def test_a_typed_event_round_trips_from_dataclass_to_outbox_to_message_to_event_data() -> None:
    sent = WaveTargetsAdded(wave_id=3, alumnus_ids=[5, 8])
    row = outbox_row(sent)
    assert row is not None
    assert (row["type"], row["payload"]) == ("wave.targets_added",
                                             {"wave_id": 3, "alumnus_ids": [5, 8]})
    # What the relay sends (shared/events.py _message) carries the class's version.
    relayed = Event(row["id"], row["type"], row["payload"], row["created_at"],
                    WaveTargetsAdded.version).to_message()
    assert relayed["version"] == 1
    received = Event.from_message(relayed)
    assert received.data == sent and received.data.alumnus_ids == [5, 8]
    # The old form gives the same row.
    old = outbox_row("message.status", {"message_id": 4, "alumnus_id": 9, "status": "sent"})
    assert old is not None and Event(old["id"], old["type"], old["payload"],
                                     old["created_at"]).data == MessageStatus(4, 9, "sent")


def test_a_payload_that_does_not_fit_its_class_fails_on_reading_event_data() -> None:
    event = Event(uuid.uuid4(), "message.status",
                  {"message_id": "poison", "alumnus_id": 1, "status": "sent"}, datetime.now(UTC))
    with pytest.raises(ContractError, match="message_id"):
        event.data  # noqa: B018
    newer = Event(uuid.uuid4(), "wave.targets_added", {"wave_id": 1, "alumnus_ids": []},
                  datetime.now(UTC), version=2)
    with pytest.raises(ContractError, match="version 2"):
        newer.data  # noqa: B018


def test_an_event_nobody_subscribes_to_writes_no_outbox_row() -> None:
    assert CONTRACTS["wave.opened"].subscribers == ()
    engine = create_engine("sqlite://")
    OUTBOX.create(engine)
    with Session(engine) as session:
        assert publish(session, WaveOpened(wave_id=1)) is None
        assert publish(session, AlumniImported(alumnus_ids=[1, 2])) is None
        assert outbox_row("wave.closed", {"wave_id": 1}) is None
        # Still checked: a wrong type is refused even where nothing would be written.
        with pytest.raises(ContractError, match="wave_id"):
            publish(session, WaveOpened(wave_id=True))
        written = publish(session, MessageStatus(message_id=1, alumnus_id=2, status="sent"))
        assert written is not None
        assert session.scalar(select(func.count()).select_from(OUTBOX)) == 1


def test_event_survives_the_json_round_trip() -> None:
    event = Event(uuid.uuid4(), "wave.opened", {"wave_id": 3}, datetime.now(UTC))
    assert Event.from_message(event.to_message()) == event


def test_relay_task_routes_to_the_events_queue() -> None:
    assert route_task("events.relay") == {"queue": "events"}
