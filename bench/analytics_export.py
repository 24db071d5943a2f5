"""Benchmark: the raw responses workbook (and the aggregate reports) on PostgreSQL.

Usage: python bench/analytics_export.py [--responses 200000] [--programs 40]
       [--cohorts-per-program 25] [--aggregates [--skip-raw]] [--keep-db] [--reuse-db NAME]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Makes a fresh database `jejak_bench_<random>`, migrates it (shared.migrate.upgrade) and
fills it with `populate` from bench/analytics.py (INSERT … SELECT generate_series, ~45
answer keys per response, 90 % of them complete), then runs the export task's body
(`run_export`, kind raw_xlsx) as the worker would, and prints its time, the file size and
the process's peak RSS (ru_maxrss), before and after. Target: peak RSS ≤ 500 MB at 1M
responses. With --aggregates it also refreshes the indicators (full_refresh) and times the
xlsx, pdf and csv exports. The database is dropped at the end (unless --keep-db).
Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics import ADMIN_URL, bench_database  # noqa: E402  (bench/analytics.py, beside this)

from services.analytics.refresh import full_refresh  # noqa: E402
from services.analytics.reports.export import run_export  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.models import Export, Response, Wave  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def timed_export(database: Database, settings: Settings, kind: str, slug: str) -> float:
    with database.session_factory() as session:
        export = Export(kind=kind, params={"wave": slug})
        session.add(export)
        session.commit()
        export_id = export.id
    started = time.perf_counter()
    status = run_export(database.session_factory, export_id, settings)
    elapsed = time.perf_counter() - started
    with database.session_factory() as session:
        export = session.get(Export, export_id)
        size = Path(export.path).stat().st_size if export.path else 0
        error = export.error
    print(f"  {kind:<9} {status:<6} {elapsed:8.1f} s   file {size / 1e6:8.1f} MB   "
          f"peak RSS so far {peak_rss_mb():6.0f} MB" + (f"   error: {error}" if error else ""),
          flush=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--programs", type=int, default=40)
    parser.add_argument("--cohorts-per-program", type=int, default=25)
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument("--aggregates", action="store_true",
                        help="also refresh and time the xlsx, pdf and csv exports")
    parser.add_argument("--skip-raw", action="store_true", help="only the aggregate reports")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", help="an already filled bench database: skip the fill")
    args = parser.parse_args()

    with bench_database(args) as (database, url, _wave_id):
        with database.session_factory() as session:
            slug = session.scalar(select(Wave.slug).order_by(Wave.id).limit(1))
            responses = session.scalar(select(func.count()).select_from(Response))
        with tempfile.TemporaryDirectory(prefix="jejak_bench_exports_") as home:
            settings = Settings(home=Path(home), database_url=url,
                                secret_key="bench-secret-key-0123456789abcdef",
                                pii_key="bench-pii-key-0123456789abcdef")
            print(f"\nwave {slug}: {responses:,} responses; peak RSS before exporting "
                  f"{peak_rss_mb():.0f} MB", flush=True)
            if not args.skip_raw:
                elapsed = timed_export(database, settings, "raw_xlsx", slug)
                print(f"  raw_xlsx: {responses / elapsed:,.0f} responses/s", flush=True)
            if args.aggregates:
                started = time.perf_counter()
                full_refresh(database.session_factory, 1)
                print(f"  (full refresh {time.perf_counter() - started:.1f} s; "
                      f"peak RSS so far {peak_rss_mb():.0f} MB)", flush=True)
                for kind in ("xlsx", "pdf", "csv"):
                    timed_export(database, settings, kind, slug)
        print(f"\nprocess peak RSS (ru_maxrss) {peak_rss_mb():.0f} MB   (target ≤ 500 MB at 1M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
