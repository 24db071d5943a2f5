"""(d) Beat started twice (issue 7, point 1d).

Two real `jejak beat` processes run against one Redis. Only the holder of the leader lease
sends (shared.celery_app.LeaderScheduler), so each scheduled job goes out once per tick:
the test reads what reached the queues (no worker consumes them) and checks that, in the
order sent, every message came from the leader of that moment, never from both beats at
once; when the leader stops, the standby takes over. Needs no PostgreSQL: SQLite pass only.
"""

from __future__ import annotations

import json
import sys
import time

import pytest
import redis

from tests.conftest import TEST_DB
from tests.faults.conftest import Process, service_env

pytestmark = [
    pytest.mark.skipif(TEST_DB == "postgresql", reason="needs no database: SQLite pass"),
    pytest.mark.timeout(120),
]


def sent(client: redis.Redis) -> list[tuple[str, str]]:
    """(task name, sending process) of every queued message, oldest first."""
    messages = []
    for queue in ("events", "outreach", "analytics"):
        # kombu LPUSHes and BRPOPs: the right end of the list is the oldest message.
        for raw in reversed(client.lrange(queue, 0, -1)):
            headers = json.loads(raw)["headers"]
            messages.append((headers["task"], headers["origin"]))
    return messages


def relays_by(client: redis.Redis) -> list[str]:
    return [origin for task, origin in sent(client) if task == "events.relay"]


def wait(predicate, what: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {timeout}s"
        time.sleep(0.2)


def test_two_beats_send_each_job_once_per_tick(private_redis, processes, tmp_path) -> None:
    env = service_env(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", private_redis.url)
    beats = []
    for name in ("beat-a", "beat-b"):
        argv = [sys.executable, "-m", "services.cli", "beat", "--schedule",
                str(tmp_path / f"{name}-schedule")]
        beat = Process(name, argv, env, tmp_path).start()
        processes.append(beat)
        beats.append(beat)
        beat.wait_for_log("beat: Starting")
    for beat in beats:
        wait(lambda beat=beat: "leading" in beat.output() or "standing by" in beat.output(),
             f"{beat.name} deciding whether it leads")
    leaders = [beat for beat in beats if "leading" in beat.output()]
    assert len(leaders) == 1, [beat.output()[-1500:] for beat in beats]
    leader, standby = leaders[0], next(beat for beat in beats if beat is not leaders[0])
    client = redis.Redis.from_url(private_redis.url)

    wait(lambda: len(relays_by(client)) >= 2, "two relay ticks")  # every 5 s
    first = set(relays_by(client))
    assert len(first) == 1, sent(client)  # both beats ran all along; one sent
    assert "standing by" in standby.output() and "leading" not in standby.output()

    before = len(relays_by(client))
    leader.stop()  # a clean stop releases the lease: the standby takes over at once
    wait(lambda: "leading" in standby.output(), "takeover")
    wait(lambda: len(relays_by(client)) >= before + 2, "two relay ticks after the takeover")
    origins = relays_by(client)
    assert set(origins[before:]) == {standby_origin(origins, first)}
    # Chronologically: the old leader's ticks, then the new leader's, never interleaved.
    assert origins == sorted(origins, key=lambda origin: origin not in first)
    dispatches = [origin for task, origin in sent(client) if task == "outreach.dispatch"]
    assert dispatches and len(set(dispatches)) <= 2
    print(f"\nrelay ticks: {len(origins)} from {len(set(origins))} beats in turn; "
          f"dispatch ticks: {len(dispatches)}")


def standby_origin(origins: list[str], first: set[str]) -> str:
    others = {origin for origin in origins if origin not in first}
    assert len(others) == 1, origins
    return others.pop()
