"""Benchmark: indicator refresh over 1,000,000 responses on PostgreSQL, and the live update.

Usage: python bench/analytics.py [--responses N] [--programs P] [--cohorts-per-program C]
       [--live-samples 200] [--rounds 3] [--explain] [--keep-db] [--reuse-db NAME]
       [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Makes a fresh database `jejak_bench_<random>`, migrates it (shared.migrate.upgrade), fills
it in SQL (INSERT … SELECT generate_series, answers built with random() in the shapes of
services/demo.py: 55 % employed, waiting times exponential around 4 months, incomes
log-normal around the Bontang UMK, ~45 answer keys per response), then prints:

- full refresh (`services.analytics.refresh.full_refresh`, the code the nightly job runs)
  against one plain GROUP BY scan of the same wave's responses, in the same run: median of
  `--rounds` alternated runs, both warm. Target (issue): refresh ≤ 3 × the scan.
- live-update work per new response: the one-cell recompute (`fill_cell`) and the whole
  consumer transaction (`update_alumnus_cell`: recompute + replace the cell's
  indicator_cells row) for `--live-samples` random alumni, each after an UPDATE that changes
  the alumnus's answers, p50/p95/max; target p95 ≤ 50 ms.
- the indicators API (`GET /api/v1/indicators` through the Flask test client, the app
  reading the bench database as in production): the whole wave, `by=program`, `by=cohort`,
  `by=gender` and one program, `--api-requests` each, p50/p95; both the answer reused while
  the figures stay the same ("warm") and the first answer after a live update changed a
  cell ("after a change"). Target p95 ≤ 100 ms. Before those, the first request of each
  query in a new app: one that parses the snapshot itself, and one started as production
  starts it ("first indicators request after restart": the snapshot parsed and the whole
  wave and each breakdown answered in the background as the app starts, warmup.py).
- peak memory of this process (tracemalloc peak during the refresh, and ru_maxrss).

With --reuse-db the database is migrated to head first (a database filled before a
migration gets it). The database is dropped at the end (unless --keep-db or --reuse-db).
Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.analytics.cells import CellKey  # noqa: E402
from services.analytics.fill import fill_cell  # noqa: E402
from services.analytics.projection import reconcile_answers  # noqa: E402
from services.analytics.refresh import full_refresh, update_alumnus_cell  # noqa: E402
from services.analytics.snapshots import read_snapshot  # noqa: E402
from services.analytics.statements import (  # noqa: E402
    DIALECT_TUNING,
    fill_statement,
    tune_for_full_refresh,
)
from services.survey import catalog  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.migrate import upgrade  # noqa: E402
from shared.models import IndicatorAnswer, IndicatorSnapshot, WaveTarget  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RESPONSE_SHARE = 0.75  # targets with a response (complete or partial)
COMPLETE_SHARE = 0.9  # of those, complete

# Employers and channel sets the answers pick from (services/demo.py shapes).
_F4_SETS = (
    '["f403"]', '["f404", "f409"]', '["f410"]', '["f411", "f413", "f403"]', '["f409"]',
    '["f413", "f404"]', '["f401", "f410"]', '["f416"]', '["f403", "f409", "f410"]',
)
_EMPLOYERS = ("PT Pupuk Kaltim", "PT Badak NGL", "CV Maju Jaya", "Bengkel Sinar",
              "PT Kaltim Industrial Estate")


def populate(engine: Engine, responses: int, programs: int, cohorts_per_program: int,
             seed: float) -> int:
    """Fill the bench database; returns the wave id."""
    targets = math.ceil(responses / RESPONSE_SHARE)
    cohorts = programs * cohorts_per_program
    with Session(engine) as session, session.begin():
        questionnaire_id = catalog.ensure_default(session).id
    f4_sets = "ARRAY[" + ", ".join(f"'{item}'" for item in _F4_SETS) + "]"
    employers = "ARRAY[" + ", ".join(f"'{item}'" for item in _EMPLOYERS) + "]"
    steps = [
        ("setseed", f"SELECT setseed({seed})"),
        ("programs", f"""
            INSERT INTO programs (id, name, created_at)
            SELECT p, 'Kejuruan ' || p, now() FROM generate_series(1, {programs}) p"""),
        ("cohorts", f"""
            INSERT INTO cohorts (id, program_id, label, training_start, training_end, created_at)
            SELECT (p - 1) * {cohorts_per_program} + c, p, 'Angkatan ' || c,
                   date '2024-01-08' + c * 7, date '2024-03-08' + c * 7, now()
            FROM generate_series(1, {programs}) p, generate_series(1, {cohorts_per_program}) c"""),
        ("alumni", f"""
            INSERT INTO alumni (id, registration_no, full_name, gender, cohort_id, phone, email,
                                consent_withdrawn_at, created_at, updated_at)
            SELECT i, 'BENCH-' || i, 'Alumnus ' || i,
                   CASE WHEN random() < 0.62 THEN 'L' ELSE 'P' END,
                   1 + floor(random() * {cohorts})::int,
                   '+62812' || lpad(i::text, 8, '0'), 'a' || i || '@example.org',
                   CASE WHEN random() < 0.003 THEN now() END, now(), now()
            FROM generate_series(1, {targets}) i"""),
        ("wave", f"""
            INSERT INTO waves (id, slug, title, questionnaire_id, status, opened_at, scope,
                               created_at)
            VALUES (1, 'bench-2026', 'Bench 2026', {questionnaire_id}, 'open',
                    timestamptz '2026-02-02 01:00+00', '{{}}', now())"""),
        ("wave_targets", """
            INSERT INTO wave_targets (wave_id, alumnus_id, program_id, cohort_id, gender)
            SELECT 1, a.id, c.program_id, a.cohort_id, a.gender
            FROM alumni a JOIN cohorts c ON c.id = a.cohort_id"""),
        ("responses", f"""
            INSERT INTO responses (id, wave_id, alumnus_id, questionnaire_id, status, answers,
                                   source, started_at, submitted_at, updated_at)
            SELECT gen_random_uuid(), 1, x.id, {questionnaire_id},
                   CASE WHEN x.u_complete < {COMPLETE_SHARE} THEN 'complete' ELSE 'partial' END,
                   jsonb_strip_nulls(jsonb_build_object(
                       'consent', true, 'f8', x.status,
                       'f504', CASE WHEN x.employed THEN CASE WHEN x.waited <= 6 THEN 1 ELSE 2
                               END END,
                       'f502', CASE WHEN x.employed AND x.waited <= 6 THEN x.waited END,
                       'f506', CASE WHEN x.employed AND x.waited > 6 THEN x.waited END,
                       'f505', CASE WHEN x.employed THEN x.income END,
                       'f5a2', CASE WHEN x.employed THEN CASE WHEN x.u_loc < 0.6 THEN 1
                               WHEN x.u_loc < 0.88 THEN 2 WHEN x.u_loc < 0.98 THEN 3 ELSE 4 END
                               END,
                       'f5d', CASE WHEN x.employed THEN 1 + floor(random() * 3)::int END,
                       'f14', CASE WHEN x.employed THEN CASE WHEN x.u_rel < 0.25 THEN 1
                              WHEN x.u_rel < 0.55 THEN 2 WHEN x.u_rel < 0.8 THEN 3
                              WHEN x.u_rel < 0.92 THEN 4 ELSE 5 END END,
                       'f1101', CASE WHEN x.status = 1 THEN
                                (ARRAY[3, 3, 3, 6, 1])[1 + floor(random() * 5)::int] END,
                       'f5b', CASE WHEN x.status = 1 THEN
                              ({employers})[1 + floor(random() * 5)::int] END,
                       'f5c', CASE WHEN x.status = 3 THEN
                              (ARRAY[1, 2, 4])[1 + floor(random() * 3)::int] END,
                       'f1001', CASE WHEN x.status IN (2, 5) THEN 1 + floor(random() * 4)::int
                                END,
                       'f18b', CASE WHEN x.status = 4 THEN 'Politeknik Negeri Samarinda' END,
                       'f301', x.f301,
                       'f302', CASE WHEN x.f301 = 1 THEN floor(random() * 3)::int END,
                       'f303', CASE WHEN x.f301 = 2 THEN floor(random() * 6)::int END,
                       'f4', ({f4_sets})[1 + floor(random() * {len(_F4_SETS)})::int]::jsonb,
                       'f6', x.applied, 'f7', floor(random() * (x.applied + 1))::int,
                       'blk_cert', CASE WHEN x.u_cert < 0.6 THEN 1 WHEN x.u_cert < 0.9 THEN 2
                                   ELSE 3 END
                   ) || jsonb_build_object(
                       'f1761', x.c1, 'f1762', least(5, greatest(1, x.c1 + x.d1)),
                       'f1763', x.c2, 'f1764', least(5, greatest(1, x.c2 + x.d2)),
                       'f1765', x.c3, 'f1766', least(5, greatest(1, x.c3 + x.d3)),
                       'f1767', x.c4, 'f1768', least(5, greatest(1, x.c4 + x.d1)),
                       'f1769', x.c5, 'f1770', least(5, greatest(1, x.c5 + x.d2)),
                       'f1771', x.c1, 'f1772', least(5, greatest(1, x.c1 + x.d3)),
                       'f1773', x.c2, 'f1774', least(5, greatest(1, x.c2 + x.d1)),
                       'blk_k3_a', x.c3, 'blk_k3_b', least(5, greatest(1, x.c3 + x.d2)),
                       'blk_tools_a', x.c4, 'blk_tools_b', least(5, greatest(1, x.c4 + x.d3)),
                       'blk_eval_instructor', 3 + floor(random() * 3)::int,
                       'blk_eval_facilities', 3 + floor(random() * 3)::int,
                       'blk_eval_practice', 3 + floor(random() * 3)::int,
                       'blk_eval_material', 3 + floor(random() * 3)::int
                   )),
                   'web', now(), now(), now()
            FROM (
                SELECT y.*, y.status IN (1, 3) AS employed,
                       least(floor(-ln(1 - y.u_wait) * 4), 36)::int AS waited,
                       (floor(exp(15.2 + 0.05 * mod(y.program_id, 5)
                                  + 0.35 * sqrt(-2 * ln(1 - y.u1)) * cos(2 * pi() * y.u2))
                              / 1000) * 1000)::bigint AS income
                FROM (
                    SELECT t.alumnus_id AS id, t.program_id, random() AS u_complete,
                           CASE WHEN s < 0.55 THEN 1 WHEN s < 0.60 THEN 2 WHEN s < 0.75 THEN 3
                                WHEN s < 0.80 THEN 4 ELSE 5 END AS status,
                           random() AS u_wait, random() AS u1, random() AS u2,
                           random() AS u_loc, random() AS u_rel, random() AS u_cert,
                           1 + floor(random() * 3)::int AS f301,
                           floor(random() * 15)::int AS applied,
                           2 + floor(random() * 4)::int AS c1, 2 + floor(random() * 4)::int AS c2,
                           2 + floor(random() * 4)::int AS c3, 2 + floor(random() * 4)::int AS c4,
                           2 + floor(random() * 4)::int AS c5,
                           (ARRAY[-1, 0, 0, 1, 1, 2])[1 + floor(random() * 6)::int] AS d1,
                           (ARRAY[-1, 0, 0, 1, 1, 2])[1 + floor(random() * 6)::int] AS d2,
                           (ARRAY[-1, 0, 0, 1, 1, 2])[1 + floor(random() * 6)::int] AS d3
                    FROM (SELECT alumnus_id, program_id, random() AS s FROM wave_targets
                          WHERE wave_id = 1 AND mod(alumnus_id, 4) <> 0
                          ORDER BY alumnus_id LIMIT {responses}) t
                ) y
            ) x"""),
        ("campaign", """
            INSERT INTO campaigns (id, wave_id, kind, name, segment, status, language, created_at)
            VALUES (1, 1, 'survey', 'Undangan tracer 2026', '{}', 'running', 'id', now());
            INSERT INTO campaign_steps (id, campaign_id, position, day_offset, channel, template)
            VALUES (1, 1, 0, 0, 'email', '{}'), (2, 1, 1, 7, 'whatsapp', '{}')"""),
        # Step 1 (email) to every target; step 2 (WhatsApp) to those without a complete
        # response. Failure reasons as outreach writes them: a hard bounce is permanent,
        # "gave up after …" is outreach giving up on transient failures.
        ("messages", """
            INSERT INTO messages (campaign_step_id, alumnus_id, channel, address, status,
                                  due_at, attempts, failed_reason, cancel_reason, created_at)
            SELECT 1, m.alumnus_id, 'email', 'a' || m.alumnus_id || '@example.org', m.status,
                   now(), 1,
                   CASE WHEN m.status = 'failed' AND m.transient
                        THEN 'gave up after 5 attempts: timeout'
                        WHEN m.status = 'failed' THEN 'hard bounce: 550 no such mailbox' END,
                   CASE m.status WHEN 'skipped' THEN 'no_contact'
                                 WHEN 'cancelled' THEN 'opted_out' END,
                   now()
            FROM (
                SELECT t.alumnus_id, d.u BETWEEN 0.70 AND 0.73 AS transient,
                       CASE WHEN r.status = 'complete' THEN
                            CASE WHEN d.u < 0.5 THEN 'delivered' WHEN d.u < 0.95 THEN 'sent'
                                 WHEN d.u < 0.96 THEN 'in_doubt' ELSE 'failed' END
                       ELSE
                            CASE WHEN d.u < 0.45 THEN 'sent' WHEN d.u < 0.55 THEN 'delivered'
                                 WHEN d.u < 0.73 THEN 'failed' WHEN d.u < 0.83 THEN 'skipped'
                                 WHEN d.u < 0.93 THEN 'planned' WHEN d.u < 0.96 THEN 'in_doubt'
                                 ELSE 'cancelled' END
                       END AS status
                FROM (SELECT alumnus_id, random() AS u FROM wave_targets WHERE wave_id = 1) d
                JOIN wave_targets t ON t.wave_id = 1 AND t.alumnus_id = d.alumnus_id
                LEFT JOIN responses r ON r.wave_id = 1 AND r.alumnus_id = t.alumnus_id
            ) m;
            INSERT INTO messages (campaign_step_id, alumnus_id, channel, address, status,
                                  due_at, attempts, failed_reason, cancel_reason, created_at)
            SELECT 2, t.alumnus_id, 'whatsapp', '+62812' || lpad(t.alumnus_id::text, 8, '0'),
                   CASE WHEN u < 0.25 THEN 'failed' WHEN u < 0.75 THEN 'sent'
                        WHEN u < 0.95 THEN 'planned' ELSE 'skipped' END,
                   now(), 1, CASE WHEN u < 0.25 THEN 'invalid number' END,
                   CASE WHEN u >= 0.95 THEN 'no_contact' END, now()
            FROM (SELECT t.alumnus_id, random() AS u FROM wave_targets t
                  LEFT JOIN responses r ON r.wave_id = 1 AND r.alumnus_id = t.alumnus_id
                  WHERE t.wave_id = 1 AND r.status IS DISTINCT FROM 'complete') t"""),
        ("opt_outs", """
            INSERT INTO opt_outs (channel, address, alumnus_id, source, created_at)
            SELECT 'email', email, id, 'link', now() FROM alumni WHERE random() < 0.01"""),
        ("minimum wage", """
            INSERT INTO minimum_wages (year, amount, source, updated_at)
            VALUES (2026, 3600000, 'bench', now())"""),
        ("sequences", """
            SELECT setval(pg_get_serial_sequence('programs', 'id'), (SELECT max(id) FROM programs));
            SELECT setval(pg_get_serial_sequence('cohorts', 'id'), (SELECT max(id) FROM cohorts));
            SELECT setval(pg_get_serial_sequence('alumni', 'id'), (SELECT max(id) FROM alumni));
            SELECT setval(pg_get_serial_sequence('waves', 'id'), 1);
            SELECT setval(pg_get_serial_sequence('campaigns', 'id'), 1);
            SELECT setval(pg_get_serial_sequence('campaign_steps', 'id'), 2)"""),
    ]
    for name, sql in steps:
        started = time.perf_counter()
        with engine.begin() as connection:
            # Bulk load into a fresh database: skip the foreign-key triggers (superuser).
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for statement in sql.split(";\n"):
                if statement.strip():
                    connection.exec_driver_sql(statement)
        print(f"  {name:<14} {time.perf_counter() - started:7.1f} s", flush=True)
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    print(f"  {'vacuum analyze':<14} {time.perf_counter() - started:7.1f} s", flush=True)
    return 1


def plain_scan(engine: Engine, wave_id: int) -> float:
    """The reference: one plain GROUP BY scan of the wave's responses."""
    started = time.perf_counter()
    with engine.connect() as connection:
        connection.execute(text(
            "SELECT status, count(*) FROM responses WHERE wave_id = :wave GROUP BY status"
        ), {"wave": wave_id}).all()
    return time.perf_counter() - started


