"""Benchmark: one email step to 100,000 recipients on PostgreSQL — plan, then send.

Usage: python bench/outreach.py [--recipients N] [--send-limit N] [--baseline N]
       [--plan-only] [--profile N] [--keep-db]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Makes a fresh database `jejak_bench_<random>`, migrates and seeds it, bulk-inserts a roster
with an email address for everyone, opens a wave and launches a one-step email campaign
(`campaigns.create_campaign` + `campaigns.launch`): the planning time. Then, each in its own
process so that CPU and peak RSS are its own:

- the sink: aiosmtpd on a free loopback port that only counts what arrives;
- the baseline: a plain smtplib loop over one reused connection, building and sending
  similar messages (same headers, similar body) — before and after the delivery run;
- the delivery: `delivery.dispatch` (beat's job, its batches recorded instead of published)
  then `delivery.send_batch` over every batch of 100 ids, as the `outreach.send_batch` task
  calls it (its own channels, so one SMTP connection per batch) but without the Redis rate
  limit (20 emails/s in production), which would measure only itself.

Targets (issue): planning ≤ 10 s; delivery rate ≥ 0.7 × the baseline's; the sink's count
equal to the recipients; peak RSS of the sending process ≤ 300 MB. Figures, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from procstat import process_cpu_seconds  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECRET = "bench-secret-key-0123456789abcdef"
PII_KEY = "bench-pii-key-0123456789abcdef"
STEP = {
    "day_offset": 0,
    "channel": "email",
    "template": {"id": {"subject": "s", "body": "Halo {{ name }} {{ survey_link }}"}},
}
PROGRAMS = 10
COHORTS_PER_PROGRAM = 20


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: on Linux a child started
    by fork + exec inherits its parent's high-water mark there."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settings_for(database_url: str, smtp_url: str = "", home: str | None = None):
    from shared.config import Settings

    return Settings(
        home=Path(home or tempfile.gettempdir()),
        database_url=database_url,
        smtp_url=smtp_url,
        secret_key=SECRET,
        pii_key=PII_KEY,
        quiet_hours="",
    )


# --- roles, each run in its own process ----------------------------------------------------


def role_sink() -> None:
    """Count what arrives; answer `count` on stdin with the count, `quit` to stop."""
    from aiosmtpd.controller import Controller

    class Counter:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            self.count += len(envelope.rcpt_tos)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(handler.count, flush=True)
        elif line.strip() == "quit":
            break
    controller.stop()


def role_baseline(port: int, count: int) -> dict[str, Any]:
    """A plain smtplib loop: one connection, a similar message built for each recipient."""
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate

    link = "http://127.0.0.1:8000/survey/s/" + "x" * 43
    started, cpu = time.perf_counter(), cpu_seconds()
    connection = smtplib.SMTP("127.0.0.1", port, timeout=20)
    connection.ehlo()
    for number in range(count):
        message = EmailMessage()
        message["From"] = "Jejak <tracer@localhost>"
        message["To"] = f"alumnus{number}@bench.test"
        message["Subject"] = "s"
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<jejak.{number}.0123abcd@localhost>"
        message["List-Unsubscribe"] = f"<http://127.0.0.1:8000/outreach/u/{'y' * 40}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(f"Halo Alumnus {number} {link}")
        connection.send_message(message)
    connection.quit()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": cpu_seconds() - cpu,
        "sent": count,
        "rss_mb": peak_rss_mb(),
    }


class Recorder:
    """Stands in for Celery: keeps the batches `dispatch` hands out."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def send_task(self, name: str, args: list[Any]) -> None:
        self.batches.append(args[0])


