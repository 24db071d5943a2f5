"""Backup and restore (issue 7, point 5): dump, wipe, restore, identical indicators.

The demonstration data (a roster, an open wave, answers) and its indicators are made in the
session's database; `jejak backup` writes it out; an empty database (a wiped one: a new
SQLite file, or a new PostgreSQL database) gets it back with `jejak restore`. The indicators
the API serves from the restored database, and every table's rows, equal the originals. A
restore over a database that holds data is refused without --force.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from services.analytics.refresh import refresh_all
from services.cli import main
from services.demo import load_demo_data
from shared.auth import create_token
from shared.db import Database
from shared.models import Base, Wave
from tests.conftest import PG_ADMIN_URL, TEST_DB, TEST_PII_KEY, TEST_SECRET_KEY, app_config

pytestmark = pytest.mark.timeout(120)


@pytest.fixture()
def wiped_url(tmp_path) -> Iterator[str]:
    """An empty database of the session's kind."""
    if TEST_DB != "postgresql":
        yield f"sqlite:///{tmp_path / 'restored' / 'jejak.db'}"
        return
    name = f"jejak_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def jejak(database_url: str, *args: str):
    # The tests' keys: without them the command would make a key file under ./var.
    return CliRunner().invoke(main, list(args), env={"JEJAK_DATABASE_URL": database_url,
                                                     "JEJAK_SECRET_KEY": TEST_SECRET_KEY,
                                                     "JEJAK_PII_KEY": TEST_PII_KEY},
                              catch_exceptions=False)


def indicators(settings, database_url: str, slug: str) -> dict:
    from services.analytics import create_app

    app = create_app(app_config(dataclasses.replace(settings, database_url=database_url)))
    with Database.for_url(database_url).session_factory() as session, session.begin():
        viewer = {"Authorization": f"Bearer {create_token(session, 'viewer', 'restore-test')}"}
    answer = app.test_client().get(f"/api/v1/indicators?wave={slug}", headers=viewer)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        counts = {table.name: connection.scalar(select(func.count()).select_from(table))
                  for table in Base.metadata.sorted_tables if table.name != "api_tokens"}
    engine.dispose()
    return counts


def test_dump_wipe_restore_gives_identical_indicators(
    settings, clean_db, wiped_url, tmp_path
) -> None:
    source = settings.database_url
    load_demo_data(source, settings.pii_key)
    refresh_all(clean_db.session_factory)
    with clean_db.session_factory() as session:
        slug = session.scalar(select(Wave.slug).where(Wave.status == "open"))
    before = indicators(settings, source, slug)
    assert before["responses_included"] > 0
    counts = row_counts(source)

    dump = tmp_path / "backups" / "jejak-2026-11-27.dump"
    made = jejak(source, "backup", str(dump))
    assert made.exit_code == 0, made.output
    assert dump.stat().st_size > 0 and "backup written" in made.output
    again = jejak(source, "backup", str(dump))
    assert again.exit_code != 0 and "already exists" in again.output

    restored = jejak(wiped_url, "restore", str(dump))
    assert restored.exit_code == 0, restored.output
    assert row_counts(wiped_url) == counts
    after = indicators(settings, wiped_url, slug)
    assert after["indicators"] == before["indicators"]
    assert after["responses_included"] == before["responses_included"]
    assert after["snapshot_id"] == before["snapshot_id"]

    # Computed afresh from the restored answers, the figures are the same too.
    refresh_all(Database.for_url(wiped_url).session_factory)
    assert indicators(settings, wiped_url, slug)["indicators"] == before["indicators"]

    refused = jejak(wiped_url, "restore", str(dump))
    assert refused.exit_code != 0 and "--force" in refused.output
    forced = jejak(wiped_url, "restore", "--force", str(dump))
    assert forced.exit_code == 0, forced.output
    assert row_counts(wiped_url) == counts
    Database.for_url(wiped_url).engine.dispose()