# What any full recompute has to read at least once, each as one plain GROUP BY scan that
# reads the table itself (index scans off): the floor under a full refresh, whatever its SQL.
FLOOR_SCANS = {
    "responses, reading the heap (the baseline's rows)":
        "SELECT status, count(*) FROM responses WHERE wave_id = :wave GROUP BY status",
    "indicator_answers (the narrow projection), by status":
        "SELECT status, count(*) FROM indicator_answers WHERE wave_id = :wave GROUP BY status",
    "wave_targets of the wave, by gender":
        "SELECT gender, count(*) FROM wave_targets WHERE wave_id = :wave GROUP BY gender",
    "messages (for the dispositions), by status":
        "SELECT status, count(*) FROM messages GROUP BY status",
}


def floor_scans(engine: Engine, wave_id: int) -> dict[str, float]:
    """Seconds of each FLOOR_SCANS statement, warm (run twice, the second one timed)."""
    timings = {}
    for label, sql in FLOOR_SCANS.items():
        for _ in range(2):
            with engine.begin() as connection:
                for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                    connection.exec_driver_sql(f"SET LOCAL {setting} = off")
                started = time.perf_counter()
                connection.execute(text(sql), {"wave": wave_id}).all()
                timings[label] = time.perf_counter() - started
    return timings


