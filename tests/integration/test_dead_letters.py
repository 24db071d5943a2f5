"""One bad event does not hold up the others; it waits in the dead letters for an admin.

The poison is an outbox row a real consumer cannot read: a `message.status` with message_id
"poison", as an older version might have left it (typed publishing refuses it today, so it is
written with a plain insert). `analytics.on_message_status` fails on reading it into its class
(`event.data`). The 499 good events are for messages that do not exist, which the consumer
applies as "nothing to do".
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from services.cli import main as cli
from shared.dead_letters import bury
from shared.event_types import MessageStatus
from shared.events import OUTBOX, prune_events, publish, redeliver
from shared.models import AuditEntry, DeadLetter, OutboxEvent, ProcessedEvent, User, utcnow
from tests.conftest import wait_for
from tests.integration.test_web_access import csrf_of, login

ANALYTICS = "analytics.on_message_status"


def _applied(database, consumer: str) -> int:
    with database.session_factory() as session:
        return session.scalar(select(func.count()).select_from(ProcessedEvent)
                              .where(ProcessedEvent.consumer == consumer))


def _dead_letters(database) -> list[DeadLetter]:
    with database.session_factory() as session:
        rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
        session.expunge_all()
        return rows


def _cli_env(database, home) -> dict[str, str]:
    return {"JEJAK_DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
            "JEJAK_HOME": str(home)}


def test_a_poison_event_in_a_batch_of_500_is_retried_alone_and_buried_while_499_apply(
    clean_db, worker_app, celery_worker, tmp_path,
) -> None:
    with clean_db.session_factory() as session:
        ids = []
        for index in range(500):
            if index == 250:
                poison = {"id": uuid.uuid4(), "type": "message.status", "created_at": utcnow(),
                          "payload": {"message_id": "poison", "alumnus_id": 1, "status": "sent"},
                          "attempts": 0}
                session.execute(insert(OUTBOX), poison)
                ids.append(poison["id"])
                continue
            ids.append(publish(session, MessageStatus(message_id=900_000 + index, alumnus_id=1,
                                                      status="sent")))
        session.commit()
    poison_id = ids[250]

    # The 499 good ones are applied on the first pass, long before the poison has used up
    # its tries (1 + 2 + 4 + 8 seconds of waiting between them).
    wait_for(lambda: _applied(clean_db, ANALYTICS) == 499, timeout=60)
    assert _dead_letters(clean_db) == []

    # Both consumers of message.status (analytics, and survey for the call list) bury it.
    buried = wait_for(lambda: len(found := _dead_letters(clean_db)) == 2 and found, timeout=90)
    assert {row.consumer for row in buried} == {ANALYTICS, "survey.on_message_status"}
    dead = next(row for row in buried if row.consumer == ANALYTICS)
    assert (dead.consumer, dead.event_id, dead.event_type) == (ANALYTICS, poison_id,
                                                               "message.status")
    assert dead.attempts == 5 and dead.status == "dead"
    assert "ContractError" in dead.error and "'message_id' must be int, not 'poison'" in dead.error
    assert dead.payload["message_id"] == "poison"
    # Applied once each: nothing was applied twice, and the poison never was.
    assert _applied(clean_db, ANALYTICS) == 499
    with clean_db.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent).where(
            ProcessedEvent.consumer == ANALYTICS, ProcessedEvent.event_id == poison_id)) == 0

    # The redelivery sweep leaves a dead letter to the admin.
    celery = worker_app.extensions["celery"]
    assert redeliver(clean_db.session_factory, celery, now=utcnow() + timedelta(minutes=5)) == 0

    # Replayed from the command line, it goes through the outbox again, fails again (the
    # payload is still bad), and is back among the dead letters with its tries added up.
    result = CliRunner().invoke(cli, ["events", "replay", str(dead.id)],
                                env=_cli_env(clean_db, tmp_path))
    assert result.exit_code == 0, result.output
    def analytics_letter() -> DeadLetter:
        return next(row for row in _dead_letters(clean_db) if row.consumer == ANALYTICS)

    wait_for(lambda: analytics_letter().attempts == 10, timeout=90)
    again = analytics_letter()
    assert again.status == "dead" and again.resolved_by is None
    assert _applied(clean_db, ANALYTICS) == 499


def _a_dead_letter(database) -> DeadLetter:
    message = {"id": "6f1c1f3e-3b7e-4c57-9a52-3d3a8f1f0001", "type": "message.status",
               "payload": {"message_id": "poison", "alumnus_id": 1, "status": "sent"},
               "occurred_at": utcnow().isoformat()}
    try:
        int("poison")
    except ValueError as exc:
        with database.session_factory() as session:
            bury(session, ANALYTICS, message, exc, attempts=5)
            session.commit()
    return _dead_letters(database)[0]


def test_an_admin_replays_a_dead_letter_from_the_page_and_it_is_audited(
    survey_app, clean_db,
) -> None:
    from shared.auth import create_user

    dead = _a_dead_letter(clean_db)
    with clean_db.session_factory() as session:
        create_user(session, "ani", "sandi-yang-panjang-1", "admin")
        session.commit()
    client = survey_app.test_client()
    login(client, "ani", "sandi-yang-panjang-1")
    page = client.get("/dead-letters")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Antrean" in html or "gagal" in html.lower()
    assert ANALYTICS in html and "ValueError: invalid literal for int()" in html

    answer = client.post(f"/dead-letters/{dead.id}/replay", data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 302
    with clean_db.session_factory() as session:
        row = session.get(DeadLetter, dead.id)
        assert (row.status, row.resolved_by) == ("replayed", "ani")
        # Retention had pruned the event: the outbox row is re-made from the dead letter,
        # unrelayed, with the same id (consumers that applied it will skip it).
        outbox = session.get(OutboxEvent, dead.event_id)
        assert outbox is not None and outbox.relayed_at is None
        assert outbox.payload == dead.payload
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "event.replay")
                                ).one()
        assert (entry.actor, entry.target) == ("ani", f"dead_letter:{dead.id}")


def test_a_discarded_dead_letter_stays_discarded_and_cannot_be_replayed(
    clean_db, tmp_path,
) -> None:
    dead = _a_dead_letter(clean_db)
    env = _cli_env(clean_db, tmp_path)
    listed = CliRunner().invoke(cli, ["events", "dead-letters"], env=env)
    assert listed.exit_code == 0 and ANALYTICS in listed.output and "ValueError" in listed.output
    discarded = CliRunner().invoke(cli, ["events", "discard", str(dead.id)], env=env)
    assert discarded.exit_code == 0, discarded.output
    replayed = CliRunner().invoke(cli, ["events", "replay", str(dead.id)], env=env)
    assert replayed.exit_code == 1 and "discarded" in replayed.output
    assert _dead_letters(clean_db)[0].status == "discarded"
    assert CliRunner().invoke(cli, ["events", "dead-letters"], env=env).output.strip() \
        == "no dead letters"
    with clean_db.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "event.discard")) == 1
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_retention_prunes_old_relayed_events_and_old_processed_records_only(clean_db) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(days=10)
    rows = [
        # (relayed_at, created_at): relayed long ago, relayed lately, never relayed (old)
        *[(old, old)] * 5, *[(recent, recent)] * 3, (None, old),
    ]
    with clean_db.session_factory() as session:
        for relayed_at, created_at in rows:
            session.execute(insert(OUTBOX), {
                "id": uuid.uuid4(), "type": "wave.opened", "payload": {"wave_id": 1},
                "created_at": created_at, "relayed_at": relayed_at, "attempts": 0})
        for index in range(7):
            session.add(ProcessedEvent(consumer="outreach.on_wave_opened",
                                       event_id=uuid.uuid4(),
                                       processed_at=old if index < 4 else recent))
        session.commit()

    # Batches of two: five old rows take three transactions.
    assert prune_events(clean_db.session_factory, timedelta(days=30), batch=2) == (5, 4)
    with clean_db.session_factory() as session:
        left = session.execute(select(OUTBOX.c.relayed_at)).scalars().all()
        assert sorted(left, key=lambda at: at or now) == [recent] * 3 + [None]
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 3
    assert prune_events(clean_db.session_factory, timedelta(days=30)) == (0, 0)


def test_retention_shorter_than_the_redelivery_window_is_refused(clean_db) -> None:
    with pytest.raises(ValueError, match="longer than"):
        prune_events(clean_db.session_factory, timedelta(hours=12))
