"""`jejak up` as a centre runs it: `curl /survey/metrics` (and the others) with a viewer
token gives Prometheus text, and the worker's task runs show there too (web and worker count
into one folder under JEJAK_HOME, emptied at each start)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from shared.auth import create_token
from shared.db import Database
from tests.conftest import wait_for
from tests.e2e.conftest import free_port, start_jejak, stop_jejak


def scrape(url: str, token: str) -> dict[tuple[str, tuple], float]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_up_serves_metrics_with_the_workers_tasks_to_a_token(tmp_path: Path) -> None:
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_1.db").write_bytes(b"from an earlier start")
    port = free_port()
    process, _output = start_jejak(tmp_path, port)
    try:
        assert not (tmp_path / "metrics" / "counter_1.db").exists()
        database = Database.for_url(f"sqlite:///{tmp_path / 'jejak.db'}")
        with database.session_factory() as session, session.begin():
            token = create_token(session, "viewer", "prometheus")
        base = f"http://127.0.0.1:{port}"
        # Without a token: the sign-in page (urllib follows the redirect), no metrics.
        with urllib.request.urlopen(f"{base}/survey/metrics", timeout=10) as anonymous:
            assert "/login" in anonymous.url
            assert b"jejak_http_requests_total" not in anonymous.read()
        relay = ("jejak_task_runs_total", (("task", "events.relay"),))
        # Beat sends events.relay every 5 seconds; the worker's count reaches the web's page.
        found = wait_for(lambda: (lambda f: f if f.get(relay, 0) >= 1 else None)(
            scrape(f"{base}/survey/metrics", token)), timeout=60, interval=1)
        assert found[("jejak_outbox_lag_seconds", ())] >= 0
        for service in ("outreach", "analytics"):
            other = scrape(f"{base}/{service}/metrics", token)
            assert ("jejak_queue_length", (("queue", "outreach"),)) in other
    finally:
        stop_jejak(process)