def explain(engine: Engine, wave_id: int) -> str:
    """EXPLAIN ANALYZE of the full-refresh statement, in the refresh's own settings."""
    with engine.begin() as connection:
        for setting in DIALECT_TUNING["postgresql"]:
            connection.exec_driver_sql(setting)
        sql = str(fill_statement().params(wave_id=wave_id).compile(
            connection, compile_kwargs={"literal_binds": True}))
        plan = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + sql.replace("%", "%%"), ()).scalars()
        return "\n".join(plan)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def change_answers(database: Database, wave_id: int, alumnus_id: int) -> None:
    """What a submitted edit does to the tables: the alumnus's f8 flips (1 <-> 5)."""
    with database.session_factory() as session, session.begin():
        session.execute(text(
            "UPDATE responses SET answers = answers || jsonb_build_object('f8', "
            "CASE WHEN answers->>'f8' = '1' THEN 5 ELSE 1 END), updated_at = now() "
            "WHERE wave_id = :wave AND alumnus_id = :alumnus"),
            {"wave": wave_id, "alumnus": alumnus_id})


def report(name: str, values: list[float]) -> None:
    print(f"  {name:<44} p50 {statistics.median(values) * 1000:7.1f} ms   "
          f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   "
          f"max {max(values) * 1000:7.1f} ms   (n = {len(values)})", flush=True)


