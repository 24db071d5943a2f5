"""Benchmark: the survey intake API against a bare Flask JSON endpoint, same gunicorn, one run.

Usage: python bench/intake.py [--duration 15] [--rounds 1] [--connections 16] [--threads 1]
       [--alumni 50000] [--warmup 3] [--paced-duration 15] [--profile 0] [--access-log]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
       [--redis-url redis://127.0.0.1:6379/14] [--keep-db]

What it does (issue: intake throughput):
 1. Creates a fresh PostgreSQL database jejak_bench_<random>, migrates and seeds it, adds
    programs, cohorts and --alumni alumni, opens one wave over all of them and makes one
    personal link token per alumnus. Flushes the Redis database of --redis-url.
 2. Serves a bare Flask app (`bare_app()` below: parse the JSON body, answer a small JSON)
    under gunicorn with 2 sync workers and drives it with wrk at full speed.
 3. Serves the production entry point `services.cli:service_wsgi('survey')` under the same
    gunicorn settings and drives POST /survey/api/v1/responses with wrk at full speed: every
    request a full valid answer set (services.demo.demo_answers), a new UUID and a distinct
    alumnus (bench/wrk_intake.lua). Each accepted request stores the response and its outbox
    row in one transaction; `jejak relay` (a process of its own, as in production) sends
    the events to Redis in batches (no Celery worker needs to run; the relay's CPU is
    counted with the gunicorn workers', its PostgreSQL backend's with theirs). The intake's
    rate limits stay as in production (per token and per address; they count replays,
    edits and refusals, not first submissions).
 4. Drives the intake at a constant rate of half the rate measured in 3 with an open-loop
    asyncio loader (wrk cannot pace and wrk2 is not packaged by Debian). Latency is measured
    from each request's scheduled send time, so a stall of the server (or of the loader)
    shows up in the percentiles instead of being hidden (no coordinated omission).
 5. Compares the ids the load generators saw accepted (201) with the rows in `responses`
    and the `response.submitted` rows in `outbox`: lost, duplicated, missing events.
 6. Prints a summary table; drops the database and flushes Redis.

Targets (issue): intake/bare ratio >= 0.30, p99 <= 50 ms at half the maximum rate. Figures,
not a CI test; the exit status is 1 only when a row was lost or duplicated. Needs `wrk`
(`apt-get install wrk`). --profile N then looks inside N intake requests in-process (Flask
test client): the statements one request sends, CPU per request with and without the
after-commit relay, and cProfile's top functions by CPU time.

Module-level imports are kept to the standard library and Flask: gunicorn imports this file
for the bare app, whose workers then load nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from procstat import machine_busy_seconds, process_cpu_seconds

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LUA_SCRIPT = BENCH_DIR / "wrk_intake.lua"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
PII_KEY = "bench-pii-key-0123456789abcdef"
WAVE_SLUG = "bench-intake"
INTAKE_PATH = "/survey/api/v1/responses"
BARE_PATH = "/bare"
PROGRAMS = 10
COHORTS_PER_PROGRAM = 5
ANSWER_SETS = 500
TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0


# --- the bare endpoint --------------------------------------------------------------------


def bare_app() -> Flask:
    """gunicorn factory: a JSON POST endpoint that does nothing but parse and answer."""
    app = Flask("bare")

    @app.post(BARE_PATH)
    def bare() -> Any:
        body = request.get_json()
        return jsonify(id=body["id"], status="ok"), 201

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app


# --- setup ----------------------------------------------------------------------------------


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def create_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def populate(url: str, alumni: int) -> tuple[int, list[int]]:
    """Migrate, seed, add the roster and open one wave over it: (wave id, alumnus ids)."""
    from datetime import date

    from sqlalchemy import insert, select

    from services.cli import seed
    from services.survey import waves
    from shared.db import Database
    from shared.migrate import upgrade
    from shared.models import Alumnus, Cohort, Program, Questionnaire

    upgrade(url)
    seed(url)
    database = Database.for_url(url)
    with database.engine.begin() as conn:
        conn.execute(insert(Program), [{"name": f"Program {p + 1}"} for p in range(PROGRAMS)])
        program_ids = list(conn.scalars(select(Program.id).order_by(Program.id)))
        conn.execute(insert(Cohort), [
            {"program_id": pid, "label": f"Angkatan {c + 1}",
             "training_start": date(2021 + c // 2, 1 + 6 * (c % 2), 1),
             "training_end": date(2021 + c // 2, 3 + 6 * (c % 2), 28)}
            for pid in program_ids for c in range(COHORTS_PER_PROGRAM)
        ])
        cohort_ids = list(conn.scalars(select(Cohort.id).order_by(Cohort.id)))
        rng = random.Random(7)
        rows = [
            {"registration_no": f"BENCH{i:07d}", "full_name": f"Alumnus {i}",
             "gender": rng.choice("LP"), "cohort_id": cohort_ids[i % len(cohort_ids)]}
            for i in range(alumni)
        ]
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Alumnus), rows[start:start + 10_000])
    with database.session_factory() as session:
        questionnaire_id = session.scalar(select(Questionnaire.id).order_by(Questionnaire.id))
        wave = waves.create_wave(session, slug=WAVE_SLUG, title="Bench intake",
                                 questionnaire_id=questionnaire_id, program_ids=program_ids)
        waves.open_wave(session, wave)
        session.commit()
        wave_id = wave.id
        alumnus_ids = list(session.scalars(select(Alumnus.id).order_by(Alumnus.id)))
    database.engine.dispose()
    return wave_id, alumnus_ids


def make_tokens(wave_id: int, alumnus_ids: list[int]) -> list[str]:
    from services.survey.links import make_token

    tokens = [make_token(SECRET_KEY, wave_id, alumnus_id) for alumnus_id in alumnus_ids]
    random.Random(11).shuffle(tokens)
    return tokens


def answer_sets(count: int) -> list[str]:
    """Compact JSON answer objects (~40 answers each), spread over the programs."""
    from services.demo import demo_answers

    rng = random.Random(2024)
    return [json.dumps(demo_answers(rng, i % PROGRAMS), separators=(",", ":"))
            for i in range(count)]


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(target: str, env: dict[str, str], health_path: str, *, access_log: bool,
             log_path: Path, threads: int = 1,
             pythonpath: Path | None = None) -> Iterator[tuple[int, int]]:
    """Serve `target` with 2 workers (sync, or gthread with `threads` > 1) on a free
    loopback port: yields (port, master pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--log-level", "warning"]
    argv += ["--worker-class", "sync"] if threads == 1 else ["--threads", str(threads)]
    if access_log:
        argv += ["--access-logfile", "-"]
    if pythonpath is not None:
        argv += ["--pythonpath", str(pythonpath)]
    argv.append(target)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn {target} exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", health_path)
                status = conn.getresponse().status
                conn.close()
                if status == 200 and len(worker_pids(process.pid)) == 2:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {target} did not become healthy; see {log_path}")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        terminate(process)


@contextlib.contextmanager
def relay_process(env: dict[str, str], log_path: Path) -> Iterator[int]:
    """`jejak relay`, as production runs it beside the web workers: yields its pid."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.cli", "relay"], cwd=ROOT,
                                   env=env, stdout=log, stderr=log)
    try:
        yield process.pid
    finally:
        terminate(process)


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


# --- where the CPU went during a phase -------------------------------------------------------

def _own_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it was waited for
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def db_backend_pids(url: str) -> list[int]:
    """PostgreSQL backends connected to the bench database (the gunicorn workers' pools)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        pids = list(conn.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")))
    engine.dispose()
    return pids


@contextlib.contextmanager
def cpu_meter(app_pids: list[int], db_pids: Any) -> Iterator[dict[str, float]]:
    """Cores used while the block runs: machine, app workers, their PG backends, loader.

    `db_pids()` is asked before and after: a backend that appears meanwhile was started
    during the block, so all of its CPU counts.
    """
    usage: dict[str, float] = {}
    db_before = {pid: process_cpu_seconds([pid]) for pid in db_pids()}
    wall, machine = time.monotonic(), machine_busy_seconds()
    app, own = process_cpu_seconds(app_pids), _own_seconds()
    yield usage
    seconds = max(time.monotonic() - wall, 1e-9)
    db_cpu = sum(process_cpu_seconds([pid]) - db_before.get(pid, 0) for pid in db_pids())
    usage["machine"] = (machine_busy_seconds() - machine) / seconds
    usage["app"] = (process_cpu_seconds(app_pids) - app) / seconds
    usage["db"] = max(0.0, db_cpu) / seconds
    usage["loader"] = (_own_seconds() - own) / seconds
    usage["other"] = max(0.0, usage["machine"] - usage["app"] - usage["db"] - usage["loader"])


# --- load generators ------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    duration_s: float
    requests: int
    accepted: int  # 201
    replayed: int = 0  # 200
    other: int = 0  # any other status
    errors: int = 0  # socket errors and timeouts
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    exhausted: bool = False
    note: str = ""
    ids: set[str] = field(default_factory=set)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.accepted / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU of the app workers and their PostgreSQL backends per accepted request."""
        if not self.rate or not self.cpu:
            return 0.0
        return (self.cpu["app"] + self.cpu["db"]) * 1000 / self.rate


class TokenPool:
    """Tokens not handed out yet: no two requests of the whole run share an alumnus."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def take(self, count: int) -> list[str]:
        taken, self.tokens = self.tokens[:count], self.tokens[count:]
        return taken

    def mark_used_by_wrk(self, offered: list[str], used_per_thread: dict[int, int],
                         threads: int) -> None:
        """wrk thread k used offered[k], offered[k+T], ... (`used` of them); keep the rest."""
        used = {k + j * threads for k, n in used_per_thread.items() for j in range(n)}
        rest = [token for i, token in enumerate(offered) if i not in used]
        self.tokens = rest + self.tokens


def run_wrk(name: str, port: int, path: str, pool: TokenPool, answers_file: Path,
            workdir: Path, *, duration: float, connections: int, threads: int,
            reuse_tokens: bool = False) -> Phase:
    """Full speed for `duration`; every token once unless `reuse_tokens` (the bare app)."""
    outdir = Path(tempfile.mkdtemp(dir=workdir))
    offered = list(pool.tokens) if reuse_tokens else pool.take(len(pool.tokens))
    tokens_file = outdir / "tokens.txt"
    tokens_file.write_text("\n".join(offered) + "\n")
    prefix = secrets.token_hex(4)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
            "--timeout", "10s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}{path}",
            "--", str(tokens_file), str(answers_file), WAVE_SLUG, prefix, str(outdir),
            str(threads), "cycle" if reuse_tokens else "once"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("JEJAK_RESULT ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    result = json.loads(line.removeprefix("JEJAK_RESULT "))
    if not reuse_tokens:
        pool.mark_used_by_wrk(offered, {t["tid"]: t["used"] for t in result["threads"]},
                              threads)
    ids: set[str] = set()
    for ids_file in outdir.glob("ids-*.txt"):
        ids.update(ln for ln in ids_file.read_text().split() if ln)
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors",
                                     "timeouts"))
    refusals = [f.read_text().strip() for f in sorted(outdir.glob("error-*.txt"))]
    note = f"wrk -t{threads} -c{connections}, closed loop"
    if refusals:
        note += f"; first refusal: {refusals[0][:300]}"
    if reuse_tokens:  # responses were not parsed: wrk counts statuses > 399 as errors
        other = result["status_errors"]
        accepted, replayed = result["requests"] - other, 0
        note += "; replies not parsed (201 = no error status)"
    else:
        accepted = sum(t["n201"] for t in result["threads"])
        replayed = sum(t["n200"] for t in result["threads"])
        other = sum(t["other"] for t in result["threads"])
    return Phase(
        name=name, duration_s=result["duration_us"] / 1e6, requests=result["requests"],
        accepted=accepted, replayed=replayed, other=other, errors=errors,
        p50_ms=result["p50_us"] / 1000, p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000, max_ms=result["max_us"] / 1000,
        exhausted=any(t["exhausted"] for t in result["threads"]), ids=ids, note=note,
    )


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def _paced(port: int, path: str, tokens: list[str], answers: list[str], rate: float,
                 count: int, max_inflight: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    host = f"127.0.0.1:{port}"
    latencies: list[float] = []  # from the scheduled send time to the last byte
    service: list[float] = []  # from the actual send to the last byte
    lags: list[float] = []  # actual send minus scheduled send (the loader's own delay)
    counts = {"accepted": 0, "replayed": 0, "other": 0, "errors": 0, "skipped": 0}
    ids: set[str] = set()
    inflight = 0

    async def exchange(payload: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(payload)
            return await reader.read()  # gunicorn's sync workers close after each reply
        finally:
            writer.close()

    async def one(index: int, scheduled: float) -> None:
        nonlocal inflight
        submission_id = str(uuid.uuid4())
        body = ('{"id":"' + submission_id + '","wave":"' + WAVE_SLUG + '","token":"'
                + tokens[index] + '","answers":' + answers[index % len(answers)]
                + ',"complete":true}').encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        sent = loop.time()
        lags.append(sent - scheduled)
        try:
            data = await asyncio.wait_for(exchange(head + body), timeout=10)
            status = int(data[9:12])
        except (TimeoutError, OSError, ValueError):
            counts["errors"] += 1
            return
        finally:
            inflight -= 1
        done = loop.time()
        latencies.append(done - scheduled)
        service.append(done - sent)
        if status == 201:
            counts["accepted"] += 1
            ids.add(submission_id)
        elif status == 200:
            counts["replayed"] += 1
            ids.add(submission_id)
        else:
            counts["other"] += 1

    tasks = []
    start = loop.time() + 0.1
    for index in range(count):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if inflight >= max_inflight:  # the server fell far behind: say so, do not queue
            counts["skipped"] += 1
            continue
        inflight += 1
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    latencies.sort()
    service.sort()
    lags.sort()
    return {"counts": counts, "ids": ids, "latencies": latencies, "service": service,
            "lags": lags, "elapsed": elapsed}


def run_paced(name: str, port: int, path: str, pool: TokenPool, answers: list[str], *,
              rate: float, duration: float, max_inflight: int = 256) -> Phase:
    count = int(rate * duration)
    tokens = pool.take(count)
    note = ""
    if len(tokens) < count:
        note = f"token pool ran short: {len(tokens)} of {count} requests; raise --alumni. "
        count = len(tokens)
    result = asyncio.run(_paced(port, path, tokens, answers, rate, count, max_inflight))
    counts, lat = result["counts"], result["latencies"]
    ms = 1000.0
    note += (f"open loop at {rate:.0f}/s, latency from scheduled send; service time p50/p99 "
             f"{percentile(result['service'], 50) * ms:.1f}/"
             f"{percentile(result['service'], 99) * ms:.1f} ms; loader lag p99 "
             f"{percentile(result['lags'], 99) * ms:.1f} ms; skipped {counts['skipped']}")
    return Phase(
        name=name, duration_s=result["elapsed"], requests=count - counts["skipped"],
        accepted=counts["accepted"], replayed=counts["replayed"], other=counts["other"],
        errors=counts["errors"] + counts["skipped"],
        p50_ms=percentile(lat, 50) * ms, p90_ms=percentile(lat, 90) * ms,
        p99_ms=percentile(lat, 99) * ms, max_ms=(lat[-1] * ms if lat else 0.0),
        ids=result["ids"], note=note,
    )


# --- accounting -----------------------------------------------------------------------------


def account(url: str, wave_id: int, accepted_ids: set[str]) -> dict[str, int]:
    """Compare what the load generators saw accepted with what PostgreSQL holds."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = {str(v) for v in conn.scalars(
            text("SELECT id FROM responses WHERE wave_id = :w"), {"w": wave_id})}
        one = conn.execute(text("""
            SELECT
              (SELECT count(*) - count(DISTINCT id) FROM responses) AS dup_ids,
              (SELECT count(*) FROM (SELECT alumnus_id FROM responses WHERE wave_id = :w
                 GROUP BY alumnus_id HAVING count(*) > 1) d) AS dup_alumni,
              (SELECT count(*) FROM outbox WHERE type = 'response.submitted') AS events,
              (SELECT count(*) FROM outbox WHERE type = 'response.submitted'
                 AND relayed_at IS NOT NULL) AS relayed,
              (SELECT count(*) FROM (SELECT payload->>'response_id' FROM outbox
                 WHERE type = 'response.submitted' GROUP BY 1 HAVING count(*) > 1) d)
                 AS dup_events,
              (SELECT count(*) FROM responses r WHERE r.wave_id = :w AND NOT EXISTS (
                 SELECT 1 FROM outbox o WHERE o.type = 'response.submitted'
                 AND o.payload->>'response_id' = r.id::text)) AS without_event,
              (SELECT count(*) FROM response_edits) AS edits
        """), {"w": wave_id}).one()._asdict()
    engine.dispose()
    return {
        "accepted": len(accepted_ids),
        "stored": len(stored),
        "lost": len(accepted_ids - stored),
        "stored_not_counted": len(stored - accepted_ids),
        "duplicate_ids": one["dup_ids"],
        "duplicate_alumni": one["dup_alumni"],
        "events": one["events"],
        "duplicate_events": one["dup_events"],
        "responses_without_event": one["without_event"],
        "edits": one["edits"],
        "relayed": one["relayed"],
    }


# --- profile --------------------------------------------------------------------------------


def profile_in_process(url: str, redis_url: str, pool: TokenPool, answers: list[str],
                       count: int) -> None:
    """Where an intake request's time goes, in-process on the production app (same config).

    Prints the statements one request sends, the CPU per request (the web process relays
    nothing: `jejak relay` does), then cProfile's top functions for the full request.
    """
    import cProfile
    import pstats

    from sqlalchemy import event

    from services.cli import create_service
    from shared.config import Settings
    from shared.db import get_db

    settings = Settings.from_env({
        "JEJAK_ENV": "production", "JEJAK_DATABASE_URL": url, "JEJAK_REDIS_URL": redis_url,
        "JEJAK_SECRET_KEY": SECRET_KEY, "JEJAK_PII_KEY": PII_KEY,
        "JEJAK_HOME": tempfile.gettempdir(),
    })
    app = create_service("survey", {"JEJAK_SETTINGS": settings})
    client = app.test_client()
    warm = 30
    needed = 3 * (count + warm) + 3
    taken = pool.take(needed)
    if len(taken) < needed:
        print(f"profile: {needed} tokens needed, {len(taken)} left; raise --alumni")
        return
    tokens = iter(taken)

    def post() -> None:
        index = random.randrange(len(answers))
        body = {"id": str(uuid.uuid4()), "wave": WAVE_SLUG, "token": next(tokens),
                "answers": json.loads(answers[index]), "complete": True}
        response = client.post("/api/v1/responses", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)

    def cpu_per_request() -> tuple[float, float]:
        for _ in range(warm):  # caches, pool, prepared statements
            post()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            post()
        return ((time.process_time() - cpu) * 1000 / count,
                (time.perf_counter() - wall) * 1000 / count)

    with app.app_context():
        engine = get_db().engine
    statements: list[str] = []

    listeners = {
        "before_cursor_execute": lambda *a: statements.append(" ".join(a[2].split())[:90]),
        "begin": lambda _conn: statements.append("BEGIN"),
        "commit": lambda _conn: statements.append("COMMIT"),
    }
    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    post()
    statements.clear()
    post()
    for name, listener in listeners.items():
        event.remove(engine, name, listener)
    print(f"\nProfile (in-process, Flask test client, {count} requests per line)")
    print(f"  statements of one request through SQLAlchemy ({len(statements)}):")
    for statement in statements:
        print(f"    {statement}")
    if not statements:
        print("    none: on PostgreSQL a first submission is one autocommitted statement sent "
              "through psycopg (services/survey/intake.py, _stored_with_event)")
    full = cpu_per_request()
    print(f"  CPU per request, full intake:                {full[0]:6.2f} ms (wall {full[1]:.2f})")
    bare_client = bare_app().test_client()
    body = {"id": str(uuid.uuid4()), "wave": WAVE_SLUG, "token": "x" * 44,
            "answers": json.loads(answers[0]), "complete": True}
    cpu = time.process_time()
    for _ in range(count):
        bare_client.post(BARE_PATH, json=body)
    print(f"  CPU per request, bare endpoint:              "
          f"{(time.process_time() - cpu) * 1000 / count:6.2f} ms")
    print("  cProfile of the full request, CPU time (time.process_time), not wall time:")
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(count):
        post()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"(services|shared|celery/app/base|kombu/messaging"
                                                r"|sqlalchemy/orm/session|pool/base|webargs/core"
                                                r"|marshmallow/schema)", 30)
    stats.sort_stats("tottime").print_stats(15)


# --- report ---------------------------------------------------------------------------------


def print_table(phases: list[Phase]) -> None:
    header = (f"{'phase':<20}{'secs':>5}{'requests':>9}{'201':>7}{'200':>5}{'other':>6}"
              f"{'errors':>7}{'rate/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
              f"  {'CPU cores: app/db/load/other':>29}{'ms/req':>7}")
    print(header)
    print("-" * len(header))
    for p in phases:
        cpu = p.cpu
        cores = (f"{cpu.get('app', 0):.2f}/{cpu.get('db', 0):.2f}/{cpu.get('loader', 0):.2f}/"
                 f"{cpu.get('other', 0):.2f}")
        print(f"{p.name:<20}{p.duration_s:>5.1f}{p.requests:>9}{p.accepted:>7}{p.replayed:>5}"
              f"{p.other:>6}{p.errors:>7}{p.rate:>8.0f}{p.p50_ms:>8.1f}{p.p90_ms:>8.1f}"
              f"{p.p99_ms:>8.1f}{p.max_ms:>8.1f}  {cores:>29}{p.cpu_ms:>7.2f}")
    print(f"CPU cores used during the phase (the machine has {os.cpu_count()}): app = the 2 "
          "gunicorn workers (and the\nintake's relay process), db = their PostgreSQL backends, "
          "load = wrk or the paced loader,\nother = everything else (Redis, PostgreSQL "
          "background work, other programs on the machine).\nms/req = (app + db) CPU per "
          "accepted request.")
    for p in phases:
        if p.note:
            print(f"  {p.name}: {p.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0,
                        help="seconds of each full-speed wrk run (default 15)")
    parser.add_argument("--paced-duration", type=float, default=15.0,
                        help="seconds of the constant-rate run at half the intake's maximum")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of wrk warm-up before each full-speed run (not counted)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate bare/intake full-speed runs this often; rates are "
                        "medians (steadier on a busy machine)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--alumni", type=int, default=50_000)
    parser.add_argument("--gunicorn-threads", type=int, default=1,
                        help="threads per gunicorn worker for both apps (1: sync workers)")
    parser.add_argument("--access-log", action="store_true",
                        help="gunicorn --access-logfile - for both apps (as `jejak web` does)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, cProfile N intake requests in-process")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    name = f"jejak_bench_{secrets.token_hex(4)}"
    url = database_url(args.admin_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="jejak-bench-intake-"))
    log_path = workdir / "gunicorn.log"
    env = dict(os.environ, JEJAK_ENV="production", JEJAK_DATABASE_URL=url,
               JEJAK_REDIS_URL=args.redis_url, JEJAK_SECRET_KEY=SECRET_KEY,
               JEJAK_PII_KEY=PII_KEY, JEJAK_HOME=str(workdir))
    flush_redis(args.redis_url)
    create_database(args.admin_url, name)
    integrity_ok = True
    try:
        started = time.perf_counter()
        wave_id, alumnus_ids = populate(url, args.alumni)
        all_tokens = make_tokens(wave_id, alumnus_ids)
        pool = TokenPool(list(all_tokens))
        bare_pool = TokenPool(list(all_tokens))
        answers = answer_sets(ANSWER_SETS)
        answers_file = workdir / "answers.txt"
        answers_file.write_text("\n".join(answers) + "\n")
        frame = json.dumps({"id": str(uuid.uuid4()), "wave": WAVE_SLUG, "token": all_tokens[0],
                            "answers": {}, "complete": True}, separators=(",", ":"))
        body_bytes = sum(len(a) for a in answers) / len(answers) + len(frame) - 2
        print(f"database {name}: {len(alumnus_ids)} alumni in wave {wave_id}, "
              f"set up in {time.perf_counter() - started:.1f} s; "
              f"mean request body {body_bytes:.0f} bytes")
        kind = "sync" if args.gunicorn_threads == 1 else f"gthread × {args.gunicorn_threads}"
        print(f"gunicorn: 2 {kind} workers, access log {'on' if args.access_log else 'off'}; "
              f"wrk -t{args.threads} -c{args.connections}, {args.duration:g} s per run "
              f"after {args.warmup:g} s warm-up; machine: {os.cpu_count()} CPUs\n")
        wrk_opts = {"connections": args.connections, "threads": args.threads}
        phases: list[Phase] = []
        bare_runs: list[Phase] = []
        intake_runs: list[Phase] = []
        accepted_ids: set[str] = set()

        def measured(run: Any, app_pids: list[int], db_pids: Any) -> Phase:
            with cpu_meter(app_pids, db_pids) as cpu:
                phase = run()
            phase.cpu = cpu
            phases.append(phase)
            return phase

        with contextlib.ExitStack() as servers:
            # Both servers stay up; the idle one sleeps in accept().
            bare_port, bare_master = servers.enter_context(gunicorn(
                "intake:bare_app()", env, "/healthz", access_log=args.access_log,
                threads=args.gunicorn_threads,
                log_path=log_path, pythonpath=BENCH_DIR))
            port, master = servers.enter_context(gunicorn(
                "services.cli:service_wsgi('survey')", env, "/survey/healthz",
                access_log=args.access_log, threads=args.gunicorn_threads, log_path=log_path))
            relay_pid = servers.enter_context(relay_process(env, log_path))
            for round_no in range(1, args.rounds + 1):
                tag = f" #{round_no}" if args.rounds > 1 else ""
                if round_no == 1 and args.warmup:
                    # The bare app stores nothing, so it may reuse every token.
                    run_wrk("bare warm-up", bare_port, BARE_PATH, bare_pool, answers_file,
                            workdir, duration=args.warmup, reuse_tokens=True, **wrk_opts)
                bare_runs.append(measured(lambda t=tag: run_wrk(
                    "bare max" + t, bare_port, BARE_PATH, bare_pool, answers_file, workdir,
                    duration=args.duration, reuse_tokens=True, **wrk_opts),
                    worker_pids(bare_master), list))
                if round_no == 1 and args.warmup:
                    warm = run_wrk("intake warm-up", port, INTAKE_PATH, pool, answers_file,
                                   workdir, duration=args.warmup, **wrk_opts)
                    accepted_ids |= warm.ids
                intake_runs.append(measured(lambda t=tag: run_wrk(
                    "intake max" + t, port, INTAKE_PATH, pool, answers_file, workdir,
                    duration=args.duration, **wrk_opts),
                    worker_pids(master) + [relay_pid], lambda: db_backend_pids(url)))
                accepted_ids |= intake_runs[-1].ids
            bare_rate = statistics.median(p.rate for p in bare_runs)
            intake_rate = statistics.median(p.rate for p in intake_runs)
            half = max(1.0, intake_rate / 2)
            paced = measured(lambda: run_paced(
                "intake @ half max", port, INTAKE_PATH, pool, answers, rate=half,
                duration=args.paced_duration), worker_pids(master) + [relay_pid],
                lambda: db_backend_pids(url))
            accepted_ids |= paced.ids
            time.sleep(0.5)  # the relay's last batch (it polls every 100 ms) goes out

        print()
        print_table(phases)
        ratio = intake_rate / bare_rate if bare_rate else 0.0
        of = f" (median of {args.rounds} alternating runs)" if args.rounds > 1 else ""
        print(f"\nbare endpoint    {bare_rate:8.0f} requests/s{of}")
        print(f"intake           {intake_rate:8.0f} submissions/s (stored, with outbox row){of}")
        if args.rounds > 1:
            print("ratio per round  " + ", ".join(
                f"{i.rate / b.rate:.2f}" for b, i in zip(bare_runs, intake_runs, strict=True)
                if b.rate))
        print(f"ratio            {ratio:8.2f}   target >= {TARGET_RATIO:.2f}  "
              f"{'PASS' if ratio >= TARGET_RATIO else 'FAIL'}")
        bare_cpu = statistics.median(p.cpu_ms for p in bare_runs)
        intake_cpu = statistics.median(p.cpu_ms for p in intake_runs)
        if intake_cpu:
            print(f"CPU per request  bare {bare_cpu:.2f} ms, intake {intake_cpu:.2f} ms "
                  f"(app + db): CPU-normalised ratio ~{bare_cpu / intake_cpu:.2f}\n"
                  "                 (roughly the ratio had both runs had the same CPU; read it "
                  "when other programs\n                 share the machine)")
        print(f"p99 @ {half:.0f}/s {paced.p99_ms:12.1f} ms target <= {TARGET_P99_MS:.0f} ms  "
              f"{'PASS' if paced.p99_ms <= TARGET_P99_MS else 'FAIL'}  "
              f"(p50 {paced.p50_ms:.1f} ms, open loop)")
        if any(p.exhausted for p in phases):
            print("WARNING: wrk ran out of alumnus tokens; raise --alumni")

        counts = account(url, wave_id, accepted_ids)
        print("\nIntegrity (all intake phases, warm-up included)")
        print(f"  accepted by the server (201/200 seen)   {counts['accepted']:>8}")
        print(f"  responses stored                        {counts['stored']:>8}")
        print(f"  lost (accepted, not stored)             {counts['lost']:>8}")
        print(f"  stored, reply not counted (in flight when wrk stopped) "
              f"{counts['stored_not_counted']}")
        print(f"  duplicated response ids / alumni        {counts['duplicate_ids']:>4} / "
              f"{counts['duplicate_alumni']}")
        print(f"  response.submitted events               {counts['events']:>8}")
        print(f"  responses with >1 event / without one   {counts['duplicate_events']:>4} / "
              f"{counts['responses_without_event']}")
        print(f"  response edits (replays/replacements)   {counts['edits']:>8}")
        print(f"  events relayed to Redis by the relay    {counts['relayed']:>8}")
        integrity_ok = not (counts["lost"] or counts["duplicate_ids"]
                            or counts["duplicate_alumni"] or counts["duplicate_events"]
                            or counts["responses_without_event"] or counts["edits"]
                            or counts["events"] != counts["stored"])
        print(f"  {'OK: nothing lost or duplicated' if integrity_ok else 'FAILED'}")

        if args.profile:
            profile_in_process(url, args.redis_url, pool, answers, args.profile)
    finally:
        with contextlib.suppress(Exception):
            from shared.db import dispose_all

            dispose_all()
        if not args.keep_db:
            drop_database(args.admin_url, name)
        else:
            print(f"kept database {name}")
        flush_redis(args.redis_url)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if integrity_ok else 1


if __name__ == "__main__":
    sys.exit(main())
