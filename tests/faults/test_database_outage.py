"""(c) PostgreSQL restarted during intake (issue 7, point 1c).

Real gunicorn (two workers, four threads each) serves the survey service against a private
PostgreSQL cluster while four clients submit answers. The cluster is stopped (fast shutdown:
open transactions roll back, connections drop) and started again. What must hold: a request
during the outage gets 503 problem+json with Retry-After (never a 500 or a hang), nothing is
half-stored (every stored response has its one outbox event and no event lacks its
response), and the same gunicorn workers serve 201s again once the database is back.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from shared.migrate import upgrade
from shared.models import OutboxEvent, Response
from tests.faults.conftest import (
    fetch,
    gunicorn,
    make_roster,
    post_json,
    service_env,
    submission,
    submitting,
    wait_healthy,
)

pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(150)]

OUTAGE_SECONDS = 3.0


def test_postgresql_restart_during_intake(pg_cluster, private_redis, processes, tmp_path) -> None:
    url = pg_cluster.create_database()
    upgrade(url)
    engine = create_engine(url, poolclass=NullPool)
    factory = sessionmaker(engine)
    roster = make_roster(factory, 600)
    web, base = gunicorn(tmp_path, service_env(tmp_path, url, private_redis.url))
    processes.append(web.start())
    wait_healthy(base, "survey", web)
    endpoint = f"{base}/survey/api/v1/responses"

    ids = [uuid.uuid4() for _ in roster.alumni]
    with submitting(endpoint, roster, ids) as sent:
        _wait(lambda: sum(s.answer.status == 201 for s in sent) >= 20, "20 answers before")
        pg_cluster.stop()
        down_from = time.monotonic()
        time.sleep(1)
        # A phone opening its personal link meanwhile gets a page, not a stack trace.
        page = fetch(urllib.request.Request(f"{base}/survey/s/{roster.tokens[-1]}",
                                            headers={"Accept": "text/html"}))
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_from)))
        down_until = time.monotonic()
        pg_cluster.start()
        up_from = time.monotonic()
        _wait(lambda: sum(s.answer.status == 201 and s.started > up_from for s in sent) >= 20,
              "20 answers after the restart")

    statuses = {s.answer.status for s in sent}
    assert statuses <= {201, 503}, [(s.answer.status, s.answer.body[:300]) for s in sent
                                    if s.answer.status not in (201, 503)]
    during = [s for s in sent
              if down_from < s.started and s.started + s.answer.seconds < down_until]
    assert len(during) >= 5, f"only {len(during)} requests fell inside the outage"
    for item in during:
        assert item.answer.status == 503
    for item in (s for s in sent if s.answer.status == 503):
        assert item.answer.headers["Content-Type"].startswith("application/problem+json")
        assert int(item.answer.headers["Retry-After"]) > 0
        assert json.loads(item.answer.body)["status"] == 503

    assert page.status == 503 and page.headers["Content-Type"].startswith("text/html")
    assert int(page.headers["Retry-After"]) > 0
    assert "Basis data tidak dapat dihubungi" in page.body.decode(), page.body[:500]

    # The client resends what got 503 (same id: safe); the database is back, so it is stored.
    refused = sorted({s.index for s in sent if s.answer.status == 503})
    for index in refused:
        for _attempt in range(5):
            again = post_json(endpoint, submission(roster, index, ids[index]))
            if again.status in (200, 201):
                break
            assert again.status == 503, again.body[:300]
            time.sleep(0.2)
        else:
            raise AssertionError(f"submission {index} still refused after the restart")

    submitted = {ids[s.index] for s in sent}
    with factory() as session:
        stored = list(session.scalars(
            select(Response.id).where(Response.wave_id == roster.wave_id)))
        events = [row.payload["response_id"] for row in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "response.submitted"))]
        assert session.scalar(select(func.count()).select_from(Response)) == len(stored)
    # Nothing half-stored: every response has exactly one event and every event its response.
    assert sorted(events) == sorted(str(response_id) for response_id in stored)
    assert set(stored) == submitted and len(stored) == len(submitted)

    # Recovered by itself: the two workers gunicorn booted are the ones still serving.
    assert web.output().count("Booting worker") == 2, web.output()[-3000:]
    wait_healthy(base, "survey", web, timeout=10)
    engine.dispose()
    print(f"\nPostgreSQL down {down_until - down_from:.1f}s: {len(sent)} requests, "
          f"{len(during)} inside the outage (all 503), {len(refused)} refused and resent, "
          f"{len(stored)} stored")


def _wait(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(0.05)
