"""Prometheus metrics: each web service at /<service>/metrics, the worker on its own port.

The text is read back with prometheus_client's own parser, as Prometheus would. Counters are
process-wide (several tests share them), so requests and task runs are asserted as growth
across the test; the figures computed at scrape time (outbox lag, queue lengths, dead
letters, last refresh) come from this test's own rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from werkzeug.test import Client

from services.cli import SERVICES, compose
from shared.auth import create_token
from shared.events import OUTBOX, publish
from shared.models import DeadLetter, RefreshRun, utcnow
from tests.conftest import app_config, wait_for

REPO = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition text (fails if it is not one)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture()
def gateway(settings, clean_db):
    """All three services under their prefixes, as `jejak up` and the gateway serve them,
    and a viewer's API token (any role may read metrics)."""
    with clean_db.session_factory() as session, session.begin():
        token = create_token(session, "viewer", "prometheus")
    return Client(compose(SERVICES, app_config(settings), proxy_hops=0)), token


def scrape(client: Client, token: str, service: str) -> str:
    response = client.get(f"/{service}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.get_data(as_text=True)


def test_each_service_counts_its_requests_by_endpoint_and_status(gateway) -> None:
    client, token = gateway
    for service in SERVICES:
        before = samples(scrape(client, token, service))
        assert client.get(f"/{service}/healthz").status_code == 200
        assert client.get(f"/{service}/no-such-page").status_code == 404

        after = samples(scrape(client, token, service))

        name = "jejak_http_requests_total"
        ok = {"service": service, "endpoint": "healthz", "method": "GET", "status": "200"}
        missing = {"service": service, "endpoint": "none", "method": "GET", "status": "404"}
        assert value(after, name, **ok) - value(before, name, **ok) == 1
        assert value(after, name, **missing) - value(before, name, **missing) == 1
        duration = {"service": service, "endpoint": "healthz"}
        assert value(after, "jejak_http_request_duration_seconds_count", **duration) >= 1


def test_metrics_need_a_signed_in_user_or_a_token(gateway) -> None:
    client, _token = gateway
    for service in SERVICES:
        anonymous = client.get(f"/{service}/metrics")
        assert anonymous.status_code in (302, 401)
        assert b"jejak_" not in anonymous.get_data()
        wrong = client.get(f"/{service}/metrics", headers={"Authorization": "Bearer jk_nope"})
        assert wrong.status_code in (302, 401)


def test_scrape_time_figures_come_from_the_database_and_redis(gateway, settings,
                                                              clean_db) -> None:
    client, token = gateway
    factory = clean_db.session_factory
    finished = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    with factory() as session, session.begin():
        publish(session, "alumnus.consent_withdrawn", {"alumnus_id": 1})
        # Waiting unrelayed for 90 seconds (no relay runs in this test).
        session.execute(update(OUTBOX).values(created_at=utcnow() - timedelta(seconds=90)))
        session.add(RefreshRun(kind="full", status="done", started_at=finished,
                               finished_at=finished))
        session.add(RefreshRun(kind="full", status="failed", started_at=finished,
                               finished_at=finished + timedelta(hours=1)))
        session.add(DeadLetter(consumer="analytics.on_message_status",
                               event_id=__import__("uuid").uuid4(), event_type="message.status",
                               payload={}, occurred_at=utcnow(), error="boom"))
    broker = redis.Redis.from_url(settings.redis_url)
    broker.rpush("outreach", b"{}", b"{}")
    broker.rpush("analytics", b"{}")
    try:
        for service in SERVICES:
            found = samples(scrape(client, token, service))
            assert 90 <= value(found, "jejak_outbox_lag_seconds") < 120
            assert value(found, "jejak_queue_length", queue="outreach") == 2
            assert value(found, "jejak_queue_length", queue="analytics") == 1
            assert value(found, "jejak_queue_length", queue="survey") == 0
            assert value(found, "jejak_queue_length", queue="events") == 0
            assert value(found, "jejak_dead_letters") == 1
            # The last refresh that finished well, not the failed one after it.
            assert value(found, "jejak_last_refresh_timestamp_seconds") == finished.timestamp()
    finally:
        broker.delete("outreach", "analytics")
        broker.close()


def test_no_waiting_event_is_no_lag(gateway) -> None:
    client, token = gateway
    found = samples(scrape(client, token, "survey"))
    assert value(found, "jejak_outbox_lag_seconds") == 0
    assert value(found, "jejak_last_refresh_timestamp_seconds") == 0


def test_the_worker_serves_task_runs_failures_and_durations(celery_worker, worker_app) -> None:
    from shared import metrics

    celery = worker_app.extensions["celery"]
    server, _thread = metrics.start_worker_server(0, "127.0.0.1")
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        def read() -> dict:
            with urllib.request.urlopen(url, timeout=5) as response:
                return samples(response.read().decode())

        before = read()
        celery.send_task("outreach.dispatch")
        celery.send_task("outreach.send_batch", args=[None])  # fails: no list of ids

        def ran() -> dict | None:
            found = read()
            grew = (value(found, "jejak_task_runs_total", task="outreach.dispatch")
                    > value(before, "jejak_task_runs_total", task="outreach.dispatch"))
            failed = (value(found, "jejak_task_failures_total", task="outreach.send_batch")
                      > value(before, "jejak_task_failures_total", task="outreach.send_batch"))
            return found if grew and failed else None

        found = wait_for(ran)
        assert value(found, "jejak_task_duration_seconds_count", task="outreach.dispatch") >= 1
        with urllib.request.urlopen(url, timeout=5) as response:
            names = families(response.read().decode())
        assert {"jejak_task_runs", "jejak_task_failures", "jejak_task_duration_seconds",
                "jejak_messages"} <= names
    finally:
        server.shutdown()
        server.server_close()


def test_gunicorn_workers_add_up_in_multiprocess_mode(tmp_path) -> None:
    """Two processes (as two gunicorn workers) each count a request; a scrape in a third
    sees both: prometheus_client's multiprocess mode, the directory `jejak web` prepares."""
    directory = tmp_path / "metrics"
    script = (
        "from shared import metrics\n"
        "metrics.REQUESTS.labels('survey', 'healthz', 'GET', '200').inc()\n"
    )
    from shared import metrics

    metrics.fresh_multiprocess_dir(directory)
    (directory / "counter_999999.db").write_bytes(b"left over from a previous run")
    prepared = metrics.fresh_multiprocess_dir(directory)
    assert list(directory.iterdir()) == []
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(prepared))
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True,
                       timeout=60)
    reader = ("from shared import metrics\n"
              "import sys\n"
              "sys.stdout.write(metrics.exposition_of_processes().decode())\n")
    text = subprocess.run([sys.executable, "-c", reader], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True, timeout=60).stdout
    found = samples(text)
    assert value(found, "jejak_http_requests_total", service="survey", endpoint="healthz",
                 method="GET", status="200") == 2


