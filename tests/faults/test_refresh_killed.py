"""(e) An analytics refresh SIGKILLed midway (issue 7, point 1e).

A full refresh runs in its own process and is stopped inside its transaction, at its first
read of the answers (an engine hook of that process only: the test does not depend on how
snapshots are laid out), then SIGKILLed. What must hold: readers of the indicators API
still get the previous snapshot, the refresh's lock is not left behind (PostgreSQL releases
advisory locks with the dead connection; SQLite's file lock goes with the process), and the
next full refresh completes and includes answers that arrived since.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import text

from services.analytics.refresh import full_refresh
from services.survey.links import make_token
from shared.auth import create_token
from tests.conftest import TEST_DB, wait_for
from tests.faults.conftest import EMPLOYED, REPO, make_roster

pytestmark = pytest.mark.timeout(120)

# The refresh process: stall at the first statement that reads the answers, inside the
# refresh's transaction, and tell the test so.
STALLED_REFRESH = """
import re, sys, time, pathlib
from sqlalchemy import event
from sqlalchemy.engine import Engine
from services.analytics.refresh import full_refresh
from shared.db import Database

marker = pathlib.Path(sys.argv[3])

@event.listens_for(Engine, "before_cursor_execute")
def _stall(conn, cursor, statement, parameters, context, executemany):
    if re.search(r"\\bresponses\\b", statement):
        marker.write_text(statement[:200])
        time.sleep(600)

full_refresh(Database.for_url(sys.argv[1]).session_factory, int(sys.argv[2]))
print("refresh finished: the test did not stop it")
"""


def submit(client, roster, indexes) -> None:
    for index in indexes:
        body = {"id": str(uuid.uuid4()), "wave": roster.slug, "answers": EMPLOYED,
                "token": make_token(client.application.config["SECRET_KEY"], roster.wave_id,
                                    roster.alumni[index])}
        answer = client.post("/api/v1/responses", json=body)
        assert answer.status_code == 201, answer.get_json()


def advisory_locks(factory) -> int:
    """Advisory locks held in this test's database (the cluster is shared)."""
    with factory() as session:
        return session.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"))


def test_refresh_killed_midway_keeps_the_previous_snapshot(
    settings, survey_app, analytics_app, clean_db, tmp_path
) -> None:
    factory = clean_db.session_factory
    roster = make_roster(factory, 12, secret=survey_app.config["SECRET_KEY"])
    with factory() as session, session.begin():
        viewer = {"Authorization": f"Bearer {create_token(session, 'viewer')}"}
    survey = survey_app.test_client()
    submit(survey, roster, range(6))
    assert full_refresh(factory, roster.wave_id) is not None
    analytics = analytics_app.test_client()

    def indicators() -> dict:
        answer = analytics.get(f"/api/v1/indicators?wave={roster.slug}", headers=viewer)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    before = indicators()
    assert before["responses_included"] == 6

    marker = tmp_path / "stalled"
    process = subprocess.Popen(
        [sys.executable, "-c", STALLED_REFRESH, settings.database_url, str(roster.wave_id),
         str(marker)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the refresh never reached the answers"
            time.sleep(0.05)
        if TEST_DB == "postgresql":
            # Mid-refresh: readers see the previous snapshot and a second refresh of the
            # wave gives way (SQLite readers wait for the writer instead: shared/db.py).
            assert indicators() == before
            assert full_refresh(factory, roster.wave_id) is None
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()

    assert indicators() == before
    if TEST_DB == "postgresql":
        # The dead client's backend ends when it reads EOF; its advisory locks go with it.
        wait_for(lambda: not advisory_locks(factory), timeout=20)
    submit(survey, roster, range(6, 9))
    snapshot = full_refresh(factory, roster.wave_id)
    assert snapshot is not None
    after = indicators()
    assert after["snapshot_id"] != before["snapshot_id"]
    assert after["responses_included"] == 9
