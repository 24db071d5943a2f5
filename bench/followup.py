"""Benchmark: the follow-up page of a wave with 100,000 alumni, filtered by status and program.

Usage: python bench/followup.py [--alumni N] [--requests N] [--keep-db]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
       [--redis-url redis://127.0.0.1:6379/10]

Makes a fresh database `jejak_bench_<random>`, migrates it, bulk-inserts the roster (10
programs × 20 cohorts, bench/outreach.py's `seed_roster`), opens a wave over all of it and
launches a one-step campaign (every target gets a planned message). Then it gives the alumni
every status in proportions a real wave might show: 60 % of the messages sent, 5 % failed,
20 % of the alumni with a complete response and 8 % a partial one, 4 % who opened the form,
2 % opted out, 0.5 % erased (set directly, in bulk; the page only reads them).

Measured: the page itself, `GET /waves/<slug>/alumni?status=…&program=…`, through the real
survey app (Flask test client, signed in as an operator: the route guard, the session, the
template), so the query, its counts and the rendering are all in the figure. Each filter is
requested `--requests` times after two warm-up requests; p50 and p95 in milliseconds.
Target (issue 14): p95 ≤ 150 ms on PostgreSQL. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from outreach import launch, open_wave, seed_roster  # noqa: E402  (bench/outreach.py)
from sqlalchemy import create_engine, text  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/10"
SECRET = "bench-secret-key-0123456789abcdef"
PII_KEY = "bench-pii-key-0123456789abcdef"


# A percentile per alumnus that does not follow the program (ids are dealt round-robin to
# cohorts, so `id % 100` would give whole programs one status).
SPREAD = "mod(alumnus_id::bigint * 2654435761, 100)"


def give_statuses(url: str, wave_id: int) -> None:
    """Spread the statuses over the targets, in a few set-based statements."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"""
            UPDATE messages SET status = CASE
                WHEN {SPREAD} >= 95 THEN 'failed'
                WHEN {SPREAD} < 60 THEN 'sent' ELSE status END"""))
        questionnaire_id = connection.scalar(
            text("SELECT questionnaire_id FROM waves WHERE id = :w"), {"w": wave_id})
        connection.execute(text(f"""
            INSERT INTO responses (id, wave_id, alumnus_id, questionnaire_id, status, answers,
                                   source, started_at, updated_at)
            SELECT gen_random_uuid(), :w, alumnus_id, :q,
                   CASE WHEN {SPREAD} < 20 THEN 'complete' ELSE 'partial' END,
                   '{{}}'::jsonb, 'web', now(), now()
            FROM wave_targets WHERE wave_id = :w AND {SPREAD} < 28"""),
            {"w": wave_id, "q": questionnaire_id})
        connection.execute(text(f"""
            UPDATE wave_targets SET opened_at = now()
            WHERE wave_id = :w AND {SPREAD} BETWEEN 28 AND 31"""), {"w": wave_id})
        by_id = SPREAD.replace("alumnus_id", "id")
        connection.execute(text(f"""
            INSERT INTO opt_outs (channel, address, alumnus_id, source, created_at)
            SELECT 'email', email, id, 'link', now() FROM alumni
            WHERE {by_id} BETWEEN 40 AND 41"""))
        connection.execute(text(f"""
            UPDATE alumni SET erased_at = now(), email = NULL, phone = NULL
            WHERE {by_id} = 50 AND id % 2 = 0"""))
    # What autovacuum would have done after these bulk updates (visibility map, statistics).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def measure(client, path: str, requests: int) -> tuple[float, float, int]:
    for _ in range(2):
        assert client.get(path).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, len(response.data)


@contextmanager
def followup_wave(admin_url: str, alumni: int, *,
                  keep: bool) -> Iterator[tuple[str, str, int, int]]:
    """A scratch database with the wave described above: (url, name, wave id, messages
    planned). Dropped on exit unless `keep`."""
    from services.cli import seed
    from shared.migrate import upgrade

    name = f"jejak_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url)
        seed(url)
        seed_roster(url, alumni)
        wave_id = open_wave(url)
        planned, _ = launch(url, wave_id)
        give_statuses(url, wave_id)
        yield url, name, wave_id, planned
    finally:
        if not keep:
            from shared.db import Database

            Database.for_url(url).engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def survey_client(url: str, redis_url: str, name: str) -> tuple[Any, Any]:
    """The real survey app on the bench database and a test client signed in as an
    operator (route guard, session and templates all in the figures)."""
    import re

    from services.survey import create_app
    from shared import db
    from shared.auth import create_user
    from shared.config import Settings

    settings = Settings(home=Path(tempfile.mkdtemp()), database_url=url, redis_url=redis_url,
                        secret_key=SECRET, pii_key=PII_KEY)
    app = create_app({"JEJAK_SETTINGS": settings, "JEJAK_LIMIT_SCOPE": f"{name}:"})
    with app.app_context():
        create_user(db.session(), "bench", "kata-sandi-bench", "operator")
        db.session().commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"username": "bench", "password": "kata-sandi-bench",
                                            "csrf_token": token})
    assert signed_in.status_code == 302, signed_in.status_code
    return client, app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alumni", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    from shared import db

    started = time.perf_counter()
    with followup_wave(args.admin_url, args.alumni, keep=args.keep_db) as (
            url, name, wave_id, planned):
        print(f"setup: {args.alumni:,} alumni in wave bench-2026, {planned:,} messages, "
              f"statuses spread ({time.perf_counter() - started:.1f} s; database {name})")

        client, app = survey_client(url, args.redis_url, name)
        with app.app_context():
            program = db.session().execute(text("SELECT min(id) FROM programs")).scalar()
            counts = db.session().execute(text(
                "SELECT count(*) FROM wave_targets WHERE wave_id = :w AND program_id = :p"),
                {"w": wave_id, "p": program}).scalar()
        print(f"program {program}: {counts:,} targets; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs (other work on the machine slows every figure)")
        # The floor in the same run: reading the program's targets and their roster rows
        # once, with no status, no counts and no page (one plain join, through the API's
        # database session).
        floor = []
        with app.app_context():
            for _ in range(args.requests):
                started = time.perf_counter()
                db.session().execute(text(
                    "SELECT count(*), max(a.registration_no) FROM wave_targets t "
                    "JOIN alumni a ON a.id = t.alumnus_id "
                    "WHERE t.wave_id = :w AND t.program_id = :p"),
                    {"w": wave_id, "p": program}).all()
                floor.append((time.perf_counter() - started) * 1000)
            db.session().rollback()
        floor.sort()
        print(f"floor (read the program's targets once): p50 {statistics.median(floor):.1f} ms, "
              f"p95 {floor[int(round(0.95 * len(floor))) - 1]:.1f} ms")
        print(f"{'page':64} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}")
        for query in (f"status=not_answered&program={program}",
                      f"status=unreachable&program={program}",
                      f"status=complete&program={program}",
                      "status=not_answered",
                      ""):
            path = f"/waves/bench-2026/alumni?{query}"
            p50, p95, size = measure(client, path, args.requests)
            print(f"{path:64} {p50:8.1f} {p95:8.1f} {size:8,}")
        print("target (issue 14): p95 ≤ 150 ms for status + program; load average now "
              f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