def test_jejak_web_adds_up_its_gunicorn_workers(settings, clean_db, tmp_path) -> None:
    """`jejak web survey --workers 2` as docker-compose runs it: ten requests land on either
    worker, and every scrape (whichever worker answers it) counts all ten; counts left in
    the folder by an earlier start are gone."""
    import signal
    import time
    import urllib.error

    from tests.conftest import TEST_PII_KEY
    from tests.integration.peers import free_port

    with clean_db.session_factory() as session, session.begin():
        token = create_token(session, "viewer", "prometheus")
    stale = tmp_path / "metrics" / "web-survey"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"from an earlier start")
    port = free_port()
    env = {key: val for key, val in os.environ.items()
           if not key.startswith(("JEJAK_", "PROMETHEUS_"))}
    env.update(JEJAK_HOME=str(tmp_path), JEJAK_DATABASE_URL=settings.database_url,
               JEJAK_REDIS_URL=settings.redis_url, JEJAK_SECRET_KEY=settings.secret_key,
               JEJAK_PII_KEY=TEST_PII_KEY)
    log_path = tmp_path / "web.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "web", "survey", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/survey"

    def fetch(path: str, **headers: str) -> tuple[int, str]:
        request = urllib.request.Request(base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if fetch("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert not (stale / "counter_1.db").exists()
        healthz = {"service": "survey", "endpoint": "healthz", "method": "GET",
                   "status": "200"}
        status, text = fetch("/metrics", Authorization=f"Bearer {token}")
        assert status == 200
        before = value(samples(text), "jejak_http_requests_total", **healthz)
        assert before >= 1  # the one that found the server up
        for _ in range(10):
            assert fetch("/healthz")[0] == 200
        for _ in range(4):
            status, text = fetch("/metrics", Authorization=f"Bearer {token}")
            assert status == 200
            assert value(samples(text), "jejak_http_requests_total", **healthz) == before + 10
        assert len(list(stale.glob("counter_*.db"))) >= 1
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
