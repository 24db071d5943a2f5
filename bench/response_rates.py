"""Benchmark: the AAPOR dispositions and rates of a wave of 100,000 alumni, 300,000 attempts.

Usage: python bench/response_rates.py [--alumni N] [--attempts N] [--requests N] [--keep-db]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The wave of bench/call_list.py (bench/followup.py's roster, campaign and message statuses,
plus `--attempts` contact attempts). Measured: `response_rates.response_rates` for the whole
wave and for one program (the statement that reads each target's evidence grouped by kind,
and `aapor` applied per kind), p50 and p95 over `--requests` calls after two warm-up calls,
in milliseconds, and how many kinds of evidence the wave has. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from call_list import seed_attempts  # noqa: E402
from followup import ADMIN_URL, followup_wave  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alumni", type=int, default=100_000)
    parser.add_argument("--attempts", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    from services.analytics.response_rates import _evidence_statement, response_rates

    started = time.perf_counter()
    with followup_wave(args.admin_url, args.alumni, keep=args.keep_db) as (url, name, wave_id, _):
        seed_attempts(url, wave_id, args.attempts)
        print(f"setup: {args.alumni:,} alumni, {args.attempts:,} attempts "
              f"({time.perf_counter() - started:.1f} s; database {name})")
        engine = create_engine(url)
        with Session(engine) as session:
            session.execute(text("ANALYZE"))
            program = session.execute(text("SELECT min(id) FROM programs")).scalar()
            kinds = len(session.execute(
                _evidence_statement(wave_id, None, None, None)).all())
            print(f"kinds of evidence in the wave: {kinds}")
            print(f"{'selection':24} {'p50 ms':>8} {'p95 ms':>8}  RR1")
            for label, filters in (("whole wave", {}), ("one program", {"program": program})):
                times = []
                for number in range(args.requests + 2):
                    begun = time.perf_counter()
                    found = response_rates(session, wave_id, **filters)
                    session.rollback()
                    if number >= 2:
                        times.append((time.perf_counter() - begun) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
                print(f"{label:24} {statistics.median(times):8.1f} {p95:8.1f}  "
                      f"{float(found.rates.rr1 or 0):.4f} (D {found.d:,})")
        engine.dispose()
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
