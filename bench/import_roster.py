"""Benchmark: import a 100,000-row roster into a fresh PostgreSQL database, then again.

Usage: python bench/import_roster.py [--rows N] [--chunk-size N] [--profile]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The roster is generated (fixed seed) the way centres send them: Indonesian names, ten
kejuruan with their angkatan, phone numbers and dates typed in mixed forms, a `;`-separated
CSV with a BOM. The second import of the same file must report every row unchanged.
Target (issue): 100,000 rows in at most 20 s on PostgreSQL. Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from services.survey.roster import COLUMNS, read_rows
from services.survey.roster_import import ImportSummary, import_roster
from shared.db import Database
from shared.migrate import upgrade

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PII_KEY = "bench-pii-key-0123456789abcdef"

FIRST_NAMES = [
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Andi",
    "Rina",
    "Eko",
    "Sri",
    "Joko",
    "Nur",
    "Ahmad",
    "Putri",
    "Rudi",
    "Wahyu",
    "Fitri",
    "Hendra",
    "Yuni",
    "Rizky",
    "Ayu",
    "Dimas",
    "Indah",
    "Fajar",
    "Lestari",
    "Bayu",
    "Ratna",
    "Arif",
    "Wulan",
    "Taufik",
    "Maya",
    "Irfan",
    "Nurul",
    "Dedi",
    "Ani",
    "Yusuf",
    "Kartika",
    "Muhammad",
    "Sari",
    "Ilham",
    "Dian",
    "Hasan",
    "Rahmawati",
    "Gilang",
    "Intan",
    "Bambang",
    "Febri",
]
FAMILY_NAMES = [
    "Santoso",
    "Wijaya",
    "Saputra",
    "Hidayat",
    "Pratama",
    "Kusuma",
    "Setiawan",
    "Nugroho",
    "Lestari",
    "Rahman",
    "Siregar",
    "Nasution",
    "Simanjuntak",
    "Hutapea",
    "Manurung",
    "Sembiring",
    "Ginting",
    "Daeng",
    "Lamba",
    "Rante",
    "Sinaga",
    "Wibowo",
    "Susanto",
    "Kurniawan",
    "Ramadhan",
    "Firmansyah",
    "Halim",
    "Gunawan",
    "Syahputra",
    "Permana",
    "Tanjung",
    "Harahap",
]
PROGRAMS = (
    "Teknik Las",
    "Otomotif Sepeda Motor",
    "Otomotif Mobil",
    "Instalasi Listrik",
    "Refrigerasi",
    "Tata Boga",
    "Tata Busana",
    "Teknologi Informasi",
    "Operator Alat Berat",
    "Konstruksi Bangunan",
)
COHORTS_PER_PROGRAM = 20  # five years, four angkatan a year
PREFIXES = ("811", "812", "813", "821", "822", "852", "853", "857", "878", "895")


def day_first(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def phone_in_some_form(rng: random.Random) -> str:
    prefix, rest = rng.choice(PREFIXES), f"{rng.randrange(10**8):08d}"
    return rng.choice(
        (
            f"0{prefix}{rest}",
            f"0{prefix}-{rest[:4]}-{rest[4:]}",
            f"62{prefix}{rest}",
            f"+62 {prefix}-{rest[:4]}-{rest[4:]}",
            f"+62{prefix} {rest[:4]} {rest[4:]}",
        )
    )


def generate_roster(path: Path, rows: int, seed: int = 20261127) -> None:
    rng = random.Random(seed)
    cohorts = []
    for program in PROGRAMS:
        for number in range(COHORTS_PER_PROGRAM):
            start = date(2020, 1, 6) + timedelta(weeks=13 * number)
            label = f"Angkatan {number // 4 + 2020}-{number % 4 + 1}"
            cohorts.append(
                (program, label, start, start + timedelta(days=rng.choice((60, 75, 88))))
            )
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(COLUMNS.values())
        for number in range(1, rows + 1):
            program, label, start, end = cohorts[number % len(cohorts)]
            first, family = rng.choice(FIRST_NAMES), rng.choice(FAMILY_NAMES)
            born = start - timedelta(days=rng.randrange(18 * 365, 35 * 365))
            iso = rng.random() < 0.5
            writer.writerow(
                [
                    f"BLKI-BTG-{number:06d}",
                    f"{first} {family}",
                    rng.choice(("L", "P", "M", "F", "l", "p")),
                    born.isoformat() if iso else day_first(born),
                    f"6474{rng.randrange(10**12):012d}" if rng.random() < 0.8 else "",
                    program,
                    label,
                    start.isoformat() if iso else day_first(start),
                    end.isoformat() if iso else day_first(end),
                    phone_in_some_form(rng) if rng.random() < 0.95 else "",
                    f"{first}.{family}{number}@example.co.id".lower() if rng.random() < 0.6 else "",
                ]
            )


@dataclass(frozen=True)
class Run:
    summary: ImportSummary
    seconds: float
    client_cpu: float  # this process, all threads
    server_cpu: float | None  # the PostgreSQL backends of the bench database


def server_cpu_seconds(admin: Engine, name: str) -> float | None:
    """CPU used so far by the backends serving database `name`; None unless the server is local.

    On a shared machine wall time swings with other load; CPU seconds show what the import
    itself costs, on both sides of the connection.
    """
    with admin.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        ).all()
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # the fields after "(command)", from state on
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def timed_import(database: Database, admin: Engine, name: str, path: Path, chunk_size: int) -> Run:
    server_before = server_cpu_seconds(admin, name)
    cpu_before = time.process_time()
    started = time.perf_counter()
    with path.open("rb") as file:
        summary = import_roster(
            database.session_factory,
            read_rows(file, path.name),
            pii_key=PII_KEY,
            chunk_size=chunk_size,
        )
    seconds = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_before
    server_after = server_cpu_seconds(admin, name)
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = server_after - server_before
    return Run(summary, seconds, client_cpu, server_cpu)


def report(title: str, run: Run, rows: int) -> None:
    summary = run.summary
    server = "?" if run.server_cpu is None else f"{run.server_cpu:.1f}s"
    print(
        f"{title}: rows={rows} seconds={run.seconds:.2f} rows/s={rows / run.seconds:,.0f} "
        f"imported={summary.imported} updated={summary.updated} "
        f"unchanged={summary.unchanged} rejected={summary.rejected} "
        f"(cpu: python {run.client_cpu:.1f}s, postgres {server}; load {os.getloadavg()[0]:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--profile", action="store_true", help="cProfile the first import")
    args = parser.parse_args()

    name = f"jejak_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    url = args.admin_url.rsplit("/", 1)[0] + f"/{name}"
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "roster.csv"
        generate_roster(path, args.rows)
        print(f"roster: {path.stat().st_size / 1e6:.1f} MB, {args.rows} rows; database {name}")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        database = None
        try:
            upgrade(url)
            database = Database.for_url(url)
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            run = timed_import(database, admin, name, path, args.chunk_size)
            if profiler is not None:
                profiler.disable()
            report("first import ", run, args.rows)
            run = timed_import(database, admin, name, path, args.chunk_size)
            report("second import", run, args.rows)
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        finally:
            if database is not None:
                database.engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