def live_figures(database: Database, wave_id: int, samples: int, rng: random.Random) -> None:
    with database.session_factory() as session:
        alumni = list(session.scalars(select(WaveTarget.alumnus_id)
                                      .where(WaveTarget.wave_id == wave_id)))
        chosen = rng.sample(alumni, min(samples, len(alumni)))
        keys = {
            alumnus_id: CellKey(*row) for alumnus_id, *row in session.execute(
                select(WaveTarget.alumnus_id, WaveTarget.program_id, WaveTarget.cohort_id,
                       WaveTarget.gender)
                .where(WaveTarget.wave_id == wave_id, WaveTarget.alumnus_id.in_(chosen)))
        }
    recompute: list[float] = []
    whole: list[float] = []
    for alumnus_id in chosen:
        change_answers(database, wave_id, alumnus_id)
        with database.session_factory() as session:
            started = time.perf_counter()
            fill_cell(session, wave_id, keys[alumnus_id], alumnus_id=alumnus_id)
            recompute.append(time.perf_counter() - started)
            session.rollback()
        change_answers(database, wave_id, alumnus_id)  # back, so the cell differs again
        with database.session_factory() as session, session.begin():
            started = time.perf_counter()
            update_alumnus_cell(session, wave_id, alumnus_id)
            whole.append(time.perf_counter() - started)
    report("one-cell recompute (fill_cell)", recompute)
    report("whole live update (update_alumnus_cell)", whole)


