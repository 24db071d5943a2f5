"""Benchmark: the call list of a wave with 100,000 alumni and 300,000 contact attempts.

Usage: python bench/call_list.py [--alumni N] [--attempts N] [--requests N] [--keep-db]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
       [--redis-url redis://127.0.0.1:6379/10]

The wave of bench/followup.py (roster, one-step campaign, statuses spread over the targets),
plus `--attempts` contact attempts dealt over the targets (3 per target at the default
sizes) with the outcomes a phoning team records: mostly no answer, callbacks due in the past
week or the next one, some refusals and wrong numbers, by three staff members; a third of
the targets assigned to one of them.

Measured: the page itself, `GET /waves/<slug>/calls?…`, through the real survey app (signed
in as an operator: route guard, session, the list's statement, its counts and the template)
for the whole list, one program, one group, and one staff member's share. p50 and p95 over
`--requests` requests after two warm-up requests, in milliseconds. Beside them, from the same
run: the floor (reading the wave's attempts once: count and latest id per alumnus), the
follow-up rule over every target (what each request computed before call_states kept its
facts), and the list's statement alone; each page's p95 is also given as a ratio to the
rule's, which holds when the machine is shared and the milliseconds do not.
Target (issue 16): p95 ≤ 150 ms on PostgreSQL. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from followup import ADMIN_URL, REDIS_URL, followup_wave, measure, survey_client  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402


def seed_attempts(url: str, wave_id: int, attempts: int) -> float:
    """`attempts` rows dealt round-robin over the wave's targets, then the call list's state
    of every target rebuilt from them and from the statuses set in bulk (what the events
    and record_attempt keep up to date one target at a time); returns the rebuild's
    seconds (`jejak calls rebuild`)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        users = []
        for name in ("petugas1", "petugas2", "petugas3"):
            users.append(connection.scalar(text(
                "INSERT INTO users (username, password_hash, role, active, session_version, "
                "created_at) VALUES (:n, 'x', 'operator', true, 0, now()) RETURNING id"),
                {"n": name}))
        targets = connection.scalar(text("SELECT count(*) FROM wave_targets WHERE wave_id = :w"),
                                    {"w": wave_id})
        connection.execute(text("""
            WITH numbered AS (
                SELECT alumnus_id, row_number() OVER (ORDER BY alumnus_id) - 1 AS n
                FROM wave_targets WHERE wave_id = :w)
            INSERT INTO contact_attempts (wave_id, alumnus_id, user_id, channel, outcome,
                                          callback_on, note, created_at)
            SELECT :w, t.alumnus_id, (ARRAY[:u1, :u2, :u3])[1 + i % 3],
                   CASE WHEN i % 5 = 0 THEN 'whatsapp' ELSE 'phone' END,
                   CASE WHEN i % 20 = 7 THEN 'callback' WHEN i % 50 = 3 THEN 'refused'
                        WHEN i % 50 = 4 THEN 'wrong_number'
                        WHEN i % 5 = 0 THEN 'chat_opened' ELSE 'no_answer' END,
                   CASE WHEN i % 20 = 7 THEN current_date + (i % 15 - 7) END,
                   NULL, now() - make_interval(mins => (:total - i))
            FROM generate_series(0, :total - 1) AS i
            JOIN numbered t ON t.n = i % :targets"""),
            {"w": wave_id, "u1": users[0], "u2": users[1], "u3": users[2], "total": attempts,
             "targets": targets})
        # What assign keeps per target: a third of the targets assigned.
        connection.execute(text(
            "UPDATE call_states SET assignee_id = :u WHERE wave_id = :w AND alumnus_id % 3 = 0"),
            {"w": wave_id, "u": users[0]})
    from services.survey import call_list_state
    from shared.db import Database

    begun = time.perf_counter()
    with Database.for_url(url).session_factory() as session, session.begin():
        call_list_state.rebuild(session, wave_id)
    rebuilt = time.perf_counter() - begun
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE contact_attempts"))
        connection.execute(text("VACUUM ANALYZE call_states"))
    engine.dispose()
    return rebuilt


def timed(times: int, run: Callable[[], object]) -> list[float]:
    """Milliseconds of `times` runs of `run`, sorted."""
    found = []
    for _ in range(times):
        begun = time.perf_counter()
        run()
        found.append((time.perf_counter() - begun) * 1000)
    return sorted(found)


def p95_of(times: list[float]) -> float:
    return times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alumni", type=int, default=100_000)
    parser.add_argument("--attempts", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    from services.survey import call_list, call_list_state
    from shared import db

    started = time.perf_counter()
    with followup_wave(args.admin_url, args.alumni, keep=args.keep_db) as (url, name, wave_id, _):
        rebuilt = seed_attempts(url, wave_id, args.attempts)
        print(f"setup: {args.alumni:,} alumni, {args.attempts:,} attempts "
              f"({time.perf_counter() - started:.1f} s; database {name}); the whole wave's "
              f"call list state rebuilt in {rebuilt:.1f} s")
        client, app = survey_client(url, args.redis_url, name)
        with app.app_context():
            session = db.session()
            program = session.execute(text("SELECT min(id) FROM programs")).scalar()
            staff = session.execute(text(
                "SELECT id FROM users WHERE username = 'petugas1'")).scalar()
            floor = timed(args.requests, lambda: session.execute(text(
                "SELECT count(*), max(last_id) FROM (SELECT alumnus_id, max(id) AS last_id "
                "FROM contact_attempts WHERE wave_id = :w GROUP BY alumnus_id) s"),
                {"w": wave_id}).all())
            rule = timed(args.requests, lambda: session.execute(
                call_list_state.facts(session, wave_id)).all())
            today = call_list.centre_today(session)
            statement = timed(args.requests, lambda: call_list._page_rows(
                session, wave_id, call_list.CallFilters(), 1, today, call_list.PAGE_SIZE))
            ids = list(session.scalars(text(
                "SELECT alumnus_id FROM wave_targets WHERE wave_id = :w ORDER BY alumnus_id "
                "LIMIT :n"), {"w": wave_id, "n": args.requests}))
            one = iter(ids)
            recompute = timed(len(ids), lambda: call_list_state.refresh(
                session, wave_id, [next(one)]))
            session.rollback()
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'reference (same run)':64} {'p50 ms':>8} {'p95 ms':>8}")
        for label, times in (("floor: the wave's attempts read once", floor),
                             ("the rule over every target (each request, before)", rule),
                             ("the list's statement now (counts + first page)", statement),
                             ("one alumnus recomputed (what a consumer does per event)",
                              recompute)):
            print(f"{label:64} {statistics.median(times):8.1f} {p95_of(times):8.1f}")
        print(f"{'page':64} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8} {'p95/rule':>9}")
        for query in ("", f"program={program}", "group=callback_due", f"assigned={staff}",
                      "page=3"):
            path = f"/waves/bench-2026/calls?{query}"
            p50, p95, size = measure(client, path, args.requests)
            print(f"{path:64} {p50:8.1f} {p95:8.1f} {size:8,} {p95 / p95_of(rule):9.2f}")
        print("target (issue 16): p95 ≤ 150 ms on PostgreSQL; load average now "
              f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
