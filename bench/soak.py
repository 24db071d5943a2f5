"""Soak: the whole system under steady mixed work for N minutes; nothing lost, nothing twice.

Usage: python bench/soak.py [--minutes 5] [--postgres | --database-url URL]
       [--cycle 30] [--batch 40] [--refresh-every 20]

Runs `jejak up --demo` (the embedded default: SQLite, embedded Redis, gunicorn, one Celery
worker with beat; or PostgreSQL with `--postgres`, a fresh `jejak_bench_<random>` dropped
after, or `--database-url`) in a temporary home, with email going to an aiosmtpd sink that
records every Message-ID (JEJAK_SMTP_URL). Then, for N minutes, over HTTP with an admin token:

- every `--cycle` seconds: import a roster of `--batch` new alumni in a new cohort (API,
  CSV upload), create and open a wave over that cohort, create and launch a one-step email
  campaign for it; its alumni join the submission queues;
- `--answer-after` seconds after each launch, the wave's alumni answer: API submissions
  (`POST /survey/api/v1/responses`, personal token) by one thread and form submissions (the
  personal link `/survey/s/<token>`, section by section, as a phone does) by another, half
  of the alumni each; the demo wave's unanswered alumni first;
- every `--refresh-every` seconds a full analytics refresh of the demo wave and of the
  newest soak wave.

Then it stops the load, waits for the queues to drain (outbox relayed, every consumer done,
no message queued or sending, no refresh running, Redis queues empty) and reports:
throughput and errors per activity; lost (accepted submissions not stored, outbox events
some subscriber never processed, sent emails that never reached the sink) and duplicated
(two responses for one (wave, alumnus), two messages for one (step, alumnus), a Message-ID
at the sink twice); RSS per process (gunicorn and Celery children, read from /proc) at the
end of the first minute and at the end. Exit status 1 if anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import queue
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (str(ROOT), str(ROOT / "bench")):
    if path not in sys.path:
        sys.path.insert(0, path)

import requests  # noqa: E402
from outreach import SECRET, STEP  # noqa: E402
from outreach_scale import ADMIN_URL, MessageSink, process_tree  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

DEMO_WAVE = "tracer-2025"
PROGRAMS = ("Teknik Las", "Otomotif", "Teknik Listrik", "Tata Boga", "Teknologi Informasi")
QUEUES = ("survey", "outreach", "analytics", "events")


@dataclass
class Activity:
    """Counts, errors and latencies of one kind of work."""

    name: str
    done: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, seconds: float) -> None:
        with self.lock:
            self.done += 1
            self.latencies.append(seconds)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what[:160]] += 1


class Soak:
    def __init__(self, base: str, token: str, settings: Any, args: argparse.Namespace) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.settings = settings
        self.args = args
        self.engine = create_engine(settings.database_url)
        self.stop = threading.Event()
        self.activities = {name: Activity(name) for name in (
            "import", "wave", "campaign", "api_submission", "form_submission", "refresh")}
        self.api_queue: queue.Queue[tuple[int, int]] = queue.Queue()
        self.form_queue: queue.Queue[tuple[int, int]] = queue.Queue()
        self.accepted_ids: list[tuple[str, int, int]] = []  # API: (response id, wave, alumnus)
        self.accepted_forms: list[tuple[int, int]] = []  # form: (wave, alumnus)
        self.waves: list[str] = [DEMO_WAVE]
        self.rng = random.Random(7)
        self.lock = threading.Lock()

    # --- helpers -------------------------------------------------------------------------

    def call(self, activity: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        """One admin API call; None (and an error counted) unless it answered `expect`."""
        started = time.perf_counter()
        try:
            answer = requests.request(method, self.base + path, headers=self.headers,
                                      timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.activities[activity].error(f"{method} {path}: {type(exc).__name__}")
            return None
        if answer.status_code != expect:
            where = re.sub(r"/[0-9a-f-]{6,}|/\d+", "/…", path)
            self.activities[activity].error(
                f"{method} {where}: {answer.status_code} {answer.text[:100]}")
            return None
        self.activities[activity].ok(time.perf_counter() - started)
        return answer.json() if answer.content else {}

    def scalar(self, statement: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(statement).scalar()

    def rows(self, statement: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(statement))

    def enqueue_targets(self, wave_id: int) -> None:
        from shared.models import Response, WaveTarget

        answered = select(Response.alumnus_id).where(Response.wave_id == wave_id)
        alumni = [row[0] for row in self.rows(
            select(WaveTarget.alumnus_id)
            .where(WaveTarget.wave_id == wave_id, WaveTarget.alumnus_id.not_in(answered))
            .order_by(WaveTarget.alumnus_id))]
        for index, alumnus_id in enumerate(alumni):
            (self.api_queue if index % 2 == 0 else self.form_queue).put((wave_id, alumnus_id))

    # --- activities ----------------------------------------------------------------------

    def cycle(self, number: int, questionnaire_id: int) -> None:
        """Import a new cohort, open a wave over it, launch a campaign for it."""
        from shared.models import Cohort

        label = f"Soak {number}"
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["no_peserta", "nama", "jenis_kelamin", "kejuruan", "angkatan",
                         "tanggal_mulai", "tanggal_selesai", "email"])
        program = PROGRAMS[number % len(PROGRAMS)]
        for index in range(self.args.batch):
            writer.writerow([f"SOAK-{number:04d}-{index:04d}", f"Alumni Soak {number} {index}",
                             "LP"[index % 2], program, label, "2025-01-06", "2025-03-28",
                             f"soak{number}.{index}@soak.test"])
        summary = self.call("import", "POST", "/survey/api/v1/alumni/import", 200,
                            files={"file": (f"soak-{number}.csv", buffer.getvalue())})
        if summary is None:
            return
        if summary["imported"] != self.args.batch:
            self.activities["import"].error(f"imported {summary['imported']} of the batch")
        cohort_id = self.scalar(select(Cohort.id).where(Cohort.label == label))
        slug = f"soak-{number}"
        wave = self.call("wave", "POST", "/survey/api/v1/waves", 201, json={
            "slug": slug, "title": f"Soak {number}", "questionnaire_id": questionnaire_id,
            "cohort_ids": [cohort_id]})
        if wave is None or self.call("wave", "POST", f"/survey/api/v1/waves/{slug}/open",
                                     200) is None:
            return
        with self.lock:
            self.waves.append(slug)
        campaign = self.call("campaign", "POST", "/outreach/api/v1/campaigns", 201, json={
            "name": f"Soak {number}", "wave_id": wave["id"], "steps": [STEP]})
        if campaign is not None:
            self.call("campaign", "POST", f"/outreach/api/v1/campaigns/{campaign['id']}/launch",
                      200)
        # Alumni answer after the invitation has had time to go out, as they would.
        timer = threading.Timer(self.args.answer_after, self.enqueue_targets, (wave["id"],))
        timer.daemon = True
        timer.start()

    def cycles(self, deadline: float) -> None:
        questionnaires = self.call("wave", "GET", "/survey/api/v1/questionnaires", 200) or []
        questionnaire_id = questionnaires[0]["id"]
        number = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            number += 1
            self.cycle(number, questionnaire_id)
            self.stop.wait(self.args.cycle)

    def refreshes(self, deadline: float) -> None:
        while not self.stop.wait(self.args.refresh_every) and time.monotonic() < deadline:
            with self.lock:
                waves = {DEMO_WAVE, self.waves[-1]}
            for slug in sorted(waves):
                self.call("refresh", "POST", "/analytics/api/v1/refresh", 202,
                          json={"wave": slug})

    def api_submissions(self, deadline: float) -> None:
        from services.demo import demo_answers
        from services.survey.links import make_token

        session = requests.Session()
        activity = self.activities["api_submission"]
        rng = random.Random(1)
        while time.monotonic() < deadline:
            try:
                wave_id, alumnus_id = self.api_queue.get(timeout=0.5)
            except queue.Empty:
                continue
            response_id = str(uuid.uuid4())
            body = {"id": response_id, "wave": self.slug_of(wave_id),
                    "token": make_token(SECRET, wave_id, alumnus_id),
                    "answers": demo_answers(rng, alumnus_id % len(PROGRAMS))}
            started = time.perf_counter()
            try:
                answer = session.post(f"{self.base}/survey/api/v1/responses", json=body,
                                      timeout=60)
            except requests.RequestException as exc:
                activity.error(type(exc).__name__)
                continue
            if answer.status_code == 201:
                activity.ok(time.perf_counter() - started)
                with self.lock:
                    self.accepted_ids.append((response_id, wave_id, alumnus_id))
            else:
                activity.error(f"{answer.status_code} {answer.text[:120]}")

    def form_submissions(self, deadline: float) -> None:
        from services.demo import demo_answers
        from services.survey.links import make_token

        session = requests.Session()
        activity = self.activities["form_submission"]
        rng = random.Random(2)
        while time.monotonic() < deadline:
            try:
                wave_id, alumnus_id = self.form_queue.get(timeout=0.5)
            except queue.Empty:
                continue
            url = f"{self.base}/survey/s/{make_token(SECRET, wave_id, alumnus_id)}"
            fields = form_fields(demo_answers(rng, alumnus_id % len(PROGRAMS)))
            started = time.perf_counter()
            try:
                outcome = walk_form(session, url, fields)
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            if outcome == "done":
                activity.ok(time.perf_counter() - started)
                with self.lock:
                    self.accepted_forms.append((wave_id, alumnus_id))
            else:
                activity.error(outcome)

    _slugs: dict[int, str] = {}

    def slug_of(self, wave_id: int) -> str:
        from shared.models import Wave

        if wave_id not in self._slugs:
            self._slugs[wave_id] = self.scalar(select(Wave.slug).where(Wave.id == wave_id))
        return self._slugs[wave_id]


def form_fields(answers: dict[str, Any]) -> list[tuple[str, str]]:
    """The answers as a browser posts them: one field per value, ticks repeated."""
    fields: list[tuple[str, str]] = []
    for key, value in answers.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            fields.append((key, "true" if item is True else "false" if item is False
                           else str(item)))
    return fields


def walk_form(session: requests.Session, url: str, fields: list[tuple[str, str]]) -> str:
    """Answer the personal form section by section; "done" at the thank-you redirect."""
    step = 1
    for _ in range(40):
        page = session.get(url, params={"step": step}, timeout=60)
        if page.status_code != 200:
            return f"GET {page.status_code}"
        match = re.search(r'<progress max="(\d+)" value="(\d+)"', page.text)
        if match is None:
            return "no progress bar on the form page"
        steps, step = int(match.group(1)), int(match.group(2))
        action = "finish" if step == steps else "next"
        answer = session.post(url, params={"step": step}, timeout=60, allow_redirects=False,
                              data=[*fields, ("step", str(step)), ("action", action)])
        if answer.status_code != 302:
            return f"POST {answer.status_code} at part {step}/{steps}"
        location = answer.headers["Location"]
        if "terima-kasih" in location:
            return "done"
        step = int(re.search(r"step=(\d+)", location).group(1))
    return "more than 40 parts"


# --- processes and memory --------------------------------------------------------------------


def descendants(root: int) -> dict[int, str]:
    """pid → a short name, for every process under `root`."""
    found: dict[int, str] = {}
    tree = process_tree(root)
    parents = set()
    for pid in tree:
        try:
            parents.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]))
        except (OSError, IndexError):
            continue
    for pid in tree[1:]:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in argv if word]
        found[pid] = process_name(words, pid in parents)
    return found


def process_name(words: list[str], has_children: bool) -> str:
    line = " ".join(words)
    if "gunicorn" in line:
        return "gunicorn master" if has_children else "gunicorn worker"
    if "services.cli worker" in line or "celery" in line:
        return "celery main" if has_children else "celery child"
    if "redis-server" in line:
        return "redis"
    return line[:40]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def sample_memory(root: int) -> dict[int, tuple[str, float]]:
    sample = {}
    for pid, name in descendants(root).items():
        rss = rss_mb(pid)
        if rss is not None:
            sample[pid] = (name, rss)
    return sample


# --- the end: drain and count ----------------------------------------------------------------


def unprocessed_deliveries(connection: Any) -> int:
    """(event, subscriber) pairs of the contract with no processed_events row."""
    from shared.events import CONTRACTS
    from shared.models import OutboxEvent, ProcessedEvent

    missing = 0
    for event_type, contract in CONTRACTS.items():
        for consumer in contract.subscribers:
            done = select(ProcessedEvent.event_id).where(ProcessedEvent.consumer == consumer)
            missing += connection.scalar(select(func.count()).where(
                OutboxEvent.type == event_type, OutboxEvent.id.not_in(done)))
    return missing


def drained(engine: Any, redis_url: str) -> dict[str, int]:
    """What is still in flight; all zero once the system is quiet."""
    import redis

    from shared.models import Message, OutboxEvent, RefreshRun

    with engine.connect() as connection:
        unrelayed = connection.scalar(select(func.count()).where(OutboxEvent.relayed_at.is_(None)))
        unprocessed = unprocessed_deliveries(connection)
        in_flight = connection.scalar(select(func.count()).where(
            Message.status.in_(("queued", "sending"))))
        refreshing = connection.scalar(select(func.count()).where(
            RefreshRun.status.in_(("queued", "running"))))
    client = redis.Redis.from_url(redis_url)
    queued = sum(client.llen(name) for name in QUEUES)
    client.close()
    return {"outbox not relayed": unrelayed, "event deliveries not processed": unprocessed,
            "messages queued or sending": in_flight, "refreshes running": refreshing,
            "tasks in Redis queues": queued}


def integrity(soak: Soak, sink: MessageSink) -> dict[str, int]:
    from shared.events import CONTRACTS
    from shared.models import Message, OutboxEvent, ProcessedEvent, Response

    engine = soak.engine
    with engine.connect() as connection:
        stored = {str(row[0]).replace("-", ""): (row[1], row[2], row[3]) for row in
                  connection.execute(select(Response.id, Response.wave_id, Response.alumnus_id,
                                            Response.status))}
        complete = {(wave, alumnus) for wave, alumnus, status in stored.values()
                    if status == "complete"}
        twice_responses = connection.scalar(select(func.count()).select_from(
            select(Response.wave_id, Response.alumnus_id)
            .group_by(Response.wave_id, Response.alumnus_id)
            .having(func.count() > 1).subquery()))
        twice_messages = connection.scalar(select(func.count()).select_from(
            select(Message.campaign_step_id, Message.alumnus_id)
            .group_by(Message.campaign_step_id, Message.alumnus_id)
            .having(func.count() > 1).subquery()))
        message_statuses = dict(list(connection.execute(
            select(Message.status, func.count()).group_by(Message.status))))
        sent_ids = [row[0] for row in connection.execute(
            select(Message.provider_message_id).where(
                Message.channel == "email", Message.status.in_(("sent", "delivered"))))]
    with engine.connect() as connection:
        events = dict(list(connection.execute(
            select(OutboxEvent.type, func.count()).group_by(OutboxEvent.type))))
        processed = connection.scalar(select(func.count()).select_from(ProcessedEvent))
        never_processed = unprocessed_deliveries(connection)
    deliveries = sum(count * len(CONTRACTS[kind].subscribers) for kind, count in events.items()
                     if kind in CONTRACTS)
    lost_api = sum(1 for response_id, _, _ in soak.accepted_ids
                   if response_id.replace("-", "") not in stored)
    lost_forms = sum(1 for key in soak.accepted_forms if key not in complete)
    with sink.lock:
        arrived = dict(sink.message_ids)
    lost_emails = sum(1 for message_id in sent_ids if message_id not in arrived)
    return {
        "lost: accepted API submissions not stored": lost_api,
        "lost: finished forms without a complete response": lost_forms,
        "lost: sent emails that never reached the sink": lost_emails,
        "lost: event deliveries (event, subscriber) never processed": never_processed,
        "duplicated: responses for one (wave, alumnus)": twice_responses,
        "duplicated: messages for one (step, alumnus)": twice_messages,
        "duplicated: Message-IDs at the sink more than once": sum(
            1 for count in arrived.values() if count > 1),
        "events in the outbox": sum(events.values()),
        "event deliveries due (events × subscribers)": deliveries,
        "event deliveries processed": processed,
        "emails at the sink": sum(arrived.values()),
        "emails sent (database)": len(sent_ids),
        **{f"messages {status}": count for status, count in sorted(message_statuses.items())},
    }


def table_sizes(engine: Any) -> list[tuple[str, int, float, int]]:
    """PostgreSQL: (table, rows, mean row bytes as stored, table + index bytes) for the
    tables that grow with alumni, answers and messages: the basis of docs/scaling.md."""
    tables = ("alumni", "wave_targets", "responses", "messages", "delivery_attempts",
              "outbox", "processed_events", "audit_log", "indicator_cells")
    sizes = []
    with engine.connect() as connection:
        for table in tables:
            if not connection.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}):
                continue
            rows, mean = connection.execute(text(
                f"SELECT count(*), coalesce(avg(pg_column_size(t.*)), 0) FROM {table} t")).one()
            total = connection.scalar(text("SELECT pg_total_relation_size(:t)"), {"t": table})
            sizes.append((table, rows, float(mean), total))
    return sizes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--postgres", action="store_true",
                        help="a fresh PostgreSQL database on 127.0.0.1, dropped after")
    parser.add_argument("--database-url", default="", help="an empty database to use instead")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--cycle", type=float, default=30, help="seconds between imports")
    parser.add_argument("--batch", type=int, default=60, help="alumni per import")
    parser.add_argument("--answer-after", type=float, default=20,
                        help="seconds from a campaign's launch to its alumni answering")
    parser.add_argument("--refresh-every", type=float, default=20)
    parser.add_argument("--drain-timeout", type=float, default=300)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="jejak-soak-"))
    created_db = ""
    admin = None
    database_url = args.database_url
    if args.postgres:
        created_db = f"jejak_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{created_db}"'))
        database_url = args.admin_url.rsplit("/", 1)[0] + f"/{created_db}"
    sink = MessageSink()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEJAK_")}
    env.update(JEJAK_HOME=str(home), JEJAK_SECRET_KEY=SECRET, JEJAK_QUIET_HOURS="",
               JEJAK_PII_KEY="bench-pii-key-0123456789abcdef",
               JEJAK_SMTP_URL=f"smtp://127.0.0.1:{sink.port}", PYTHONPATH=str(ROOT))
    if database_url:
        env["JEJAK_DATABASE_URL"] = database_url
    log = open(home / "up.log", "w")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--demo", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    status = 1
    try:
        deadline = time.monotonic() + 180
        while "Press Ctrl-C" not in (home / "up.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("jejak up did not start:\n" + (home / "up.log").read_text())
            time.sleep(0.3)
        up_log = (home / "up.log").read_text()
        redis_match = re.search(r"embedded Redis on (\S+)", up_log)
        redis_url = redis_match.group(1) if redis_match else ""
        status = run(args, process.pid, f"http://127.0.0.1:{port}", env, redis_url, sink)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        sink.stop()
        if created_db and admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)'))
            admin.dispose()
    return status


def run(args: argparse.Namespace, root_pid: int, base: str, env: dict[str, str],
        redis_url: str, sink: MessageSink) -> int:
    from shared.auth import create_token
    from shared.config import Settings
    from shared.db import Database
    from shared.models import Wave

    settings = Settings.from_env(env)
    redis_url = redis_url or settings.redis_url
    with Database.for_url(settings.database_url).session_factory() as session:
        token = create_token(session, "admin", name="soak")
        session.commit()
    soak = Soak(base, token, settings, args)
    soak.enqueue_targets(soak.scalar(select(Wave.id).where(Wave.slug == DEMO_WAVE)))
    started = time.monotonic()
    deadline = started + args.minutes * 60
    threads = [threading.Thread(target=target, args=(deadline,), daemon=True) for target in (
        soak.cycles, soak.refreshes, soak.api_submissions, soak.form_submissions)]
    for thread in threads:
        thread.start()
    print(f"soak: {args.minutes:g} min against {base} "
          f"({'PostgreSQL' if settings.database_url.startswith('postgresql') else 'SQLite'})",
          flush=True)
    first_minute = None
    samples = []
    while time.monotonic() < deadline:
        time.sleep(min(10, max(0.1, deadline - time.monotonic())))
        sample = sample_memory(root_pid)
        samples.append(sample)
        if first_minute is None and time.monotonic() - started >= 60:
            first_minute = sample
        done = {name: a.done for name, a in soak.activities.items()}
        print(f"  {time.monotonic() - started:5.0f} s  {done}", flush=True)
    soak.stop.set()
    for thread in threads:
        thread.join(timeout=120)
    last = samples[-1] if samples else {}
    first_minute = first_minute or (samples[0] if samples else {})
    elapsed = time.monotonic() - started

    drain_started = time.monotonic()
    left: dict[str, int] = {}
    while time.monotonic() - drain_started < args.drain_timeout:
        left = drained(soak.engine, redis_url)
        if not any(left.values()):
            break
        time.sleep(1)
    drain_seconds = time.monotonic() - drain_started
    checks = integrity(soak, sink)

    print(f"\nran {elapsed / 60:.1f} min; queues drained in {drain_seconds:.1f} s"
          + ("" if not any(left.values()) else f" — NOT DRAINED: {left}"))
    print(f"{'activity':<16} {'done':>6} {'per min':>8} {'errors':>6}  latency p50 / p95")
    for activity in soak.activities.values():
        lat = sorted(activity.latencies)
        p95 = lat[max(0, int(len(lat) * 0.95) - 1)] if lat else 0
        print(f"{activity.name:<16} {activity.done:>6} {activity.done / elapsed * 60:>8.1f} "
              f"{sum(activity.errors.values()):>6}  "
              + (f"{statistics.median(lat) * 1000:.0f} / {p95 * 1000:.0f} ms" if lat else "-"))
        for what, count in activity.errors.most_common(3):
            print(f"{'':<18}{count} × {what}")
    for what, count in checks.items():
        print(f"{what}: {count}")
    if soak.engine.dialect.name == "postgresql":
        print("PostgreSQL tables: rows, mean row bytes (pg_column_size), table + indexes:")
        for table, rows, mean, total in table_sizes(soak.engine):
            print(f"  {table:<18} {rows:>8,} rows  {mean:6.0f} B/row  {total / 1024:8.0f} kB"
                  + (f"  ({total / rows:,.0f} B/row all in)" if rows else ""))
    print("RSS per process, end of the first minute → end (MB):")
    for pid, (name, rss) in sorted(last.items(), key=lambda item: item[1][0]):
        before = first_minute.get(pid, (name, None))[1]
        growth = f"{rss - before:+.1f}" if before is not None else "(started later)"
        print(f"  {name:<16} pid {pid:<7} {before if before is not None else float('nan'):7.1f}"
              f" → {rss:7.1f}  {growth}")
    bad = sum(count for what, count in checks.items() if what.startswith(("lost", "dupl")))
    print(json.dumps({"minutes": round(elapsed / 60, 2), "drained": not any(left.values()),
                      "activities": {a.name: {"done": a.done, "errors": sum(a.errors.values())}
                                     for a in soak.activities.values()}, **checks}))
    print("\nSUMMARY  " + ("nothing lost, nothing duplicated" if not bad and not any(left.values())
                          else "LOST, DUPLICATED OR NOT DRAINED"))
    return 0 if not bad and not any(left.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