API_QUERIES = ("", "&by=program", "&by=cohort", "&by=gender", "&program=3")


def api_figures(database: Database, url: str, wave_id: int, requests: int,
                rng: random.Random) -> None:
    """GET /api/v1/indicators through the Flask test client, warm and after a change."""
    from services.analytics import create_app  # the app, configured as in production
    from shared.auth import create_token
    from shared.config import Settings

    with tempfile.TemporaryDirectory(prefix="jejak_bench_home_") as home:
        settings = Settings(
            home=Path(home), database_url=url, secret_key="bench-secret-key-0123456789abcdef",
            pii_key="bench-pii-key-0123456789abcdef")
        with database.session_factory() as session, session.begin():
            token = create_token(session, "viewer", "bench")
            slug = session.scalar(text("SELECT slug FROM waves WHERE id = :id"),
                                  {"id": wave_id})
            alumni = list(session.scalars(select(WaveTarget.alumnus_id)
                                          .where(WaveTarget.wave_id == wave_id)))
        headers = {"Authorization": f"Bearer {token}"}

        def first_requests(app: Any) -> dict[str, float]:
            client = app.test_client()
            return {query: get(client, query) for query in API_QUERIES}

        def get(client: Any, query: str) -> float:
            started = time.perf_counter()
            answer = client.get(f"/api/v1/indicators?wave={slug}{query}", headers=headers)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200, answer.get_data()[:300]
            return elapsed

        def shown(figures: dict[str, float]) -> str:
            return ", ".join(f"{query.lstrip('&') or 'whole wave'} {value * 1000:.0f} ms"
                             for query, value in figures.items())

        # A process that parses the snapshot in its first request (as before the warm-up).
        cold = create_app({"JEJAK_SETTINGS": settings, "JEJAK_WARM_INDICATORS": False})
        print("  first request of a process that parses the snapshot itself: "
              + shown(first_requests(cold)))
        # The app as production starts it: the snapshot parsed and the first queries
        # answered in the background (services/analytics/warmup.py).
        started = time.perf_counter()
        app = create_app({"JEJAK_SETTINGS": settings})
        cache = app.extensions["jejak_indicator_cache"]
        assert cache.warmed.wait(600)
        warming = time.perf_counter() - started
        print(f"  first indicators request after restart: {shown(first_requests(app))} "
              f"(answered ahead in the background in {warming * 1000:.0f} ms)")
        client = app.test_client()

        for query in API_QUERIES:
            report(f"warm: {query.lstrip('&') or 'whole wave'}",
                   [get(client, query) for _ in range(requests)])
        for query in API_QUERIES:
            after: list[float] = []
            for _ in range(max(5, requests // 4)):
                alumnus_id = rng.choice(alumni)
                change_answers(database, wave_id, alumnus_id)
                with database.session_factory() as session, session.begin():
                    update_alumnus_cell(session, wave_id, alumnus_id)
                after.append(get(client, query))
            report(f"after a change: {query.lstrip('&') or 'whole wave'}", after)


@contextlib.contextmanager
def bench_database(args: argparse.Namespace) -> Iterator[tuple[Database, str, int]]:
    """(database, url, wave id): a new database made, migrated and filled, or `--reuse-db`;
    dropped at the end unless `--keep-db` or reused. Shared by bench/analytics_export.py."""
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    name = args.reuse_db or f"jejak_bench_{uuid.uuid4().hex[:10]}"
    url = args.admin_url.rsplit("/", 1)[0] + f"/{name}"
    if not args.reuse_db:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        database = Database.for_url(url)
        upgrade(url)  # a reused database filled before the newest migration gets it too
        wave_id = 1
        if not args.reuse_db:
            print(f"database {name}: filling {args.responses:,} responses "
                  f"({args.programs} programs × {args.cohorts_per_program} cohorts)", flush=True)
            wave_id = populate(database.engine, args.responses, args.programs,
                               args.cohorts_per_program, args.seed)
        yield database, url, wave_id
    finally:
        Database.for_url(url).engine.dispose()
        if not args.keep_db and not args.reuse_db:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--programs", type=int, default=40)
    parser.add_argument("--cohorts-per-program", type=int, default=25)
    parser.add_argument("--live-samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--api-requests", type=int, default=40)
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", help="an already filled bench database: skip the fill")
    parser.add_argument("--explain", action="store_true", help="print the refresh plan")
    parser.add_argument("--live-only", action="store_true",
                        help="only the live update (one refresh first if the wave has no "
                             "snapshot yet)")
    parser.add_argument("--scans-only", action="store_true",
                        help="only the baseline and the floor scans (no refresh)")
    parser.add_argument("--api-only", action="store_true",
                        help="measure only the indicators API (one refresh first if the wave "
                             "has no snapshot yet)")
    args = parser.parse_args()

    with bench_database(args) as (database, url, wave_id):
        with database.engine.connect() as connection:
            counts = connection.execute(text(
                "SELECT (SELECT count(*) FROM wave_targets), (SELECT count(*) FROM responses), "
                "(SELECT count(*) FROM responses WHERE status = 'complete'), "
                "(SELECT count(*) FROM messages), "
                "pg_size_pretty(pg_total_relation_size('responses')), "
                "(SELECT avg(pg_column_size(answers))::int FROM responses)"
            )).one()
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
              + f" on {os.cpu_count()} CPUs (other work on the machine moves every figure)")
        print(f"targets {counts[0]:,}, responses {counts[1]:,} ({counts[2]:,} complete), "
              f"messages {counts[3]:,}; responses table {counts[4]}, answers ~{counts[5]} B")
        if args.explain:
            print(explain(database.engine, wave_id))
        if args.scans_only:
            scan = min(plain_scan(database.engine, wave_id) for _ in range(4))
            print(f"plain GROUP BY scan (the baseline), best of 4: {scan:.3f} s")
            for label, seconds in floor_scans(database.engine, wave_id).items():
                print(f"  {label:<52} {seconds:6.3f} s  ({seconds / scan:5.1f} ×)")
            return 0
        if args.live_only or args.api_only:
            with database.session_factory() as session:
                if read_snapshot(session, wave_id) is None:  # both need a snapshot
                    full_refresh(database.session_factory, wave_id)
            if args.live_only:
                print(f"\nlive update, {args.live_samples} random alumni:")
                live_figures(database, wave_id, args.live_samples, random.Random(7))
            else:
                print(f"\nindicators API, {args.api_requests} requests each (Flask test "
                      "client):")
                api_figures(database, url, wave_id, args.api_requests, random.Random(7))
            return 0

        # Warm both, then alternate; tracemalloc slows Python down, so memory is measured
        # in a run of its own.
        plain_scan(database.engine, wave_id)
        started = time.perf_counter()
        full_refresh(database.session_factory, wave_id)
        print(f"warm-up full refresh {time.perf_counter() - started:6.1f} s (right after a "
              "fill it also projects every response into indicator_answers)", flush=True)
        with database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE indicator_answers")  # as autovacuum would
        scans: list[float] = []
        refreshes: list[float] = []
        for _ in range(args.rounds):
            scans.append(plain_scan(database.engine, wave_id))
            started = time.perf_counter()
            snapshot = full_refresh(database.session_factory, wave_id)
            refreshes.append(time.perf_counter() - started)
            assert snapshot is not None
        tracemalloc.start()
        full_refresh(database.session_factory, wave_id)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        scan, refresh = statistics.median(scans), statistics.median(refreshes)
        with database.session_factory() as session:
            cells = len(snapshot.data["cells"])
            size = session.scalar(select(func.pg_column_size(IndicatorSnapshot.data))
                                  .where(IndicatorSnapshot.id == snapshot.id))
        print(f"\nplain GROUP BY scan   median {scan:6.3f} s   {[round(s, 3) for s in scans]}")
        print(f"full refresh          median {refresh:6.3f} s   "
              f"{[round(s, 3) for s in refreshes]}")
        print(f"ratio                 {refresh / scan:6.2f} ×   (target ≤ 3)")
        floors = floor_scans(database.engine, wave_id)
        print("what a full recompute must read, each once (plain GROUP BY, the table itself):")
        for label, seconds in floors.items():
            print(f"  {label:<52} {seconds:6.3f} s  ({seconds / scan:5.1f} × the baseline)")
        total = sum(floors.values())
        print(f"  {'together':<52} {total:6.3f} s  ({total / scan:5.1f} × the baseline)")
        print(f"snapshot: {cells:,} cells, {snapshot.responses_included:,} responses, "
              f"{size / 1e6:.2f} MB stored (jsonb)")
        print("load average now: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        # Where a refresh's time goes, each part in its own transaction (rolled back).
        for label, part in (
                ("reconcile indicator_answers (nothing changed)",
                 lambda session: reconcile_answers(session, wave_id)),
                ("the fill statement alone",
                 lambda session: session.execute(fill_statement(), {"wave_id": wave_id}).all())):
            with database.session_factory() as session, session.begin():
                tune_for_full_refresh(session)
                started = time.perf_counter()
                part(session)
                print(f"  {label:<48} {time.perf_counter() - started:6.2f} s", flush=True)
                session.rollback()
        # The same refresh when every response must be read from its JSON again (as every
        # refresh did before indicator_answers): the projection emptied first.
        with database.session_factory() as session, session.begin():
            session.execute(delete(IndicatorAnswer).where(IndicatorAnswer.wave_id == wave_id))
        started = time.perf_counter()
        full_refresh(database.session_factory, wave_id)
        print(f"  full refresh projecting every response again      "
              f"{time.perf_counter() - started:6.2f} s", flush=True)
        print(f"peak Python memory during a refresh (tracemalloc) {peak / 1e6:.1f} MB; "
              f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")

        rng = random.Random(7)
        print(f"\nlive update, {args.live_samples} random alumni:")
        live_figures(database, wave_id, args.live_samples, rng)
        print(f"\nindicators API, {args.api_requests} requests each (Flask test client):")
        api_figures(database, url, wave_id, args.api_requests, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
