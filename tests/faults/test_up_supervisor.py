"""`jejak up` as a supervisor a centre can leave running.

A child killed by the kernel (the worker, the relay, the embedded Redis) comes back and
nothing an alumnus sent meanwhile is lost; when `jejak up` itself is killed, its children go
with it; a port already taken is reported before anything starts, naming what holds it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import embedded
from shared.db import Database
from shared.models import ProcessedEvent
from tests.conftest import TEST_PII_KEY, TEST_SECRET_KEY, wait_for
from tests.e2e.conftest import start_jejak, stop_jejak
from tests.faults.conftest import make_roster, post_json, submission
from tests.integration.peers import free_port

SUBSCRIBERS = ("outreach.on_response_submitted", "analytics.on_response_submitted")


def _children(pid: int) -> dict[int, str]:
    """pid → command line of every process whose parent is `pid` (from /proc)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ")\
                    .decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return found


def _descendants(pid: int) -> set[int]:
    every, frontier = set(), [pid]
    while frontier:
        for child in _children(frontier.pop()):
            if child not in every:
                every.add(child)
                frontier.append(child)
    return every


def _child(up_pid: int, name: str) -> int | None:
    """The pid of `jejak up`'s child called `name` (worker, relay, redis, web), if running."""
    marks = {"worker": "services.cli worker", "relay": "services.cli relay",
             "redis": "redis-server", "web": "gunicorn"}
    for pid, command in _children(up_pid).items():
        if marks[name] in command:
            return pid
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _group(pgid: int) -> set[int]:
    """The live processes of process group `pgid` (from /proc)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.add(int(proc.name))
    return found


def _applied(factory, consumer: str) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(ProcessedEvent)
                              .where(ProcessedEvent.consumer == consumer))


def test_a_killed_worker_relay_and_redis_come_back_and_nothing_sent_meanwhile_is_lost(
    tmp_path: Path,
) -> None:
    home = tmp_path / "up"
    port = free_port()
    process, _ = start_jejak(home, port, environ={"JEJAK_PII_KEY": TEST_PII_KEY},
                             secret_key=TEST_SECRET_KEY)
    try:
        factory = Database.for_url(f"sqlite:///{home / 'jejak.db'}").session_factory
        roster = make_roster(factory, 3)
        endpoint = f"http://127.0.0.1:{port}/survey/api/v1/responses"
        for index, name in enumerate(("worker", "relay", "redis")):
            before = _child(process.pid, name)
            assert before is not None, f"no {name} under jejak up: {_children(process.pid)}"
            os.kill(before, signal.SIGKILL)
            # An alumnus answers while it is down or coming back.
            answer = post_json(endpoint, submission(roster, index, uuid.uuid4()))
            assert answer.status in (200, 201), answer.body
            wait_for(lambda name=name, before=before:
                     _child(process.pid, name) not in (None, before), timeout=60)
            # Nothing of the killed one runs on (a worker's pool children were left
            # behind, orphaned, past the end of `jejak up`).
            wait_for(lambda before=before: not _group(before), timeout=30)
            for consumer in SUBSCRIBERS:
                wait_for(lambda consumer=consumer, index=index:
                         _applied(factory, consumer) == index + 1, timeout=90)
        assert process.poll() is None  # it carried on through all three
    finally:
        rest = stop_jejak(process)
    for name in ("worker", "relay", "redis"):
        assert f"{name} stopped unexpectedly (exit -9); restarting it" in rest


def test_killing_jejak_up_leaves_no_process_behind(tmp_path: Path) -> None:
    home = tmp_path / "up"
    port = free_port()
    process, _ = start_jejak(home, port, environ={"JEJAK_PII_KEY": TEST_PII_KEY},
                             secret_key=TEST_SECRET_KEY)
    family = _descendants(process.pid)
    assert {"worker", "relay", "redis", "web"} <= {
        name for name in ("worker", "relay", "redis", "web") if _child(process.pid, name)}
    assert len(family) >= 5  # four children, gunicorn's and Celery's own
    process.kill()
    process.wait(timeout=10)
    wait_for(lambda: not [pid for pid in family if _alive(pid)], timeout=60)
    embedded.check_port_free("127.0.0.1", port)  # nothing holds the port any more


def test_a_port_already_taken_is_reported_before_anything_starts_naming_its_holder(
    tmp_path: Path,
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
        env.update(JEJAK_HOME=str(tmp_path / "up"), JEJAK_SECRET_KEY=TEST_SECRET_KEY,
                   JEJAK_PII_KEY=TEST_PII_KEY)
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "up", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert f"port {port} is already in use by process {os.getpid()}" in said
    assert "preparing the database" not in said
    assert not (tmp_path / "up" / "jejak.db").exists()


def _exit_with(code: int) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.exit({code})"]


def test_a_child_that_keeps_failing_fast_is_restarted_with_backoff_then_given_up() -> None:
    said: list[str] = []
    supervisor = embedded.Supervisor(say=said.append)
    supervisor.start("worker", _exit_with(3))
    try:
        now = 1000.0
        for attempt, delay in enumerate(embedded.RESTART_BACKOFF[:4], start=1):
            supervisor.children[0].process.wait(timeout=20)
            supervisor.tend(now)  # noticed: restart after `delay`
            assert said[-1] == f"worker stopped unexpectedly (exit 3); restarting it in " \
                               f"{delay:.0f} s", attempt
            supervisor.tend(now + delay - 0.1)  # not yet
            assert "restarted" not in said[-1]
            now += delay
            supervisor.tend(now)
            assert said[-1].startswith("worker restarted (pid ")
        supervisor.children[0].process.wait(timeout=20)
        with pytest.raises(embedded.GaveUp, match="worker stopped 5 times within 60 s"):
            supervisor.tend(now)
    finally:
        supervisor.stop()


def test_a_child_that_failed_long_ago_counts_afresh() -> None:
    said: list[str] = []
    supervisor = embedded.Supervisor(say=said.append)
    supervisor.start("relay", _exit_with(1))
    try:
        now = 1000.0
        for _ in range(8):  # far more than five failures, but a minute and more apart
            supervisor.children[0].process.wait(timeout=20)
            supervisor.tend(now)
            assert said[-1].endswith("restarting it in 1 s")
            now += embedded.FAST_FAILURE_WINDOW + 1
            supervisor.tend(now)
    finally:
        supervisor.stop()
