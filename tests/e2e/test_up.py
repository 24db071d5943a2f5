"""`jejak up` as a user runs it: real processes, real HTTP, SIGTERM leaves nothing behind."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_DB
from tests.e2e.conftest import free_port, start_jejak, stop_jejak

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="jejak up is the embedded SQLite default; runs in the SQLite pass"
)




def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, read from /proc (children of children included)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept-Language": "id"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()






def test_up_serves_all_three_services_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process, output = start_jejak(tmp_path, port)
    children = descendants(process.pid)
    try:
        assert "admin / " in output  # the first start prints the admin login
        assert len(children) >= 4  # redis, worker (+ pool), gunicorn (+ workers)
        for service in ("survey", "outreach", "analytics"):
            status, body = get(f"http://127.0.0.1:{port}/{service}/healthz")
            assert status == 200, body
            health = json.loads(body)
            assert health["database"] == "ok" and health["broker"] == "ok"
        status, page = get(f"http://127.0.0.1:{port}/survey/login")
        assert status == 200 and "Kata sandi" in page
        status, page = get(f"http://127.0.0.1:{port}/analytics/login?lang=en")
        assert status == 200 and "Password" in page
    finally:
        tail = stop_jejak(process)
    assert process.returncode == 0, tail
    leftovers = {pid for pid in children if alive(pid)}
    assert leftovers == set(), f"processes left behind: {leftovers}"

    # Started again in the same folder, it keeps the data: no second admin is created.
    process, output = start_jejak(tmp_path, port)
    try:
        assert "admin / " not in output
        assert "created on first start" in output
    finally:
        stop_jejak(process)
    assert (tmp_path / "jejak.db").exists() and (tmp_path / "jejak.aof").exists()