def role_send(database_url: str, port: int, profile: int, limit: int) -> dict[str, Any]:
    """Dispatch everything due, then send every batch (or the first `limit` messages)."""
    from services.outreach import delivery
    from shared.db import Database

    settings = settings_for(database_url, f"smtp://127.0.0.1:{port}")
    database = Database.for_url(database_url)
    factory = database.session_factory
    recorder = Recorder()
    started = time.perf_counter()
    queued = delivery.dispatch(factory, recorder, settings)
    dispatch_seconds = time.perf_counter() - started
    rss_after_dispatch = peak_rss_mb()
    outcomes: dict[str, int] = {}
    batches = recorder.batches
    if limit:
        batches = batches[: -(-limit // delivery.BATCH_SIZE)]
    profiler = None
    if profile:
        profiler = cProfile.Profile(time.process_time)
        batches = batches[: max(1, profile // delivery.BATCH_SIZE)]
        profiler.enable()
    db_cpu = backend_cpu_seconds(database.engine)
    started, cpu = time.perf_counter(), cpu_seconds()
    for ids in batches:
        for outcome, number in delivery.send_batch(factory, ids, settings).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + number
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    db_cpu = backend_cpu_seconds(database.engine) - db_cpu
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
    return {
        "queued": queued,
        "dispatch_seconds": dispatch_seconds,
        "seconds": seconds,
        "cpu": cpu,
        "db_cpu": db_cpu,
        "outcomes": outcomes,
        "sent": outcomes.get("sent", 0),
        "rss_after_dispatch_mb": rss_after_dispatch,
        "rss_mb": peak_rss_mb(),
    }


def backend_cpu_seconds(engine: Any) -> float:
    """CPU used so far by this database's PostgreSQL backends (the server is local)."""
    with engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    return process_cpu_seconds(pids)


def run_role(*argv: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--role", *argv],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class Sink:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--role", "sink"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.process.stdout.readline())

    def count(self) -> int:
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def cpu(self) -> float:
        return process_cpu_seconds([self.process.pid])

    def stop(self) -> None:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


# --- setup: a roster, a wave, a campaign ----------------------------------------------------


def seed_roster(database_url: str, recipients: int) -> None:
    from shared.db import Database
    from shared.models import Alumnus, Cohort, Program, utcnow

    engine = Database.for_url(database_url).engine
    now = utcnow()
    with engine.begin() as connection:
        program_ids = (
            connection.execute(
                insert(Program).returning(Program.id),
                [{"name": f"Kejuruan {n}", "created_at": now} for n in range(PROGRAMS)],
            )
            .scalars()
            .all()
        )
        cohorts = [
            {
                "program_id": program_id,
                "label": f"Angkatan {n}",
                "training_start": date(2024, 1, 8) + timedelta(weeks=13 * n),
                "training_end": date(2024, 3, 29) + timedelta(weeks=13 * n),
                "created_at": now,
            }
            for program_id in program_ids
            for n in range(COHORTS_PER_PROGRAM)
        ]
        cohort_ids = (
            connection.execute(insert(Cohort).returning(Cohort.id), cohorts).scalars().all()
        )
        chunk = 10_000
        for first in range(0, recipients, chunk):
            connection.execute(
                insert(Alumnus),
                [
                    {
                        "registration_no": f"BENCH-{n:07d}",
                        "full_name": f"Alumnus {n}",
                        "gender": "LP"[n % 2],
                        "birth_date": date(2000, 1, 1),
                        "phone": f"+62812{n:08d}",
                        "email": f"alumnus{n}@bench.test",
                        "cohort_id": cohort_ids[n % len(cohort_ids)],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(first, min(first + chunk, recipients))
                ],
            )


def open_wave(database_url: str) -> int:
    from services.survey import catalog, waves
    from shared.db import Database
    from shared.models import Program

    with Database.for_url(database_url).session_factory() as session, session.begin():
        questionnaire = catalog.ensure_default(session)
        wave = waves.create_wave(
            session,
            slug="bench-2026",
            title="Tracer 2026",
            questionnaire_id=questionnaire.id,
            program_ids=list(session.scalars(select(Program.id))),
        )
        waves.open_wave(session, wave)
        return wave.id


def launch(database_url: str, wave_id: int) -> tuple[int, float]:
    from services.outreach import campaigns
    from shared.db import Database

    settings = settings_for(database_url)
    started = time.perf_counter()
    with Database.for_url(database_url).session_factory() as session, session.begin():
        campaign = campaigns.create_campaign(session, name="bench", wave_id=wave_id, steps=[STEP])
        planned = campaigns.launch(session, campaign, settings)
    return planned, time.perf_counter() - started


def statuses(database_url: str) -> dict[str, int]:
    from shared.db import Database
    from shared.models import Message

    with Database.for_url(database_url).session_factory() as session:
        return dict(
            session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument(
        "--baseline",
        type=int,
        default=None,
        help="messages per baseline run (default: as many as recipients)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="send only about N messages, under cProfile (stderr)"
    )
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--plan-only", action="store_true", help="stop after planning")
    parser.add_argument(
        "--send-limit",
        type=int,
        default=0,
        help="dispatch everything but send only the first N messages",
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role:
        role, *rest = args.role
        if role == "sink":
            role_sink()
            return 0
        if role == "baseline":
            result = role_baseline(int(rest[0]), int(rest[1]))
        else:
            result = role_send(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
        print(json.dumps(result))
        return 0

    from services.cli import seed
    from shared.migrate import upgrade

    name = f"jejak_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    url = args.admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    sink = None
    try:
        upgrade(url)
        seed(url)
        started = time.perf_counter()
        seed_roster(url, args.recipients)
        wave_id = open_wave(url)
        print(
            f"setup: {args.recipients:,} alumni with email, wave open "
            f"({time.perf_counter() - started:.1f} s; database {name})"
        )
        from shared.db import Database

        engine = Database.for_url(url).engine
        db_cpu = backend_cpu_seconds(engine)
        cpu = cpu_seconds()
        planned, planning = launch(url, wave_id)
        print(
            f"planning: launch() planned {planned:,} messages in {planning:.2f} s "
            f"(target ≤ 10 s; cpu: python {cpu_seconds() - cpu:.1f} s, postgres "
            f"{backend_cpu_seconds(engine) - db_cpu:.1f} s; peak RSS of the planning "
            f"process {peak_rss_mb():.0f} MB)"
        )
        engine.dispose()
        if args.plan_only:
            return 0

        sink = Sink()
        to_send = min(args.send_limit or args.recipients, args.recipients)
        baseline_count = args.baseline or to_send
        if args.profile:
            result = run_role("send", url, str(sink.port), str(args.profile), "0")
            print(
                f"profiled {result['sent']} sends in {result['seconds']:.1f} s "
                "(cProfile on the CPU clock, on stderr)"
            )
            return 0
        runs = []
        sink_cpu = sink.cpu()
        first = run_role("baseline", str(sink.port), str(baseline_count))
        first["sink_cpu"] = sink.cpu() - sink_cpu
        after_first = sink.count()
        sink_cpu = sink.cpu()
        send = run_role("send", url, str(sink.port), "0", str(args.send_limit))
        send["sink_cpu"] = sink.cpu() - sink_cpu
        arrived = sink.count() - after_first
        sink_cpu = sink.cpu()
        second = run_role("baseline", str(sink.port), str(baseline_count))
        second["sink_cpu"] = sink.cpu() - sink_cpu
        runs = [first, second]
        final = statuses(url)
    finally:
        if sink is not None:
            sink.stop()
        if not args.keep_db:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    baseline_rates = [run["sent"] / run["seconds"] for run in runs]
    baseline_rate = sum(baseline_rates) / len(baseline_rates)
    rate = send["sent"] / send["seconds"]
    sent = max(1, send["sent"])
    baseline_cpu = sum(1000 * (run["cpu"] + run["sink_cpu"]) / run["sent"] for run in runs) / 2
    delivery_cpu = 1000 * (send["cpu"] + send["db_cpu"] + send["sink_cpu"]) / sent
    print(
        f"dispatch: {send['queued']:,} messages queued in batches of 100 in "
        f"{send['dispatch_seconds']:.1f} s"
    )
    print(
        "baseline (smtplib, one connection): "
        + ", ".join(f"{r:,.0f}/s" for r in baseline_rates)
        + " (before, after); cpu per message: client "
        + ", ".join(f"{1000 * run['cpu'] / run['sent']:.2f}" for run in runs)
        + " ms, sink "
        + ", ".join(f"{1000 * run['sink_cpu'] / run['sent']:.2f}" for run in runs)
        + " ms"
    )
    print(
        f"delivery (send_batch × {-(-send['sent'] // 100):,}): {send['sent']:,} sent in "
        f"{send['seconds']:.1f} s = {rate:,.0f}/s; outcomes {send['outcomes']}; cpu per "
        f"message: python {1000 * send['cpu'] / sent:.2f} ms, postgres "
        f"{1000 * send['db_cpu'] / sent:.2f} ms, sink {1000 * send['sink_cpu'] / sent:.2f} ms"
    )
    print(
        f"sink count for the delivery run: {arrived:,} (messages sent {to_send:,}: "
        f"{'equal' if arrived == to_send else 'NOT EQUAL'}); statuses {final}"
    )
    print(
        f"peak RSS of the sending process: {send['rss_mb']:.0f} MB "
        f"(after dispatch {send['rss_after_dispatch_mb']:.0f} MB; target ≤ 300 MB)"
    )
    ratio = rate / baseline_rate
    print(
        f"\nSUMMARY  planning {planning:.2f} s for {planned:,} (≤ 10) | delivery {rate:,.0f}/s "
        f"vs baseline {baseline_rate:,.0f}/s = ratio {ratio:.2f} (≥ 0.7; CPU-normalised "
        f"{baseline_cpu / delivery_cpu:.2f}: {baseline_cpu:.1f} vs {delivery_cpu:.1f} ms of "
        f"CPU per message, all processes) | sink {arrived:,}/{to_send:,} | peak RSS "
        f"{send['rss_mb']:.0f} MB (≤ 300) | load {os.getloadavg()[0]:.1f}"
    )
    return 0 if arrived == to_send else 1


if __name__ == "__main__":
    sys.exit(main())
