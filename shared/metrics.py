"""Prometheus metrics of the web services and the workers (the `prometheus_client` library).

Two kinds (docs/operations.md, "Metrics", lists them and the alerts worth setting):
- counted as things happen, in the process they happen in: requests by service, endpoint
  (the Flask endpoint name, never the raw path, so a personal link is not a label) and
  status; task runs, failures and durations by task name (Celery signals); messages handed
  to a channel by channel and outcome; bounce reports read;
- computed when scraped (`StateCollector`): the outbox lag (age of the oldest unrelayed
  event, one read along `ix_outbox_unrelayed`), the broker's queue lengths (LLEN), the open
  dead letters and the time of the last full refresh that finished well.

Several processes (gunicorn workers, Celery's prefork children) each count their own. With
PROMETHEUS_MULTIPROC_DIR set (by `jejak web`, `jejak worker` and `jejak up`, to a folder
under JEJAK_HOME emptied at start) prometheus_client writes the counts to files there and a
scrape adds them up; the variable must be set before prometheus_client is first imported.
Without it (tests, a single process) the process's own registry is read.

Access: /<service>/metrics needs a signed-in user or an API token of any role (Prometheus
uses a viewer token); the worker's port serves only inside the stack's network
(docs/security.md, docs/decisions.md).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from celery.signals import task_failure, task_postrun, task_prerun
from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

QUEUES = ("survey", "outreach", "analytics", "events")

REQUESTS = Counter("jejak_http_requests", "HTTP requests answered",
                   ["service", "endpoint", "method", "status"])
REQUEST_SECONDS = Histogram("jejak_http_request_duration_seconds",
                            "Time to answer an HTTP request", ["service", "endpoint"],
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
TASK_RUNS = Counter("jejak_task_runs", "Celery task runs finished", ["task"])
TASK_FAILURES = Counter("jejak_task_failures", "Celery task runs that raised", ["task"])
TASK_SECONDS = Histogram("jejak_task_duration_seconds", "Time a Celery task ran", ["task"],
                         buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800))
MESSAGES = Counter("jejak_messages", "Messages handed to a channel, by its answer "
                   "(sent, transient, permanent)", ["channel", "outcome"])
BOUNCES = Counter("jejak_bounces", "Bounce reports read from the mailbox", ["kind"])


# --- web ---------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Count every request of `app` and serve GET /metrics (viewer and up). Call before the
    route guard is registered, so a request the guard turns away is timed too."""
    from shared.auth import requires

    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.add_url_rule("/metrics", "metrics", requires("viewer")(_metrics_view))


def _start_timer() -> None:
    g.jejak_started = time.perf_counter()


def _count_request(response: Any) -> Any:
    service = current_app.config.get("JEJAK_SERVICE", "")
    endpoint = request.endpoint or "none"  # none: no route matched (a 404)
    REQUESTS.labels(service, endpoint, request.method, str(response.status_code)).inc()
    started = g.get("jejak_started")
    if started is not None:
        REQUEST_SECONDS.labels(service, endpoint).observe(time.perf_counter() - started)
    return response


def _metrics_view() -> Response:
    from shared.db import get_db

    settings = current_app.config["JEJAK_SETTINGS"]
    live = CollectorRegistry(auto_describe=False)
    live.register(StateCollector(get_db().session_factory, settings.redis_url))
    body = exposition_of_processes() + generate_latest(live)
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


# --- what is counted wherever it happens --------------------------------------------------


def exposition_of_processes() -> bytes:
    """The counters and histograms: of every process writing into PROMETHEUS_MULTIPROC_DIR
    when it is set, else of this process."""
    return generate_latest(_process_registry())


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def fresh_multiprocess_dir(path: Path) -> Path:
    """`path`, created and emptied: counts left by processes of an earlier start would be
    added to this start's (prometheus_client's multiprocess mode needs a clean folder)."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    return path


# --- scrape time ----------------------------------------------------------------------------


class StateCollector(Collector):
    """Figures read from the database and the broker when Prometheus scrapes."""

    def __init__(self, session_factory: Any, redis_url: str) -> None:
        self.session_factory = session_factory
        self.redis_url = redis_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from shared.events import OUTBOX
        from shared.models import DeadLetter, RefreshRun, utcnow

        with self.session_factory() as session:
            oldest = session.scalar(
                select(func.min(OUTBOX.c.created_at)).where(OUTBOX.c.relayed_at.is_(None)))
            dead = session.scalar(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.status == "dead"))
            refreshed = session.scalar(
                select(func.max(RefreshRun.finished_at))
                .where(RefreshRun.kind == "full", RefreshRun.status == "done"))
        lag = 0.0
        if oldest is not None:
            lag = max(0.0, (utcnow() - _aware(oldest)).total_seconds())
        yield GaugeMetricFamily("jejak_outbox_lag_seconds",
                                "Age of the oldest event not yet relayed (0: none waits)", lag)
        yield GaugeMetricFamily("jejak_dead_letters",
                                "Events kept in dead_letters for an admin", dead or 0)
        yield GaugeMetricFamily(
            "jejak_last_refresh_timestamp_seconds",
            "When the last full indicator refresh finished well (0: never)",
            _aware(refreshed).timestamp() if refreshed is not None else 0.0)
        queues = GaugeMetricFamily("jejak_queue_length", "Tasks waiting in a broker queue",
                                   labels=["queue"])
        lengths = self._queue_lengths()
        for queue in QUEUES:
            if queue in lengths:
                queues.add_metric([queue], lengths[queue])
        yield queues

    def _queue_lengths(self) -> dict[str, int]:
        if not self.redis_url:
            return {}
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2,
                                      socket_timeout=2)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in QUEUES:
                pipe.llen(queue)
            return dict(zip(QUEUES, pipe.execute(), strict=True))
        except redis.RedisError:
            return {}  # no figure rather than a failed scrape: /healthz reports the broker
        finally:
            client.close()


def _aware(moment: Any) -> Any:
    from datetime import UTC

    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- workers --------------------------------------------------------------------------------

_started: dict[str, float] = {}


@task_prerun.connect(weak=False)
def _task_started(task_id: str | None = None, **_kwargs: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect(weak=False)
def _task_finished(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    name = getattr(task, "name", None) or "unknown"
    started = _started.pop(task_id or "", None)
    TASK_RUNS.labels(name).inc()
    if started is not None:
        TASK_SECONDS.labels(name).observe(time.perf_counter() - started)


@task_failure.connect(weak=False)
def _task_failed(sender: Any = None, **_kwargs: Any) -> None:
    TASK_FAILURES.labels(getattr(sender, "name", None) or "unknown").inc()


def start_worker_server(port: int, addr: str = "0.0.0.0") -> tuple[Any, Any]:
    """Serve the worker's counts on `port` (JEJAK_WORKER_METRICS_PORT): a thread of the
    worker's main process, adding up its prefork children in multiprocess mode."""
    return start_http_server(port, addr, registry=_process_registry())


__all__ = ["init_app", "start_worker_server", "fresh_multiprocess_dir", "StateCollector",
           "exposition_of_processes", "REQUESTS", "MESSAGES", "BOUNCES"]
